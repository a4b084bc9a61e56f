"""``strategy = "oneshot"``: widths scored on a slimmable supernet instead of trained.

For each trial :meth:`OneShotStrategy.propose` asks the sampler for every knob of the space (the
structure: depths, group sizes, sharing, ...; and the widths) and records the structure's largest
network as the candidate's parent. After the budget check, :meth:`OneShotStrategy.score` finds the
structure's supernet (:func:`mgsearch.oneshot.files.obtain_supernet`: loaded, or trained once with the
sandwich rule and in-place distillation when first needed, shared by later trials, workers and
studies through its file next to the study database), slices the candidate's widths out of it,
recalibrates BatchNorm on a few training images and measures validation accuracy. A study that fixes
the structure (every structural knob with one value) trains one supernet; otherwise one per structure
the sampler visits.

The ``[oneshot]`` table of a study file (all keys optional)::

    epochs = 30              # supernet training epochs (default: the study's epochs)
    train_fraction = 1.0     # share of the training split for the supernet (default: the study's)
    random_configs = 2       # random configurations per step besides the largest and the smallest
    distill = true           # in-place distillation from the largest configuration
    calibration_images = 512 # training images that recalibrate BatchNorm per configuration
    calibration_batch = 256  # their batch size
    val_images = 2000        # validation images a configuration is scored on (default: all)

Trials store ``fidelity = {epochs, train_fraction, batch_size, kind: "oneshot", calibration_images,
val_images}`` (the supernet's protocol), ``supernet`` (its key), ``supernet_file`` and
``oneshot_seconds`` (slicing + recalibration + validation). ``parent_spec`` is the supernet's
largest network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mgsearch.errors import ConfigError, clip, clip_repr
from mgsearch.spec import ArchSpec
from mgsearch.strategies.strategy import Candidate, Strategy, StrategyContext

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.space.choosers import Chooser

__all__ = ["OneShotSettings", "OneShotStrategy", "ONESHOT"]

_INT_KEYS = {"epochs": 1, "random_configs": 0, "calibration_images": 2, "calibration_batch": 2, "val_images": 1}
_KEYS = ("epochs", "train_fraction", "random_configs", "distill", "calibration_images", "calibration_batch",
         "val_images")


@dataclass(frozen=True)
class OneShotSettings:
    """The validated ``[oneshot]`` table (see the module docstring); None: the study's value / all."""

    epochs: int | None = None
    train_fraction: float | None = None
    random_configs: int = 2
    distill: bool = True
    calibration_images: int = 512
    calibration_batch: int = 256
    val_images: int | None = None

    @classmethod
    def from_table(cls, table: Mapping[str, Any], *, source: str) -> "OneShotSettings":
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in _KEYS:
                raise ConfigError(f"{source}: oneshot.{clip(key)} is not a known key; allowed: {', '.join(_KEYS)}")
            if key in _INT_KEYS:
                low = _INT_KEYS[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < low:
                    raise ConfigError(f"{source}: oneshot.{key}={clip_repr(value)} must be an integer >= {low}")
            elif key == "train_fraction":
                if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                        or not 0 < value <= 1):
                    raise ConfigError(f"{source}: oneshot.train_fraction={clip_repr(value)} must be in (0, 1]")
                value = float(value)
            elif key == "distill" and not isinstance(value, bool):
                raise ConfigError(f"{source}: oneshot.distill={clip_repr(value)} must be true or false")
            values[key] = value
        return cls(**values)


class OneShotStrategy(Strategy):
    """The sampler picks every knob; the candidate is scored on its structure's slimmable supernet."""

    name = "oneshot"
    description = "every knob from the sampler; widths scored on a slimmable supernet (sandwich rule) in seconds"
    table = "oneshot"
    fit_within_parent = True  # fill_budget never widens a candidate past the supernet's largest network

    def parse_settings(self, table: Mapping[str, Any], *, source: str) -> OneShotSettings:
        return OneShotSettings.from_table(table, source=source)

    def propose(self, chooser: "Chooser", context: StrategyContext) -> Candidate:
        from mgsearch.oneshot.session import remember_structure
        from mgsearch.oneshot.slicing import check_supported
        from mgsearch.oneshot.structure import record_structure

        structure, spec = record_structure(context.space, chooser)
        largest = structure.largest
        check_supported(largest)
        return Candidate(spec=spec, parent=largest, attrs={"supernet": remember_structure(structure)})

    def score(self, spec: ArchSpec, attrs: Mapping[str, Any], context: StrategyContext, *,
              on_epoch: Callable[[int, float], None] | None = None) -> Any:
        from mgsearch.oneshot.session import score_candidate

        settings = context.settings if isinstance(context.settings, OneShotSettings) else OneShotSettings()
        return score_candidate(spec, str(attrs["supernet"]), context, settings)

    def score_fidelity(self, context: StrategyContext) -> dict[str, Any]:
        from mgsearch.oneshot.session import protocol_of

        settings = context.settings if isinstance(context.settings, OneShotSettings) else OneShotSettings()
        return {"kind": "oneshot", **protocol_of(context, settings).to_dict(),
                "calibration_images": settings.calibration_images, "val_images": settings.val_images}


ONESHOT = OneShotStrategy()
