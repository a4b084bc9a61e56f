"""Seeded, stratified splits and training-split statistics of in-memory image tensors."""

from __future__ import annotations

import torch

__all__ = ["stratified_split", "stratified_subset", "channel_stats"]


def _allocate(counts: torch.Tensor, total: int) -> torch.Tensor:
    """Split ``total`` over classes in proportion to ``counts`` (largest remainder; exact sum)."""
    n = int(counts.sum())
    if n == 0 or total <= 0:
        return torch.zeros_like(counts)
    exact = counts.double() * total / n
    base = exact.floor().long()
    rest = total - int(base.sum())
    if rest > 0:
        # ties broken by class index so the allocation is deterministic
        order = torch.argsort(-(exact - base.double()), stable=True)
        base[order[:rest]] += 1
    return torch.minimum(base, counts)


def stratified_subset(labels: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Indices (sorted) of ``count`` items drawn per class in proportion to the class sizes.

    The draw is a function of ``labels``, ``count`` and the generator's state only.
    """
    labels = labels.long()
    count = max(0, min(int(count), labels.numel()))
    num_classes = int(labels.max()) + 1 if labels.numel() else 0
    counts = torch.bincount(labels, minlength=num_classes)
    take = _allocate(counts, count)
    order = torch.argsort(labels, stable=True)  # indices grouped by class, ascending within a class
    chosen = []
    start = 0
    for c in range(num_classes):
        n_c = int(counts[c])
        members = order[start : start + n_c]
        start += n_c
        k = int(take[c])
        if k:
            perm = torch.randperm(n_c, generator=generator)[:k]
            chosen.append(members[perm])
    if not chosen:
        return torch.zeros(0, dtype=torch.long)
    return torch.sort(torch.cat(chosen)).values


def stratified_split(
    labels: torch.Tensor, fraction: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(keep, held_out) index tensors: ``fraction`` of every class goes to ``held_out``.

    The two are disjoint, sorted and together cover ``range(len(labels))``.
    """
    n = labels.numel()
    held = stratified_subset(labels, round(n * fraction), generator)
    mask = torch.ones(n, dtype=torch.bool)
    mask[held] = False
    return torch.nonzero(mask).flatten(), held


def channel_stats(x: torch.Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 images ``[N, C, H, W]``, scaled to [0, 1]."""
    if x.numel() == 0:
        raise ValueError("cannot compute statistics of an empty training split")
    c = x.shape[1]
    s = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, dtype=torch.float64)
    for i in range(0, x.shape[0], chunk):
        part = x[i : i + chunk].to(torch.float64).div_(255.0)
        s += part.sum(dim=(0, 2, 3))
        s2 += part.square().sum(dim=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = s / count
    var = (s2 / count - mean.square()).clamp_min(0.0)
    std = var.sqrt().clamp_min(1e-3)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)
