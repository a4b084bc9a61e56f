"""A supernet's structure: the non-width knobs of a search space, and the width configurations within it.

A search space maps knob values to an :class:`~mgsearch.spec.ArchSpec` (``space.to_spec(chooser)``).
One-shot search splits the knobs in two:

* the *structure*: every knob that is not a width (group sizes, block forms, coarse widths, sharing,
  depths, dropout). One supernet is trained per structure;
* the *widths*: every width knob (``stem.width``, ``s<i>.width``, ``s<i>.b<j>.inner``, ... and
  ``width_multiplier``), each with its domain. A width configuration is one value per width knob;
  the space's own mapping turns it into a spec, so group-size multiples, ties (one stream width per
  stage) and sharing runs (one inner width per run) hold by construction.

:func:`record_structure` asks a chooser (an Optuna trial in a search) for one spec and records both
parts; :class:`Structure` then makes the largest, the smallest, a random or a given configuration of
that structure. Pure Python: no torch.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from mgsearch.space.choosers import is_width_knob as space_width_knob
from mgsearch.spec import ArchSpec

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.space import SearchSpace

__all__ = ["Domain", "Structure", "record_structure", "is_width_knob"]


def is_width_knob(name: str) -> bool:
    """Whether a knob sets widths: a width knob of the space, or ``width_multiplier`` (which scales them)."""
    return name == "width_multiplier" or space_width_knob(name)


@dataclass(frozen=True)
class Domain:
    """The values a width knob may take: ``values`` ascending (an int range or a categorical list),
    or ``low``/``high`` for the float ``width_multiplier``."""

    kind: str  # "int", "categorical" or "float"
    values: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0

    @property
    def largest(self) -> Any:
        return self.high if self.kind == "float" else max(self.values)

    @property
    def smallest(self) -> Any:
        return self.low if self.kind == "float" else min(self.values)

    def draw(self, rng: random.Random) -> Any:
        return rng.uniform(self.low, self.high) if self.kind == "float" else rng.choice(self.values)

    def to_json(self) -> Any:
        return [self.low, self.high] if self.kind == "float" else list(self.values)


class _Recorder:
    """Forwards every knob to ``chooser`` and records the structural answers and the width domains."""

    def __init__(self, chooser: Any) -> None:
        self.chooser = chooser
        self.structure: dict[str, Any] = {}
        self.domains: dict[str, Domain] = {}
        self.widths: dict[str, Any] = {}

    def int(self, name: str, low: int, high: int, step: int = 1) -> int:
        value = int(self.chooser.int(name, low, high, step))
        if is_width_knob(name):
            self.domains[name] = Domain("int", tuple(range(low, high + 1, step)))
            self.widths[name] = value
        else:
            self.structure[name] = value
        return value

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = self.chooser.categorical(name, choices)
        if is_width_knob(name):
            self.domains[name] = Domain("categorical", tuple(sorted(choices)))
            self.widths[name] = value
        else:
            self.structure[name] = value
        return value

    def float(self, name: str, low: float, high: float) -> float:
        value = float(self.chooser.float(name, low, high))
        if is_width_knob(name):
            self.domains[name] = Domain("float", low=low, high=high)
            self.widths[name] = value
        else:
            self.structure[name] = value
        return value


class _Replay:
    """Answers structural knobs from a recorded structure and width knobs with ``width(name, domain)``."""

    def __init__(self, structure: Mapping[str, Any], domains: Mapping[str, Domain],
                 width: Callable[[str, Domain], Any]) -> None:
        self.structure, self.domains, self.width = structure, domains, width

    def _structural(self, name: str) -> Any:
        if name not in self.structure:
            raise KeyError(f"knob {name!r} was not asked when the structure was recorded")
        return self.structure[name]

    def _width(self, name: str, domain: Domain) -> Any:
        known = self.domains.get(name, domain)
        return self.width(name, known)

    def int(self, name: str, low: int, high: int, step: int = 1) -> int:
        if is_width_knob(name):
            return int(self._width(name, Domain("int", tuple(range(low, high + 1, step)))))
        return int(self._structural(name))

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if is_width_knob(name):
            return self._width(name, Domain("categorical", tuple(sorted(choices))))
        return self._structural(name)

    def float(self, name: str, low: float, high: float) -> float:
        if is_width_knob(name):
            return float(self._width(name, Domain("float", low=low, high=high)))
        return float(self._structural(name))


@dataclass(frozen=True)
class Structure:
    """One structure of a search space: its structural knob answers and its width knobs' domains.

    ``key`` names the supernet: a digest of the largest spec and of the width domains (two
    structures with the same largest network but other domains train on other configurations).
    """

    space: "SearchSpace" = field(repr=False, compare=False)
    answers: Mapping[str, Any]
    domains: Mapping[str, Domain]

    def spec_for(self, width: Callable[[str, Domain], Any]) -> ArchSpec:
        """The spec whose width knob ``name`` takes ``width(name, domain)``."""
        return self.space.to_spec(_Replay(self.answers, self.domains, width))

    def configuration(self, values: Mapping[str, Any]) -> ArchSpec:
        """The spec of the width knob values ``values`` (missing knobs: their largest value)."""
        unknown = sorted(set(values) - set(self.domains))
        if unknown:
            raise KeyError(f"{unknown} are not width knobs of this structure; its width knobs: {sorted(self.domains)}")
        return self.spec_for(lambda name, d: values.get(name, d.largest))

    @property
    def largest(self) -> ArchSpec:
        """Every width knob at its largest value: the supernet's own network."""
        return self.spec_for(lambda name, d: d.largest)

    @property
    def smallest(self) -> ArchSpec:
        """Every width knob at its smallest value."""
        return self.spec_for(lambda name, d: d.smallest)

    def random(self, rng: random.Random) -> ArchSpec:
        """Every width knob drawn uniformly from its domain."""
        return self.spec_for(lambda name, d: d.draw(rng))

    @property
    def key(self) -> str:
        text = json.dumps({"largest": self.largest.to_json(),
                           "domains": {k: v.to_json() for k, v in sorted(self.domains.items())}},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_structure(space: "SearchSpace", chooser: Any) -> tuple[Structure, ArchSpec]:
    """Ask ``chooser`` for one spec of ``space``; return its structure and the spec itself."""
    recorder = _Recorder(chooser)
    spec = space.to_spec(recorder)
    return Structure(space, dict(recorder.structure), dict(recorder.domains)), spec
