"""Where the images of a named dataset come from: image folders, IDX files, torchvision.

Each reader returns :class:`RawData` (uint8 ``[N, C, H, W]`` train and test tensors, int64 labels,
class names) and a description of its source. Resolution order for a name and a root:

1. ``root`` is an archive (``.tar.xz`` ...) -> unpacked once into the cache, read as an image folder;
2. ``root`` is an image folder (``train/<class>/``, ``test/<class>/``) -> read as an image folder;
3. ``mnist`` / ``fashion-mnist``: the four IDX files (``*.gz`` or raw) directly in ``root`` or in
   torchvision's ``root/<MNIST|FashionMNIST>/raw/``; with no root, the Debian package folder
   ``/usr/share/datasets/<name>/`` is tried first;
4. torchvision's dataset class on ``root`` (``download=True`` lets it fetch the files).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mgsearch.data.imagefolder import extract_archive, is_archive, is_image_folder, load_image_folder
from mgsearch.errors import DataError

__all__ = [
    "RawData", "DatasetInfo", "DATASETS", "canonical_name", "dataset_shape", "default_root", "read_raw", "read_idx",
]


@dataclass(frozen=True)
class RawData:
    """A dataset's official train and test splits as in-memory tensors."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class DatasetInfo:
    """What mgsearch knows about a named dataset."""

    num_classes: int
    flip: bool
    torchvision: str | None = None
    classes: tuple[str, ...] = ()
    debian_dir: str | None = None
    idx_subdir: str | None = None
    #: image channels and side in pixels (0: set by the images, as in an image folder)
    in_channels: int = 0
    input_size: int = 0


_CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_DIGITS = tuple(str(i) for i in range(10))

DATASETS: dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo(10, True, "CIFAR10", _CIFAR10, in_channels=3, input_size=32),
    "cifar100": DatasetInfo(100, True, "CIFAR100", in_channels=3, input_size=32),
    "svhn": DatasetInfo(10, False, "SVHN", _DIGITS, in_channels=3, input_size=32),
    "mnist": DatasetInfo(10, False, "MNIST", _DIGITS, "/usr/share/datasets/mnist", "MNIST", in_channels=1, input_size=28),
    "fashion-mnist": DatasetInfo(
        10, True, "FashionMNIST", _FASHION, "/usr/share/datasets/fashion-mnist", "FashionMNIST",
        in_channels=1, input_size=28,
    ),
    "imagefolder": DatasetInfo(0, True),
}

_ALIASES = {
    "cifar-10": "cifar10", "cifar_10": "cifar10", "cifar-100": "cifar100", "cifar_100": "cifar100",
    "fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist",
    "image-folder": "imagefolder", "image_folder": "imagefolder", "folder": "imagefolder",
}

_IDX_FILES = {
    "train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte",
}


def canonical_name(name: str) -> str:
    """The canonical dataset name for ``name`` (case and aliases folded); DataError if unknown."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise DataError(f"dataset {name!r} is unknown; choose one of {', '.join(DATASETS)} (or imagefolder:PATH)")
    return key


def dataset_shape(name: str) -> tuple[int, int, int] | None:
    """``(in_channels, num_classes, input_size)`` of dataset ``name`` from this registry, without
    reading any data (``NAME:PATH`` reads as ``NAME``); None where the images set the shape (an image
    folder). DataError for an unknown name."""
    info = DATASETS[canonical_name(str(name).partition(":")[0])]
    if not (info.in_channels and info.num_classes and info.input_size):
        return None
    return info.in_channels, info.num_classes, info.input_size


def default_root() -> Path:
    """The data root used when none is given: ``$MGSEARCH_DATA_ROOT``, else ``./data``."""
    return Path(os.environ.get("MGSEARCH_DATA_ROOT") or "data")


def read_idx(path: Path) -> torch.Tensor:
    """A uint8 tensor from an IDX file (gzipped or raw), as in the MNIST distributions."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read()
        if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
            raise ValueError("not an unsigned-byte IDX file")
        ndim = data[3]
        dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
        offset = 4 + 4 * ndim
        expected = int(np.prod(dims))
        if len(data) - offset != expected:
            raise ValueError(f"holds {len(data) - offset} bytes of data, header says {expected}")
        arr = np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)
    except (OSError, EOFError, ValueError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: corrupt IDX file ({exc}); reinstall or re-download the dataset") from None
    return torch.from_numpy(arr.copy())


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _read_idx_folder(folder: Path, info: DatasetInfo) -> RawData | None:
    paths = {k: _idx_file(folder, stem) for k, stem in _IDX_FILES.items()}
    if not any(paths.values()):
        return None
    missing = [_IDX_FILES[k] for k, p in paths.items() if p is None]
    if missing:
        raise DataError(f"{folder}: missing {', '.join(missing)}(.gz); the folder needs all four IDX files")
    t = {k: read_idx(p) for k, p in paths.items()}  # type: ignore[arg-type]
    for split in ("train", "test"):
        x, y = t[f"{split}_x"], t[f"{split}_y"]
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise DataError(
                f"{folder}: {split} images {tuple(x.shape)} and labels {tuple(y.shape)} do not match; "
                "reinstall or re-download the dataset"
            )
    return RawData(
        t["train_x"].unsqueeze(1), t["train_y"].long(), t["test_x"].unsqueeze(1), t["test_y"].long(),
        info.classes, f"idx:{folder}",
    )


def _read_torchvision(name: str, info: DatasetInfo, root: Path, download: bool) -> RawData:
    import torchvision.datasets as tvd

    cls = getattr(tvd, info.torchvision)  # type: ignore[arg-type]

    def split(train: bool):
        if name == "svhn":
            return cls(str(root), split="train" if train else "test", download=download)
        return cls(str(root), train=train, download=download)

    try:
        parts = [split(True), split(False)]
    except (RuntimeError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if download:
            raise DataError(f"{name}: could not download into {root} ({reason}); check the network or use an offline copy") from None
        raise DataError(
            f"{name}: no dataset files under {root} ({reason}); pass a data root holding torchvision's "
            f"{info.torchvision} files or an image folder (train/<class>/, test/<class>/), or allow download"
        ) from None
    tensors = []
    for ds in parts:
        data = ds.data
        x = torch.as_tensor(np.asarray(data))
        if x.ndim == 3:
            x = x.unsqueeze(1)  # [N, H, W] grey (MNIST family)
        elif name != "svhn":
            x = x.permute(0, 3, 1, 2)  # CIFAR stores NHWC; SVHN is already NCHW
        labels = getattr(ds, "targets", None)
        if labels is None:
            labels = ds.labels
        tensors += [x.contiguous().to(torch.uint8), torch.as_tensor(np.asarray(labels), dtype=torch.int64)]
    classes = tuple(getattr(parts[0], "classes", ())) or info.classes
    return RawData(*tensors, classes=classes, source=f"torchvision:{root}")


def read_raw(name: str, root: str | os.PathLike | None, *, download: bool = False) -> RawData:
    """The train and test splits of dataset ``name`` found from ``root`` (see the module docstring)."""
    name = canonical_name(name)
    info = DATASETS[name]
    folder = Path(root).expanduser() if root is not None else None
    if name == "imagefolder" and folder is None:
        raise DataError("dataset imagefolder needs a root: pass --data-root DIR (DIR/train/<class>/*, DIR/test/<class>/*)")
    if folder is not None and is_archive(folder):
        folder = extract_archive(folder)
    if folder is not None and (name == "imagefolder" or is_image_folder(folder)):
        data = load_image_folder(folder)
        raw = RawData(data.train_x, data.train_y, data.test_x, data.test_y, data.classes, f"imagefolder:{folder}")
        if info.num_classes and len(raw.classes) != info.num_classes:
            raise DataError(
                f"{folder}: holds {len(raw.classes)} class folders but {name} has {info.num_classes}; "
                "use --dataset imagefolder for other data"
            )
        return raw
    if folder is not None and not folder.exists() and not download:
        raise DataError(f"{folder}: no such file or folder; pass an existing data root for {name}")
    if info.idx_subdir:
        candidates = [folder, folder / info.idx_subdir / "raw"] if folder is not None else []
        if folder is None and info.debian_dir:
            candidates.append(Path(info.debian_dir))
        for candidate in candidates:
            if candidate.is_dir():
                raw = _read_idx_folder(candidate, info)
                if raw is not None:
                    return raw
    return _read_torchvision(name, info, folder if folder is not None else default_root(), download)
