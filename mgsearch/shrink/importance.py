"""Per-channel importance of every width slot: gradient at initialisation, or BN-scale L1.

``grad-init`` (the default, LW-DNA's way): a gate of ones multiplies the output of every BatchNorm
that normalises a slot's channels (the same gate tensor for all of a slot's BatchNorms, because they
are one set of tied channels); a few random mini-batches go through the freshly initialised network
and a channel's score is the mean over batches of ``|dL/dgate|``. Seconds, not epochs.

``bn-l1`` (Network Slimming): train the network with an L1 penalty on the BatchNorm scales of the
gated BatchNorms, then a channel's score is the mean ``|gamma|`` over the slot's BatchNorms.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from mgsearch.errors import ConfigError, DataError
from mgsearch.shrink.methods import IMPORTANCE_METHODS
from mgsearch.spec import ArchSpec, width_slots

__all__ = ["IMPORTANCE_METHODS", "channel_importance", "slot_batchnorms", "normalise_batch"]


def _as_model(spec_or_model: ArchSpec | nn.Module, seed: int) -> tuple[nn.Module, ArchSpec]:
    if isinstance(spec_or_model, ArchSpec):
        from mgsearch.families import build

        torch.manual_seed(seed)
        model = build(spec_or_model)
        return model, spec_or_model
    spec = getattr(spec_or_model, "spec", None)
    if not isinstance(spec, ArchSpec) or not hasattr(spec_or_model, "channel_gates"):
        raise TypeError("channel_importance needs an ArchSpec or a model built by mgsearch.build")
    return spec_or_model, spec


def slot_batchnorms(model: nn.Module, spec: ArchSpec) -> dict[str, list[nn.BatchNorm2d]]:
    """``model.channel_gates()`` checked against the spec's width slots (every slot, right widths)."""
    gates = model.channel_gates()
    out: dict[str, list[nn.BatchNorm2d]] = {}
    for slot in width_slots(spec):
        bns = list(gates.get(slot.name, []))
        if not bns:
            raise RuntimeError(f"model has no BatchNorm for width slot {slot.name!r}; cannot score its channels")
        for bn in bns:
            if bn.num_features != slot.value:
                raise RuntimeError(
                    f"a BatchNorm of slot {slot.name!r} has {bn.num_features} channels, the slot {slot.value}"
                )
        out[slot.name] = bns
    return out


def normalise_batch(x: torch.Tensor, mean: Any, std: Any) -> torch.Tensor:
    """uint8 images ``[B, C, H, W]`` -> float ``(x / 255 - mean) / std``."""
    m = torch.as_tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x.float() / 255.0 - m) / s


def _check_dataset(spec: ArchSpec, dataset: Any) -> None:
    x = dataset.train_x
    if x.ndim != 4 or x.shape[1] != spec.in_channels or x.shape[2] != spec.input_size:
        raise DataError(
            f"dataset images are {tuple(x.shape[1:])} but the spec expects "
            f"({spec.in_channels}, {spec.input_size}, {spec.input_size}); resolve the spec for this dataset"
        )
    if len(x) == 0:
        raise DataError("dataset has no training images")


def _grad_init(
    model: nn.Module, spec: ArchSpec, dataset: Any, *, batches: int, batch_size: int, seed: int, device: str
) -> dict[str, torch.Tensor]:
    bns = slot_batchnorms(model, spec)
    model.to(device)
    model.train()
    gates = {name: torch.ones(group[0].num_features, device=device, requires_grad=True) for name, group in bns.items()}
    handles = []

    def gate_hook(gate: torch.Tensor) -> Callable[..., torch.Tensor]:
        return lambda module, inputs, output: output * gate.view(1, -1, 1, 1)

    for name, group in bns.items():
        for bn in group:
            handles.append(bn.register_forward_hook(gate_hook(gates[name])))
    totals = {name: torch.zeros_like(g) for name, g in gates.items()}
    gen = torch.Generator().manual_seed(seed)
    n = len(dataset.train_x)
    try:
        for _ in range(batches):
            idx = torch.randint(n, (min(batch_size, n),), generator=gen)
            x = normalise_batch(dataset.train_x[idx].to(device), dataset.mean, dataset.std)
            y = dataset.train_y[idx].to(device).long()
            loss = F.cross_entropy(model(x), y)
            names = list(gates)
            grads = torch.autograd.grad(loss, [gates[k] for k in names])
            for k, g in zip(names, grads):
                totals[k] += g.detach().abs()
    finally:
        for h in handles:
            h.remove()
    return {k: (v / batches).cpu() for k, v in totals.items()}


def _bn_l1(
    model: nn.Module,
    spec: ArchSpec,
    dataset: Any,
    *,
    epochs: int,
    strength: float,
    train_fraction: float,
    batch_size: int,
    seed: int,
    device: str,
    recipe: Any,
    progress: Any,
) -> dict[str, torch.Tensor]:
    from mgsearch.train import Fidelity, train

    bns = slot_batchnorms(model, spec)
    unique = list({id(bn): bn for group in bns.values() for bn in group}.values())

    def l1_hook(model: nn.Module, inputs: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return strength * sum(bn.weight.abs().sum() for bn in unique)

    kwargs: dict[str, Any] = {}
    if recipe is not None:
        kwargs["recipe"] = recipe
    if progress is not None:
        kwargs["progress"] = progress
    train(
        model,
        dataset,
        fidelity=Fidelity(epochs=epochs, train_fraction=train_fraction, batch_size=batch_size),
        seed=seed,
        device=device,
        loss_hook=l1_hook,
        **kwargs,
    )
    return {
        name: torch.stack([bn.weight.detach().float().abs().cpu() for bn in group]).mean(0)
        for name, group in bns.items()
    }


def channel_importance(
    spec_or_model: ArchSpec | nn.Module,
    dataset: Any,
    *,
    method: str = "grad-init",
    batches: int = 4,
    batch_size: int = 64,
    seed: int = 0,
    device: str = "cpu",
    epochs: int = 1,
    strength: float = 1e-4,
    train_fraction: float = 1.0,
    recipe: Any = None,
    progress: Any = None,
) -> dict[str, torch.Tensor]:
    """Per width slot (by :class:`~mgsearch.spec.WidthSlot` name), one non-negative score per channel.

    ``method="grad-init"`` uses ``batches`` random mini-batches of ``batch_size`` training images at
    initialisation (the network is built from the spec with ``torch.manual_seed(seed)``, or taken as
    given). ``method="bn-l1"`` trains the network for ``epochs`` at ``train_fraction`` with
    ``strength`` x the L1 norm of the gated BatchNorm scales added to the loss (``mgsearch.train``).
    Scores are CPU float tensors; higher means more important.
    """
    if method not in IMPORTANCE_METHODS:
        raise ConfigError(f"importance={method!r} is unknown; allowed: {', '.join(IMPORTANCE_METHODS)}")
    for key, value in (("batches", batches), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key}={value!r} must be an integer >= 1")
    model, spec = _as_model(spec_or_model, seed)
    _check_dataset(spec, dataset)
    if str(device) == "auto":
        from mgsearch.train import resolve_device

        device = str(resolve_device(device))
    if method == "grad-init":
        return _grad_init(model, spec, dataset, batches=batches, batch_size=batch_size, seed=seed, device=device)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"bn-l1 epochs={epochs!r} must be an integer >= 1")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or strength < 0:
        raise ConfigError(f"bn-l1 strength={strength!r} must be a number >= 0")
    return _bn_l1(
        model,
        spec,
        dataset,
        epochs=epochs,
        strength=float(strength),
        train_fraction=train_fraction,
        batch_size=batch_size,
        seed=seed,
        device=device,
        recipe=recipe,
        progress=progress,
    )
