"""``strategy = "lwdna"``: the sampler picks the macro structure, LW-DNA fixes the per-layer widths.

For each trial :meth:`LwdnaStrategy.propose`

1. asks the chooser for the space's *structural* knobs (group sizes, share depths, depths, dropout)
   through :meth:`mgsearch.space.SearchSpace.to_spec`, answering the width knobs itself with the
   midpoint of their domain (:class:`~mgsearch.strategies.choosers.MacroChooser`: the space's width
   profile, not sampled);
2. scales that profile uniformly to the largest network that meets the study budget
   (:func:`mgsearch.fitting.scale_to_budget`: the uniform base of this structure at the budget, as
   in the paper); with ``base = "uniform"`` the base is instead the structure with the classic
   stage profile (stem and stage widths ``w * 2^k``) scaled and filled onto the budget exactly as the
   ``uniform@budget`` baseline is (:func:`mgsearch.strategies.uniform.scale_reference`), so in a
   space of one structure the shrunk network can be compared with that confirmed baseline, its own
   uniform parent;
3. asks the chooser for the LW-DNA knobs ``lwdna.widen``, ``lwdna.importance``, ``lwdna.keep_ratio``
   (a knob with one allowed value is not asked), widens the base into the parent, scores its channels
   and shrinks it back to the budget (:func:`mgsearch.shrink.fit_widths`).

The ``[lwdna]`` table of a study file (all keys optional), parsed once when the study file is read::

    base = "midpoint"        # the base network widened: "midpoint" (the space's width profile) or "uniform"
    widen = 2.0              # a number, a list of choices, or {min = 1.5, max = 3.0}
    importance = "grad-init" # "grad-init", "bn-l1", "slimmable", or a list of them
    keep_ratio = 0.4         # a number, a list of choices, or {min = 0.3, max = 0.6}
    min_width = 4            # the smallest width of any layer
    batches = 4              # grad-init: mini-batches at initialisation
    batch_size = 64          # grad-init: their size
    bn_l1_epochs = 1         # bn-l1: sparsity-training epochs of the parent
    bn_l1_strength = 1e-4    # bn-l1: L1 weight on the BatchNorm scales
    group_fraction = 0.1     # slimmable: share of a layer's widened width removed per greedy step
    calibration_images = 512 # slimmable: training images that recalibrate BatchNorm per scored network
    val_images = 2000        # slimmable: validation images each network is scored on

This module imports :mod:`mgsearch.shrink` (LW-DNA's functions) only inside :meth:`~LwdnaStrategy.propose`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from mgsearch.errors import BudgetError, ConfigError
from mgsearch.fitting import narrowest, scale_to_budget
from mgsearch.strategies.choosers import MacroChooser
from mgsearch.strategies.strategy import Candidate, Strategy, StrategyContext

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.space.choosers import Chooser

__all__ = ["LwdnaStrategy", "LwdnaSettings", "FloatOption", "LWDNA", "BASES"]

#: ``[lwdna] base``: which network of the sampled structure is widened (see the module docstring)
BASES = ("midpoint", "uniform")

_KEYS = ("base", "widen", "importance", "keep_ratio", "min_width", "batches", "batch_size", "bn_l1_epochs", "bn_l1_strength",
         "group_fraction", "calibration_images", "val_images")


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

    @property
    def lowest(self) -> float:
        return min(self.choices) if self.choices else self.low


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
    base: str = "midpoint"
    group_fraction: float = 0.1
    calibration_images: int = 512
    val_images: int = 2000

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None, *, source: str = "study file") -> "LwdnaSettings":
        """Validate a raw ``[lwdna]`` table; every mistake is a one-line ConfigError naming ``source``."""
        from mgsearch.shrink.methods import SHRINK_METHODS as IMPORTANCE_METHODS

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
        base = table.get("base", "midpoint")
        if base not in BASES:
            raise ConfigError(f"{source}: lwdna.base={base!r} must be one of {', '.join(BASES)}")
        fraction = table.get("group_fraction", 0.1)
        if not _is_num(fraction) or not 0 < fraction <= 1:
            raise ConfigError(f"{source}: lwdna.group_fraction={fraction!r} must be a number in (0, 1]")
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
            base=base,
            group_fraction=float(fraction),
            calibration_images=int_value("calibration_images", 512, 1),
            val_images=int_value("val_images", 2000, 1),
        )
        lowest_w, lowest_k = settings.widen.lowest, settings.keep_ratio.lowest
        if lowest_w * lowest_k >= 1.0:
            raise ConfigError(
                f"{source}: lwdna.widen x lwdna.keep_ratio >= 1 for every choice ({lowest_w:g} x {lowest_k:g}): "
                "the shrunk network could never be smaller than the uniform one at the budget"
            )
        return settings


class LwdnaStrategy(Strategy):
    """Widen the structure's uniform network at the budget, score its channels, shrink it back."""

    name = "lwdna"
    description = "the sampler picks the structure; LW-DNA widen-then-shrink sets the per-layer widths"
    table = "lwdna"

    def parse_settings(self, table: Mapping[str, Any], *, source: str) -> LwdnaSettings:
        return LwdnaSettings.from_table(table, source=source)

    def propose(self, chooser: "Chooser", context: StrategyContext) -> Candidate:
        """The shrunk child, its widened parent and the LW-DNA attributes (see the module docstring).

        The child meets the budget unless even the narrowest network of the sampled structure is
        over it; the child is then that narrowest network (over budget, so the search records the
        trial as infeasible without training), and ``attrs["lwdna_error"]`` says why.
        """
        from mgsearch.shrink.fit import fit_widths, minimum_spec
        from mgsearch.shrink.importance import channel_importance
        from mgsearch.shrink.widen import widen

        settings = context.settings if isinstance(context.settings, LwdnaSettings) else LwdnaSettings()
        max_params, max_macs = context.limits.get("params"), context.limits.get("macs")
        if max_params is None and max_macs is None:
            raise ConfigError(f"{context.source}: strategy = \"lwdna\" needs budget.max_params and/or budget.max_macs")
        macro = context.space.to_spec(MacroChooser(chooser))
        factor = settings.widen.ask(chooser, "lwdna.widen")
        method = settings.importance[0] if len(settings.importance) == 1 else chooser.categorical(
            "lwdna.importance", list(settings.importance)
        )
        keep = settings.keep_ratio.ask(chooser, "lwdna.keep_ratio")
        if settings.base == "uniform":
            from mgsearch.strategies.uniform import scale_reference

            base = scale_reference(macro, context.limits) or narrowest(macro)
        else:
            base = scale_to_budget(macro, context.fits, grow=True) or narrowest(macro)
        parent = widen(base, factor)
        attrs: dict[str, Any] = {"lwdna_base_spec": base.to_json(), "lwdna_base": settings.base, "widen": factor,
                                 "importance": method, "keep_ratio": keep}
        fidelity = context.fidelity
        if method == "slimmable":  # accuracy-guided: the parent trained as a slimmable network, shrunk greedily
            return self._slimmable(parent, attrs, context, settings, keep, max_params, max_macs)
        t0 = time.perf_counter()
        scores = channel_importance(
            parent,
            context.dataset,
            method=method,
            batches=settings.batches,
            batch_size=settings.batch_size if method == "grad-init" else fidelity.get("batch_size", 128),
            seed=int(context.seed),
            device=context.device,
            epochs=settings.bn_l1_epochs,
            strength=settings.bn_l1_strength,
            train_fraction=fidelity.get("train_fraction", 1.0),
        )
        attrs["importance_seconds"] = time.perf_counter() - t0
        try:
            child = fit_widths(parent, scores, max_params=max_params, max_macs=max_macs, keep_ratio=keep,
                               min_width=settings.min_width).spec
        except BudgetError as exc:
            by = tuple(name for name, v in (("params", max_params), ("macs", max_macs)) if v is not None)
            child = minimum_spec(parent, keep_ratio=keep, min_width=settings.min_width, by=by)
            attrs["lwdna_error"] = str(exc)
        return Candidate(spec=child, parent=parent, attrs=attrs)

    def _slimmable(self, parent: Any, attrs: dict[str, Any], context: StrategyContext, settings: LwdnaSettings,
                   keep: float, max_params: Any, max_macs: Any) -> Candidate:
        """``importance = "slimmable"``: the parent trained for the study's epochs as a slimmable
        network, then shrunk greedily by measured accuracy (:func:`mgsearch.shrink.slimmable.slimmable_shrink`)."""
        from mgsearch.oneshot.training import stderr_progress
        from mgsearch.shrink.fit import minimum_spec
        from mgsearch.shrink.slimmable import slimmable_shrink

        fidelity = context.fidelity
        try:
            slim = slimmable_shrink(
                parent, context.dataset, max_params=max_params, max_macs=max_macs, keep_ratio=keep,
                min_width=settings.min_width, epochs=int(fidelity.get("epochs", 1)),
                train_fraction=float(fidelity.get("train_fraction", 1.0)),
                batch_size=int(fidelity.get("batch_size", 128)), recipe=dict(context.recipe or {}),
                seed=int(context.seed), device=context.device, group_fraction=settings.group_fraction,
                calibration_images=settings.calibration_images, val_images=settings.val_images,
                progress=stderr_progress)
        except BudgetError as exc:
            by = tuple(name for name, v in (("params", max_params), ("macs", max_macs)) if v is not None)
            attrs["lwdna_error"] = str(exc)
            return Candidate(spec=minimum_spec(parent, keep_ratio=keep, min_width=settings.min_width, by=by),
                             parent=parent, attrs=attrs)
        attrs.update(importance_seconds=slim.seconds, slimmable_train_seconds=slim.train_seconds,
                     slimmable_steps=len(slim.steps), slimmable_scored=slim.scored)
        return Candidate(spec=slim.fit.spec, parent=parent, attrs=attrs)


LWDNA = LwdnaStrategy()
