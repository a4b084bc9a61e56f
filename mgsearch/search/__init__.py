"""Budgeted architecture search with Optuna: objective, constraints, pruning, storage, workers, baselines.

* :func:`run_search` — create / resume / join (``worker=True``) a study and run it to ``n_trials``;
* :func:`run_baselines` — train the baselines (dense-resnet@budget, uniform@budget, ...) into ``<name>.baselines``;
* :class:`Objective`, :class:`OptunaChooser`, :func:`open_storage`, :func:`pareto_rows`.

What every trial stores is the "Study storage contract" in ``docs/architecture.md``; the user
guide is ``docs/search.md``.
"""

from mgsearch.search.baselines import baseline_specs, run_baselines
from mgsearch.search.budget import Budget, check_space_minimum, repair_to_budget, uniform_scale
from mgsearch.search.chooser import OptunaChooser
from mgsearch.search.objective import Objective
from mgsearch.search.progress import pareto_rows, status_counts
from mgsearch.search.runner import SearchResult, open_study, prepare, run_search
from mgsearch.search.storage import load_existing_study, open_storage, storage_for

__all__ = [
    "run_search", "run_baselines", "baseline_specs", "SearchResult", "Objective", "OptunaChooser", "Budget",
    "check_space_minimum", "repair_to_budget", "uniform_scale", "open_storage", "storage_for",
    "load_existing_study", "open_study", "prepare", "pareto_rows", "status_counts",
]
