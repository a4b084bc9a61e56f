"""Results of a study: Pareto analysis as data, plotly figures, and the self-contained HTML page.

``analysis`` holds the data functions (no plotly); ``figures`` draws them; ``page`` assembles the
report. The figure and page functions load plotly on first use, so ``import mgsearch.report`` stays
light::

    from mgsearch.report import load_study, pareto_front, best, pareto_figure
    data = load_study("studies/quickstart.toml")
    pareto_figure(data, cost="params").show()
"""

from __future__ import annotations

import importlib
from typing import Any

from mgsearch.report.analysis import (
    STATUSES,
    StudyData,
    TrialRecord,
    WidthProfiles,
    best,
    cost_axes,
    feasible,
    hypervolume,
    hypervolume_history,
    load_study,
    pareto_front,
    records_from_trials,
    report_axes,
    state_counts,
    study_metrics,
    width_profiles,
)

_LAZY = {
    "pareto_figure": "mgsearch.report.figures",
    "hypervolume_figure": "mgsearch.report.figures",
    "width_heatmap": "mgsearch.report.figures",
    "structure_figure": "mgsearch.report.figures",
    "knobs_figure": "mgsearch.report.figures",
    "lineage_figure": "mgsearch.report.figures",
    "learning_curves_figure": "mgsearch.report.figures",
    "best_so_far_figure": "mgsearch.report.figures",
    "layer_profile_figure": "mgsearch.report.figures",
    "report_figures": "mgsearch.report.figures",
    "render_report": "mgsearch.report.page",
    "write_report": "mgsearch.report.page",
}

__all__ = [
    "STATUSES", "StudyData", "TrialRecord", "WidthProfiles", "best", "cost_axes", "feasible", "hypervolume",
    "hypervolume_history", "load_study", "pareto_front", "records_from_trials", "report_axes", "state_counts",
    "study_metrics", "width_profiles", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mgsearch.report' has no attribute {name!r}")
