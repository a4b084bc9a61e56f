"""The cycle options of the MGIC V-cycle block (block forms vcycle_rt, vcycle_two_sided,
vcycle_two_sided_rt, vcycle_parallel) against the authors' code.

Golden numbers from BGUCompSci/MultigridInChannelsCNNs resnetMG.py (MgBlockDwGroup with
reuse_PR=True / twoSided=True / mgParallelMode=True), measured once on the CPU (see
docs/concepts.md, "MGIC V-cycle cycle options"); these tests need neither that code nor the network.
Protocol as in tests/test_mgic_vcycle.py: the weights of :func:`det_init` copied into the
reference, the seeded input fed to the blocks, the reference's logits in eval mode. Two changes to
the reference were needed to run it: its two-sided decreasing steps call bn1/bn2 that it
never builds (added); its parallel cycle runs only with the masked dense R/P (pwGroup=False),
which were set to the dense form of mgsearch's grouped R/P with all-ones masks.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mgsearch import build, cost
from mgsearch.errors import SpecError
from mgsearch.families.registry import get_family
from mgsearch.spec import ArchSpec, Block, Stage, Stem
from tests.test_families import check_model_matches_cost
from tests.test_mgic_vcycle import GOLDEN as SERIAL, _input, det_init, spec_of

#: "<block form>/<config of tests/test_mgic_vcycle.py>" -> (mgsearch's block params, the
#: reference's block params (trainable), the reference's logits)
GOLDEN = {
    'vcycle_rt/small_s8_F8': (64480, 64480,
        [0.21779, 0.36694, 0.23417, 0.15274, -0.35632, -0.02386, 0.01305, -0.27641, 0.17199, -0.02551, 0.23113, 0.35889, 0.24091, 0.16084, -0.36179, -0.02359, 0.01547, -0.27133, 0.17593, -0.02384]),
    'vcycle_rt/driver_defaults': (1013568, 1013568,
        [-0.23799, 0.02652, -0.03056, -0.09188, 0.08952, 0.23696, -0.06022, 0.21025, 0.08212, -0.08409, -0.23936, 0.02513, -0.03, -0.09147, 0.08981, 0.23653, -0.05966, 0.21001, 0.08238, -0.0845]),
    'vcycle_two_sided/small_s8_F8': (125280, 125280,
        [0.02023, -0.07153, 0.10693, 0.36411, -0.56063, -0.16514, 0.37039, 0.53604, 0.43792, -0.34892, 0.02214, -0.07059, 0.10968, 0.3702, -0.56092, -0.16646, 0.37258, 0.53635, 0.43664, -0.3491]),
    'vcycle_two_sided/driver_defaults': (1986240, 1986240,
        [-0.032, 0.58858, -0.12471, -0.16105, -0.83964, -0.23915, 0.00733, 0.38782, -0.12677, -0.25759, -0.03225, 0.58787, -0.12458, -0.16377, -0.83841, -0.2389, 0.00905, 0.38884, -0.12703, -0.25757]),
    'vcycle_two_sided_rt/small_s8_F8': (123680, 123680,
        [0.49234, -0.59262, 0.66004, 0.11831, 0.03562, -0.41769, 0.32547, 0.27825, 0.12705, -0.42804, 0.49235, -0.59481, 0.6484, 0.11838, 0.03878, -0.4133, 0.32593, 0.27898, 0.12692, -0.42516]),
    'vcycle_two_sided_rt/driver_defaults': (1960128, 1960128,
        [-0.02789, 0.09087, 0.13025, 0.37373, 0.19927, -0.39804, 0.05934, 0.31038, -0.10019, -0.38654, -0.02799, 0.09147, 0.12994, 0.37442, 0.19874, -0.39671, 0.05934, 0.3097, -0.10024, -0.38626]),
    'vcycle_parallel/small_s8_F8': (65280, 136288,
        [-1141.99402, 423.37866, 692.62183, -107.26144, -205.91045, 1207.28369, 507.2355, 114.16562, -98.05016, -314.02255, -1249.32605, 458.22522, 761.85248, -128.77061, -242.5513, 1289.21289, 552.50317, 122.19331, -108.51333, -293.75668]),
    'vcycle_parallel/driver_defaults': (1036416, 2162368,
        [-189.80498, -213.25128, -3.98321, 123.54493, -74.33577, -105.24783, -214.52872, 34.32404, 147.59758, 144.96753, -155.81804, -187.65123, -8.77167, 134.30421, -167.71275, -138.18309, -181.89775, 16.22021, 142.07919, 179.85542]),
}
FORMS = ("vcycle_rt", "vcycle_two_sided", "vcycle_two_sided_rt", "vcycle_parallel")


def with_form(spec: ArchSpec, form: str) -> ArchSpec:
    return dataclasses.replace(spec, stages=tuple(dataclasses.replace(s, block=form) for s in spec.stages))


def _golden_spec(key: str) -> ArchSpec:
    form, config = key.split("/")
    return with_form(spec_of(*SERIAL[config][0]), form)


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_params_equal_the_reference(key):
    ours, ref, _ = GOLDEN[key]
    net = build(_golden_spec(key))
    assert sum(p.numel() for n, p in net.named_parameters() if n.startswith("stages.")) == ours
    if not key.startswith("vcycle_parallel"):
        assert ours == ref
    else:
        # the reference's parallel blocks also hold the up-smoothers and P's BatchNorm it never uses, and
        # dense (masked) R and P: more trainable tensors than the ones the cycle uses
        assert ref > ours


@pytest.mark.parametrize("key", sorted(GOLDEN))
def test_outputs_equal_the_reference_with_its_weights(key):
    spec = _golden_spec(key)
    net = build(spec).eval()
    det_init(net)
    with torch.no_grad():
        h = _input(spec.stages[0].width)
        for stage in net.stages:
            h = stage(h)
        out = net.head(h).flatten()
    ref = torch.tensor(GOLDEN[key][2])
    # the parallel cycle has no normalisation after its sum (logits in the hundreds); mgsearch nests the
    # prolongations where the reference applies them term by term: equal up to float rounding
    assert torch.allclose(out, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


@pytest.mark.parametrize("form", FORMS)
def test_cost_equals_the_built_model_and_fvcore(form):
    spec = ArchSpec(family="mgic", stem=Stem(16), input_size=16, stages=(
        Stage(32, (Block(32),) * 2, group_size=8, block=form, coarse_width=8),
        Stage(64, (Block(64),), stride=2, group_size=16, block=form, coarse_width=16),
    ))
    check_model_matches_cost(spec)


def test_cycle_costs_relate_as_the_structure_says():
    base = spec_of((32, 64), (1, 1), (1, 2), 8, 8)
    c = {f: cost(with_form(base, f)) for f in ("vcycle", *FORMS)}
    # P = R^T drops exactly the P weights, keeps every MAC (the transposed R is applied instead)
    p_weights = sum(r.params for r in c["vcycle"].layers if r.name.endswith(".P"))
    assert c["vcycle"].params - c["vcycle_rt"].params == p_weights > 0
    assert c["vcycle_rt"].macs == c["vcycle"].macs
    assert c["vcycle_two_sided"].params - c["vcycle_two_sided_rt"].params == p_weights
    # two-sided adds one grouped smoother per fine level (what the up smoothers cost)
    up = sum(r.params for r in c["vcycle"].layers if ".up." in r.name and not r.name.endswith((".P", ".bnp")))
    assert c["vcycle_two_sided"].params - c["vcycle"].params == up
    # the parallel cycle: the same smoothers (on the way down), no P BatchNorm
    bnp = sum(r.params for r in c["vcycle"].layers if r.name.endswith(".bnp"))
    assert c["vcycle"].params - c["vcycle_parallel"].params == bnp
    assert c["vcycle_parallel"].macs == c["vcycle"].macs


def test_transposed_prolongation_has_no_weights_and_no_gradient():
    net = build(with_form(spec_of((32,), (1,), (1,), 8, 8), "vcycle_rt"))
    block = net.stages[0].blocks[0]
    assert all(u.P is None for u in block.up)
    assert not any(".P." in n for n, _ in net.named_parameters())
    d = torch.randn(1, 16, 4, 4, requires_grad=True)
    block.up[0].prolong(d).sum().backward()  # as in the reference (R.weight.data): R learns via R only
    assert block.down[0].weight.grad is None and d.grad is not None
    # P_0 d == R_0^T d (the adjoint): <R x, d> == <x, P d>
    x = torch.randn(1, 32, 4, 4)
    with torch.no_grad():
        assert torch.allclose((block.down[0](x) * d).sum(), (x * block.up[0].prolong(d)).sum(), rtol=1e-5)


def test_forms_are_registered_and_named_in_errors():
    forms = get_family("mgic").block_forms
    assert {"vcycle", *FORMS} <= set(forms)
    data = {"family": "mgic", "stem": {"width": 16},
            "stages": [{"width": 32, "group_size": 8, "block": "vcycle_parallel", "share": 2,
                        "coarse_width": 8, "blocks": [{"inner": 32}, {"inner": 32}]}]}
    with pytest.raises(SpecError, match=r'stages\[0\]\.share=2 is not allowed with block="vcycle_parallel"'):
        ArchSpec.from_dict(data)
    data["stages"][0]["block"] = "vcycle_cycle"
    with pytest.raises(SpecError, match=r"allowed: conv, vcycle, vcycle_rt, vcycle_two_sided, "):
        ArchSpec.from_dict(data)


def test_cycles_space_draws_every_form_with_valid_specs():
    from mgsearch.space import SearchSpace

    space = SearchSpace.from_file("search_spaces/mgic_vcycle_cycles.toml")
    seen = set()
    for spec in space.sample(120, seed=5):
        seen |= {st.block for st in spec.stages}
    assert seen == {"vcycle", *FORMS}
    check_model_matches_cost(space.min_spec())
