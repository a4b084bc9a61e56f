"""The one model interface every family implements."""

from __future__ import annotations

import torch
from torch import nn

from mgsearch.spec import ArchSpec, width_slots


class MgsearchNet(nn.Module):
    """Base class of built networks: ``.spec``, ``forward(x) -> logits``, ``channel_gates()``.

    Subclasses fill ``self._gate_paths`` (spec field path, e.g. ``"stages[1].width"``, -> the
    BatchNorms that normalise tensors of that width) while building.
    """

    def __init__(self, spec: ArchSpec) -> None:
        super().__init__()
        self.spec = spec
        self._gate_paths: dict[str, list[nn.BatchNorm2d]] = {}

    def _gate(self, path: str, bn: nn.BatchNorm2d) -> nn.BatchNorm2d:
        self._gate_paths.setdefault(path, []).append(bn)
        return bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def channel_gates(self) -> dict[str, list[nn.BatchNorm2d]]:
        """``WidthSlot.name`` -> every BatchNorm2d that normalises that slot's channels.

        Each BN's ``num_features`` equals the slot's value; every slot of ``width_slots(spec)``
        has at least one BN.
        """
        out: dict[str, list[nn.BatchNorm2d]] = {}
        for slot in width_slots(self.spec):
            seen: dict[int, nn.BatchNorm2d] = {}
            for path in slot.paths:
                for bn in self._gate_paths.get(path, []):
                    seen.setdefault(id(bn), bn)
            out[slot.name] = list(seen.values())
        return out


class ClassifierHead(nn.Module):
    """Global average pool, dropout, linear (with bias)."""

    def __init__(self, width: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(torch.flatten(self.pool(x), 1)))


class BlockStage(nn.Module):
    """A stage's blocks applied in order (``stages.i.blocks.j`` in module paths)."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x
