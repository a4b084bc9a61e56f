"""Choosers: where the knob values of a search space come from.

:meth:`mgsearch.space.SearchSpace.to_spec` asks a *chooser* for every knob it needs, by a stable
name, with a fixed domain per name (Optuna requires the same domain every time a name is asked).
Anything that implements :class:`Chooser` can drive it: :class:`RandomChooser` for
``mgsearch space --sample``, :class:`DictChooser` to replay recorded values, and the search's
wrapper of an Optuna trial (``trial.suggest_int`` / ``suggest_categorical`` / ``suggest_float``).
"""

from __future__ import annotations

import random
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from mgsearch.errors import ConfigError

__all__ = ["Chooser", "RandomChooser", "DictChooser", "is_width_knob"]


def is_width_knob(name: str) -> bool:
    """Whether a knob name of :meth:`~mgsearch.space.SearchSpace.to_spec` sets a width
    (``stem.width``, ``s<i>.width``, ``s<i>.inner``, ``s<i>.b<j>.inner``, with an optional ``@...`` tail)."""
    base = name.split("@", 1)[0]
    if base == "stem.width":
        return True
    parts = base.split(".")
    return bool(parts) and parts[0].startswith("s") and parts[0][1:].isdigit() and parts[-1] in ("width", "inner")


@runtime_checkable
class Chooser(Protocol):
    """The three questions a search space asks; each returns the chosen value."""

    def int(self, name: str, low: int, high: int, step: int = 1) -> int:
        """An integer in ``low, low + step, ..., high`` (``high - low`` is a multiple of ``step``)."""
        ...

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """One element of ``choices`` (the same list every time ``name`` is asked)."""
        ...

    def float(self, name: str, low: float, high: float) -> float:
        """A float in ``[low, high]``."""
        ...


class RandomChooser:
    """Uniform random choices; ``values`` records what was drawn (name -> value), last draw wins.

    ``seed`` is an int (a fresh :class:`random.Random`) or a :class:`random.Random` to share.
    """

    def __init__(self, seed: int | random.Random | None = 0) -> None:
        self.rng = seed if isinstance(seed, random.Random) else random.Random(seed)
        self.values: dict[str, Any] = {}

    def int(self, name: str, low: int, high: int, step: int = 1) -> int:
        value = self.rng.randrange(low, high + 1, step)
        self.values[name] = value
        return value

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = choices[self.rng.randrange(len(choices))]
        self.values[name] = value
        return value

    def float(self, name: str, low: float, high: float) -> float:
        value = self.rng.uniform(low, high)
        self.values[name] = value
        return value


class DictChooser:
    """Replays recorded knob values (e.g. an Optuna trial's ``params``); checks each against its domain.

    A knob missing from ``values`` is a :class:`~mgsearch.errors.ConfigError` unless ``default`` is
    given: ``"low"`` / ``"high"`` then picks the lower / upper end of the domain.
    """

    def __init__(self, values: Mapping[str, Any], *, default: str | None = None) -> None:
        if default not in (None, "low", "high"):
            raise ValueError(f"default={default!r} must be None, 'low' or 'high'")
        self.values = dict(values)
        self.default = default
        self.asked: list[str] = []

    def _get(self, name: str, fallback: Any) -> Any:
        self.asked.append(name)
        if name in self.values:
            return self.values[name]
        if self.default is None:
            raise ConfigError(f"knob {name!r} has no value; known: {', '.join(sorted(self.values)) or 'none'}")
        return fallback

    def int(self, name: str, low: int, high: int, step: int = 1) -> int:
        value = self._get(name, low if self.default == "low" else high)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high or (value - low) % step:
            raise ConfigError(f"knob {name}={value!r} is outside its domain {low}..{high} step {step}")
        return value

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = self._get(name, choices[0] if self.default == "low" else choices[-1])
        if value not in list(choices) or isinstance(value, bool):
            raise ConfigError(f"knob {name}={value!r} is not one of {list(choices)!r}")
        return value

    def float(self, name: str, low: float, high: float) -> float:
        value = self._get(name, low if self.default == "low" else high)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ConfigError(f"knob {name}={value!r} is outside its domain [{low}, {high}]")
        return float(value)
