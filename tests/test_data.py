"""Datasets: sources, splits, the image-folder cache, errors, batched augmentation."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from mgsearch.data import (
    Normalizer,
    channel_stats,
    load_dataset,
    random_crop,
    random_flip,
    stratified_split,
    stratified_subset,
)
from mgsearch.data import imagefolder as imagefolder_mod
from mgsearch.data.imagefolder import cache_path, load_image_folder
from mgsearch.errors import DataError


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Every test gets its own cache folder (archives, read-only image folders)."""
    monkeypatch.setenv("MGSEARCH_CACHE_DIR", str(tmp_path / "cache"))


def _image_hashes(x: torch.Tensor) -> set[str]:
    return {hashlib.sha1(img.numpy().tobytes()).hexdigest() for img in x}


# ---------------------------------------------------------------------------------------------- splits


def test_stratified_split_is_disjoint_covering_and_proportional():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    keep, held = stratified_split(labels, 0.2, torch.Generator().manual_seed(3))
    assert set(keep.tolist()).isdisjoint(held.tolist())
    assert sorted(keep.tolist() + held.tolist()) == list(range(100))
    assert held.numel() == 20
    assert torch.bincount(labels[held], minlength=3).tolist() == [10, 6, 4]


def test_stratified_subset_is_seeded():
    labels = torch.arange(200) % 4
    a = stratified_subset(labels, 40, torch.Generator().manual_seed(1))
    b = stratified_subset(labels, 40, torch.Generator().manual_seed(1))
    c = stratified_subset(labels, 40, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.bincount(labels[a]).tolist() == [10, 10, 10, 10]


def test_channel_stats_match_numpy():
    x = torch.randint(0, 256, (7, 3, 5, 5), dtype=torch.uint8)
    mean, std = channel_stats(x, chunk=3)
    ref = x.numpy().astype(np.float64) / 255
    np.testing.assert_allclose(mean, ref.mean(axis=(0, 2, 3)), rtol=1e-9)
    np.testing.assert_allclose(std, ref.std(axis=(0, 2, 3)), rtol=1e-9)


# ---------------------------------------------------------------------------------------- image folders


def test_imagefolder_split_disjoint_stratified_and_test_apart(tiny_image_folder):
    root = tiny_image_folder(classes=4, train_per_class=20, test_per_class=5)
    ds = load_dataset("imagefolder", root, val_fraction=0.25, seed=0)
    assert (ds.train_x.shape[0], ds.val_x.shape[0], ds.test_x.shape[0]) == (60, 20, 20)
    assert ds.train_x.dtype == torch.uint8 and ds.train_y.dtype == torch.int64
    assert tuple(ds.train_x.shape[1:]) == (3, 16, 16) and (ds.in_channels, ds.input_size) == (3, 16)
    assert ds.num_classes == 4 and ds.classes == ("class_00", "class_01", "class_02", "class_03")
    assert torch.bincount(ds.val_y).tolist() == [5, 5, 5, 5]
    train, val, test = (_image_hashes(t) for t in (ds.train_x, ds.val_x, ds.test_x))
    assert len(train) == 60 and len(val) == 20  # every image is distinct, so hashes identify them
    assert train.isdisjoint(val) and test.isdisjoint(train) and test.isdisjoint(val)
    mean, std = channel_stats(ds.train_x)
    assert ds.mean == mean and ds.std == std  # statistics of the training split only


def test_split_seed_changes_split_but_not_content(tiny_image_folder):
    root = tiny_image_folder()
    a = load_dataset("imagefolder", root, val_fraction=0.25, seed=0)
    b = load_dataset("imagefolder", root, val_fraction=0.25, seed=0)
    c = load_dataset("imagefolder", root, val_fraction=0.25, seed=1)
    assert torch.equal(a.val_x, b.val_x) and a.fingerprint == b.fingerprint
    assert not torch.equal(a.val_x, c.val_x) and a.fingerprint != c.fingerprint
    assert _image_hashes(a.train_x) | _image_hashes(a.val_x) == _image_hashes(c.train_x) | _image_hashes(c.val_x)


def test_train_subset_keeps_val_and_test(tiny_image_folder):
    root = tiny_image_folder(classes=3, train_per_class=40)
    full = load_dataset("imagefolder", root, val_fraction=0.25)
    half = load_dataset("imagefolder", root, val_fraction=0.25, train_subset=0.5)
    count = load_dataset("imagefolder", root, val_fraction=0.25, train_subset=30)
    assert torch.equal(full.val_x, half.val_x) and torch.equal(full.test_x, half.test_x)
    assert half.train_x.shape[0] == 45 and count.train_x.shape[0] == 30
    assert torch.bincount(count.train_y).tolist() == [10, 10, 10]
    assert _image_hashes(half.train_x) <= _image_hashes(full.train_x)
    with pytest.raises(DataError, match="train_subset"):
        load_dataset("imagefolder", root, train_subset=1.5)


def test_inline_root_syntax_and_name_aliases(tiny_image_folder):
    root = tiny_image_folder()
    ds = load_dataset(f"imagefolder:{root}")
    assert ds.name == "imagefolder" and ds.train_x.shape[0] + ds.val_x.shape[0] == 72
    with pytest.raises(DataError, match="one of"):
        load_dataset("not-a-dataset", root)
    with pytest.raises(DataError, match="needs a root"):
        load_dataset("imagefolder")
    with pytest.raises(DataError, match=r"val_fraction=0 must be"):
        load_dataset("imagefolder", root, val_fraction=0)


def test_named_dataset_from_image_folder_checks_class_count(tiny_image_folder):
    ten = tiny_image_folder(classes=10, train_per_class=4, test_per_class=1, size=8)
    ds = load_dataset("cifar10", ten, val_fraction=0.25)
    assert ds.name == "cifar10" and ds.num_classes == 10 and ds.flip
    three = tiny_image_folder(classes=3)
    with pytest.raises(DataError, match="holds 3 class folders but cifar10 has 10"):
        load_dataset("cifar10", three)


def test_grayscale_folder_and_flip_override(tiny_image_folder):
    ds = load_dataset("imagefolder", tiny_image_folder(channels=1), flip=False)
    assert ds.in_channels == 1 and ds.train_x.shape[1] == 1 and len(ds.mean) == 1 and not ds.flip


def test_cache_written_reused_and_rebuilt_when_folder_changes(tiny_image_folder, monkeypatch):
    root = tiny_image_folder()
    first = load_image_folder(root)
    assert first.cache_file == root / ".mgsearch-cache.safetensors" and first.cache_file.is_file()

    def no_decode(path):
        raise AssertionError(f"decoded {path} although the cache matches")

    monkeypatch.setattr(imagefolder_mod, "_decode", no_decode)
    again = load_image_folder(root)
    assert torch.equal(again.train_x, first.train_x) and again.fingerprint == first.fingerprint
    monkeypatch.undo()

    extra = root / "train" / "class_00" / "extra.png"
    shutil.copy(root / "train" / "class_01" / "0000.png", extra)
    rebuilt = load_image_folder(root)
    assert rebuilt.fingerprint != first.fingerprint
    assert rebuilt.train_x.shape[0] == first.train_x.shape[0] + 1
    assert torch.equal(rebuilt.train_x[24], load_image_folder(root).train_x[24])

    # the same name with other content (size and mtime change) is noticed too
    shutil.copy(root / "train" / "class_02" / "0001.png", extra)
    os.utime(extra, ns=(1, 1))
    assert load_image_folder(root).fingerprint != rebuilt.fingerprint


def test_corrupt_cache_file_is_rebuilt(tiny_image_folder):
    root = tiny_image_folder()
    good = load_image_folder(root)
    good.cache_file.write_bytes(b"not a safetensors file")
    again = load_image_folder(root)
    assert torch.equal(again.train_x, good.train_x)
    assert again.cache_file.stat().st_size > 1000


def test_cache_goes_to_cache_dir_when_folder_is_read_only(tiny_image_folder, tmp_path, monkeypatch):
    root = tiny_image_folder()
    monkeypatch.setattr(imagefolder_mod, "writable_dir", lambda path: False)
    target = cache_path(root)
    assert target.parent == tmp_path / "cache" / "datasets"
    load_image_folder(root)
    assert target.is_file() and not (root / ".mgsearch-cache.safetensors").exists()


def test_archive_of_image_folder_is_unpacked_once(tiny_image_folder, tmp_path):
    root = tiny_image_folder()
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="tiny")
    ds = load_dataset("imagefolder", archive)
    direct = load_dataset("imagefolder", root)
    assert torch.equal(ds.train_x, direct.train_x) and ds.fingerprint == direct.fingerprint
    unpacked = list((tmp_path / "cache" / "extracted").iterdir())
    assert len(unpacked) == 1 and (unpacked[0] / "tiny" / "train").is_dir()
    load_dataset("imagefolder", archive)
    assert len(list((tmp_path / "cache" / "extracted").iterdir())) == 1


def test_corrupt_image_names_the_file(tiny_image_folder):
    root = tiny_image_folder()
    bad = root / "train" / "class_01" / "0003.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError) as info:
        load_dataset("imagefolder", root)
    msg = str(info.value)
    assert str(bad) in msg and "cannot decode" in msg and "\n" not in msg


def test_missing_folder_split_and_mismatched_classes(tiny_image_folder, tmp_path):
    with pytest.raises(DataError, match="no such"):
        load_dataset("imagefolder", tmp_path / "nowhere")
    root = tiny_image_folder()
    shutil.rmtree(root / "test")
    with pytest.raises(DataError, match=r"missing test split"):
        load_dataset("imagefolder", root)
    root = tiny_image_folder()
    shutil.rmtree(root / "test" / "class_02")
    with pytest.raises(DataError, match=r"class folders differ.*missing \['class_02'\]"):
        load_dataset("imagefolder", root)


def test_images_of_different_sizes_are_refused(tiny_image_folder):
    from PIL import Image

    root = tiny_image_folder()
    odd = root / "train" / "class_00" / "odd.png"
    Image.new("RGB", (20, 16)).save(odd)
    with pytest.raises(DataError, match=r"odd.png: image is 20x16, others are 16x16"):
        load_dataset("imagefolder", root)


# ------------------------------------------------------------------------------------ IDX / torchvision


def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def _write_mnist_like(folder: Path, n_train: int = 40, n_test: int = 10) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    _write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28)))
    _write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(n_train) % 10)
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28)))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(n_test) % 10)


def test_idx_files_directly_or_in_torchvision_layout(tmp_path):
    _write_mnist_like(tmp_path / "flat")
    ds = load_dataset("mnist", tmp_path / "flat", val_fraction=0.25)
    assert (ds.train_x.shape[0], ds.val_x.shape[0], ds.test_x.shape[0]) == (30, 10, 10)
    assert ds.in_channels == 1 and ds.input_size == 28 and not ds.flip  # never flip digits
    _write_mnist_like(tmp_path / "tv" / "FashionMNIST" / "raw")
    fm = load_dataset("fashion-mnist", tmp_path / "tv", val_fraction=0.25)
    assert fm.flip and fm.classes[0] == "T-shirt/top"


def test_corrupt_or_incomplete_idx_files(tmp_path):
    _write_mnist_like(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x28short"))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: corrupt IDX file"):
        load_dataset("mnist", tmp_path)
    labels.unlink()
    with pytest.raises(DataError, match=r"missing train-labels-idx1-ubyte"):
        load_dataset("mnist", tmp_path)


def test_missing_torchvision_files_name_the_root(tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset("cifar100", tmp_path)
    assert str(tmp_path) in str(info.value) and "download" in str(info.value)


def test_debian_fashion_mnist_found_automatically(fashion_mnist_available):
    ds = load_dataset("fashion-mnist")
    assert (ds.train_x.shape[0], ds.val_x.shape[0], ds.test_x.shape[0]) == (54000, 6000, 10000)
    assert ds.source.endswith(str(fashion_mnist_available))
    assert torch.bincount(ds.val_y).tolist() == [600] * 10
    assert abs(ds.mean[0] - 0.286) < 0.01


@pytest.mark.slow
def test_offline_cifar10_image_folder(cifar10_root):
    ds = load_dataset("cifar10", cifar10_root)
    assert (ds.train_x.shape[0], ds.val_x.shape[0], ds.test_x.shape[0]) == (45000, 5000, 10000)
    assert ds.classes[0] == "airplane" and ds.in_channels == 3 and ds.input_size == 32
    np.testing.assert_allclose(ds.mean, (0.4913, 0.4821, 0.4465), atol=0.002)


# ---------------------------------------------------------------------------------------- augmentation


@pytest.mark.parametrize("mode", ["reflect", "zeros"])
def test_random_crop_returns_windows_of_the_padded_image(mode):
    x = torch.randint(0, 256, (6, 2, 8, 8), dtype=torch.uint8)
    out = random_crop(x, 3, torch.Generator().manual_seed(0), mode=mode)
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x.float(), (3, 3, 3, 3), mode="reflect" if mode == "reflect" else "constant")
    offsets = []
    for i in range(6):
        hits = [(dy, dx) for dy in range(7) for dx in range(7)
                if torch.equal(padded[i, :, dy:dy + 8, dx:dx + 8].to(torch.uint8), out[i])]
        assert hits, f"image {i} is not a window of its padded input"
        offsets.append(hits[0])
    assert len(set(offsets)) > 1  # offsets are per image, not per batch


def test_random_flip_and_normalizer():
    x = torch.randint(0, 256, (64, 3, 4, 4), dtype=torch.uint8)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = [torch.equal(out[i], x[i].flip(2)) for i in range(64)]
    same = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(f or s for f, s in zip(flipped, same)) and 10 < sum(flipped) < 54
    norm = Normalizer((0.5, 0.25, 0.0), (0.5, 0.25, 1.0))
    y = norm(x)
    ref = (x.float() / 255 - torch.tensor([0.5, 0.25, 0.0]).view(1, 3, 1, 1)) / torch.tensor([0.5, 0.25, 1.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(y, ref)
    cl = Normalizer((0.5,) * 3, (0.5,) * 3, memory_format=torch.channels_last)(x)
    assert cl.is_contiguous(memory_format=torch.channels_last)
