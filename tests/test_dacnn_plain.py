"""Plain DACNN (``Stage.block = "plain"`` / ``"plain_reg"``, family ``dacnn``) against the authors' code.

Golden numbers from Gabriel-Huang/DACNN_release ``resnet_Fix_BN.py`` (``resnet_Fix_BN``: one 3x3 kernel
``conv_fix`` for every block, BN per application, max-pool between stages and after the last),
measured once on the CPU (docs/concepts.md, "Plain DACNN"); the tests need neither that code nor the
network. Protocol: the weights of ``det_init`` copied into the reference (stem, kernel, every
applied BN, classifier), a seeded ``2 x 3 x 32 x 32`` input through the WHOLE network, eval mode,
the reference's logits. ``w32_2222_c10``: their file with ``num_blocks = [2,2,2,2]``, width 32,
10 classes. Their registered parameters also hold one ``bn2`` per block that the forward never
applies (``2 * width`` per block).
"""

from __future__ import annotations

import pytest
import torch

from mgsearch import build, cost
from mgsearch.errors import SpecError
from mgsearch.presets import PRESETS
from mgsearch.space import SearchSpace
from mgsearch.spec import ArchSpec, Block, Stage, Stem, width_slots
from tests.test_families import check_model_matches_cost
from tests.test_mgic_vcycle import det_init

#: name -> (width, blocks per stage, classes)
CONFIGS = {"defaults": (128, (3, 4, 6, 3), 100), "w32_2222_c10": (32, (2, 2, 2, 2), 10)}
#: name -> (mgsearch params = the reference's used params, reference registered params, MACs, logits)
GOLDEN = {
    'defaults': (172260, 176356, 1338913280,
        [0.00368, 1.57408, 0.7165, -1.00815, 0.30991, -2.16152, 1.3044, -1.94316, -0.47303, 1.14854, 1.1269, 0.71669, -1.48586, 0.7993, -0.495, 0.21134, -0.02981, -0.27205, -3.339, -1.44437, 3.22764, 1.54719, -0.86877, 0.52811, -2.42977, 0.47156, -2.28093, -1.91845, 1.76619, 1.23221, 2.36201, -1.2285, 0.16333, -1.10289, 2.39001, 2.49293, -1.11232, -0.74704, -0.47329, 1.27311, 1.78456, -0.05485, -0.10274, 1.17887, -0.60058, 0.57362, -4.13421, -1.44248, -2.0437, 1.40255, -2.91294, -0.09622, 1.41422, 0.00152, -0.40913, 2.96394, 0.3853, 0.57646, 0.0291, 0.77127, -2.556, 0.28203, -2.22321, -1.22808, 0.26818, 1.92257, 2.50814, 0.5955, -1.25929, -0.87939, 1.36924, 0.31375, -1.87524, 0.87273, 0.58457, -0.42084, -0.24127, 1.28598, -0.31357, 0.33279, -0.15195, 3.5165, -3.89317, 0.28567, 2.31469, -0.7461, 1.17262, -0.72934, 0.07567, -1.81779, 1.00548, 1.99103, 0.26089, 0.0828, 2.25349, 0.95598, 3.36279, 1.81138, -0.95277, -0.08824, -0.09309, 1.43575, 0.73537, -1.15576, 0.16448, -2.19306, 1.37787, -1.75533, -0.43788, 1.16565, 1.13266, 0.97418, -1.42579, 0.85014, -0.67919, 0.05766, -0.08224, -0.16865, -3.32503, -1.5163, 3.00039, 1.26981, -0.80812, 0.44462, -2.26146, 0.4008, -2.26092, -1.84762, 1.72291, 1.30772, 2.16598, -1.32912, 0.3721, -1.08226, 2.28677, 2.62556, -1.13853, -0.98622, -0.48302, 1.27075, 1.77741, 0.02035, -0.11404, 1.05102, -0.45257, 0.63417, -4.40373, -1.55099, -2.00174, 1.43506, -3.1173, -0.24855, 1.47166, -0.0642, -0.25897, 2.89676, 0.30123, 0.37999, 0.13739, 0.69481, -2.4803, 0.27407, -2.41155, -1.00792, 0.06115, 1.72526, 2.42842, 0.80142, -1.45678, -0.87453, 1.3407, 0.11482, -2.16666, 0.95438, 0.63998, -0.42997, -0.10902, 1.18006, -0.36858, 0.41542, -0.17964, 3.67681, -3.77368, 0.18173, 2.48512, -0.8943, 1.30507, -0.88488, -0.13131, -1.70665, 1.11926, 1.87784, 0.43654, -0.00055, 2.43634, 0.93358, 3.34795, 1.78296, -0.99716, -0.00467]),
    'w32_2222_c10': (11498, 12010, 51020096,
        [-1.79753, -0.22552, 1.71884, 1.60216, 1.50826, -0.39843, 2.1572, -1.00236, 0.59077, 0.32322, -1.72, -0.20333, 1.62578, 1.66554, 1.40513, -0.38929, 1.95838, -1.05661, 0.64271, 0.12338]),
}


def spec_of(width, blocks, classes, form="plain") -> ArchSpec:
    return ArchSpec(family="dacnn", stem=Stem(width), num_classes=classes, stages=tuple(
        Stage(width, tuple(Block(width) for _ in range(n)), stride=1 if i == 0 else 2, block=form)
        for i, n in enumerate(blocks)))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_params_equal_the_reference(name):
    ours, registered, macs, _ = GOLDEN[name]
    width, blocks, classes = CONFIGS[name]
    spec = spec_of(*CONFIGS[name])
    assert cost(spec).params == ours == registered - 2 * width * sum(blocks)  # their unused bn2
    assert sum(p.numel() for p in build(spec).parameters()) == ours
    assert cost(spec).macs == macs


def test_the_papers_network_has_about_017m_params():
    # issue 12: plain DACNN has about 0.17M used params at width 128 (CIFAR-100)
    assert GOLDEN["defaults"][0] == 172_260


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_outputs_equal_the_reference_with_its_weights(name):
    net = build(spec_of(*CONFIGS[name]))
    det_init(net)
    net.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        out = net(x).flatten()
    assert torch.allclose(out, torch.tensor(GOLDEN[name][3]), atol=1e-4, rtol=1e-4)


def test_one_kernel_for_the_network():
    net = build(spec_of(16, (2, 1, 2), 10))
    kernels = {id(b.conv) for st in net.stages for b in st.blocks}
    assert len(kernels) == 1
    assert [s.name for s in width_slots(net.spec)] == ["stem"]  # the network's one width
    wider = net.spec.with_slot_values([24])
    assert {st.width for st in wider.stages} == {24} and wider.stem.width == 24
    check_model_matches_cost(wider)


def test_regulators_add_a_1x1_conv_per_block():
    plain, reg = spec_of(16, (2, 1), 10), spec_of(16, (2, 1), 10, "plain_reg")
    assert cost(reg).params - cost(plain).params == 3 * 16 * 16
    check_model_matches_cost(reg)


def test_runs_of_plain_stages_mix_with_other_forms():
    spec = ArchSpec(family="dacnn", stem=Stem(16), input_size=16, stages=(
        Stage(16, (Block(16),) * 2, block="plain"),
        Stage(32, (Block(32),) * 2, stride=2, block="anchored"),
        Stage(32, (Block(32),), stride=2, block="plain_reg"),
        Stage(32, (Block(32),), block="plain"),
        Stage(48, (Block(24),)),
    ))
    check_model_matches_cost(spec)
    net = build(spec)
    assert net.stages[2].blocks[0].conv is net.stages[3].blocks[0].conv  # one run, one kernel
    assert net.stages[0].blocks[0].conv is not net.stages[2].blocks[0].conv
    assert [s.name for s in width_slots(spec)] == ["stem", "stages[1].width", "stages[4].width",
                                                   "stages[4].blocks[0].inner"]


@pytest.mark.parametrize("change, message", [
    (dict(width=32), 'stages[0].width=32 differs from its input width 16: block="plain" keeps the width'),
    (dict(inner=8), "stages[0].blocks[0].inner=8 differs from stages[0].width=16"),
    (dict(share=2), 'stages[0].share=2 is not allowed with block="plain"'),
    (dict(block="plain_reg", share=2), 'stages[0].share=2 is not allowed with block="plain_reg"'),
])
def test_errors_name_the_field(change, message):
    change = dict(change)
    width = change.pop("width", 16)
    inner = change.pop("inner", width)
    data = {"family": "dacnn", "stem": {"width": 16}, "stages": [
        {"width": width, "block": change.pop("block", "plain"), "blocks": [{"inner": inner}, {"inner": inner}],
         **change}]}
    with pytest.raises(SpecError) as exc:
        ArchSpec.from_dict(data)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_plain_space_and_presets():
    space = SearchSpace.from_file("search_spaces/dacnn_plain.toml")
    forms = set()
    for spec in space.sample(100, seed=1):
        forms |= {st.block for st in spec.stages}
        assert len({st.width for st in spec.stages} | {spec.stem.width}) == 1
    assert forms == {"plain", "plain_reg"}
    check_model_matches_cost(space.min_spec())
    assert PRESETS["dacnn-plain34"].spec == spec_of(128, (3, 4, 6, 3), 10)
    assert PRESETS["dacnn-plain34"].params == GOLDEN["defaults"][0] - 90 * 129  # 10 classes, not 100
