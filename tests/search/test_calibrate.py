"""mgsearch calibrate: candidates fitted to the budget, trained at two fidelities, rank correlations with
bootstrap intervals; stored in <name>.calibrate and resumable."""

from __future__ import annotations

import importlib
import math

import numpy as np
import optuna
import pytest

from mgsearch.cost import cost
from mgsearch.evidence import (calibration, kendall_tau_b, noise_ceiling, protocol_noise, seed_noise, spearman)
from mgsearch.search.budget import Budget
from mgsearch.search.calibrate import calibration_candidates, run_calibrate, scored_calibration_candidates
from mgsearch.search.confirm import run_confirm
from mgsearch.search.retrain import RunsInterrupted
from mgsearch.space import SearchSpace
from mgsearch.store.records import read_study
from mgsearch.store.runs import RunRecord, run_groups
from mgsearch.study import load_study_config
from tests.search.conftest import CountingTrain
from tests.search.test_confirm import searched, searched_once, write_micro_study  # noqa: F401 (fixtures)


def test_rank_statistics_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for n in (4, 5, 12, 30):
        x = rng.normal(size=n)
        y = x + rng.normal(size=n)
        x[1] = x[0]  # a tie on each side
        y[2] = y[3]
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
        assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_calibration_reports_intervals_and_top_k_overlap():
    cheap = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    full = [0.15, 0.1, 0.35, 0.3, 0.6, 0.5]
    cal = calibration([(f"c{i}", a, b) for i, (a, b) in enumerate(zip(cheap, full))], top_k=2)
    assert cal.spearman == pytest.approx(spearman(cheap, full))
    assert cal.spearman_ci[0] <= cal.spearman <= cal.spearman_ci[1] <= 1.0
    assert cal.kendall_ci[0] <= cal.kendall <= cal.kendall_ci[1]
    assert cal.top_k_overlap == 2  # the top two by either score are c4, c5
    perfect = calibration([(str(i), i, i) for i in range(5)], top_k=3)
    assert perfect.spearman == perfect.kendall == 1.0 and perfect.top_k_overlap == 3
    assert "Spearman 1.00" in perfect.text() and "top-3 overlap 3 of 3" in perfect.text()


def test_candidates_are_distinct_and_fitted_to_the_budget():
    from mgsearch.search.budget import fit_to_budget

    space = SearchSpace.from_file("search_spaces/mgic.toml")
    budget = Budget(max_params=50_000)
    specs = calibration_candidates(space, budget, 4, seed=0)
    assert len({s.hash for s in specs}) == 4
    expected: list[str] = []
    for sample in space.sample(200, seed=0):  # the samples, each fitted by the one fitting function
        fitted = fit_to_budget(sample, budget)
        if fitted is not None and fitted.hash not in expected:
            expected.append(fitted.hash)
        if len(expected) == 4:
            break
    assert [s.hash for s in specs] == expected
    assert all(0.9 * 50_000 <= cost(s).params <= 50_000 for s in specs)  # onto the budget, as the search fits


@pytest.fixture
def micro(tmp_path):
    return load_study_config(write_micro_study(tmp_path, extra="[calibrate]\nn = 3\n[confirm]\nepochs = 2\n"))


def test_calibrate_trains_each_candidate_at_both_fidelities_and_resumes(micro, monkeypatch):
    module = importlib.import_module("mgsearch.train")
    real = module.train
    calls = {"n": 0}

    def interrupted_on_fourth(spec, dataset, **kw):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(spec, dataset, **kw)

    monkeypatch.setattr(module, "train", interrupted_on_fourth)
    with pytest.raises(RunsInterrupted, match="3 of 6 runs finished and kept"):
        run_calibrate(micro, progress=False)
    counter = CountingTrain(real)
    monkeypatch.setattr(module, "train", counter)
    result = run_calibrate(micro, progress=False)
    assert counter.calls == 3  # the interrupted run and the two never started
    trials = optuna.load_study(study_name="s.calibrate", storage=micro.storage).get_trials(deepcopy=False)
    finished = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(finished) == 6 and len({t.user_attrs["run_key"] for t in finished}) == 6
    for t in finished:
        a = t.user_attrs
        wanted = {"search": (1, "val_acc"), "confirm": (2, "test_acc")}[a["role"]]
        assert a["protocol"]["epochs"] == wanted[0] and t.value == a[wanted[1]]
    by_index = {}
    for t in finished:
        by_index.setdefault(t.user_attrs["source_trial"], set()).add(t.user_attrs["spec_hash"])
    assert sorted(by_index) == [0, 1, 2] and all(len(h) == 1 for h in by_index.values())
    cal = result.calibration
    assert cal.n == 3
    if len(set(cal.cheap)) == 1 or len(set(cal.full)) == 1:  # e.g. every candidate at chance: no ranking
        assert math.isnan(cal.spearman) and result.to_dict()["kendall"] is None
    else:
        assert -1 <= cal.spearman <= 1 and result.to_dict()["kendall"] == pytest.approx(cal.kendall)
    run_calibrate(micro, progress=False)
    assert counter.calls == 3  # nothing left to train

    from mgsearch.report.page import render_report

    optuna.create_study(study_name="s", storage=micro.storage)  # calibrate needs no search; the report does
    html = render_report(read_study(micro.storage, micro.name))
    assert 'id="fig-calibration"' in html and "Spearman" in html


def test_a_oneshot_study_is_calibrated_on_its_supernets_and_shares_them_with_the_search(
        tmp_path, tiny_image_folder, monkeypatch, capsys):
    """The search side of a one-shot study is the one-shot score (no training from scratch), on the
    supernet file the search itself uses; candidates stay within their structure's largest network."""
    from mgsearch.oneshot import files as files_module
    from mgsearch.search import run_search
    from mgsearch.search.context import strategy_context
    from mgsearch.search.runner import prepare
    from mgsearch.strategies import get_strategy
    from tests.search.conftest import MICRO_SPACE
    from tests.test_oneshot import _study

    one_structure = MICRO_SPACE.replace("depth = { min = 1, max = 2 }", "depth = { min = 2, max = 2 }")
    path = _study(tmp_path, tiny_image_folder(classes=3, train_per_class=16, test_per_class=4),
                  table="epochs = 1\n", n_trials=3, space=one_structure)
    config = load_study_config(path)
    dataset, space, device = prepare(config)
    strategy = get_strategy("oneshot")
    context = strategy_context(config, space, dataset, device)
    drawn = scored_calibration_candidates(strategy, context, Budget.from_config(config), 3, seed=0)
    assert len({c.spec.hash for c in drawn}) == 3 and len({c.attrs["supernet"] for c in drawn}) == 1
    for c in drawn:
        assert cost(c.spec).params <= 3000
        assert all(w <= top for w, top in zip(c.spec.widths(), c.parent.widths()))
    key = drawn[0].attrs["supernet"]
    assert strategy.score_fidelity(context)["kind"] == "oneshot"
    assert get_strategy("direct").score_fidelity(context) is None  # trained candidates: calibrate trains both sides

    counter = CountingTrain()
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train", counter)
    result = run_calibrate(config, n=3, epochs=1, progress=False)
    assert counter.calls == 3  # the confirm side only: the search side is scored, not trained
    assert result.search_protocol["kind"] == "oneshot" and result.calibration.n == 3
    trials = optuna.load_study(study_name=f"{config.name}.calibrate", storage=config.storage).get_trials()
    search = [t for t in trials if t.user_attrs["role"] == "search"]
    assert len(search) == 3 and all(t.state.name == "COMPLETE" for t in search)
    files = [p.name for p in (tmp_path / "os.supernets").glob("*.safetensors")]
    assert len(files) == 1
    for t in search:
        a = t.user_attrs
        assert a["protocol"]["kind"] == "oneshot" and a["supernet_file"] == files[0]
        assert a["supernet"] == key and t.value == a["val_acc"]

    from mgsearch.cli import main

    assert main(["calibrate", str(path), "--n", "3", "--epochs", "1", "--no-progress"]) == 0  # resumes: all stored
    out = capsys.readouterr().out
    assert "one-shot score on supernets trained 1 epochs" in out and "one-shot val acc %" in out
    assert counter.calls == 3

    # the search scores on the same file: loaded from disk (the process's cache emptied), not trained again
    from mgsearch.oneshot import session

    monkeypatch.setattr(session, "_SUPERNETS", {})
    monkeypatch.setattr(files_module, "train_supernet", lambda *a, **k: pytest.fail("trained again"))
    run_search(config, progress=False)
    searched = optuna.load_study(study_name=config.name, storage=config.storage).get_trials()
    assert [t.user_attrs["supernet"] for t in searched if t.user_attrs.get("status") == "trained"] == \
        [key] * 3

    # a space changed under a stored calibration: its candidates' supernets are unknown, said in one line
    from mgsearch.errors import ConfigError

    (tmp_path / "space.toml").write_text(one_structure.replace("width = { min = 8, max = 16, step = 8 }",
                                                               "width = { min = 8, max = 24, step = 8 }"))
    with pytest.raises(ConfigError, match="candidate 0 stored earlier .* no longer drawn from this space"):
        run_calibrate(load_study_config(path), n=3, epochs=1, progress=False)


def test_too_few_candidates_say_so_instead_of_an_overlap():
    one = calibration([("candidate 0", 0.32, 0.79)], top_k=3)
    assert one.top_k_overlap is None and math.isnan(one.kendall)
    assert one.text() == "1 candidate with both scores so far: too few for a rank correlation (at least 3)"
    assert one.to_dict()["top_k_overlap"] is None and one.to_dict()["kendall"] is None


def _run(number: int, source: int, seed: int, acc: float, protocol: dict) -> RunRecord:
    return RunRecord(number=number, state="COMPLETE", status="trained", role="found", source_study="s",
                     source_trial=source, seed=seed, protocol=protocol, spec_hash=f"h{source}", test_acc=acc)


def test_seed_noise_pools_the_networks_trained_with_several_seeds_at_one_protocol():
    long, short = {"epochs": 15}, {"epochs": 2}
    runs = [_run(0, 0, 0, 0.80, long), _run(1, 0, 1, 0.82, long), _run(2, 0, 2, 0.78, long),  # sd 0.02
            _run(3, 1, 0, 0.70, long), _run(4, 1, 1, 0.71, long),  # sd 0.00707
            _run(5, 2, 0, 0.50, long),  # one seed: says nothing about noise
            _run(6, 3, 0, 0.10, short), _run(7, 3, 1, 0.90, short)]  # another protocol
    noise = protocol_noise(runs, long)
    assert (noise.networks, noise.runs) == (2, 5)
    assert noise.sd == pytest.approx(math.sqrt((2 * 0.02 ** 2 + 1 * 0.00005) / 3))
    assert protocol_noise(runs, short).sd == pytest.approx(math.sqrt(0.32))
    assert seed_noise(run_groups([runs[5]])) is None and protocol_noise(runs, {"epochs": 3}) is None


def test_noise_ceiling_is_the_kendall_a_perfect_score_reaches_under_seed_noise():
    rng = np.random.default_rng(0)
    true_sd, seed_sd, n = 0.2, 0.3, 12
    true = rng.normal(0.0, true_sd, (4000, n))
    simulated = np.mean([kendall_tau_b(t, t + rng.normal(0.0, seed_sd, n)) for t in true])
    observed = rng.normal(size=n)
    observed *= math.sqrt(true_sd ** 2 + seed_sd ** 2) / observed.std(ddof=1)  # the spread the model expects
    assert noise_ceiling(observed, seed_sd) == pytest.approx(simulated, abs=0.02)
    assert 0.3 < noise_ceiling(observed, seed_sd) < 0.4
    assert noise_ceiling(observed, 0.0) == 1.0  # no noise: a perfect score ranks perfectly
    assert noise_ceiling(observed, 10.0) == 0.0  # noise explains all the spread: nothing to rank
    assert math.isnan(noise_ceiling([0.5, 0.5, 0.5], 0.01)) and math.isnan(noise_ceiling([0.1, 0.2], 0.01))


def test_calibration_states_its_noise_ceiling_only_when_the_noise_is_known():
    pairs = [(f"c{i}", 0.3 + 0.01 * i, 0.79 + 0.003 * ((5 * i) % 12)) for i in range(12)]
    plain = calibration(pairs)
    assert plain.ceiling is None and "noise ceiling" not in plain.text()
    assert plain.to_dict()["noise_ceiling"] is None and plain.to_dict()["seed_noise"] is None
    noise = seed_noise(run_groups([_run(0, 0, 0, 0.790, {}), _run(1, 0, 1, 0.796, {})]))
    cal = calibration(pairs, noise=noise)
    assert cal.ceiling == pytest.approx(noise_ceiling(cal.full, noise.sd)) and 0 < cal.ceiling < 1
    assert f"a perfect score would reach Kendall {cal.ceiling:.2f}" in cal.text()
    assert "seed sd 0.42 points from 1 network x seeds" in cal.text()
    assert cal.to_dict()["seed_noise"] == {"sd": noise.sd, "networks": 1, "runs": 2}


def test_calibrate_takes_the_seed_noise_from_the_studys_confirm_runs(searched):
    config = searched  # the micro study, searched, with its baselines
    run_confirm(config, top=1, seeds=2, epochs=2, progress=False)
    result = run_calibrate(config, n=3, epochs=2, train_fraction=1.0, progress=False)
    noise = result.calibration.noise
    assert noise is not None and noise.networks >= 1 and noise.runs >= 2
    assert result.to_dict()["seed_noise"]["runs"] == noise.runs
    from mgsearch.report.figures import calibration_figure

    title = calibration_figure(read_study(config.storage, config.name)).layout.title.text
    lines = title.split("<br>")  # heading, the rank statistics, the ceiling on a line of its own
    assert len(lines) == 3 and "Kendall" in lines[1] and "noise ceiling" not in lines[1]
    assert lines[2] == f"<sup>{result.calibration.ceiling_text()}</sup>"
    other = run_calibrate(config, n=3, epochs=1, train_fraction=1.0, progress=False)  # no confirm runs at 1 epoch
    assert other.calibration.noise is None
