"""OptunaChooser: the search-space chooser protocol on top of an Optuna trial."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import optuna

__all__ = ["OptunaChooser"]


class OptunaChooser:
    """Asks an Optuna trial for each knob (``suggest_int`` / ``suggest_categorical`` / ``suggest_float``).

    Optuna stores categorical choices as JSON-able values; ``None`` (a dense stage) is kept as is.
    """

    def __init__(self, trial: "optuna.Trial") -> None:
        self.trial = trial

    def int(self, name: str, low: int, high: int, step: int = 1) -> int:
        return int(self.trial.suggest_int(name, low, high, step=step))

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self.trial.suggest_categorical(name, list(choices))

    def float(self, name: str, low: float, high: float) -> float:
        return float(self.trial.suggest_float(name, low, high))
