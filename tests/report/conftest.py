"""A small real study in SQLite (storage contract), shared by the figure, page and browser tests."""

from __future__ import annotations

import pytest

from tests.report.studyfactory import T, resnet_spec, write_study


def small_study_trials() -> tuple[list[T], list[T]]:
    """Trials with every status: 7 trained (distinct specs), 2 pruned, 2 infeasible, 1 duplicate,
    1 diverged, 1 LW-DNA child; and 2 uniform baselines. Costs come from mgsearch.cost."""
    specs = [resnet_spec(8, ((8, (w, w)), (16, (w2,)))) for w, w2 in
             ((4, 8), (6, 8), (8, 12), (8, 16), (10, 16), (12, 20), (16, 24))]
    accs = [0.61, 0.66, 0.70, 0.69, 0.74, 0.73, 0.78]
    trials = [T(spec=s, val_acc=a, knobs={"w0": s.stages[0].blocks[0].inner, "w1": s.stages[1].blocks[0].inner,
                                          "family": "resnet"})
              for s, a in zip(specs, accs)]
    big = resnet_spec(64, ((64, (64, 64)), (128, (128,))))
    trials += [
        T(status="pruned", spec=resnet_spec(8, ((8, (14, 14)), (16, (10,)))), val_acc=0.4, knobs={"w0": 14}),
        T(status="pruned", spec=resnet_spec(8, ((8, (6, 6)), (16, (30,)))), val_acc=0.45, knobs={"w0": 6}),
        T(status="infeasible", spec=big, knobs={"w0": 64}),
        T(status="infeasible", spec=resnet_spec(48, ((48, (48, 48)), (96, (96,)))), knobs={"w0": 48}),
        T(status="duplicate", spec=specs[2], val_acc=0.70, duplicate_of=2, knobs={"w0": 8}),
        T(status="diverged", spec=resnet_spec(8, ((8, (20, 20)), (16, (8,)))), knobs={"w0": 20}),
        T(spec=resnet_spec(8, ((8, (12, 12)), (16, (12,)))), val_acc=0.72, parent_spec=specs[6], knobs={"w0": 12}),
    ]
    baselines = [
        T(spec=resnet_spec(8, ((8, (8, 8)), (16, (16,)))), val_acc=0.68, baseline_name="uniform-0.5x"),
        T(spec=resnet_spec(16, ((16, (16, 16)), (32, (32,)))), val_acc=0.75, baseline_name="uniform-1x"),
    ]
    return trials, baselines


@pytest.fixture(scope="session")
def small_study_db(tmp_path_factory):
    """Path of an SQLite database holding study ``small`` and ``small.baselines`` (read-only use)."""
    trials, baselines = small_study_trials()
    db = tmp_path_factory.mktemp("small") / "small.db"
    write_study(db, "small", trials, budget={"max_params": 40_000}, baselines=baselines)
    return db
