"""THE place where the built-in metrics are registered (imported by the registry on first use).

To add a metric: define a :class:`~mgsearch.metrics.metric.Metric` (for an analytic one, with a
``value(cost, spec)`` function) and add it to :data:`BUILTIN_METRICS`. The order here is the order of
report columns and of the constraints stored with trials: new metrics go at the end.
"""

from __future__ import annotations

from mgsearch.metrics.metric import ANALYTIC, MAXIMIZE, MEASURED, MINIMIZE, Metric
from mgsearch.metrics.registry import register_metric

VAL_ACC = Metric(
    "val_acc", MAXIMIZE, MEASURED, label="validation accuracy", column="val acc", digits=".4f", shown=True,
    description="top-1 accuracy on the validation split carved from the training set (the search's score)",
)
TEST_ACC = Metric(
    "test_acc", MAXIMIZE, MEASURED, label="test accuracy", column="test acc", digits=".4f", shown=True,
    objective=False, description="top-1 accuracy on the test split, measured by export --retrain only (never searched on)",
)
PARAMS = Metric(
    "params", MINIMIZE, ANALYTIC, label="parameters", unit="params", value=lambda c, spec: c.params, integer=True,
    budget=True, shown=True, description="parameters, every tensor once (shared weights once)",
)
MACS = Metric(
    "macs", MINIMIZE, ANALYTIC, label="MACs per image", unit="MACs", column="MACs", value=lambda c, spec: c.macs,
    integer=True, budget=True, shown=True,
    description="multiply-accumulates of the convolutions and linear layers for one image, per application",
)
ACTIVATIONS = Metric(
    "activations", MINIMIZE, ANALYTIC, label="activations per image", unit="activations",
    value=lambda c, spec: c.activations, integer=True,
    description="output elements of the convolutions and linear layers for one image",
)
LATENCY_MS = Metric(
    "latency_ms", MINIMIZE, MEASURED, label="latency (ms)", unit="ms", column="latency ms", digits=".3g",
    budget=True, max_limit=3.6e6, shown=True, aliases=("latency",),
    description="median batch-1 forward time on the study's device (measured per candidate)",
)

BUILTIN_METRICS = (VAL_ACC, TEST_ACC, PARAMS, MACS, ACTIVATIONS, LATENCY_MS)

for _metric in BUILTIN_METRICS:
    register_metric(_metric)
