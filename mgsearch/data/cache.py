"""Where decoded datasets are cached, and atomic, pickle-free tensor files.

Cache files are safetensors: plain tensors plus string metadata, never unpickled objects. They are
written to a temporary file in the target folder and renamed into place, so a crash never leaves a
half-written cache that a later run would trust.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch

__all__ = ["cache_root", "writable_dir", "save_tensors", "load_tensors", "path_key"]


def cache_root() -> Path:
    """The per-user cache folder: ``$MGSEARCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/mgsearch``, else
    ``~/.cache/mgsearch``."""
    env = os.environ.get("MGSEARCH_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mgsearch"


def writable_dir(path: Path) -> bool:
    """Whether files can be created in ``path`` (an existing folder)."""
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def path_key(path: Path) -> str:
    """A short, stable key for an absolute path (names a cache entry for a read-only folder)."""
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write ``tensors`` and ``metadata`` to ``path`` atomically (temp file + rename)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
    """The tensors and metadata of a cache file, or None when it is missing or unreadable."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception:  # a truncated or foreign file is not trusted: the caller rebuilds it
        return None
    return tensors, meta
