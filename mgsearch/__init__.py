"""mgsearch: find compact CNNs under a parameter / compute budget.

The public API is re-exported here; the heavy modules (torch, optuna, plotly) load on first use::

    import mgsearch
    spec = mgsearch.ArchSpec.from_json(text)      # or mgsearch.preset("resnet20")
    model = mgsearch.build(spec)
    mgsearch.cost(spec).params
"""

from __future__ import annotations

import importlib
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

__version__ = "0.1.0"

# name -> (module, attribute): resolved lazily so `import mgsearch` stays light.
_LAZY: dict[str, tuple[str, str]] = {
    "build": ("mgsearch.families", "build"),
    "cost": ("mgsearch.cost", "cost"),
    "Cost": ("mgsearch.cost", "Cost"),
    "LayerCost": ("mgsearch.cost", "LayerCost"),
    "preset": ("mgsearch.presets", "get_preset"),
    "presets": ("mgsearch.presets", "PRESETS"),
    "resolve_spec": ("mgsearch.presets", "resolve_spec"),
    "SearchSpace": ("mgsearch.space", "SearchSpace"),
    "load_dataset": ("mgsearch.data", "load_dataset"),
    "train": ("mgsearch.train", "train"),
    "Fidelity": ("mgsearch.train", "Fidelity"),
    "Recipe": ("mgsearch.train", "Recipe"),
    "StudyConfig": ("mgsearch.study", "StudyConfig"),
    "run_search": ("mgsearch.search", "run_search"),
    "shrink": ("mgsearch.shrink", "shrink"),
    "widen": ("mgsearch.shrink", "widen"),
    "load_study": ("mgsearch.report", "load_study"),
    "best": ("mgsearch.report", "best"),
    "pareto_front": ("mgsearch.report", "pareto_front"),
    "export": ("mgsearch.export", "export"),
    "load": ("mgsearch.export", "load"),
}

__all__ = [
    "ArchSpec", "Block", "Head", "Stage", "Stem", "WidthSlot", "width_slots",
    "MgsearchError", "SpecError", "ConfigError", "DataError", "StorageError", "ExportError",
    "BudgetError", "TrainingDiverged", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mgsearch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
