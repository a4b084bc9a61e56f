"""Datasets as in-memory uint8 tensors with a seeded, stratified validation split.

::

    ds = load_dataset("fashion-mnist")                       # Debian package files, found automatically
    ds = load_dataset("cifar10", "../shared/datasets/cifar10-jpeg.tar.xz")  # archive -> unpacked once
    ds = load_dataset("cifar10", "/data/cifar10-jpeg")       # an image folder (layout detected)
    ds = load_dataset("imagefolder:/data/flowers")           # any image folder
    ds.train_x.shape, ds.val_x.shape, ds.mean, ds.std

The validation split is carved from the official training split (stratified, seeded by ``seed``);
the test split is kept apart for final evaluation only. ``mean``/``std`` come from the training split
that remains. Sub-modules: :mod:`.sources` (readers), :mod:`.imagefolder` (decode + cache),
:mod:`.splits` (splits, statistics), :mod:`.augment` (batched augmentation).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from mgsearch.data.augment import Normalizer, random_crop, random_flip
from mgsearch.data.sources import DATASETS, canonical_name, read_raw
from mgsearch.data.splits import channel_stats, stratified_split, stratified_subset
from mgsearch.errors import DataError

__all__ = [
    "Dataset", "load_dataset", "DATASETS", "Normalizer", "random_crop", "random_flip",
    "stratified_split", "stratified_subset", "channel_stats",
]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset in memory: uint8 images ``[N, C, H, W]`` and int64 labels for train/val/test."""

    name: str
    train_x: torch.Tensor = field(repr=False)
    train_y: torch.Tensor = field(repr=False)
    val_x: torch.Tensor = field(repr=False)
    val_y: torch.Tensor = field(repr=False)
    test_x: torch.Tensor = field(repr=False)
    test_y: torch.Tensor = field(repr=False)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    in_channels: int
    input_size: int
    classes: tuple[str, ...]
    flip: bool
    fingerprint: str
    source: str = ""
    val_fraction: float = 0.1
    seed: int = 0

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (no tensors): name, sizes, shapes, statistics, fingerprint, source."""
        return {
            "name": self.name, "source": self.source, "fingerprint": self.fingerprint,
            "train": int(self.train_x.shape[0]), "val": int(self.val_x.shape[0]), "test": int(self.test_x.shape[0]),
            "num_classes": self.num_classes, "in_channels": self.in_channels, "input_size": self.input_size,
            "mean": list(self.mean), "std": list(self.std), "flip": self.flip,
            "val_fraction": self.val_fraction, "split_seed": self.seed,
        }


def _split_name_root(name: str, root: str | os.PathLike | None) -> tuple[str, str | os.PathLike | None]:
    if ":" in str(name) and not os.path.exists(str(name)):
        head, _, tail = str(name).partition(":")
        if tail:
            if root is not None and str(root) != tail:
                raise DataError(f"dataset {name!r} names a path and root={str(root)!r} names another; give one")
            return head, tail
    return name, root


def _content_hash(*tensors: torch.Tensor, extra: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(extra.encode())
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def load_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    download: bool = False,
    train_subset: int | float | None = None,
    flip: bool | None = None,
) -> Dataset:
    """Load dataset ``name`` into memory and carve a validation split from its training split.

    Args:
        name: ``cifar10``, ``cifar100``, ``svhn``, ``mnist``, ``fashion-mnist`` or ``imagefolder``;
            ``imagefolder:PATH`` (or ``cifar10:PATH`` ...) names the root inline.
        root: a folder (torchvision layout, IDX files, or an image folder ``train/<class>/``,
            ``test/<class>/``) or an archive of an image folder. ``None``: the Debian package folder for
            (fashion-)mnist, else ``$MGSEARCH_DATA_ROOT`` or ``./data``.
        val_fraction: share of each class of the training split held out for validation, in (0, 1).
        seed: fixes the validation split and the training subset.
        download: let torchvision fetch missing files (needs network).
        train_subset: keep only this many (int) or this share (float in (0, 1]) of the remaining
            training images, stratified and seeded; validation and test are unchanged.
        flip: override whether horizontal flips suit the data (default: per dataset; never for digits).

    Raises:
        DataError: unknown name, missing or corrupt files, or a bad argument; the message names the fix.
    """
    name, root = _split_name_root(name, root)
    key = canonical_name(name)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction={val_fraction!r} must be a number in (0, 1)")
    raw = read_raw(key, root, download=download)
    n, c, h, w = raw.train_x.shape
    if h != w:
        raise DataError(f"{raw.source}: images are {w}x{h}; mgsearch needs square images, resize them")
    num_classes = len(raw.classes) if raw.classes else int(raw.train_y.max()) + 1
    bad = (raw.train_y < 0) | (raw.train_y >= num_classes)
    if bool(bad.any()) or bool(((raw.test_y < 0) | (raw.test_y >= num_classes)).any()):
        raise DataError(f"{raw.source}: labels outside 0..{num_classes - 1}; the dataset files are corrupt")

    gen = torch.Generator().manual_seed(int(seed))
    keep, held = stratified_split(raw.train_y, float(val_fraction), gen)
    if held.numel() == 0 or keep.numel() == 0:
        raise DataError(f"val_fraction={val_fraction} of {n} training images leaves an empty split; change it")
    if train_subset is not None:
        if isinstance(train_subset, bool) or not isinstance(train_subset, (int, float)) or train_subset <= 0:
            raise DataError(f"train_subset={train_subset!r} must be a positive count or a fraction in (0, 1]")
        if isinstance(train_subset, float):
            if train_subset > 1.0:
                raise DataError(f"train_subset={train_subset} must be a fraction in (0, 1] or an integer count")
            count = max(1, round(keep.numel() * train_subset))
        else:
            count = min(int(train_subset), keep.numel())
        keep = keep[stratified_subset(raw.train_y[keep], count, gen)]
    train_x, train_y = raw.train_x[keep], raw.train_y[keep]
    val_x, val_y = raw.train_x[held], raw.train_y[held]
    mean, std = channel_stats(train_x)
    fingerprint = _content_hash(
        train_x, train_y, val_x, val_y, raw.test_x, raw.test_y, extra=f"{key}|{val_fraction}|{seed}|{train_subset}"
    )
    classes = raw.classes or tuple(str(i) for i in range(num_classes))
    return Dataset(
        name=key, train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y,
        test_x=raw.test_x, test_y=raw.test_y, mean=mean, std=std, num_classes=num_classes,
        in_channels=c, input_size=h, classes=tuple(classes),
        flip=DATASETS[key].flip if flip is None else bool(flip),
        fingerprint=fingerprint, source=raw.source, val_fraction=float(val_fraction), seed=int(seed),
    )
