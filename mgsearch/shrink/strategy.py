"""``strategy = "lwdna"``: the sampler picks the macro structure, LW-DNA fixes the per-layer widths.

For each trial :func:`lwdna_candidate`

1. asks the chooser for the space's *structural* knobs (group sizes, share depths, depths, dropout)
   through :meth:`mgsearch.space.SearchSpace.to_spec`, answering the width knobs itself with the
   midpoint of their domain (the space's width profile, not sampled);
2. scales that profile uniformly to the largest network that meets the study budget (the uniform
   base of this structure at the budget, as in the paper);
3. asks the chooser for the LW-DNA knobs ``lwdna.widen``, ``lwdna.importance``, ``lwdna.keep_ratio``
   (a knob with one allowed value is not asked), widens the base into the parent, scores its channels
   and shrinks it back to the budget (:func:`~mgsearch.shrink.shrink_to_budget`).

The ``[lwdna]`` table of a study file (all keys optional)::

    widen = 2.0              # a number, a list of choices, or {min = 1.5, max = 3.0}
    importance = "grad-init" # "grad-init", "bn-l1", or a list of them
    keep_ratio = 0.4         # a number, a list of choices, or {min = 0.3, max = 0.6}
    min_width = 4            # the smallest width of any layer
    batches = 4              # grad-init: mini-batches at initialisation
    batch_size = 64          # grad-init: their size
    bn_l1_epochs = 1         # bn-l1: sparsity-training epochs of the parent
    bn_l1_strength = 1e-4    # bn-l1: L1 weight on the BatchNorm scales
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from mgsearch.errors import BudgetError, ConfigError
from mgsearch.shrink.widen import widen_width
from mgsearch.spec import ArchSpec, width_slots

__all__ = ["LwdnaSettings", "lwdna_candidate", "uniform_at_budget", "MacroChooser"]

_KEYS = ("widen", "importance", "keep_ratio", "min_width", "batches", "batch_size", "bn_l1_epochs", "bn_l1_strength")


def _is_num(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


@dataclass(frozen=True)
class FloatOption:
    """A float knob: fixed (``low == high``), a range, or a list of choices."""

    low: float
    high: float
    choices: tuple[float, ...] | None = None

    def ask(self, chooser: Any, name: str) -> float:
        if self.choices is not None:
            return float(self.choices[0]) if len(self.choices) == 1 else float(chooser.categorical(name, list(self.choices)))
        return self.low if self.low == self.high else float(chooser.float(name, self.low, self.high))


@dataclass(frozen=True)
class LwdnaSettings:
    """The validated ``[lwdna]`` table (see the module docstring for the keys and defaults)."""

    widen: FloatOption = FloatOption(2.0, 2.0)
    importance: tuple[str, ...] = ("grad-init",)
    keep_ratio: FloatOption = FloatOption(0.4, 0.4)
    min_width: int = 4
    batches: int = 4
    batch_size: int = 64
    bn_l1_epochs: int = 1
    bn_l1_strength: float = 1e-4

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None, *, source: str = "study file") -> "LwdnaSettings":
        """Validate a raw ``[lwdna]`` table; every mistake is a one-line ConfigError naming ``source``."""
        from mgsearch.shrink.importance import IMPORTANCE_METHODS

        table = dict(table or {})
        for key in table:
            if key not in _KEYS:
                raise ConfigError(f"{source}: lwdna.{key} is not a known key; allowed: {', '.join(_KEYS)}")

        def float_option(key: str, default: float, lo: float, hi: float, lo_open: bool) -> FloatOption:
            value = table.get(key, default)
            what = f"{source}: lwdna.{key}={value!r}"

            def check(v: Any) -> float:
                if not _is_num(v) or v > hi or v < lo or (lo_open and v == lo):
                    raise ConfigError(f"{what} must hold numbers in {'(' if lo_open else '['}{lo:g}, {hi:g}]")
                return float(v)

            if isinstance(value, list):
                if not value:
                    raise ConfigError(f"{what} must not be an empty list")
                return FloatOption(0.0, 0.0, tuple(check(v) for v in value))
            if isinstance(value, Mapping):
                if set(value) != {"min", "max"}:
                    raise ConfigError(f"{what} as a table needs exactly the keys min and max")
                a, b = check(value["min"]), check(value["max"])
                if a > b:
                    raise ConfigError(f"{what} has min > max")
                return FloatOption(a, b)
            v = check(value)
            return FloatOption(v, v)

        def int_value(key: str, default: int, low: int) -> int:
            value = table.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{source}: lwdna.{key}={value!r} must be an integer >= {low}")
            return value

        imp = table.get("importance", "grad-init")
        methods = imp if isinstance(imp, list) else [imp]
        if not methods or any(m not in IMPORTANCE_METHODS for m in methods):
            raise ConfigError(
                f"{source}: lwdna.importance={imp!r} must be one of {', '.join(IMPORTANCE_METHODS)} or a list of them"
            )
        strength = table.get("bn_l1_strength", 1e-4)
        if not _is_num(strength) or strength < 0:
            raise ConfigError(f"{source}: lwdna.bn_l1_strength={strength!r} must be a number >= 0")
        settings = cls(
            widen=float_option("widen", 2.0, 1.0, 8.0, False),
            importance=tuple(dict.fromkeys(methods)),
            keep_ratio=float_option("keep_ratio", 0.4, 0.0, 1.0, True),
            min_width=int_value("min_width", 4, 1),
            batches=int_value("batches", 4, 1),
            batch_size=int_value("batch_size", 64, 1),
            bn_l1_epochs=int_value("bn_l1_epochs", 1, 1),
            bn_l1_strength=float(strength),
        )
        lowest_w = min(settings.widen.choices) if settings.widen.choices else settings.widen.low
        lowest_k = min(settings.keep_ratio.choices) if settings.keep_ratio.choices else settings.keep_ratio.low
        if lowest_w * lowest_k >= 1.0:
            raise ConfigError(
                f"{source}: lwdna.widen x lwdna.keep_ratio >= 1 for every choice ({lowest_w:g} x {lowest_k:g}): "
                "the shrunk network could never be smaller than the uniform one at the budget"
            )
        return settings




def _is_width_knob(name: str) -> bool:
    base = name.split("@", 1)[0]
    if base == "stem.width":
        return True
    parts = base.split(".")
    return bool(parts) and parts[0].startswith("s") and parts[0][1:].isdigit() and parts[-1] in ("width", "inner")


class MacroChooser:
    """Forwards structural knobs to ``chooser``; answers width knobs with their domain midpoint."""

    def __init__(self, chooser: Any) -> None:
        self.chooser = chooser

    def int(self, name: str, low: int, high: int, step: int = 1) -> int:
        if _is_width_knob(name):
            return low + ((high - low) // step // 2) * step
        return self.chooser.int(name, low, high, step)

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self.chooser.categorical(name, choices)

    def float(self, name: str, low: float, high: float) -> float:
        if name == "width_multiplier":  # the base is rescaled to the budget anyway
            return low
        return self.chooser.float(name, low, high)


def uniform_at_budget(
    spec: ArchSpec, *, max_params: int | None, max_macs: int | None, cost_fn: Any = None
) -> ArchSpec:
    """``spec`` with all widths scaled by one factor: the largest such network within the budget.

    Widths are rounded up to their ``multiple_of``; when even the narrowest (every slot one multiple)
    is over budget, that narrowest spec is returned (the caller records it as infeasible).
    """
    if cost_fn is None:
        from mgsearch.cost import cost as cost_fn
    slots = width_slots(spec)

    def scaled(c: float) -> ArchSpec:
        return spec.with_slot_values([widen_width(s.value, c, s.multiple_of) for s in slots])

    def fits(c: float) -> bool:
        k = cost_fn(scaled(c))
        return (max_params is None or k.params <= max_params) and (max_macs is None or k.macs <= max_macs)

    lo = 1e-6
    if not fits(lo):
        return scaled(lo)
    hi = 1.0
    while fits(hi) and hi < 1024 and max(widen_width(s.value, hi * 2, s.multiple_of) for s in slots) <= 65536:
        lo, hi = hi, hi * 2
    if fits(hi):
        return scaled(hi)
    for _ in range(40):
        mid = (lo + hi) / 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return scaled(lo)


def _resolve_device(device: str) -> str:
    if device in ("auto", "", None):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def lwdna_candidate(chooser: Any, config: Any, dataset: Any) -> tuple[ArchSpec, ArchSpec, dict[str, Any]]:
    """One LW-DNA trial: ``(child_spec, parent_spec, extra_attrs)`` (see the module docstring).

    ``config`` is the study's :class:`~mgsearch.study.StudyConfig` (its ``space_path``, budget,
    seed, device and raw ``lwdna`` table are used). The child meets the budget unless even the
    narrowest network of the sampled structure is over it; the child is then that narrowest network
    (over budget, so the search records the trial as infeasible without training), and
    ``extra_attrs["lwdna_error"]`` says why.
    """
    from mgsearch.shrink.fit import fit_widths
    from mgsearch.shrink.importance import channel_importance
    from mgsearch.shrink.widen import widen
    from mgsearch.space import SearchSpace

    settings = LwdnaSettings.from_table(getattr(config, "lwdna", None), source=str(getattr(config, "path", "study")))
    space = SearchSpace.from_file(config.space_path).with_overrides(
        in_channels=getattr(dataset, "in_channels", None),
        num_classes=getattr(dataset, "num_classes", None),
        input_size=getattr(dataset, "input_size", None),
    )
    max_params, max_macs = config.max_params, config.max_macs
    if max_params is None and max_macs is None:
        raise ConfigError(f"{getattr(config, 'path', 'study')}: strategy = \"lwdna\" needs budget.max_params and/or budget.max_macs")
    macro = space.to_spec(MacroChooser(chooser))
    factor = settings.widen.ask(chooser, "lwdna.widen")
    method = settings.importance[0] if len(settings.importance) == 1 else chooser.categorical(
        "lwdna.importance", list(settings.importance)
    )
    keep = settings.keep_ratio.ask(chooser, "lwdna.keep_ratio")
    base = uniform_at_budget(macro, max_params=max_params, max_macs=max_macs)
    parent = widen(base, factor)
    extra: dict[str, Any] = {
        "parent_spec": parent.to_json(),
        "lwdna_base_spec": base.to_json(),
        "widen": factor,
        "importance": method,
        "keep_ratio": keep,
    }
    device = _resolve_device(getattr(config, "device", "cpu"))
    t0 = time.perf_counter()
    scores = channel_importance(
        parent,
        dataset,
        method=method,
        batches=settings.batches,
        batch_size=settings.batch_size if method == "grad-init" else config.batch_size,
        seed=int(config.seed),
        device=device,
        epochs=settings.bn_l1_epochs,
        strength=settings.bn_l1_strength,
        train_fraction=config.train_fraction,
    )
    extra["importance_seconds"] = time.perf_counter() - t0
    try:
        fit = fit_widths(
            parent, scores, max_params=max_params, max_macs=max_macs, keep_ratio=keep, min_width=settings.min_width
        )
        child = fit.spec
    except BudgetError as exc:
        from mgsearch.shrink.fit import minimum_spec

        by = tuple(name for name, v in (("params", max_params), ("macs", max_macs)) if v is not None)
        child = minimum_spec(parent, keep_ratio=keep, min_width=settings.min_width, by=by)
        extra["lwdna_error"] = str(exc)
    return child, parent, extra
