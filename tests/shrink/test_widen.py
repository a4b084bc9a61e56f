"""widen(): every slot scaled, rounded up to its multiple, ties kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgsearch.errors import ConfigError
from mgsearch.presets import get_preset
from mgsearch.shrink import widen
from mgsearch.spec import width_slots
from tests.strategies import specs


def test_resnet20_doubles():
    wide = widen(get_preset("resnet20"), 2)
    assert [s.value for s in width_slots(wide)] == [2 * s.value for s in width_slots(get_preset("resnet20"))]


def test_rounds_up_to_group_size():
    base = get_preset("mgiad-small")  # group size 8, widths 32/64/128
    wide = widen(base, 1.1)
    for a, b in zip(width_slots(base), width_slots(wide)):
        assert b.value % b.multiple_of == 0 and b.value >= a.value * 1.1


@settings(max_examples=60, deadline=None)
@given(specs(max_width=32), st.floats(0.1, 4.0))
def test_widen_is_valid_and_at_least_factor(spec, factor):
    wide = widen(spec, factor)
    for a, b in zip(width_slots(spec), width_slots(wide)):
        assert b.paths == a.paths
        assert b.value % b.multiple_of == 0
        assert b.value >= a.value * factor - 1e-6
        assert b.accepts(b.value)
        # the smallest width the slot accepts (a vcycle stage's levels: WidthSlot.allowed) at or above value x factor
        assert not any(b.accepts(w) for w in range(b.multiple_of, b.value, b.multiple_of) if w >= a.value * factor - 1e-6)
        if b.allowed is None:
            assert b.value < a.value * factor + b.multiple_of


@pytest.mark.parametrize("factor", [0, -1, float("nan"), "2", True])
def test_bad_factor(factor):
    with pytest.raises(ConfigError, match="widen="):
        widen(get_preset("resnet20"), factor)
