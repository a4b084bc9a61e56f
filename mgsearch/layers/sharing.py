"""Weight sharing across consecutive blocks: the same module object in every block of a run."""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def share_by_runs(runs: Sequence[range], factory: Callable[[int], T], *, own: Sequence[int] = ()) -> list[T]:
    """One object per index of ``runs``; indices of one run get the SAME object (made by
    ``factory(first_index)``), so parameters are deduplicated naturally.

    Indices in ``own`` get an object of their own (e.g. a transition conv whose shape differs);
    the other indices of that run share one object made for the run's first non-own index.
    """
    out: dict[int, T] = {}
    for run in runs:
        shared: T | None = None
        for i in run:
            if i in own:
                out[i] = factory(i)
                continue
            if shared is None:
                shared = factory(i)
            out[i] = shared
    return [out[i] for i in sorted(out)]
