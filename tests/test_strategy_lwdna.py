"""strategy = "lwdna" (mgsearch.strategies.lwdna): the [lwdna] table, the proposed candidates, a tiny real study."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import optuna
import pytest
import torch

from mgsearch.cost import cost
from mgsearch.errors import ConfigError
from mgsearch.fitting import scale_to_budget
from mgsearch.search.context import strategy_context
from mgsearch.shrink import widen
from mgsearch.space import SearchSpace
from mgsearch.space.choosers import RandomChooser
from mgsearch.spec import ArchSpec, width_slots
from mgsearch.strategies import get_strategy
from mgsearch.strategies.choosers import MacroChooser
from mgsearch.strategies.lwdna import LwdnaSettings
from mgsearch.study import load_study_config

SPACE = """
family = "mgic"
in_channels = 3
num_classes = 3
input_size = 16

[stem]
width = { min = 4, max = 16, step = 4 }

[[stages]]
stride = 1
depth = { min = 1, max = 2 }
width = { min = 8, max = 16, step = 4 }
inner = { min = 4, max = 16, step = 4, per_layer = true }
group_size = [4, "none"]
share = [1, 2]

[[stages]]
stride = 2
depth = { min = 1, max = 2 }
width = { min = 16, max = 32, step = 8 }
inner = { min = 8, max = 32, step = 8, per_layer = true }
group_size = [8, "none"]
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    from tests.fixtures.datasets import write_image_folder

    return write_image_folder(tmp_path_factory.mktemp("lwdna-data"))


@pytest.fixture(scope="module")
def dataset(folder):
    from mgsearch.data import load_dataset

    return load_dataset("imagefolder", folder, val_fraction=0.25)


def write_study(tmp: Path, folder: Path, *, budget: str = "max_params = 6000", lwdna: str = "", n: int = 3) -> Path:
    (tmp / "space.toml").write_text(SPACE)
    path = tmp / "lw.toml"
    path.write_text(
        f'[study]\nspace = "space.toml"\nstrategy = "lwdna"\nn_trials = {n}\nsampler = "random"\npruner = "none"\n'
        f'[data]\ndataset = "imagefolder"\nroot = "{folder}"\nval_fraction = 0.25\n'
        f'[fidelity]\nepochs = 1\nbatch_size = 32\n[budget]\n{budget}\n[device]\nname = "cpu"\nthreads = 1\n'
        f"[lwdna]\n{lwdna}\n"
    )
    return path


def lwdna_candidate(chooser, config, dataset):
    """``(child, parent, trial attrs)`` of one LW-DNA proposal in the study of ``config``."""
    space = SearchSpace.from_file(config.space_path).with_overrides(
        in_channels=dataset.in_channels, num_classes=dataset.num_classes, input_size=dataset.input_size)
    candidate = get_strategy(config.strategy).propose(chooser, strategy_context(config, space, dataset, "cpu"))
    return candidate.spec, candidate.parent, candidate.trial_attrs()


@pytest.mark.parametrize(
    "table, key",
    [
        ({"bogus": 1}, "lwdna.bogus"),
        ({"importance": "magic"}, "lwdna.importance"),
        ({"importance": []}, "lwdna.importance"),
        ({"widen": 0.5}, "lwdna.widen"),
        ({"widen": {"min": 3, "max": 2}}, "lwdna.widen"),
        ({"keep_ratio": 0}, "lwdna.keep_ratio"),
        ({"keep_ratio": [0.4, 1.2]}, "lwdna.keep_ratio"),
        ({"batches": 0}, "lwdna.batches"),
        ({"bn_l1_strength": -1}, "lwdna.bn_l1_strength"),
        ({"base": "widest"}, "lwdna.base"),
        ({"group_fraction": 0}, "lwdna.group_fraction"),
        ({"group_fraction": 1.5}, "lwdna.group_fraction"),
        ({"val_images": 0}, "lwdna.val_images"),
        ({"calibration_images": 2.5}, "lwdna.calibration_images"),
        ({"widen": 3.0, "keep_ratio": 0.5}, "lwdna.widen x lwdna.keep_ratio"),
    ],
)
def test_bad_lwdna_tables(table, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as err:
        LwdnaSettings.from_table(table, source="s.toml")
    assert str(err.value).startswith("s.toml: ")


def test_settings_defaults_and_forms():
    s = LwdnaSettings.from_table({})
    assert (s.widen.low, s.importance, s.keep_ratio.low) == (2.0, ("grad-init",), 0.4)
    s = LwdnaSettings.from_table({"widen": {"min": 1.5, "max": 2.5}, "keep_ratio": [0.3, 0.4],
                                  "importance": ["grad-init", "bn-l1"]})
    chooser = RandomChooser(1)
    assert 1.5 <= s.widen.ask(chooser, "lwdna.widen") <= 2.5
    assert s.keep_ratio.ask(chooser, "lwdna.keep_ratio") in (0.3, 0.4)
    assert set(chooser.values) == {"lwdna.widen", "lwdna.keep_ratio"}


def test_macro_chooser_asks_structure_only(tmp_path):
    (tmp_path / "space.toml").write_text(SPACE)
    space = SearchSpace.from_file(tmp_path / "space.toml")
    inner = RandomChooser(0)
    space.to_spec(MacroChooser(inner))
    assert inner.values and all(not any(w in k for w in ("width", "inner")) for k in inner.values), inner.values


def test_the_base_is_the_largest_uniform_fit(tmp_path):
    (tmp_path / "space.toml").write_text(SPACE)
    spec = SearchSpace.from_file(tmp_path / "space.toml").to_spec(MacroChooser(RandomChooser(2)))
    base = scale_to_budget(spec, lambda s: cost(s).params <= 20_000, grow=True)
    assert cost(base).params <= 20_000
    bigger = widen(base, 1.25)
    assert cost(bigger).params > 20_000


def test_uniform_base_is_the_uniform_baseline(tmp_path, folder, dataset):
    """base = "uniform": in a space of one structure, the network LW-DNA widens is exactly the
    ``uniform@budget`` baseline (so the confirmed baseline is the shrunk network's own parent)."""
    from mgsearch.strategies.uniform import BaselineSettings

    fixed = SPACE.replace("depth = { min = 1, max = 2 }", "depth = 2").replace('group_size = [4, "none"]', "group_size = 4")
    fixed = fixed.replace("share = [1, 2]", "share = 1").replace('group_size = [8, "none"]', "group_size = 8")
    bases = {}
    for base in ("uniform", "midpoint"):
        config = load_study_config(write_study(tmp_path, folder, lwdna=f'base = "{base}"\nbatches = 1'))
        (tmp_path / "space.toml").write_text(fixed)
        _child, _parent, extra = lwdna_candidate(RandomChooser(0), config, dataset)
        assert extra["lwdna_base"] == base
        bases[base] = ArchSpec.from_json(extra["lwdna_base_spec"])
    space = SearchSpace.from_file(tmp_path / "space.toml").with_overrides(
        in_channels=dataset.in_channels, num_classes=dataset.num_classes, input_size=dataset.input_size)
    context = strategy_context(config, space, dataset, "cpu")
    context = dataclasses.replace(context, settings=BaselineSettings())
    uniform = get_strategy("baseline").propose(None, context).spec
    assert bases["uniform"] == uniform
    assert 0.97 * 6000 <= cost(uniform).params <= 6000
    assert [w.value for w in width_slots(bases["midpoint"])] != [w.value for w in width_slots(uniform)]


def test_candidates_meet_the_budget(tmp_path, folder, dataset):
    torch.set_num_threads(1)
    config = load_study_config(write_study(tmp_path, folder, budget="max_params = 6000\nmax_macs = 800000",
                                           lwdna='widen = {min = 1.5, max = 2.5}\nkeep_ratio = [0.3, 0.4]\nbatches = 1'))
    feasible = 0
    for seed in range(6):
        chooser = RandomChooser(seed)
        child, parent, extra = lwdna_candidate(chooser, config, dataset)
        c = cost(child)
        if "lwdna_error" in extra:  # widen x keep_ratio too large for this structure: recorded infeasible
            assert c.params > 6000 or c.macs > 800_000
            assert extra["widen"] * extra["keep_ratio"] > 0.8
            continue
        feasible += 1
        assert c.params <= 6000 and c.macs <= 800_000, (seed, c.params, c.macs)
        assert ArchSpec.from_json(child.to_json()) == child
        assert ArchSpec.from_json(extra["parent_spec"]) == parent
        base = ArchSpec.from_json(extra["lwdna_base_spec"])
        assert widen(base, extra["widen"]) == parent
        assert extra["importance"] == "grad-init" and extra["keep_ratio"] in (0.3, 0.4)
        for a, b in zip(width_slots(child), width_slots(parent)):
            assert a.paths == b.paths and a.value <= b.value and a.value % a.multiple_of == 0
            assert a.value >= min(b.value, extra["keep_ratio"] * b.value)
        # the structure came from the chooser, the widths did not
        assert all(not k.startswith(("stem.width",)) and ".width" not in k and "inner" not in k
                   for k in chooser.values)
    assert feasible >= 3


def test_structure_over_budget_gives_an_infeasible_child(tmp_path, folder, dataset):
    config = load_study_config(write_study(tmp_path, folder, budget="max_params = 300", lwdna="batches = 1"))
    child, parent, extra = lwdna_candidate(RandomChooser(0), config, dataset)
    assert cost(child).params > 300
    assert "below the smallest network" in extra["lwdna_error"]


def test_lwdna_study_end_to_end(tmp_path, folder):
    """A real tiny study with strategy = "lwdna": trials record parent and child and meet the budget."""
    from mgsearch.search import run_search

    config = load_study_config(write_study(tmp_path, folder, lwdna="batches = 1\nbatch_size = 16", n=3))
    result = run_search(config, progress=False)
    assert result.n_trials == 3
    study = optuna.load_study(study_name=config.name, storage=config.storage)
    trials = study.get_trials()
    assert len(trials) == 3
    for t in trials:
        a = t.user_attrs
        assert a["strategy"] == "lwdna"
        child = ArchSpec.from_json(a["spec"])
        parent = ArchSpec.from_json(a["parent_spec"])
        assert [s.name for s in width_slots(child)] == [s.name for s in width_slots(parent)]
        assert a["widen"] == 2.0 and a["importance"] == "grad-init" and a["keep_ratio"] == 0.4
        if a["status"] == "trained":
            assert a["params"] <= 6000 and 0.0 <= a["val_acc"] <= 1.0
            assert cost(parent).params > a["params"]
    assert any(t.user_attrs["status"] == "trained" for t in trials)
    json.dumps([t.user_attrs for t in trials])  # everything stored is JSON


def test_lwdna_study_with_slimmable_importance(tmp_path, folder, monkeypatch):
    """importance = "slimmable": each trial trains its parent as a slimmable network for the study's epochs,
    shrinks it greedily by measured accuracy, and the child meets the budget and is trained."""
    from mgsearch.search import run_search

    import mgsearch.shrink.slimmable as slimmable

    calls = []
    real = slimmable.slimmable_shrink

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(slimmable, "slimmable_shrink", recording)
    monkeypatch.setenv("MGSEARCH_THREADS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads per process spin against each other on a shared machine
    try:
        table = 'importance = "slimmable"\nkeep_ratio = 0.3\ngroup_fraction = 0.2\ncalibration_images = 64\nval_images = 48'
        config = load_study_config(write_study(tmp_path, folder, lwdna=table, n=1))
        result = run_search(config, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert result.n_trials == 1
    assert [(c["group_fraction"], c["calibration_images"], c["val_images"]) for c in calls] == [(0.2, 64, 48)]
    trials = optuna.load_study(study_name=config.name, storage=config.storage).get_trials()
    for t in trials:
        a = t.user_attrs
        assert a["importance"] == "slimmable" and a["status"] == "trained", a
        assert a["params"] <= 6000 and a["slimmable_steps"] >= 1 and a["slimmable_scored"] > a["slimmable_steps"]
        assert a["importance_seconds"] >= a["slimmable_train_seconds"] > 0
