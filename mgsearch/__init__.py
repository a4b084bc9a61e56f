"""mgsearch: find compact CNNs under a parameter / compute budget.

The public API is re-exported here; the heavy modules (torch, optuna, plotly) load on first use::

    import mgsearch
    spec = mgsearch.ArchSpec.from_json(text)      # or mgsearch.preset("resnet20")
    model = mgsearch.build(spec)
    mgsearch.cost(spec).params
    result = mgsearch.train(spec, mgsearch.load_dataset("fashion-mnist"), fidelity=mgsearch.Fidelity(epochs=1))
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from mgsearch.errors import (
    BudgetError,
    ConfigError,
    DataError,
    ExportError,
    MgsearchError,
    SpecError,
    StorageError,
    TrainingDiverged,
)
from mgsearch.spec import ArchSpec, Block, Head, Stage, Stem, WidthSlot, width_slots

# `cost` is both a submodule and the public function: importing the (torch-free) module here, then
# binding the function, keeps `mgsearch.cost(spec)` the function whatever is imported later.
from mgsearch.cost import Cost, LayerCost, cost  # noqa: E402  (after the light imports above)

__version__ = "0.1.0"

# name -> (module, attribute): resolved lazily so `import mgsearch` stays light. No name here may
# equal a submodule's name (importing the submodule would replace it): the submodules `shrink` and
# `presets` are reached as modules (`mgsearch.shrink.shrink(...)`); the modules `train` and `export`
# are callable (their module class forwards a call to their function), so `mgsearch.train(spec, ds,
# fidelity=...)` and `mgsearch.export(study, out, ...)` are the functions users expect, while
# `mgsearch.train.Fidelity` and `from mgsearch.train import ...` keep working.
_LAZY: dict[str, tuple[str, str]] = {
    "build": ("mgsearch.families", "build"),
    "preset": ("mgsearch.presets", "get_preset"),
    "PRESETS": ("mgsearch.presets", "PRESETS"),
    "resolve_spec": ("mgsearch.presets", "resolve_spec"),
    "SearchSpace": ("mgsearch.space", "SearchSpace"),
    "load_dataset": ("mgsearch.data", "load_dataset"),
    "Fidelity": ("mgsearch.train", "Fidelity"),
    "Recipe": ("mgsearch.train", "Recipe"),
    "StudyConfig": ("mgsearch.study", "StudyConfig"),
    "run_search": ("mgsearch.search", "run_search"),
    "widen": ("mgsearch.shrink", "widen"),
    "load_study": ("mgsearch.report", "load_study"),
    "best": ("mgsearch.report", "best"),
    "pareto_front": ("mgsearch.report", "pareto_front"),
    "load": ("mgsearch.export", "load"),
}

__all__ = [
    "ArchSpec", "Block", "Head", "Stage", "Stem", "WidthSlot", "width_slots",
    "MgsearchError", "SpecError", "ConfigError", "DataError", "StorageError", "ExportError",
    "BudgetError", "TrainingDiverged", "cost", "Cost", "LayerCost", "train", "export", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if importlib.util.find_spec(f"mgsearch.{name}") is not None:
        return importlib.import_module(f"mgsearch.{name}")
    raise AttributeError(f"module 'mgsearch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
