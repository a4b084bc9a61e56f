"""``strategy = "direct"`` (the default): the sampler chooses every knob of the search space."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgsearch.strategies.strategy import Candidate, Strategy, StrategyContext

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.space.choosers import Chooser

__all__ = ["DirectStrategy", "DIRECT"]


class DirectStrategy(Strategy):
    """The candidate is ``space.to_spec(chooser)``: exactly the sampled network."""

    name = "direct"
    description = "the sampler chooses every knob of the search space"

    def propose(self, chooser: "Chooser", context: StrategyContext) -> Candidate:
        return Candidate(spec=context.space.to_spec(chooser))


DIRECT = DirectStrategy()
