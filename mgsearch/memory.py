"""Will a model's weights fit in memory? Decided from the analytic parameter count, before building.

A spec with widths near the allowed maximum (a tampered ``arch.json``, ``export --trial`` of a huge
trial, ``train``, ``shrink --widen 1000``) would otherwise try to allocate tens of GB and die with a
traceback or be killed. Callers compute ``mgsearch.cost(spec).params`` (pure Python, nothing is
built) and call :func:`check_weights_fit` first::

    from mgsearch.memory import check_weights_fit
    check_weights_fit(cost(spec).params, what="arch.json")             # weights only (load, export)
    check_weights_fit(cost(spec).params, what="spec x", copies=4)      # weights, grads, 2 Adam states

This module imports nothing heavy (no torch) and has no side effects.
"""

from __future__ import annotations

import os
import re

from mgsearch.errors import MgsearchError

__all__ = ["ENV_VAR", "FALLBACK_LIMIT", "MemoryLimitError", "check_weights_fit", "memory_limit"]

#: environment variable that sets the limit explicitly, in bytes or with a suffix: 512M, 8G, 1.5T
ENV_VAR = "MGSEARCH_MEMORY_LIMIT"
#: the limit where the free physical memory cannot be read
FALLBACK_LIMIT = 8 * 2**30
#: the share of the available memory (MemAvailable) a model may claim: the rest is the OS's, the
#: data's and the estimate's margin
AVAILABLE_SHARE = 0.8
BYTES_PER_PARAM = 4  # float32
_SUFFIX = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class MemoryLimitError(MgsearchError):
    """A model whose weights would not fit in memory; raised before anything is allocated."""


def _parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise MemoryLimitError(f"{ENV_VAR}={text[:50]!r} must be a size such as 8G or 512M")
    return int(float(m.group(1)) * _SUFFIX[m.group(2).upper()])


def memory_limit() -> tuple[int, str]:
    """(bytes, where it comes from): ``$MGSEARCH_MEMORY_LIMIT`` if set, else :data:`AVAILABLE_SHARE`
    of the memory available now (free plus reclaimable page cache), else :data:`FALLBACK_LIMIT`."""
    env = os.environ.get(ENV_VAR)
    if env:
        return _parse_size(env), ENV_VAR
    available = _available_memory()
    if available > 0:
        return int(available * AVAILABLE_SHARE), f"{AVAILABLE_SHARE:.0%} of the available memory"
    return FALLBACK_LIMIT, "the default limit"


def _available_memory() -> int:
    """Bytes the kernel could hand out now: ``MemAvailable`` of /proc/meminfo (free memory plus the
    page cache it can drop), else the free pages; 0 where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def _gb(n: float) -> str:
    """``1.23 GB``, ``7,000 GB``: never scientific notation."""
    gb = n / 1e9
    return f"{gb:,.0f} GB" if gb >= 100 else f"{gb:.3g} GB"


def check_weights_fit(params: int, *, what: str, copies: int = 1, limit: int | None = None) -> None:
    """Raise :class:`MemoryLimitError` when ``params`` float32 weights (times ``copies``: e.g. 4
    for training with Adam: weights, gradients and two moments) need more than ``limit`` bytes
    (default :func:`memory_limit`). ``what`` names the spec's source (a file, a trial) in the
    one-line message, e.g. ``x/arch.json: needs 130 GB for weights, more than 31.2 GB (80% of the
    available memory; set MGSEARCH_MEMORY_LIMIT to change it)``."""
    need = int(params) * BYTES_PER_PARAM * max(int(copies), 1)
    source = "the given limit"
    if limit is None:
        limit, source = memory_limit()
    if need > limit:
        times = f" x {copies}" if copies > 1 else ""
        raise MemoryLimitError(
            f"{what[:200]}: needs {_gb(need)} for weights ({int(params):,} params x {BYTES_PER_PARAM} bytes{times}), "
            f"more than {_gb(limit)} ({source}; set {ENV_VAR} to change it)"
        )
