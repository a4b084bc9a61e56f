"""The :class:`~mgsearch.strategies.StrategyContext` of a study: what its strategy may use.

Built once per search run (by the :class:`~mgsearch.search.objective.Objective`, by the baselines,
by tests that call a strategy directly) from the study's configuration, its space shaped to the
dataset, the dataset and the resolved device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from mgsearch.search.budget import Budget, budget_check
from mgsearch.study import StudyConfig

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.space import SearchSpace
    from mgsearch.strategies import StrategyContext

__all__ = ["strategy_context", "strategy_files_dir"]


def strategy_context(
    config: StudyConfig,
    space: "SearchSpace",
    dataset: Any = None,
    device: str = "cpu",
    *,
    budget: Budget | None = None,
    settings: Any = None,
    train: Callable[..., Any] | None = None,
) -> "StrategyContext":
    """The context of ``config``'s strategy: its parsed settings (``config.strategy_settings``
    unless ``settings`` is given), the budget's limits and check, the data, fidelity, device, seed
    and the ``train`` callable (see :class:`~mgsearch.strategies.StrategyContext`)."""
    from mgsearch.strategies import StrategyContext

    budget = budget if budget is not None else Budget.from_config(config)
    if settings is None:
        settings = config.strategy_settings
    if settings is None:  # a config not read from a file (built in code): parse its table now
        from mgsearch.strategies import get_strategy

        strategy = get_strategy(config.strategy)
        table = config.strategy_tables.get(strategy.table, {}) if strategy.table else {}
        settings = strategy.parse_settings(table, source=str(config.path))
    return StrategyContext(
        space=space,
        limits=dict(budget.limits),
        fits=budget_check(budget),
        settings=settings,
        source=str(config.path),
        dataset=dataset,
        fidelity=config.fidelity(),
        device=device,
        seed=config.seed,
        train=train,
        recipe=dict(config.recipe),
        files_dir=strategy_files_dir(config),
    )


def strategy_files_dir(config: StudyConfig) -> str | None:
    """The folder next to the study database for strategies' files: ``<db stem>.supernets`` beside an
    SQLite database, else beside the study file (``<study stem>.supernets``)."""
    from pathlib import Path

    url = config.storage or ""
    if url.startswith("sqlite:///"):
        db = Path(url[len("sqlite:///"):].split("?", 1)[0])
        return str(db.parent / f"{db.stem}.supernets")
    if config.path is None:
        return None
    path = Path(config.path)
    return str(path.parent / f"{path.stem}.supernets")
