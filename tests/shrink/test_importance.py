"""channel_importance: one score per channel of every slot; gates shared by tied BatchNorms."""

from __future__ import annotations

import pytest
import torch

from mgsearch.errors import ConfigError, DataError
from mgsearch.families import build
from mgsearch.presets import resolve_spec
from mgsearch.shrink import channel_importance, widen
from mgsearch.spec import width_slots


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from mgsearch.data import load_dataset
    from tests.fixtures.datasets import write_image_folder

    return load_dataset("imagefolder", write_image_folder(tmp_path_factory.mktemp("imp")))


def spec_for(name, ds):
    return resolve_spec(name, in_channels=ds.in_channels, num_classes=ds.num_classes, input_size=ds.input_size)


@pytest.mark.parametrize("preset", ["resnet20", "mgiad-small", "dacnn20", "mgic20"])
def test_grad_init_scores_every_channel(tiny, preset):
    torch.set_num_threads(1)
    spec = widen(spec_for(preset, tiny), 1.5)
    scores = channel_importance(spec, tiny, batches=2, batch_size=16, seed=0)
    assert list(scores) == [s.name for s in width_slots(spec)]
    for slot in width_slots(spec):
        v = scores[slot.name]
        assert v.shape == (slot.value,) and torch.isfinite(v).all() and (v >= 0).all()
        assert v.sum() > 0  # the loss depends on every slot
    again = channel_importance(spec, tiny, batches=2, batch_size=16, seed=0)
    assert all(torch.equal(scores[k], again[k]) for k in scores)  # seeded


def test_grad_init_matches_bn_weight_gradient(tiny):
    """At initialisation a gate of ones after a BN has the gradient of that BN's scale (summed over
    the slot's BNs): an independent check of the hook."""
    torch.set_num_threads(1)
    spec = spec_for("resnet20", tiny)
    torch.manual_seed(0)
    model = build(spec)
    ref = build(spec)
    ref.load_state_dict(model.state_dict())
    scores = channel_importance(model, tiny, batches=1, batch_size=16, seed=3)
    # the same batch through the reference model, gradient of the BN weights
    gen = torch.Generator().manual_seed(3)
    idx = torch.randint(len(tiny.train_x), (16,), generator=gen)
    from mgsearch.shrink.importance import normalise_batch

    x = normalise_batch(tiny.train_x[idx], tiny.mean, tiny.std)
    ref.train()
    loss = torch.nn.functional.cross_entropy(ref(x), tiny.train_y[idx].long())
    loss.backward()
    for name, bns in ref.channel_gates().items():
        # dL/dgate = sum over the slot's BNs of (dL/dy * y_hat) = sum of their weight gradients (gamma=1)
        expected = sum(bn.weight.grad for bn in bns).abs()
        assert torch.allclose(scores[name], expected, rtol=1e-4, atol=1e-7), name


def test_bn_l1_scores_are_mean_abs_gamma(tiny):
    torch.set_num_threads(1)
    spec = spec_for("resnet20", tiny)
    spec = spec.with_slot_values([max(4, s.value // 2) for s in width_slots(spec)])
    torch.manual_seed(0)
    model = build(spec)
    scores = channel_importance(model, tiny, method="bn-l1", epochs=1, strength=1e-3, batch_size=32, seed=0)
    for name, bns in model.channel_gates().items():
        expected = torch.stack([bn.weight.detach().abs() for bn in bns]).mean(0)
        assert torch.allclose(scores[name], expected)
        assert not torch.allclose(expected, torch.ones_like(expected))  # it trained


def test_bad_method_and_dataset_mismatch(tiny):
    spec = spec_for("resnet20", tiny)
    with pytest.raises(ConfigError, match="importance='magic'"):
        channel_importance(spec, tiny, method="magic")
    with pytest.raises(DataError, match="spec expects"):
        channel_importance(resolve_spec("resnet20"), tiny)  # 32x32 spec, 16x16 images
