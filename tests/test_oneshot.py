"""One-shot width search: slicing, group keeping, the sandwich step, supernet files, a tiny search."""

from __future__ import annotations

import random
from pathlib import Path

import optuna
import pytest
import torch

from mgsearch.errors import ConfigError
from mgsearch.families import build
from mgsearch.oneshot.files import obtain_supernet, supernet_key
from mgsearch.oneshot.slicing import OneShotUnsupported, Supernet, check_supported
from mgsearch.oneshot.structure import record_structure
from mgsearch.oneshot.training import SandwichProtocol, sandwich_step
from mgsearch.space import RandomChooser, SearchSpace
from mgsearch.spec import ArchSpec
from mgsearch.study import load_study_config
from mgsearch.training.recipe import Recipe
from tests.search.conftest import MICRO_SPACE

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "search_spaces" / "tiny.toml"


def _structure(space: SearchSpace, **answers):
    """The structure of ``space`` with the given structural knob answers (random otherwise)."""
    rng = random.Random(0)

    class Pick:
        def int(self, name, low, high, step=1):
            return answers.get(name, rng.choice(range(low, high + 1, step)))

        def categorical(self, name, choices):
            return answers.get(name, rng.choice(list(choices)))

        def float(self, name, low, high):
            return answers.get(name, low)

    return record_structure(space, Pick())[0]


def _x(spec: ArchSpec, n: int = 3) -> torch.Tensor:
    return torch.randn(n, spec.in_channels, spec.input_size, spec.input_size, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("seed", range(2))
def test_a_sliced_configuration_equals_a_fresh_network_holding_the_copied_weights(seed):
    space = SearchSpace.from_file(TINY)
    structure = _structure(space, **{"s0.depth": 2, "s1.depth": 2, "s0.share": 2})
    torch.manual_seed(seed)
    supernet = Supernet(structure.largest)
    for spec in (structure.largest, structure.smallest, structure.random(random.Random(seed))):
        # the weights a fresh network of the spec gets when the slices are copied into it by name
        fresh = build(spec)
        params = supernet.params_for(fresh)
        assert set(params) == set(dict(fresh.named_parameters(remove_duplicate=False)))
        with torch.no_grad():
            for name, p in fresh.named_parameters(remove_duplicate=False):
                p.copy_(params[name])
        fresh.eval()
        supernet.model(spec).eval()
        x = _x(spec)
        torch.testing.assert_close(supernet.forward_config(spec, x), fresh(x))
        torch.testing.assert_close(supernet.extract(spec).eval()(x), fresh(x))


def test_dense_slices_are_channel_prefixes_of_the_largest_network():
    import tomllib

    space = SearchSpace.from_dict(tomllib.loads(MICRO_SPACE))
    structure = _structure(space, **{"s0.depth": 1})
    supernet = Supernet(structure.largest)
    small = structure.smallest
    model = supernet.extract(small)
    stem = supernet.site("stem.conv.weight")
    assert torch.equal(model.stem.conv.weight, stem[: small.stem.width, :3])
    fc = supernet.site("head.fc.weight")
    assert torch.equal(model.head.fc.weight, fc[:, : small.stages[-1].width])
    bn = supernet.site("stem.bn.weight")
    assert torch.equal(model.stem.bn.weight, bn[: small.stem.width])


def test_mgic_slices_keep_whole_groups():
    """A grouped level of a narrower MGIC conv is the diagonal blocks of its site: group h reads the
    channels of group h only, and a conv with the same group size as the largest one's reads its
    first groups unchanged."""
    space = SearchSpace.from_file(TINY)
    structure = _structure(space, **{"s0.group_size": 4, "s0.depth": 1, "s1.group_size": 8, "s1.depth": 1})
    supernet = Supernet(structure.largest)
    spec = structure.configuration({"s0.width@s4": 8, "s0.b0.inner@s4": 8, "stem.width": 8})
    model = supernet.extract(spec)
    conv = model.stages[0].blocks[0].conv2  # MGIC 8 -> 8, s = 4: G_0 has 2 groups of 4
    g0 = conv.G[0]
    assert g0.groups == 2
    full = supernet.site(f"{supernet._site_prefix(['stages.0.blocks.0.conv2'])}.L0")
    big = supernet.extract(structure.largest).stages[0].blocks[0].conv2.G[0]
    for h in range(2):
        block = full[h * 4:(h + 1) * 4, h * 4:(h + 1) * 4]
        assert torch.equal(g0.weight[h * 4:(h + 1) * 4], block)  # group h: channels of group h only
        assert torch.equal(big.weight[h * 4:(h + 1) * 4], block)  # the largest conv's group h: the same block
    assert not torch.equal(full[0:4, 4:8], torch.zeros(4, 4, 3, 3))  # off-diagonal weights exist but are unused


def test_unsupported_block_forms_and_families_are_named():
    space = SearchSpace.from_file(REPO / "search_spaces" / "mgic_vcycle.toml")
    spec = next(s for s in space.sample(40, seed=0) if any(st.block == "vcycle" for st in s.stages))
    with pytest.raises(OneShotUnsupported, match=r"not supported by oneshot yet: stages\[\d\]\.block='vcycle'"):
        check_supported(spec)
    mgnet = SearchSpace.from_file(REPO / "search_spaces" / "mgnet.toml").min_spec()
    with pytest.raises(OneShotUnsupported, match="not supported by oneshot yet: family 'mgnet'"):
        check_supported(mgnet)


def test_a_sandwich_step_trains_every_configuration_from_the_largest():
    space = SearchSpace.from_file(TINY)
    structure = _structure(space, **{"s0.depth": 1, "s1.depth": 1})
    torch.manual_seed(0)
    supernet = Supernet(structure.largest)
    x, y = _x(structure.largest, 8), torch.arange(8) % 10
    loss, logits = sandwich_step(supernet, structure, x, y, rng=random.Random(0), random_configs=2)
    assert logits.shape == (8, 10) and loss > 0
    unused = {k for k in supernet.shapes if supernet.site(k).grad is None}
    # only the projection shortcuts the largest network lacks may be unused by a step's configurations
    assert all(".shortcut." in k for k in unused)
    assert all(torch.isfinite(supernet.site(k).grad).all() for k in supernet.shapes if k not in unused)
    stem = supernet.site("stem.conv.weight").grad
    assert stem.abs().sum() > 0


def _dataset(tiny_image_folder):
    from mgsearch.data import load_dataset

    return load_dataset("imagefolder", tiny_image_folder(classes=3, train_per_class=16, test_per_class=4),
                        val_fraction=0.25)


@pytest.mark.slow
def test_supernet_files_save_resume_and_reuse(tmp_path, tiny_image_folder, monkeypatch):
    import tomllib

    from mgsearch.oneshot import files as files_module

    dataset = _dataset(tiny_image_folder)
    space = SearchSpace.from_dict(tomllib.loads(MICRO_SPACE))
    structure = _structure(space, **{"s0.depth": 1})
    protocol = SandwichProtocol(epochs=2, train_fraction=1.0, batch_size=16, recipe=Recipe(warmup_epochs=0), seed=3)
    dev = torch.device("cpu")

    # a training killed after its first epoch leaves a checkpoint; the next call resumes from it
    real_train = files_module.train_supernet

    def killed_after_one(*args, on_epoch, **kwargs):
        def stop(epoch, state):
            on_epoch(epoch, state)
            raise KeyboardInterrupt

        real_train(*args, on_epoch=stop, **kwargs)

    monkeypatch.setattr(files_module, "train_supernet", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        obtain_supernet(structure, dataset, protocol, tmp_path, device=dev)
    key = supernet_key(structure, protocol, dataset.fingerprint)
    assert (tmp_path / f"{key}.ckpt.safetensors").is_file() and not (tmp_path / f"{key}.safetensors").exists()
    starts = []
    monkeypatch.setattr(files_module, "train_supernet",
                        lambda *a, start_epoch, **k: (starts.append(start_epoch), real_train(*a, start_epoch=start_epoch, **k)))
    resumed, files, trained = obtain_supernet(structure, dataset, protocol, tmp_path, device=dev)
    assert trained and starts == [1]
    assert files.weights.is_file() and not files.checkpoint.exists()

    # the same protocol uninterrupted gives the same weights (resuming is exact)
    straight, _, _ = obtain_supernet(structure, dataset, protocol, tmp_path / "again", device=dev)
    for k in resumed.shapes:
        torch.testing.assert_close(resumed.site(k), straight.site(k))

    # a later caller loads the file instead of training
    monkeypatch.setattr(files_module, "train_supernet", lambda *a, **k: pytest.fail("trained again"))
    loaded, _, trained = obtain_supernet(structure, dataset, protocol, tmp_path, device=dev)
    assert not trained
    for k in resumed.shapes:
        assert torch.equal(loaded.site(k), resumed.site(k))


def _study(tmp_path: Path, root: Path, *, table: str = "", n_trials: int = 4, space: str = MICRO_SPACE) -> Path:
    (tmp_path / "space.toml").write_text(space)
    path = tmp_path / "os.toml"
    path.write_text(
        f'[study]\nspace = "space.toml"\nstrategy = "oneshot"\nn_trials = {n_trials}\nsampler = "random"\n'
        'pruner = "none"\n'
        f'[data]\ndataset = "imagefolder"\nroot = "{root}"\nval_fraction = 0.25\n'
        '[fidelity]\nepochs = 1\nbatch_size = 16\n[budget]\nmax_params = 3000\n[device]\nname = "cpu"\nthreads = 1\n'
        f"[oneshot]\ncalibration_images = 16\ncalibration_batch = 8\n{table}"
    )
    return path


def test_a_tiny_oneshot_search_end_to_end(tmp_path, tiny_image_folder, monkeypatch):
    from mgsearch.search import run_search

    import importlib

    trainings = []
    module = importlib.import_module("mgsearch.train")
    real = module.train
    monkeypatch.setattr(module, "train", lambda *a, **k: (trainings.append(1), real(*a, **k))[1])
    path = _study(tmp_path, tiny_image_folder(classes=3, train_per_class=16, test_per_class=4),
                  table="epochs = 1\n", n_trials=3)
    config = load_study_config(path)
    run_search(config, progress=False)
    study = optuna.load_study(study_name=config.name, storage=config.storage)
    scored = [t for t in study.trials if t.user_attrs.get("status") == "trained"]
    assert scored and not trainings  # scored on supernets, nothing trained from scratch
    folder = tmp_path / "os.supernets"
    files = sorted(p.name for p in folder.glob("*.safetensors"))
    keys = {t.user_attrs["supernet"] for t in scored}
    assert len(files) == len(keys) >= 1  # one supernet per structure, saved next to the database
    for t in scored:
        a = t.user_attrs
        assert a["strategy"] == "oneshot" and a["fidelity"]["kind"] == "oneshot"
        assert a["supernet_file"] in files and a["supernet_file"].startswith(a["supernet"])
        assert 0.0 <= a["val_acc"] <= 1.0 and a["oneshot_seconds"] > 0
        parent = ArchSpec.from_json(a["parent_spec"])
        assert all(w <= p for w, p in zip(ArchSpec.from_json(a["spec"]).widths(), parent.widths()))


def test_oneshot_settings_are_checked_when_the_study_file_is_read(tmp_path, tiny_image_folder):
    root = tiny_image_folder()
    with pytest.raises(ConfigError, match=r"os\.toml: oneshot\.random_configs=-1 must be an integer >= 0"):
        load_study_config(_study(tmp_path, root, table="random_configs = -1\n"))
    with pytest.raises(ConfigError, match=r"oneshot\.widths is not a known key"):
        load_study_config(_study(tmp_path, root, table="widths = 1\n"))
    config = load_study_config(_study(tmp_path, root, table="epochs = 3\nval_images = 100\n"))
    assert config.strategy_settings.epochs == 3 and config.strategy_settings.val_images == 100


def test_the_structure_replays_the_samplers_structural_answers():
    space = SearchSpace.from_file(TINY)
    structure, spec = record_structure(space, RandomChooser(5))
    assert structure.configuration({}) == structure.largest
    assert [s.depth for s in structure.smallest.stages] == [s.depth for s in spec.stages]
    assert [s.group_size for s in structure.largest.stages] == [s.group_size for s in spec.stages]
    assert all(a <= b for a, b in zip(structure.smallest.widths(), spec.widths()))
    assert all(a <= b for a, b in zip(spec.widths(), structure.largest.widths()))


def test_fill_budget_keeps_a_oneshot_candidate_within_its_supernet():
    """fill_budget scales candidates onto the budget; for oneshot no width may pass the supernet's
    largest network (a slice wider than its site does not exist), so the fit stops at the largest widths."""
    from mgsearch.cost import cost
    from mgsearch.search.budget import Budget, fit_to_budget
    from mgsearch.spec import width_slots
    from mgsearch.strategies import get_strategy

    assert get_strategy("oneshot").fit_within_parent and not get_strategy("direct").fit_within_parent
    space = SearchSpace.from_file(TINY)
    structure, spec = record_structure(space, RandomChooser(3))
    largest = structure.largest
    roomy = Budget({"params": 4 * cost(largest).params})  # the unconstrained fit would widen past the largest
    free = fit_to_budget(spec, roomy)
    assert any(a.value > b.value for a, b in zip(width_slots(free), width_slots(largest)))
    capped = fit_to_budget(spec, roomy, ceiling=largest)
    assert all(a.value <= b.value for a, b in zip(width_slots(capped), width_slots(largest)))
    assert cost(capped).params >= cost(spec).params  # still scaled up as far as the supernet allows
    tight = Budget({"params": int(0.5 * cost(largest).params)})
    fitted = fit_to_budget(spec, tight, ceiling=largest)
    assert cost(fitted).params <= tight.limits["params"]
    assert all(a.value <= b.value for a, b in zip(width_slots(fitted), width_slots(largest)))


def test_the_fast_score_equals_the_plain_recalibrate_then_evaluate(tiny_image_folder):
    """score_config (images normalised once, channels-last, inference mode, small eval batches) gives the
    accuracy of the plain path: extract, recalibrate BN on the uint8 images, evaluate with mgsearch's accuracy."""
    from mgsearch.data import Normalizer, load_dataset
    from mgsearch.oneshot.evaluation import calibration_images, recalibrate_bn, score_config
    from mgsearch.training.runtime import accuracy

    ds = load_dataset("imagefolder", tiny_image_folder(classes=3, train_per_class=16, test_per_class=8),
                      val_fraction=0.25)
    space = SearchSpace.from_file(TINY)
    structure, spec = record_structure(space, RandomChooser(2))
    torch.manual_seed(0)
    supernet = Supernet(structure.largest)
    cal = calibration_images(ds, 16, 0)
    dev = torch.device("cpu")
    fast = score_config(supernet, spec, ds, cal, batch_size=8, eval_batch_size=5)
    again = score_config(supernet, spec, ds, cal, batch_size=8, eval_batch_size=5)  # prepared images reused
    plain = supernet.extract(spec)
    normalize = Normalizer(ds.mean, ds.std, dev)
    recalibrate_bn(plain, cal, normalize, batch_size=8, device=dev)
    expected = accuracy(plain, ds.val_x, ds.val_y, normalize, dev, 1000)
    assert fast.val_acc == again.val_acc == pytest.approx(expected)
    assert fast.images == ds.val_x.shape[0] + cal.shape[0]
