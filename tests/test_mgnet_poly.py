"""Poly-MgNet's smoother as an ``mgnet`` level form (``Stage.block = "poly"``) against the authors' code.

Golden numbers from vanbetteray/Poly-MgNet (``models/mgnet.py`` ``MgNet`` with ``models/mgnet_poly.py``
``MgBlock_poly``; the settings of ``configs-poly.json`` and ``train_routine_MgNet_poly.py``:
``linear_type="outside"``, ``residual_type="bn_only"``, degree 1, ``A`` shared), measured once on the
CPU (docs/concepts.md, "Poly-MgNet's smoother"); the tests need neither that code nor the network.
Protocol: the weights of ``det_init`` copied into the reference (every step's scalar then set to
``0.3 + 0.1 l + 0.05 j``), a seeded ``2 x 3 x 32 x 32`` input through the WHOLE network (the stems are
the same), the reference's logits in eval mode. Its registered parameters also hold level 1's ``convR``
and ``convI``, which its forward never runs (``2 * 9 * c_0`` more).
"""

from __future__ import annotations

import pytest
import torch

from mgsearch import build, cost
from mgsearch.errors import SpecError
from mgsearch.space import SearchSpace
from mgsearch.spec import ArchSpec, Block, Stage, Stem, width_slots
from tests.test_families import check_model_matches_cost
from tests.test_mgic_vcycle import det_init

#: name -> (in_channels, out_channels, smoothings) of the reference's MgNet(...) (its "in_channels"
#: list is the width of the previous level, not a width of f)
CONFIGS = {
    "defaults": ([64, 64, 128, 256], [64, 128, 256, 256], [2, 2, 2, 2]),
    "small": ([16, 16, 32, 64], [16, 32, 64, 64], [1, 2, 2, 1]),
    "half": ([32, 32, 64, 128], [32, 64, 128, 128], [2, 2, 2, 2]),
}
#: name -> (mgsearch params, reference registered params, mgsearch MACs, reference logits)
GOLDEN = {
    'defaults': (1385554, 1386706, 323594752,
        [-0.14083, -0.03299, 0.01619, -0.07872, 0.15149, 0.19899, 0.14768, 0.07587, -0.15484, 0.06264, -0.13957, -0.03299, 0.01236, -0.07883, 0.15285, 0.19595, 0.14555, 0.0818, -0.15643, 0.05636]),
    'small': (90336, 90624, 17787520,
        [0.18882, -0.03884, -0.24379, 0.01232, 0.08601, -0.29983, 0.02747, -0.01265, 0.04904, -0.10017, 0.1799, -0.03892, -0.25326, 0.01486, 0.08831, -0.29686, 0.0274, -0.01789, 0.04455, -0.1072]),
    'half': (351794, 352370, 81581312,
        [0.09349, -0.1456, -0.17023, 0.09931, 0.2988, 0.01252, 0.04293, 0.19708, -0.16324, 0.04577, 0.09085, -0.14493, -0.17004, 0.09689, 0.29882, 0.01463, 0.04472, 0.19772, -0.16049, 0.04699]),
}


def spec_of(in_ch, out_ch, smooth) -> ArchSpec:
    return ArchSpec(family="mgnet", stem=Stem(in_ch[0]), stages=tuple(
        Stage(c, tuple(Block(c) for _ in range(n)), stride=1 if i == 0 else 2, block="poly")
        for i, (c, n) in enumerate(zip(out_ch, smooth))))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_params_and_macs(name):
    ours, ref, macs, _ = GOLDEN[name]
    spec = spec_of(*CONFIGS[name])
    c0 = CONFIGS[name][0][0]
    assert cost(spec).params == ours == ref - 2 * 9 * c0  # the reference's unused level-1 convR / convI
    assert sum(p.numel() for p in build(spec).parameters()) == ours
    assert cost(spec).macs == macs


def test_default_configuration_is_the_issue_count():
    # issue 12: Poly-MgNet's default configuration has 1,386,706 (registered) params
    assert GOLDEN["defaults"][1] == 1_386_706 and cost(spec_of(*CONFIGS["defaults"])).params == 1_385_554


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_outputs_equal_the_reference_with_its_weights(name):
    net = build(spec_of(*CONFIGS[name]))
    det_init(net)
    with torch.no_grad():
        for l, level in enumerate(net.stages):
            for j, a in enumerate(level.alpha):
                a.weight.fill_(0.3 + 0.1 * l + 0.05 * j)
    net.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        out = net(x)
    assert out.shape == (2, 10)
    assert torch.allclose(out.flatten(), torch.tensor(GOLDEN[name][3]), atol=1e-4, rtol=1e-4)


def test_mixed_levels_match_cost_and_slots():
    def st(w, d, stride, block="poly", inner=None):
        return Stage(w, tuple(Block(inner or w) for _ in range(d)), stride=stride, block=block)

    mixed = ArchSpec(family="mgnet", stem=Stem(16), input_size=16, stages=(
        st(24, 2, 1, "conv", 16), st(32, 1, 2), st(48, 2, 2, "conv", 40), st(64, 1, 2)))
    check_model_matches_cost(mixed)
    assert [s.name for s in width_slots(mixed)] == [
        "stem+stages[0].f", "stages[0].width", "stages[1].width", "stages[2].width", "stages[2].f", "stages[3].width"]
    pure = spec_of([8, 8, 16], [8, 16, 16], [2, 1, 1])
    check_model_matches_cost(pure)
    slots = width_slots(pure)
    assert [s.name for s in slots] == ["stem+stages[0]", "stages[1].width", "stages[2].width"]
    widened = pure.with_slot_values([16, 32, 48])  # one slot moves f and u of a level (and the stem on level 0)
    assert widened.stem.width == widened.stages[0].width == 16 and widened.stages[2].blocks[0].inner == 48
    check_model_matches_cost(widened)


@pytest.mark.parametrize("change, message", [
    (dict(inner=16), "stages[0].blocks[0].inner=16 differs from stages[0].width=32: a poly level"),
    (dict(share=2), 'stages[0].share=2 is not allowed with block="poly"'),
    (dict(stem=16, inner=16), "stages[0].blocks[0].inner=16 differs from stages[0].width=32"),
    (dict(stem=16, width=16, family="mgiad"), "stages[0].block='poly' is not a block form of family 'mgiad'"),
])
def test_errors_name_the_field(change, message):
    change = dict(change)
    width = change.pop("width", 32)
    inner = change.pop("inner", width)
    data = {"family": change.pop("family", "mgnet"), "stem": {"width": change.pop("stem", width)},
            "stages": [{"width": width, "block": "poly", "blocks": [{"inner": inner}, {"inner": inner}],
                        **change}]}
    with pytest.raises(SpecError) as exc:
        ArchSpec.from_dict(data)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_level0_poly_needs_the_stem_width():
    data = {"family": "mgnet", "stem": {"width": 16}, "stages": [
        {"width": 32, "block": "poly", "blocks": [{"inner": 16}]}]}
    with pytest.raises(SpecError, match="differs from"):
        ArchSpec.from_dict(data)


def test_poly_space_draws_both_forms_with_valid_specs():
    space = SearchSpace.from_file("search_spaces/mgnet_poly.toml")
    blocks = set()
    for spec, values in space.sample_with_values(150, seed=2):
        blocks |= {st.block for st in spec.stages}
        for i, st in enumerate(spec.stages):
            if st.block == "poly":
                assert all(b.inner == st.width for b in st.blocks) and st.share == 1
    assert blocks == {"conv", "poly"}
    check_model_matches_cost(space.min_spec())
