"""Image folders (``ROOT/train/<class>/*``, ``ROOT/test/<class>/*``) decoded once and cached.

The first load decodes every image with Pillow (in a thread pool) into uint8 tensors and writes
them to a safetensors cache: ``ROOT/.mgsearch-cache.safetensors`` when ROOT is writable, else a file
in :func:`~mgsearch.data.cache.cache_root` keyed by ROOT's absolute path. The cache records a
fingerprint of the file list (relative paths, sizes, modification times); when the folder changes
the fingerprint differs and the cache is rebuilt, never trusted.

Archives (``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.xz``, ``.tar.bz2``) holding such a folder are
unpacked once into the cache folder (see :func:`extract_archive`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mgsearch.data.cache import cache_root, load_tensors, path_key, save_tensors, writable_dir
from mgsearch.errors import DataError

__all__ = [
    "FolderData",
    "is_image_folder",
    "load_image_folder",
    "scan_image_folder",
    "cache_path",
    "is_archive",
    "extract_archive",
]

CACHE_NAME = ".mgsearch-cache.safetensors"
CACHE_FORMAT = "mgsearch-imagefolder-1"
SPLITS = ("train", "test")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")
_GRAY_MODES = {"1", "L", "I", "I;16", "I;16B", "I;16L", "F"}


@dataclass(frozen=True)
class FolderListing:
    """The images of an image folder: class names, ``(path, label)`` per split, and a fingerprint."""

    root: Path
    classes: tuple[str, ...]
    files: dict[str, list[tuple[Path, int]]]
    fingerprint: str


@dataclass(frozen=True)
class FolderData:
    """Decoded images of an image folder: uint8 ``[N, C, H, W]`` and int64 labels per split."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]
    fingerprint: str
    cache_file: Path


def _image_suffixes() -> frozenset[str]:
    from PIL import Image

    return frozenset(Image.registered_extensions())


def is_image_folder(root: Path) -> bool:
    """Whether ``root`` looks like an image folder (a ``train`` folder holding class folders)."""
    train = Path(root) / "train"
    return train.is_dir() and any(p.is_dir() for p in train.iterdir())


def _class_dirs(split_dir: Path) -> list[str]:
    return sorted(p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_image_folder(root: Path) -> FolderListing:
    """List the images of ``root`` and fingerprint the list (names, sizes, mtimes)."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"{root}: no such folder; point the data root at a folder with train/<class>/ and test/<class>/")
    for split in SPLITS:
        if not (root / split).is_dir():
            raise DataError(
                f"{root / split}: missing {split} split; an image folder needs {root}/train/<class>/* "
                f"and {root}/test/<class>/*"
            )
    classes = _class_dirs(root / "train")
    if not classes:
        raise DataError(f"{root / 'train'}: no class folders; put each class's images in train/<class>/")
    test_classes = _class_dirs(root / "test")
    if test_classes != classes:
        missing = sorted(set(classes) - set(test_classes))
        extra = sorted(set(test_classes) - set(classes))
        raise DataError(
            f"{root / 'test'}: class folders differ from train/ (missing {missing}, extra {extra}); "
            "train/ and test/ must hold the same class folders"
        )
    suffixes = _image_suffixes()
    digest = hashlib.sha256(CACHE_FORMAT.encode())
    files: dict[str, list[tuple[Path, int]]] = {}
    for split in SPLITS:
        entries: list[tuple[Path, int]] = []
        for label, cls in enumerate(classes):
            folder = root / split / cls
            found = []
            with os.scandir(folder) as it:
                for e in it:
                    if e.name.startswith(".") or not e.is_file():
                        continue
                    if os.path.splitext(e.name)[1].lower() not in suffixes:
                        continue
                    st = e.stat()
                    found.append((e.name, st.st_size, st.st_mtime_ns))
            if not found:
                raise DataError(f"{folder}: no images; every class folder needs at least one image file")
            found.sort()
            for name, size, mtime in found:
                digest.update(f"{split}/{cls}/{name}\t{size}\t{mtime}\n".encode())
                entries.append((folder / name, label))
        files[split] = entries
    return FolderListing(root=root, classes=tuple(classes), files=files, fingerprint=digest.hexdigest())


def cache_path(root: Path) -> Path:
    """Where the decoded cache of ``root`` lives (next to the data when writable)."""
    root = Path(root)
    if writable_dir(root):
        return root / CACHE_NAME
    return cache_root() / "datasets" / f"imagefolder-{path_key(root)}.safetensors"


def _decode(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in _GRAY_MODES:
                if im.mode != "L":
                    im = im.convert("L")
                arr = np.asarray(im, dtype=np.uint8)[:, :, None]
            else:
                arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: cannot decode image ({reason}); remove or replace the file") from None
    return arr


def _decode_all(entries: list[tuple[Path, int]], workers: int) -> tuple[torch.Tensor, torch.Tensor]:
    paths = [p for p, _ in entries]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        arrays = list(pool.map(_decode, paths))
    h, w = arrays[0].shape[:2]
    channels = max(a.shape[2] for a in arrays)
    for p, a in zip(paths, arrays):
        if a.shape[:2] != (h, w):
            raise DataError(
                f"{p}: image is {a.shape[1]}x{a.shape[0]}, others are {w}x{h}; resize all images to one size"
            )
    out = np.empty((len(arrays), h, w, channels), dtype=np.uint8)
    for i, a in enumerate(arrays):
        out[i] = a  # a grayscale image broadcasts over RGB when the folder mixes both
    x = torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor([label for _, label in entries], dtype=torch.int64)
    return x, y


def load_image_folder(root: Path, *, workers: int | None = None, use_cache: bool = True) -> FolderData:
    """Decode (or load from the cache) the images of ``root``; see the module docstring."""
    listing = scan_image_folder(Path(root))
    target = cache_path(listing.root)
    if use_cache:
        cached = load_tensors(target)
        if cached is not None:
            tensors, meta = cached
            if meta.get("format") == CACHE_FORMAT and meta.get("fingerprint") == listing.fingerprint:
                return FolderData(
                    train_x=tensors["train_x"], train_y=tensors["train_y"],
                    test_x=tensors["test_x"], test_y=tensors["test_y"],
                    classes=tuple(json.loads(meta["classes"])), fingerprint=listing.fingerprint,
                    cache_file=target,
                )
    workers = workers or min(8, max(1, len(os.sched_getaffinity(0))))
    train_x, train_y = _decode_all(listing.files["train"], workers)
    test_x, test_y = _decode_all(listing.files["test"], workers)
    if train_x.shape[1:] != test_x.shape[1:]:
        raise DataError(
            f"{listing.root}: train images are {tuple(train_x.shape[1:])} (C, H, W) but test images are "
            f"{tuple(test_x.shape[1:])}; both splits need one image size and colour mode"
        )
    if use_cache:
        meta = {"format": CACHE_FORMAT, "fingerprint": listing.fingerprint, "classes": json.dumps(listing.classes),
                "root": str(listing.root.resolve())}
        try:
            save_tensors(target, {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}, meta)
        except OSError:
            pass  # an unwritable cache only costs the next run a decode
    return FolderData(train_x, train_y, test_x, test_y, listing.classes, listing.fingerprint, target)


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a file whose name says it is a tar archive."""
    name = Path(path).name.lower()
    return Path(path).is_file() and name.endswith(ARCHIVE_SUFFIXES)


def _find_folder_root(base: Path) -> Path | None:
    if is_image_folder(base):
        return base
    for sub in sorted(p for p in base.iterdir() if p.is_dir()):
        if is_image_folder(sub):
            return sub
    return None


def extract_archive(path: Path) -> Path:
    """Unpack an archive holding an image folder once into the cache; return the image folder.

    The unpacked copy is keyed by the archive's path, size and modification time, and is moved into
    place only when complete. Members that would escape the target (absolute paths, ``..``, links
    out) are refused by tarfile's ``data`` filter.
    """
    path = Path(path)
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}\t{st.st_size}\t{st.st_mtime_ns}".encode()).hexdigest()[:16]
    dest = cache_root() / "extracted" / f"{path.name.split('.')[0]}-{key}"
    if not dest.is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=dest.parent))
        try:
            with tarfile.open(path) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise DataError(f"{path}: cannot unpack archive ({exc}); check the file or unpack it yourself") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            os.replace(tmp, dest)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process unpacked it first
            if not dest.is_dir():
                raise
    found = _find_folder_root(dest)
    if found is None:
        raise DataError(f"{path}: archive holds no image folder (train/<class>/*, test/<class>/*)")
    return found
