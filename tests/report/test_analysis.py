"""Pareto analysis against hand-computed cases, and load_study on real SQLite studies."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mgsearch.errors import BudgetError, MgsearchError, StorageError
from mgsearch.report.analysis import (
    TrialRecord,
    best,
    feasible,
    hypervolume,
    hypervolume_history,
    load_study,
    pareto_front,
    redact_url,
    state_counts,
    width_profiles,
)
from tests.report.studyfactory import T, resnet_spec, write_study


def rec(number, acc, params, macs=None, status="trained", spec_hash=None, constraints=(), **kw):
    return TrialRecord(number=number, state="COMPLETE", status=status, val_acc=acc, params=params,
                       macs=macs if macs is not None else params * 10, spec_hash=spec_hash or f"h{number}",
                       constraints=tuple(constraints), **kw)


# --------------------------------------------------------------------------- Pareto front
def test_pareto_front_hand_computed():
    recs = [
        rec(0, 0.80, 1000),
        rec(1, 0.85, 2000),
        rec(2, 0.84, 2500),  # dominated by 1 (cheaper and better)
        rec(3, 0.90, 4000),
        rec(4, 0.70, 500),
        rec(5, 0.95, 9000),
        rec(6, 0.60, 800),  # dominated by 4
    ]
    assert [r.number for r in pareto_front(recs, "params")] == [4, 0, 1, 3, 5]


def test_pareto_front_ties_duplicates_and_states():
    recs = [
        rec(0, 0.80, 1000),
        rec(1, 0.80, 1000, spec_hash="other"),  # exact tie: the earlier trial stands
        rec(2, 0.80, 1500),  # equal acc, higher cost: dominated
        rec(3, 0.75, 1000),  # equal cost, lower acc: dominated
        rec(4, 0.99, 100, status="duplicate"),  # duplicates never count
        rec(5, 0.99, 100, status="pruned"),
        rec(6, 0.0, 50, status="infeasible", constraints=(10.0,)),
        rec(7, 0.97, 120, constraints=(5.0,)),  # trained but violates a constraint
        rec(8, 0.90, 3000, spec_hash="h0"),  # same spec as trial 0 trained again: the earlier stands
        rec(9, None, 10),  # trained without accuracy (bad row): ignored
    ]
    assert [r.number for r in pareto_front(recs, "params")] == [0]
    assert [r.number for r in feasible(recs)] == [0, 1, 2, 3]


def test_pareto_front_by_macs_differs_from_params():
    recs = [rec(0, 0.8, 1000, macs=50_000), rec(1, 0.9, 2000, macs=40_000)]
    assert [r.number for r in pareto_front(recs, "params")] == [0, 1]
    assert [r.number for r in pareto_front(recs, "macs")] == [1]
    with pytest.raises(MgsearchError, match="cost='flops'"):
        pareto_front(recs, "flops")


def test_pareto_front_latency_skips_unmeasured():
    recs = [rec(0, 0.8, 1000, latency_ms=2.0), rec(1, 0.9, 2000)]
    assert [r.number for r in pareto_front(recs, "latency")] == [0]


# --------------------------------------------------------------------------- hypervolume
def test_hypervolume_hand_computed():
    # ref cost 4000: (1000, .8) alone -> .75 * .8 = .6; adding (2000, .9) -> + .5 * .1 = .05
    assert hypervolume([(1000, 0.8)], 4000) == pytest.approx(0.6)
    assert hypervolume([(1000, 0.8), (2000, 0.9)], 4000) == pytest.approx(0.65)
    # a dominated point adds nothing; a point beyond the reference adds nothing
    assert hypervolume([(1000, 0.8), (2000, 0.9), (3000, 0.85), (5000, 0.99)], 4000) == pytest.approx(0.65)
    assert hypervolume([], 4000) == 0.0
    with pytest.raises(MgsearchError):
        hypervolume([(1, 0.5)], 0)


def test_hypervolume_history_hand_computed():
    recs = [
        rec(0, 0.5, 2000),
        rec(1, 0.0, 100, status="infeasible", constraints=(1.0,)),
        rec(2, 0.8, 1000),
        rec(3, 0.7, 3000),  # dominated: no change
        rec(4, 0.9, 2000),
    ]
    numbers, hv, ref = hypervolume_history(recs, cost="params", ref_cost=4000)
    assert numbers == [0, 1, 2, 3, 4]
    assert ref == 4000
    # 0: .5*.5=.25 | 1: same | 2: (1-.25)*.8=.6 | 3: same | 4: .6 + .5*.1 = .65
    assert hv == pytest.approx([0.25, 0.25, 0.6, 0.6, 0.65])
    # default reference: the largest feasible cost (3000)
    _, hv2, ref2 = hypervolume_history(recs)
    assert ref2 == 3000
    assert hv2[-1] == pytest.approx((1 - 1000 / 3000) * 0.8 + (1 - 2000 / 3000) * 0.1)
    assert all(a <= b for a, b in zip(hv2, hv2[1:]))


# --------------------------------------------------------------------------- best / re-slicing
def test_best_reslices_budgets():
    recs = [rec(0, 0.80, 1000, macs=9000), rec(1, 0.85, 2000, macs=8000), rec(2, 0.90, 4000, macs=30000),
            rec(3, 0.99, 1500, status="duplicate"), rec(4, 0.85, 1800, macs=20000)]
    assert best(recs).number == 2
    assert best(recs, max_params=2000).number == 4  # tie at .85: fewer params wins
    assert best(recs, max_params=1999, max_macs=10000).number == 0
    assert best(recs, max_macs=8500).number == 1
    assert best(recs, max_params=1000).number == 0


def test_best_impossible_budget_names_cheapest():
    recs = [rec(0, 0.80, 1000, macs=9000), rec(1, 0.85, 2000, macs=8000)]
    with pytest.raises(BudgetError, match=r"params <= 500; the cheapest \(by params\) is trial 0 with 1,000 params"):
        best(recs, max_params=500)
    with pytest.raises(BudgetError, match=r"cheapest \(by macs\) is trial 1 with 2,000 params, 8,000 MACs"):
        best(recs, max_macs=100)
    with pytest.raises(BudgetError, match="no trained feasible trial yet"):
        best([rec(0, 0.5, 10, status="pruned")])
    with pytest.raises(MgsearchError, match="max_params=-5"):
        best(recs, max_params=-5)


# --------------------------------------------------------------------------- profiles and counts
def test_width_profiles_matrix_and_baselines():
    a = resnet_spec(8, ((8, (4, 6)), (16, (12,))))
    b = resnet_spec(8, ((8, (8, 8)), (16, (16,))), family="dacnn", share=1)
    c = resnet_spec(8, ((8, (8, 8)), (16, (16, 16))), family="mgic", group_size=4, share=2)
    recs = [rec(0, 0.8, 10, spec_json=a.to_json()), rec(1, 0.9, 20, spec_json=c.to_json())]
    base = [rec(5, 0.85, 30, spec_json=b.to_json(), baseline_name="uniform-1x")]
    prof = width_profiles(recs, base)
    assert prof.labels == ["#0", "#1", "uniform-1x"]
    assert prof.numbers == [0, 1, None]
    # columns in network order (not first appearance): stem, then per stage its width and its blocks
    assert prof.columns == ["stem", "stages[0].width", "stages[0].blocks[0].inner", "stages[0].blocks[0:2].inner",
                            "stages[0].blocks[1].inner", "stages[1].width", "stages[1].blocks[0].inner",
                            "stages[1].blocks[0:2].inner"]
    row0 = dict(zip(prof.columns, prof.widths[0]))
    assert row0["stages[0].blocks[1].inner"] == 6 and row0["stages[1].blocks[0].inner"] == 12
    # c shares its blocks in runs of 2: its inner widths are one slot per run
    row1 = dict(zip(prof.columns, prof.widths[1]))
    assert row1["stages[1].blocks[0:2].inner"] == 16
    assert math.isnan(row1["stages[0].blocks[0].inner"])
    assert np.array_equal(prof.group_sizes, [[0, 0], [4, 4], [0, 0]])
    assert np.array_equal(prof.shares, [[1, 1], [2, 2], [1, 1]])


def test_state_counts():
    recs = [rec(0, .5, 1), rec(1, 0, 1, status="infeasible"), rec(2, None, 1, status="pruned"),
            rec(3, .5, 1, status="duplicate"), rec(4, .5, 1)]
    counts = state_counts(recs)
    assert counts["trained"] == 2 and counts["infeasible"] == 1 and counts["pruned"] == 1
    assert counts["duplicate"] == 1 and counts["failed"] == 0


def test_redact_url_hides_password():
    assert "secret" not in redact_url("postgresql+psycopg://me:secret@db.example:5432/s")
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


# --------------------------------------------------------------------------- load_study on SQLite
def _specs():
    return [resnet_spec(8, ((8, (w,)), (16, (2 * w,)))) for w in (4, 6, 8, 10)]


def test_load_study_reads_contract(tmp_path):
    s = _specs()
    trials = [
        T(spec=s[0], val_acc=0.6, params=1000, macs=20000, knobs={"w": 4}),
        T(spec=s[1], val_acc=0.7, params=1500, macs=30000, knobs={"w": 6}),
        T(status="infeasible", spec=s[3], params=9000, macs=90000, constraints=(4000.0,), knobs={"w": 10}),
        T(status="duplicate", spec=s[1], val_acc=0.7, params=1500, macs=30000, duplicate_of=1, knobs={"w": 6}),
        T(status="pruned", spec=s[2], val_acc=0.3, params=2000, macs=40000, knobs={"w": 8}),
        T(status="trained", spec=s[2], val_acc=0.75, params=2000, macs=40000, parent_spec=s[3], knobs={"w": 8}),
    ]
    base = [T(spec=s[2], val_acc=0.72, params=2000, macs=40000, baseline_name="uniform-8")]
    write_study(tmp_path / "s.db", "s", trials, budget={"max_params": 5000}, baselines=base)
    data = load_study(tmp_path / "s.db")
    assert data.name == "s" and data.dataset == "fashion-mnist"
    assert data.budget == {"max_params": 5000, "max_macs": None, "max_latency_ms": None}
    assert data.directions == ("maximize",)
    assert [r.status for r in data.records] == ["trained", "trained", "infeasible", "duplicate", "pruned", "trained"]
    assert data.records[4].state == "PRUNED" and data.records[4].val_acc is None
    assert data.records[3].duplicate_of == 1
    assert data.records[0].knobs == {"w": 4}
    assert data.records[0].spec == s[0]
    assert data.records[5].parent_spec == s[3]
    assert [b.baseline_name for b in data.baselines] == ["uniform-8"]
    assert [r.number for r in pareto_front(data.records)] == [0, 1, 5]
    assert best(data, max_params=1600).number == 1
    assert data.trial(2).status == "infeasible"
    with pytest.raises(MgsearchError, match="has no trial 17; trial numbers run 0..5"):
        data.trial(17)


def test_load_study_errors(tmp_path):
    with pytest.raises(StorageError, match="no study database here"):
        load_study(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    write_study(tmp_path / "two.db", "a", [])
    write_study(tmp_path / "two.db", "b", [])
    with pytest.raises(StorageError, match=r"holds 2 studies \(a, b\); pass --study-name"):
        load_study(tmp_path / "two.db")
    with pytest.raises(StorageError, match="has no study 'c'; it holds: a, b"):
        load_study(tmp_path / "two.db", "c")
    assert load_study(f"sqlite:///{tmp_path / 'two.db'}", "b").name == "b"


def test_sql_reader_matches_optuna(small_study_db):
    """The direct SQL read gives the same records as Optuna's own reader."""
    import optuna

    from mgsearch.store.records import read_trials, records_from_trials

    store = optuna.storages.RDBStorage(f"sqlite:///{small_study_db}")
    for name in ("small", "small.baselines"):
        sid = store.get_study_id_from_name(name)
        via_optuna = records_from_trials(store.get_all_trials(sid, deepcopy=False))
        via_sql = records_from_trials(read_trials(store, sid))
        assert via_sql == via_optuna and len(via_sql) > 1
    pruned = [r for r in via_optuna if r.status == "pruned"]
    assert not pruned  # baselines have none; the main study's pruned trials carry their last report
    main = records_from_trials(read_trials(store, store.get_study_id_from_name("small")))
    assert [r.last_report for r in main if r.status == "pruned"] == [0.4, 0.45]
    assert main[0].knobs == {"family": "resnet", "w0": 4, "w1": 8}


def test_sql_reader_falls_back_only_where_it_cannot_apply(small_study_db, monkeypatch):
    """Optuna's reader is used for a storage without an SQL engine or with another schema; any
    other error of the fast reader is raised, never hidden behind the fallback."""
    import types

    import optuna
    import pytest
    import sqlalchemy as sa

    from mgsearch.store import records

    store = optuna.storages.RDBStorage(f"sqlite:///{small_study_db}")
    sid = store.get_study_id_from_name("small")
    expected = records.records_from_trials(store.get_all_trials(sid, deepcopy=False))
    plain = types.SimpleNamespace(get_all_trials=store.get_all_trials)  # no engine: not an RDB storage
    assert records.records_from_trials(records.read_trials(plain, sid)) == expected
    monkeypatch.setitem(records._SCHEMA, "trials", records._SCHEMA["trials"] + ("no_such_column",))
    assert records.records_from_trials(records.read_trials(store, sid)) == expected
    monkeypatch.undo()

    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(records, "_read_rdb", broken)
    with pytest.raises(sa.exc.OperationalError):
        records.read_trials(store, sid)
