"""Supernet files: one safetensors file per structure and protocol, trained once, reused by everyone.

In ``directory`` (next to the study database: ``<db stem>.supernets/``) a supernet lives as

* ``<key>.safetensors``: the trained weights; metadata: the structure's largest spec, the training
  protocol, the epochs trained, the mgsearch version;
* ``<key>.ckpt.safetensors`` while it trains: weights and optimiser state after the last finished
  epoch (a killed training resumes there);
* ``<key>.lock``: an exclusive ``flock`` held by the one process training it. Other trials, workers
  and studies that need the same supernet wait on the lock, then load the finished file; the lock is
  released by the kernel when its holder dies, and the next one resumes from the checkpoint.

``key`` = the structure's key (a digest of its largest spec and width domains) + a digest of the
training protocol and the dataset, so a changed protocol never reuses another protocol's weights.
Files are written to a temporary name and renamed: a reader never sees half a file. Nothing is
unpickled: weights and optimiser state are tensors, everything else JSON metadata.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from mgsearch.data import Dataset
from mgsearch.errors import MgsearchError
from mgsearch.oneshot.slicing import Supernet, _safe
from mgsearch.oneshot.structure import Structure
from mgsearch.oneshot.training import SandwichProtocol, train_supernet
from mgsearch.spec import ArchSpec

__all__ = ["supernet_key", "SupernetFiles", "obtain_supernet"]

FORMAT = "mgsearch-supernet-1"


def supernet_key(structure: Structure, protocol: SandwichProtocol, dataset_fingerprint: str) -> str:
    """``<structure key>-<protocol digest>``: the file name stem of a supernet."""
    text = json.dumps({"protocol": protocol.to_dict(), "dataset": dataset_fingerprint}, sort_keys=True)
    return f"{structure.key}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


class SupernetFiles:
    """The paths of one supernet in ``directory`` (see the module docstring)."""

    def __init__(self, directory: str | Path, key: str) -> None:
        self.directory, self.key = Path(directory), key
        self.weights = self.directory / f"{key}.safetensors"
        self.checkpoint = self.directory / f"{key}.ckpt.safetensors"
        self.lock = self.directory / f"{key}.lock"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the training lock (waits while another process holds it)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.lock, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp),
              metadata={k: json.dumps(v) for k, v in metadata.items()})
    os.replace(tmp, path)


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # a damaged or foreign file
        raise MgsearchError(f"{path}: not a readable supernet file ({type(exc).__name__}: {exc})") from None
    if meta.get("format") != FORMAT:
        raise MgsearchError(f"{path}: not a supernet file of this mgsearch (format {meta.get('format')!r})")
    return tensors, meta


def _optimizer_tensors(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, scalars = {}, {}
    for index, entry in state["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer|{index}|{name}"] = value
            else:
                scalars[f"{index}|{name}"] = value
    return tensors, scalars


def _optimizer_state(tensors: dict[str, torch.Tensor], scalars: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer|"):
            _, index, name = key.split("|", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in scalars.items():
        index, name = key.split("|", 1)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": fresh["param_groups"]}


def _load_weights(supernet: Supernet, tensors: dict[str, torch.Tensor], path: Path) -> None:
    missing = [k for k in supernet.shapes if _safe(k) not in tensors]
    if missing:
        raise MgsearchError(f"{path}: the supernet file lacks {len(missing)} weights (e.g. {missing[0]})")
    with torch.no_grad():
        for key, shape in supernet.shapes.items():
            t = tensors[_safe(key)]
            if tuple(t.shape) != tuple(shape):
                raise MgsearchError(f"{path}: weight {key} has shape {tuple(t.shape)}, expected {tuple(shape)}")
            supernet.site(key).copy_(t)


def obtain_supernet(
    structure: Structure,
    dataset: Dataset,
    protocol: SandwichProtocol,
    directory: str | Path,
    *,
    device: torch.device,
    progress: Callable[[str], None] | None = None,
) -> tuple[Supernet, SupernetFiles, bool]:
    """The trained supernet of ``structure``: loaded from ``directory`` when there, else trained
    (resuming a checkpoint, under the lock) and saved. Returns ``(supernet, files, trained_now)``."""
    from mgsearch import __version__

    files = SupernetFiles(directory, supernet_key(structure, protocol, dataset.fingerprint))
    largest: ArchSpec = structure.largest
    supernet = Supernet(largest, init=False)
    if files.weights.exists():
        tensors, _ = _read(files.weights)
        _load_weights(supernet, tensors, files.weights)
        return supernet.to(device), files, False
    with files.locked():
        if files.weights.exists():  # another process trained it while this one waited
            tensors, _ = _read(files.weights)
            _load_weights(supernet, tensors, files.weights)
            return supernet.to(device), files, False
        start, opt_state = 0, None
        torch.manual_seed(protocol.seed)
        supernet.reset_parameters()
        if files.checkpoint.exists():
            tensors, meta = _read(files.checkpoint)
            _load_weights(supernet, tensors, files.checkpoint)
            start = int(meta["epoch"])
            from mgsearch.training.recipe import make_optimizer

            fresh = make_optimizer(supernet, protocol.recipe, 1.0).state_dict()
            opt_state = _optimizer_state(tensors, meta.get("optimizer_scalars", {}), fresh)
            if progress is not None:
                progress(f"supernet {files.key}: resuming after epoch {start}/{protocol.epochs}")
        elif progress is not None:
            progress(f"supernet {files.key}: training {protocol.epochs} epochs (sandwich rule, "
                     f"{2 + protocol.random_configs} configurations per step) -> {files.weights}")
        meta = {"format": FORMAT, "largest": largest.to_json(), "protocol": protocol.to_dict(),
                "domains": {k: v.to_json() for k, v in structure.domains.items()}, "mgsearch": __version__,
                "dataset": dataset.fingerprint}

        def checkpoint(epoch: int, optimizer_state: dict[str, Any]) -> None:
            opt_tensors, scalars = _optimizer_tensors(optimizer_state)
            weights = {_safe(k): supernet.site(k) for k in supernet.shapes}
            _write(files.checkpoint, {**weights, **opt_tensors},
                   {**meta, "epoch": epoch, "optimizer_scalars": scalars})

        train_supernet(supernet, structure, dataset, protocol, device=device, start_epoch=start,
                       optimizer_state=opt_state, on_epoch=checkpoint, progress=progress)
        _write(files.weights, {_safe(k): supernet.site(k) for k in supernet.shapes}, {**meta, "epoch": protocol.epochs})
        files.checkpoint.unlink(missing_ok=True)
    return supernet.to(device), files, True
