"""Batched augmentation and normalisation on image tensors, on whatever device they live on.

Everything here works on a whole batch at once (no per-image Python loop): a random crop with
padding is one pad plus one gather with per-image random offsets, a horizontal flip is one
``torch.where`` over a per-image coin.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["random_crop", "random_flip", "Normalizer"]


def random_crop(
    x: torch.Tensor, padding: int, generator: torch.Generator | None = None, *, mode: str = "reflect"
) -> torch.Tensor:
    """Pad every image of ``x [B, C, H, W]`` by ``padding`` and crop a random ``H x W`` window.

    ``mode`` is ``"reflect"`` or ``"zeros"``. Works on uint8 or float tensors; the result has the
    input's dtype, shape and device. Offsets come from ``generator`` (on the batch's device).
    """
    if padding <= 0:
        return x
    b, c, h, w = x.shape
    if mode == "reflect":
        if padding >= min(h, w):
            raise ValueError(f"padding={padding} must be smaller than the image size {h}x{w} for reflect")
        # reflect padding needs a floating or at least non-byte kernel on CPU: pad as float16/32
        work = x if x.is_floating_point() else x.to(torch.float32 if x.device.type == "cpu" else torch.float16)
        padded = F.pad(work, (padding, padding, padding, padding), mode="reflect").to(x.dtype)
    elif mode == "zeros":
        padded = F.pad(x, (padding, padding, padding, padding), mode="constant", value=0)
    else:
        raise ValueError(f"mode={mode!r} must be 'reflect' or 'zeros'")
    offsets = torch.randint(0, 2 * padding + 1, (2, b), generator=generator, device=x.device)
    rows = (offsets[0][:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # [B,1,H,1]
    cols = (offsets[1][:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # [B,1,1,W]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5) -> torch.Tensor:
    """Flip each image of ``x [B, C, H, W]`` horizontally with probability ``p``."""
    coin = torch.rand(x.shape[0], generator=generator, device=x.device) < p
    return torch.where(coin[:, None, None, None], x.flip(3), x)


class Normalizer:
    """uint8 ``[B, C, H, W]`` -> float ``(x / 255 - mean) / std`` in one fused multiply-add.

    ``memory_format`` (e.g. ``torch.channels_last``) is applied to the result.
    """

    def __init__(
        self,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        device: torch.device | str = "cpu",
        *,
        dtype: torch.dtype = torch.float32,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        m = torch.tensor(mean, dtype=torch.float64)
        s = torch.tensor(std, dtype=torch.float64)
        self.scale = (1.0 / (255.0 * s)).to(dtype=dtype, device=device).view(1, -1, 1, 1)
        self.shift = (-m / s).to(dtype=dtype, device=device).view(1, -1, 1, 1)
        self.dtype = dtype
        self.memory_format = memory_format

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.addcmul(self.shift, x.to(self.dtype), self.scale)
        if self.memory_format is not torch.contiguous_format:
            out = out.contiguous(memory_format=self.memory_format)
        return out
