"""THE place where the built-in strategies are registered (imported by the registry on first use).

To add a strategy: write its module (a :class:`~mgsearch.strategies.strategy.Strategy` subclass
with ``propose``, and ``parse_settings`` when it has a settings table, and an instance) and add the
instance to :data:`BUILTIN_STRATEGIES`. The order here is the order of ``strategy_names()`` and of
error messages.
"""

from __future__ import annotations

from mgsearch.strategies.direct import DIRECT
from mgsearch.strategies.lwdna import LWDNA
from mgsearch.strategies.oneshot import ONESHOT
from mgsearch.strategies.registry import register_strategy
from mgsearch.strategies.uniform import BASELINE

BUILTIN_STRATEGIES = (DIRECT, LWDNA, BASELINE, ONESHOT)

for _strategy in BUILTIN_STRATEGIES:
    register_strategy(_strategy)
