"""The storage contract of docs/architecture.md is the typed record of mgsearch.store.records.

The doc's table of trial attributes, ``TRIAL_ATTRS`` (what the engine writes besides metric values),
the fields of ``TrialRecord`` (what readers get) and ``RESERVED_ATTRS`` (what a strategy may not set)
must name the same things; tests/test_extension_points.py checks what a real search writes.
"""

from __future__ import annotations

import re
from pathlib import Path

from mgsearch.metrics import metric_names
from mgsearch.store.records import RESERVED_ATTRS, TRIAL_ATTRS, TYPED_METRICS, record_attrs

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
#: record fields filled from a candidate's own attrs rather than the engine (the uniform baselines)
CANDIDATE_ATTRS = {"baseline_name"}


def contract_table() -> list[str]:
    """The attribute names of the doc's trial-attrs table, in order."""
    text = DOC.read_text()
    start = text.index("<!-- trial-attrs")
    rows = []
    for line in text[start:].splitlines()[1:]:
        line = line.strip()
        if not line.startswith("|"):
            if rows:
                break
            continue
        m = re.match(r"\|\s*`([a-z_]+)`\s*\|", line)
        if m:
            rows.append(m.group(1))
    return rows


def test_the_doc_table_is_trial_attrs():
    names = contract_table()
    assert len(names) == len(set(names)), "an attribute is listed twice"
    assert names == list(TRIAL_ATTRS), (set(names) ^ set(TRIAL_ATTRS))


def test_record_fields_are_contract_attrs():
    stored = set(record_attrs())
    assert stored <= set(TRIAL_ATTRS) | set(TYPED_METRICS) | CANDIDATE_ATTRS, stored - set(TRIAL_ATTRS)
    assert set(TYPED_METRICS) <= set(metric_names()), "a typed metric field names no registered metric"


def test_strategies_may_not_set_contract_attrs():
    assert RESERVED_ATTRS == set(TRIAL_ATTRS) | set(TYPED_METRICS)
    assert not CANDIDATE_ATTRS & RESERVED_ATTRS
