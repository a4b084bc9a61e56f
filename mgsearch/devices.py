"""The one rule for device names: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.

:func:`check_device_name` is the syntactic check that reading a study file uses (no torch);
:func:`resolve_device` turns a name into a ``torch.device`` at run time (training, search, shrink,
export), refusing CUDA where none is available. Other torch device types (``mps``, ``xpu``...) are
refused by both: the training engine (autocast, deterministic kernels, memory format) is written and
tested for CPU and CUDA only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mgsearch.errors import ConfigError, clip_repr

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["DEVICE_RULE", "check_device_name", "resolve_device"]

#: what a device name may be, as error messages say it
DEVICE_RULE = "auto, cpu, cuda or cuda:N"
_NAME = re.compile(r"auto|cpu|cuda(:\d{1,4})?")


def check_device_name(value: Any) -> str | None:
    """``value`` normalised (stripped, lower case) when it is a device name of the rule, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return text if _NAME.fullmatch(text) else None


def resolve_device(device: "str | torch.device") -> "torch.device":
    """The ``torch.device`` of ``device`` (a name of the rule, or a torch device): ``auto`` is CUDA when
    available, else CPU; CUDA where none is available, a CUDA index beyond the devices here and any
    other name are one-line :class:`ConfigError` values."""
    import torch

    name = check_device_name(str(device))
    if name is None:
        raise ConfigError(f"device={clip_repr(str(device))} is not supported; use {DEVICE_RULE}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={clip_repr(str(device))} asked for CUDA but no CUDA device is available; "
                              "use cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device={clip_repr(str(device))}: only {torch.cuda.device_count()} CUDA device(s) here")
    return dev
