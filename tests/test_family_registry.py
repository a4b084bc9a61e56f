"""The family registry, exercised by a toy family registered from THIS module (no change to mgsearch).

``toy-plain5`` is a plain VGG-like network with 5x5 convs: stem conv5x5 + BN + ReLU, then per block
conv5x5 (stride on a stage's first block) + BN + ReLU + conv5x5 + BN + ReLU, no shortcut; at most
three blocks per stage (its own rule). It brings its own analytic complexity and build, and reuses
the ResNet-like topology's width slots. The tests check that validation, cost, search spaces,
training and export / load all reach it through the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import torch
from torch import nn

import mgsearch
from mgsearch.cost import count_params, fvcore_counts
from mgsearch.errors import SpecError
from mgsearch.families import (
    Family,
    build,
    family_names,
    get_family,
    register_family,
    unregister_family,
)
from mgsearch.families.base import ClassifierHead, MgsearchNet
from mgsearch.families.topology import ResNetLikeFamily
from mgsearch.layers.accounting import LayerCost, bn_row, conv_row, linear_row, out_size
from mgsearch.space import SearchSpace
from mgsearch.spec import ArchSpec, Block, Stage, Stem, json_schema, width_slots

torch.set_num_threads(1)

TOY = "toy-plain5"
MAX_BLOCKS = 3


def _conv5(c_in: int, c_out: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 5, stride=stride, padding=2, bias=False)


class _PlainNet(MgsearchNet):
    def __init__(self, spec: ArchSpec) -> None:
        super().__init__(spec)
        self.stem = nn.Module()
        self.stem.conv, self.stem.bn = _conv5(spec.in_channels, spec.stem.width, 1), nn.BatchNorm2d(spec.stem.width)
        self._gate("stem.width", self.stem.bn)
        stages, c_in = [], spec.stem.width
        for i, stage in enumerate(spec.stages):
            blocks = nn.ModuleList()
            for j, block in enumerate(stage.blocks):
                b = nn.Module()
                b.conv1 = _conv5(c_in, block.inner, stage.stride if j == 0 else 1)
                b.bn1 = self._gate(f"stages[{i}].blocks[{j}].inner", nn.BatchNorm2d(block.inner))
                b.conv2 = _conv5(block.inner, stage.width, 1)
                b.bn2 = self._gate(f"stages[{i}].width", nn.BatchNorm2d(stage.width))
                blocks.append(b)
                c_in = stage.width
            stages.append(blocks)
        self.stages = nn.ModuleList(stages)
        self.head = ClassifierHead(c_in, spec.num_classes, spec.head.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem.bn(self.stem.conv(x)))
        for blocks in self.stages:
            for b in blocks:
                x = torch.relu(b.bn1(b.conv1(x)))
                x = torch.relu(b.bn2(b.conv2(x)))
        return self.head(x)


class PlainFiveFamily(ResNetLikeFamily):
    """Plain 5x5 network: the toy family of these tests."""

    def validate(self, spec: ArchSpec) -> None:
        for i, stage in enumerate(spec.stages):
            if stage.depth > MAX_BLOCKS:
                raise SpecError(f"stages[{i}] has {stage.depth} blocks; family {self.name!r} allows at most {MAX_BLOCKS}")

    def complexity(self, spec: ArchSpec) -> list[LayerCost]:
        size = spec.input_size
        rows = [conv_row("stem.conv", spec.in_channels, spec.stem.width, 5, 1, size),
                bn_row("stem.bn", spec.stem.width, size)]
        c_in = spec.stem.width
        for i, stage in enumerate(spec.stages):
            for j, block in enumerate(stage.blocks):
                stride = stage.stride if j == 0 else 1
                name = f"stages.{i}.{j}"
                rows.append(conv_row(f"{name}.conv1", c_in, block.inner, 5, stride, size))
                size = out_size(size, stride)
                rows += [bn_row(f"{name}.bn1", block.inner, size),
                         conv_row(f"{name}.conv2", block.inner, stage.width, 5, 1, size),
                         bn_row(f"{name}.bn2", stage.width, size)]
                c_in = stage.width
        return rows + [linear_row("head.fc", c_in, spec.num_classes)]

    def build(self, spec: ArchSpec) -> MgsearchNet:
        return _PlainNet(spec)


SPACE = f"""
family = "{TOY}"
in_channels = 3
num_classes = 3
input_size = 16

[stem]
width = {{ min = 4, max = 8, step = 4 }}

[[stages]]
depth = {{ min = 1, max = {MAX_BLOCKS} }}
width = {{ min = 4, max = 8, step = 4 }}
inner = {{ min = 4, max = 12, step = 4, per_layer = true }}

[[stages]]
stride = 2
depth = 1
width = {{ min = 8, max = 16, step = 8 }}
inner = {{ min = 4, max = 8, step = 4 }}
"""


@pytest.fixture(scope="module", autouse=True)
def toy() -> Iterator[Family]:
    family = register_family(PlainFiveFamily(name=TOY, description="plain VGG-like network of 5x5 convs (test toy)"))
    try:
        yield family
    finally:
        unregister_family(TOY)
    assert TOY not in family_names()


def toy_spec(**changes) -> ArchSpec:
    spec = ArchSpec(
        family=TOY, in_channels=3, num_classes=3, input_size=16, stem=Stem(8),
        stages=(Stage(width=8, blocks=(Block(4), Block(12))), Stage(width=16, blocks=(Block(8),), stride=2)),
    )
    return spec.replace(**changes) if changes else spec


# ----------------------------------------------------------------------------- registry
def test_registered_and_listed(toy: Family) -> None:
    assert get_family(TOY) is toy and family_names()[-1] == TOY
    assert family_names()[:6] == ("resnet", "mgic", "dacnn", "mgnet", "mgiad", "mobilenet")
    assert TOY in json_schema()["properties"]["family"]["enum"]


def test_duplicate_registration_is_an_error(toy: Family) -> None:
    with pytest.raises(ValueError, match=rf"family '{TOY}' is already registered"):
        register_family(PlainFiveFamily(name=TOY, description="again"))
    with pytest.raises(ValueError, match=r"family 'resnet' is already registered"):
        register_family(PlainFiveFamily(name="resnet", description="clash with a built-in"))
    assert get_family(TOY) is toy and get_family("resnet").topology == "resnet-like"


def test_unknown_family_lists_the_known_ones() -> None:
    with pytest.raises(SpecError, match=rf"family='vgg' is unknown; known families: resnet, mgic, dacnn, mgnet, mgiad, mobilenet, {TOY}"):
        get_family("vgg")
    with pytest.raises(SpecError, match=r"family=\['x'\] is unknown"):
        get_family(["x"])
    with pytest.raises(TypeError, match="expects a Family"):
        register_family("toy")  # type: ignore[arg-type]

    class NoTopology(Family):
        width_slots = complexity = build = PlainFiveFamily.build

    with pytest.raises(TypeError, match="must set topology"):
        register_family(NoTopology(name="toy-no-topology", description="incomplete"))
    assert "toy-no-topology" not in family_names()


# ----------------------------------------------------------------------------- spec rules
def test_validation_follows_the_family_rules() -> None:
    spec = toy_spec()
    assert ArchSpec.from_json(spec.to_json()) == spec
    with pytest.raises(SpecError, match=rf"stages\[0\] has 4 blocks; family '{TOY}' allows at most 3"):
        toy_spec(stages=(Stage(width=8, blocks=(Block(4),) * 4),))
    with pytest.raises(SpecError, match=rf"stages\[0\]\.group_size=4 is not allowed in family '{TOY}'; MGIC convs exist in: mgic, mgiad, mobilenet$"):
        toy_spec(stages=(Stage(width=8, blocks=(Block(4),), group_size=4),))
    with pytest.raises(SpecError, match=rf"stages\[0\]\.share=2 is not allowed in family '{TOY}' \(use 1\); weight sharing exists in: mgic, dacnn, mgnet, mgiad$"):
        toy_spec(stages=(Stage(width=8, blocks=(Block(4), Block(4)), share=2),))


def test_width_slots_come_from_the_topology() -> None:
    spec = toy_spec()
    names = [s.name for s in width_slots(spec)]
    assert names == ["stem", "stages[0].width", "stages[0].blocks[0].inner", "stages[0].blocks[1].inner",
                     "stages[1].width", "stages[1].blocks[0].inner"]
    doubled = spec.with_slot_values([2 * s.value for s in width_slots(spec)])
    assert doubled.widths() == [2 * w for w in spec.widths()]


# ----------------------------------------------------------------------------- cost and build
def test_cost_equals_the_built_model() -> None:
    spec = toy_spec()
    model = build(spec)
    assert isinstance(model, MgsearchNet) and model.spec == spec
    c = mgsearch.cost(spec)
    assert c.params == count_params(model)
    fv = fvcore_counts(model, spec)
    assert (c.macs, c.activations) == (fv["macs"], fv["activations"])
    for row in c.layers:
        assert sum(p.numel() for p in model.get_submodule(row.name).parameters()) == row.params, row
    gates = model.channel_gates()
    assert set(gates) == {s.name for s in width_slots(spec)} and all(gates.values())


# ----------------------------------------------------------------------------- space, training, export
def test_search_space_samples_valid_specs(tmp_path: Path) -> None:
    path = tmp_path / "toy.toml"
    path.write_text(SPACE)
    space = SearchSpace.from_file(path)
    assert space.family == TOY and "s0.b0.inner" in space.knob_names()
    for spec in space.sample(30, seed=0):
        assert spec.family == TOY and ArchSpec.from_json(spec.to_json()) == spec
        assert mgsearch.cost(spec).params == count_params(build(spec))
    assert mgsearch.cost(space.min_spec()).params < mgsearch.cost(space.max_spec()).params
    bad = SPACE.replace("[[stages]]\ndepth", '[[stages]]\ngroup_size = [4, "none"]\ndepth', 1)
    with pytest.raises(mgsearch.ConfigError, match=rf"group_size\[0\]=4 is not allowed in family '{TOY}'"):
        SearchSpace.from_dict(__import__("tomllib").loads(bad), source="toy.toml")


def test_one_tiny_training_step(tiny_image_folder) -> None:
    from mgsearch.data import load_dataset
    from mgsearch.train import Fidelity, train

    dataset = load_dataset("imagefolder", tiny_image_folder(classes=3, train_per_class=8, test_per_class=2, size=16))
    spec = toy_spec()
    result = train(spec, dataset, fidelity=Fidelity(epochs=1, batch_size=32), progress=False, threads=1)
    assert 0.0 <= result.val_acc <= 1.0 and result.params == mgsearch.cost(spec).params
    assert result.model.spec == spec


def test_export_and_load_round_trip(tmp_path: Path) -> None:
    from mgsearch.export import export_model

    spec = toy_spec()
    model = build(spec).eval()
    result = export_model(spec, tmp_path / "toy", model=model, latency=False)
    assert result.spec == spec
    loaded = mgsearch.load(tmp_path / "toy")
    assert loaded.spec == spec and type(loaded) is _PlainNet
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-6)
