"""shrink(): the whole pipeline on real (tiny) data, including from-scratch training and distillation."""

from __future__ import annotations

import pytest
import torch

from mgsearch.cost import cost
from mgsearch.errors import ConfigError
from mgsearch.shrink import shrink, widen
from mgsearch.shrink.pipeline import kd_loss_hook
from mgsearch.spec import ArchSpec, Block, Stage, Stem, width_slots


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from mgsearch.data import load_dataset
    from tests.fixtures.datasets import write_image_folder

    return load_dataset("imagefolder", write_image_folder(tmp_path_factory.mktemp("pipe")), val_fraction=0.25)


def small_resnet(ds) -> ArchSpec:
    return ArchSpec(
        family="resnet", stem=Stem(8),
        stages=(Stage(8, (Block(8), Block(8))), Stage(16, (Block(16),), stride=2)),
        in_channels=ds.in_channels, num_classes=ds.num_classes, input_size=ds.input_size,
    )


def test_shrink_only(tiny):
    torch.set_num_threads(1)
    base = small_resnet(tiny)
    r = shrink(base, tiny, widen=2.0, ratio=1.0, importance_batches=1, importance_batch_size=16)
    assert r.widened == widen(base, 2.0)
    c = cost(r.shrunk)
    assert c.params <= cost(base).params and c.macs <= cost(base).macs
    assert r.costs["shrunk"] == {"params": c.params, "macs": c.macs}
    assert r.trained is None and r.extra_cost_epochs is None and r.importance_seconds > 0
    assert [row[0] for row in r.slot_table()] == [s.name for s in width_slots(base)]
    d = r.to_dict()
    assert ArchSpec.from_dict(d["shrunk"]) == r.shrunk


def test_shrunk_network_trains(tiny):
    torch.set_num_threads(1)
    base = small_resnet(tiny)
    r = shrink(base, tiny, widen=2.0, ratio=0.8, keep_ratio=0.3, importance_batches=1, importance_batch_size=16,
               epochs=4, batch_size=8, seed=1)
    assert cost(r.shrunk).params <= 0.8 * cost(base).params
    t = r.trained
    assert not t["distilled"] and r.teacher is None and r.baseline is None
    assert 0.0 <= t["test_acc"] <= 1.0 and len(t["val_history"]) == 4
    # the shrunk network learns the (learnable) tiny task: better than chance (1/3) by the end
    assert max(t["val_history"]) > 0.5, t["val_history"]
    assert r.extra_cost_epochs > 0 and r.extra_seconds == r.importance_seconds
    assert r.fidelity == {"epochs": 4, "train_fraction": 1.0, "batch_size": 8}


def test_distillation_applies_to_shrunk_and_baseline(tiny, monkeypatch):
    """With distill=True the teacher is the widened network trained with the same protocol, and both
    the shrunk network and the uniform baseline train with the KD hook."""
    import mgsearch.train as train_module

    calls = []
    real = train_module.train

    def spy(spec_or_model, dataset, **kwargs):
        calls.append((spec_or_model, kwargs.get("loss_hook"), kwargs["fidelity"].epochs, kwargs["seed"]))
        return real(spec_or_model, dataset, **kwargs)

    monkeypatch.setattr(train_module, "train", spy)
    torch.set_num_threads(1)
    base = small_resnet(tiny)
    r = shrink(base, tiny, ratio=0.8, keep_ratio=0.3, importance_batches=1, epochs=1, batch_size=32,
               distill=True, baseline=True, seed=4)
    assert [c[0] for c in calls] == [r.widened, r.shrunk, base]
    assert calls[0][1] is None and calls[1][1] is not None and calls[2][1] is calls[1][1]
    assert {c[2] for c in calls} == {1} and {c[3] for c in calls} == {4}  # one protocol for all
    assert r.trained["distilled"] and r.baseline["distilled"] and r.teacher["spec"] == "widened"
    assert r.extra_seconds == pytest.approx(r.importance_seconds + r.teacher["train_seconds"])


def test_kd_hook_is_zero_for_identical_logits():
    teacher = torch.nn.Linear(4, 3)
    hook = kd_loss_hook(teacher)
    x = torch.randn(5, 4)
    same = teacher(x)
    assert float(hook(None, x, same, None)) == pytest.approx(0.0, abs=1e-6)
    other = torch.randn(5, 3)
    assert float(hook(None, x, other, None)) > 0
    assert not any(p.requires_grad for p in teacher.parameters())


def test_distill_needs_epochs(tiny):
    with pytest.raises(ConfigError, match="epochs"):
        shrink(small_resnet(tiny), tiny, ratio=1.0, distill=True)
