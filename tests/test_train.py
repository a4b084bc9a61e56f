"""The training engine: results, determinism, callbacks, loss hooks, divergence, recipe and fidelity."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from mgsearch.cost import cost
from mgsearch.data import load_dataset
from mgsearch.errors import ConfigError, SpecError, TrainingDiverged
from mgsearch.presets import resolve_spec
from mgsearch.spec import ArchSpec, Block, Stage, Stem
from mgsearch.train import Fidelity, Recipe, TrainResult, evaluate, lr_at, resolve_device, train
from mgsearch.training.recipe import param_groups

FAST = Recipe(lr=1.0)  # tiny data, batch 16: the linearly scaled peak lr is 0.125


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tests.fixtures.datasets import write_image_folder

    root = write_image_folder(tmp_path_factory.mktemp("tiny"))
    return load_dataset("imagefolder", root, val_fraction=0.25)


def small_spec(ds) -> ArchSpec:
    return ArchSpec(family="resnet", in_channels=ds.in_channels, num_classes=ds.num_classes,
                    input_size=ds.input_size, stem=Stem(8),
                    stages=(Stage(8, (Block(8),)), Stage(16, (Block(16),), stride=2)))


def run(spec_or_model, ds, epochs=2, **kw) -> TrainResult:
    kw.setdefault("recipe", FAST)
    return train(spec_or_model, ds, fidelity=Fidelity(epochs=epochs, batch_size=16), threads=1,
                 progress=False, **kw)


def metrics(result: TrainResult) -> list[tuple]:
    return [(h["loss"], h["train_acc"], h["val_acc"]) for h in result.history]


def test_spec_trains_and_reports_everything(tiny):
    spec = small_spec(tiny)
    r = run(spec, tiny, epochs=4, evaluate_test=True)
    c = cost(spec)
    assert (r.params, r.macs) == (c.params, c.macs)
    assert r.epochs == 4 and len(r.history) == 4 and r.val_acc == r.history[-1]["val_acc"]
    assert r.val_acc >= 0.6 and r.test_acc is not None and r.test_acc >= 0.6  # chance is 1/3
    assert r.history[-1]["loss"] < r.history[0]["loss"]
    assert r.train_seconds > 0 and r.images_per_second > 0 and r.device == "cpu"
    assert all(h["images"] == 54 for h in r.history)
    d = r.to_dict()
    assert "model" not in d and d["fidelity"] == {"epochs": 4, "train_fraction": 1.0, "batch_size": 16}
    assert d["recipe"]["lr"] == 1.0 and d["dataset"] == tiny.fingerprint
    json.dumps(d)
    assert evaluate(r.model, tiny, "test") == r.test_acc


def test_preset_builds_and_trains(tiny):
    spec = resolve_spec("resnet20", in_channels=3, num_classes=3, input_size=16)
    r = run(spec, tiny, epochs=1)
    assert r.params == cost(spec).params and 0.0 <= r.val_acc <= 1.0


def test_test_split_untouched_unless_asked(tiny):
    assert run(small_spec(tiny), tiny, epochs=1).test_acc is None


def test_same_seed_same_metrics_other_seed_differs(tiny):
    spec = small_spec(tiny)
    a, b, c = run(spec, tiny, seed=5), run(spec, tiny, seed=5), run(spec, tiny, seed=6)
    assert metrics(a) == metrics(b)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    assert metrics(a) != metrics(c)


def test_global_rng_and_threads_are_left_alone(tiny):
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    run(small_spec(tiny), tiny, epochs=1)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_train_fraction_uses_a_subset(tiny):
    r = train(small_spec(tiny), tiny, fidelity=Fidelity(epochs=1, train_fraction=0.5, batch_size=9),
              recipe=FAST, threads=1, progress=False)
    assert r.history[0]["images"] == 27


def test_on_epoch_gets_each_epoch_and_its_exceptions_propagate(tiny):
    calls = []
    r = run(small_spec(tiny), tiny, epochs=3, on_epoch=lambda e, acc: calls.append((e, acc)))
    assert calls == [(h["epoch"], h["val_acc"]) for h in r.history] and [e for e, _ in calls] == [1, 2, 3]

    class Pruned(Exception):
        pass

    raised = Pruned("stop")

    def prune(epoch, acc):
        if epoch == 2:
            raise raised

    threads = torch.get_num_threads()
    with pytest.raises(Pruned) as info:
        run(small_spec(tiny), tiny, epochs=3, on_epoch=prune)
    assert info.value is raised and torch.get_num_threads() == threads
    with pytest.raises(KeyboardInterrupt):
        run(small_spec(tiny), tiny, epochs=2, on_epoch=lambda e, a: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert torch.get_num_threads() == threads


def test_loss_hook_adds_its_term(tiny):
    spec = small_spec(tiny)
    base = run(spec, tiny)
    seen = []

    def hook(model, inputs, logits, targets):
        seen.append((inputs.shape, logits.shape, targets.shape, model.training))
        return torch.tensor(5.0)  # constant: adds to the loss, not to the gradients

    hooked = run(spec, tiny, loss_hook=hook)
    assert seen[0] == (torch.Size([16, 3, 16, 16]), torch.Size([16, 3]), torch.Size([16]), True)
    assert len(seen) == 2 * 4
    for h0, h1 in zip(base.history, hooked.history):
        assert h1["loss"] == pytest.approx(h0["loss"] + 5.0, abs=1e-4)
        assert h1["val_acc"] == h0["val_acc"]
    none_hook = run(spec, tiny, loss_hook=lambda *a: None)
    assert metrics(none_hook) == metrics(base)


def test_loss_hook_gradient_changes_training(tiny):
    spec = small_spec(tiny)
    base = run(spec, tiny, epochs=1)

    def l1_on_bn(model, inputs, logits, targets):
        return 0.1 * sum(m.weight.abs().sum() for m in model.modules() if isinstance(m, nn.BatchNorm2d))

    hooked = run(spec, tiny, epochs=1, loss_hook=l1_on_bn)
    bn = [m.weight for m in hooked.model.modules() if isinstance(m, nn.BatchNorm2d)]
    bn0 = [m.weight for m in base.model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert sum(w.abs().sum() for w in bn) < sum(w.abs().sum() for w in bn0)


def test_huge_lr_diverges_with_epoch(tiny):
    with pytest.raises(TrainingDiverged) as info:
        run(small_spec(tiny), tiny, epochs=3, recipe=Recipe(lr=1e8, warmup_epochs=0))
    assert info.value.epoch == 1 and "lower the learning rate" in str(info.value)


def test_nan_loss_diverges_in_the_right_epoch(tiny):
    def nan_in_epoch_2(model, inputs, logits, targets):
        nan_in_epoch_2.calls += 1
        return torch.tensor(float("nan")) if nan_in_epoch_2.calls > 4 else None

    nan_in_epoch_2.calls = 0
    with pytest.raises(TrainingDiverged) as info:
        run(small_spec(tiny), tiny, epochs=3, loss_hook=nan_in_epoch_2)
    assert info.value.epoch == 2


def test_module_is_trained_in_place(tiny):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
    before = model[0].weight.detach().clone()
    r = run(model, tiny, epochs=1)
    assert r.model is model and not torch.equal(model[0].weight, before)
    assert r.macs is None and r.params == sum(p.numel() for p in model.parameters())
    assert not model.training  # left ready for inference

    import mgsearch

    spec = small_spec(tiny)
    built = mgsearch.build(spec)
    assert run(built, tiny, epochs=1).macs == cost(spec).macs  # a module with .spec reports MACs


def test_spec_that_does_not_fit_the_dataset(tiny):
    spec = resolve_spec("resnet20")  # 10 classes, 32x32
    with pytest.raises(SpecError, match=r"num_classes=10 \(dataset has 3\)"):
        run(spec, tiny, epochs=1)


def test_progress_bar_on_stderr(tiny, capsys):
    train(small_spec(tiny), tiny, fidelity=Fidelity(epochs=1, batch_size=16), recipe=FAST, threads=1, progress=True)
    err = capsys.readouterr().err
    # off a terminal (capsys): one plain line per epoch, no carriage returns or escape sequences
    assert "epoch 1/1:" in err and "img/s" in err and "val acc" in err
    assert "\r" not in err and "\x1b" not in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------- recipe, fidelity


def test_fidelity_and_recipe_validation_and_round_trip():
    f = Fidelity(epochs=3, train_fraction=0.5, batch_size=64)
    assert Fidelity(**f.to_dict()) == f
    r = Recipe(schedule="onecycle", lr=0.2)
    assert Recipe(**r.to_dict()) == r and r.peak_lr(256) == pytest.approx(0.4)
    for bad in ({"epochs": 0}, {"epochs": 1, "train_fraction": 1.5}, {"epochs": 1, "batch_size": 0},
                {"epochs": True}):
        with pytest.raises(ConfigError, match="fidelity"):
            Fidelity(**bad)
    for bad in ({"schedule": "step"}, {"optimizer": "lbfgs"}, {"lr": -1.0}, {"label_smoothing": 1.0},
                {"momentum": 1.0}, {"pad_mode": "edge"}):
        with pytest.raises(ConfigError, match="recipe"):
            Recipe(**bad)


def test_schedules():
    cos, one, const = Recipe(), Recipe(schedule="onecycle"), Recipe(schedule="constant")
    assert [lr_at(s, 100, 10, cos) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert lr_at(99, 100, 10, cos) == pytest.approx(0.0, abs=1e-12)
    assert lr_at(54, 100, 10, cos) == pytest.approx(0.5, abs=0.02)
    assert lr_at(54, 100, 10, one) == pytest.approx(0.5, abs=0.02)
    assert lr_at(32, 100, 10, one) == pytest.approx(1 - 23 / 90)
    assert lr_at(99, 100, 10, Recipe(final_lr_fraction=0.1)) == pytest.approx(0.1)
    assert lr_at(80, 100, 10, const) == 1.0


def test_no_weight_decay_on_norms_and_biases(tiny):
    import mgsearch

    model = mgsearch.build(small_spec(tiny))
    decay, no_decay = param_groups(model, 5e-4)
    assert decay["weight_decay"] == 5e-4 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim == 1 for p in no_decay["params"])
    bn_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.BatchNorm2d)}
    assert bn_ids <= {id(p) for p in no_decay["params"]}
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="device='tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")


# -------------------------------------------------------------------------------------------- real data


@pytest.mark.gpu
def test_cuda_bf16_channels_last(tiny):
    spec = small_spec(tiny)
    r = train(spec, tiny, fidelity=Fidelity(epochs=3, batch_size=16), recipe=FAST, device="cuda", progress=False,
              evaluate_test=True)
    assert r.device.startswith("cuda") and r.val_acc >= 0.6 and math.isfinite(r.history[-1]["loss"])


@pytest.mark.gpu
def test_cuda_same_seed_same_metrics(tiny):
    spec = small_spec(tiny)
    a, b = (train(spec, tiny, fidelity=Fidelity(epochs=2, batch_size=16), recipe=FAST, device="cuda", seed=3,
                  progress=False) for _ in range(2))
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert a.val_acc == b.val_acc
    assert torch.backends.cudnn.deterministic is False  # restored after training


@pytest.mark.gpu
def test_cuda_uneven_last_batch(tiny):
    # a final short batch is trained; a final batch of one image is dropped (BatchNorm needs two)
    n = tiny.train_x.shape[0]
    r = train(small_spec(tiny), tiny, fidelity=Fidelity(epochs=1, batch_size=7), recipe=FAST, device="cuda",
              progress=False)
    assert math.isfinite(r.history[-1]["loss"])
    assert r.history[-1]["images"] == (n - 1 if n % 7 == 1 else n)


@pytest.mark.slow
def test_fashion_mnist_short_run_beats_chance(fashion_mnist_available):
    ds = load_dataset("fashion-mnist", train_subset=5000, val_fraction=0.05)
    spec = resolve_spec("resnet20", in_channels=1, num_classes=10, input_size=28)
    r = train(spec, ds, fidelity=Fidelity(epochs=1), progress=False, evaluate_test=True)
    assert r.val_acc > 0.6 and r.test_acc > 0.6, r.to_dict()  # chance is 0.1


@pytest.mark.slow
def test_offline_cifar10_short_run_beats_chance(cifar10_root):
    ds = load_dataset("cifar10", cifar10_root, train_subset=5000, val_fraction=0.04)
    spec = resolve_spec("resnet20", in_channels=3, num_classes=10, input_size=32)
    r = train(spec, ds, fidelity=Fidelity(epochs=2), progress=False, evaluate_test=True)
    assert r.val_acc > 0.3 and r.test_acc > 0.3, r.to_dict()  # chance is 0.1
