"""ArchSpec: validation messages, JSON round-trip, hashing, width slots, the shipped JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mgsearch.errors import SpecError
from mgsearch.families import family_names, get_family
from mgsearch.spec import (
    SCHEMA_VERSION,
    ArchSpec,
    Block,
    Head,
    Stage,
    Stem,
    json_schema,
    round_to_multiple,
    sharing_runs,
    width_slots,
)

ROOT = Path(__file__).resolve().parents[1]


def make(family: str = "mgic", **stage_kw) -> ArchSpec:
    fam = get_family(family)
    grouped = fam.allows_group_size and fam.conv_allows_group_size
    s0 = dict(width=16, blocks=(Block(16), Block(24)), stride=1, group_size=8 if grouped else None)
    s0.update(stage_kw)
    if fam.knobs.stem_is_first_inner:
        s0["blocks"] = (Block(16), Block(16))
        return ArchSpec(
            family=family, stem=Stem(16),
            stages=(Stage(**s0), Stage(width=32, blocks=(Block(24), Block(24)), stride=2, group_size=s0["group_size"])),
        )
    return ArchSpec(
        family=family, stem=Stem(16),
        stages=(Stage(**s0), Stage(width=32, blocks=(Block(32),), stride=2, group_size=s0["group_size"])),
    )


def base_dict() -> dict:
    return make("mgic").to_dict()


# ----------------------------------------------------------------------------- validation
def test_width_not_multiple_of_group_size():
    with pytest.raises(SpecError, match=r"stages\[0\]\.blocks\[1\]\.inner=20 is not a multiple of stages\[0\]\.group_size=8"):
        make("mgic", blocks=(Block(16), Block(20)))
    with pytest.raises(SpecError, match=r"stages\[0\]\.width=12 is not a multiple of stages\[0\]\.group_size=8"):
        make("mgic", width=12)


def test_unequal_widths_in_sharing_run():
    with pytest.raises(SpecError, match=r"stages\[0\]\.blocks\[1\]\.inner=24 differs from stages\[0\]\.blocks\[0\]\.inner=16 in one sharing run"):
        make("dacnn", share=2)


def test_mgnet_f_width_ties():
    d = make("mgnet").to_dict()
    d["stages"][1]["blocks"][1]["inner"] = 40
    with pytest.raises(SpecError, match=r"stages\[1\]\.blocks\[1\]\.inner=40 differs from stages\[1\]\.blocks\[0\]\.inner=24"):
        ArchSpec.from_dict(d)
    d = make("mgnet").to_dict()
    d["stem"]["width"] = 8
    with pytest.raises(SpecError, match=r"stages\[0\]\.blocks\[0\]\.inner=16 differs from stem\.width=8"):
        ArchSpec.from_dict(d)


@pytest.mark.parametrize("value", [0, -8])
def test_zero_and_negative_widths(value):
    d = base_dict()
    d["stages"][1]["blocks"][0]["inner"] = value
    with pytest.raises(SpecError, match=rf"stages\[1\]\.blocks\[0\]\.inner={value} must be >= 1"):
        ArchSpec.from_dict(d)
    d = base_dict()
    d["stem"]["width"] = value
    with pytest.raises(SpecError, match=rf"stem\.width={value} must be >= 1"):
        ArchSpec.from_dict(d)


def test_unknown_family():
    d = base_dict()
    d["family"] = "vgg"
    with pytest.raises(SpecError, match=r"family='vgg' is unknown; known families: resnet, mgic, dacnn, mgnet, mgiad, mobilenet"):
        ArchSpec.from_dict(d)


@pytest.mark.parametrize(
    "where, pattern",
    [
        ((), r"^colour is not a known key; allowed: "),
        (("stem",), r"^stem\.colour is not a known key; allowed: width"),
        (("stages", 1), r"^stages\[1\]\.colour is not a known key; allowed: block, blocks, coarse_width, group_size, share, stride, width"),
        (("stages", 0, "blocks", 1), r"^stages\[0\]\.blocks\[1\]\.colour is not a known key; allowed: act, inner, kernel, se"),
        (("head",), r"^head\.colour is not a known key; allowed: dropout"),
    ],
)
def test_unknown_keys(where, pattern):
    d = base_dict()
    target = d
    for k in where:
        target = target[k]
    target["colour"] = "red"
    with pytest.raises(SpecError, match=pattern):
        ArchSpec.from_dict(d)


@pytest.mark.parametrize(
    "path, value, pattern",
    [
        (("stem", "width"), True, r"stem\.width=True must be an integer, not bool"),
        (("stem", "width"), 16.0, r"stem\.width=16\.0 must be an integer, not float"),
        (("stages", 0, "width"), "16", r"stages\[0\]\.width='16' must be an integer, not str"),
        (("stages", 1, "share"), False, r"stages\[1\]\.share=False must be an integer, not bool"),
        (("stages", 0, "group_size"), 8.0, r"stages\[0\]\.group_size=8\.0 must be an integer"),
        (("num_classes",), True, r"num_classes=True must be an integer, not bool"),
        (("head", "dropout"), "0.1", r"head\.dropout='0\.1' must be a number"),
        (("stages",), {"a": 1}, r"stages must be a JSON list, not dict"),
        (("stages", 0, "blocks"), 3, r"stages\[0\]\.blocks must be a JSON list, not int"),
        (("stem",), 16, r"stem must be a JSON object, not int"),
    ],
)
def test_wrong_types(path, value, pattern):
    d = base_dict()
    target = d
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    with pytest.raises(SpecError, match=pattern):
        ArchSpec.from_dict(d)


def test_missing_key_and_schema_version():
    d = base_dict()
    del d["stages"][0]["width"]
    with pytest.raises(SpecError, match=r"stages\[0\]\.width is missing"):
        ArchSpec.from_dict(d)
    d = base_dict()
    d["schema"] = 2
    with pytest.raises(SpecError, match=r"schema=2 is not supported"):
        ArchSpec.from_dict(d)


def test_truncated_and_non_object_json():
    text = make().to_json()
    for cut in (1, len(text) // 2, len(text) - 1):
        with pytest.raises(SpecError, match=r"spec JSON is malformed at line 1 column \d+"):
            ArchSpec.from_json(text[:cut])
    with pytest.raises(SpecError, match=r"spec must be a JSON object, not list"):
        ArchSpec.from_json("[1, 2]")


def test_structure_rules():
    with pytest.raises(SpecError, match=r"stages\[0\]\.group_size=8 is not allowed in family 'resnet'"):
        ArchSpec.from_dict({**base_dict(), "family": "resnet"})
    with pytest.raises(SpecError, match=r"stages\[0\]\.share=2 is not allowed in family 'resnet'"):
        make("resnet", share=2, blocks=(Block(16), Block(16)))
    with pytest.raises(SpecError, match=r"share=3 exceeds the stage depth 2"):
        make("dacnn", share=3)
    d = base_dict()
    d["stages"][0]["group_size"] = 5
    with pytest.raises(SpecError, match=r"stages\[0\]\.group_size=5 must be even"):
        ArchSpec.from_dict(d)
    with pytest.raises(SpecError, match=r"stride=3 must be <= 2"):
        make("resnet", stride=3)


def test_errors_are_one_line():
    bad = [
        lambda: make("mgic", width=12),
        lambda: ArchSpec.from_json("{"),
        lambda: ArchSpec.from_dict({**base_dict(), "extra": 1}),
        lambda: make("dacnn", share=2),
    ]
    for fn in bad:
        with pytest.raises(SpecError) as info:
            fn()
        assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- serialisation
@pytest.mark.parametrize("family", family_names())
def test_json_round_trip_and_hash(family):
    spec = make(family)
    text = spec.to_json()
    assert json.loads(text)["schema"] == SCHEMA_VERSION
    again = ArchSpec.from_json(text)
    assert again == spec
    assert again.to_json() == text
    assert ArchSpec.from_json(spec.to_json(indent=2)) == spec
    assert again.hash == spec.hash and len(spec.hash) == 64 and spec.short_hash == spec.hash[:12]
    assert hash(again) == hash(spec)


@pytest.mark.parametrize("family", family_names())
def test_to_dict_equals_generic_dataclass_form(family):
    import dataclasses

    from mgsearch.spec import _json_ready

    spec = make(family)
    generic = _json_ready(dataclasses.asdict(spec))
    generic["schema"] = SCHEMA_VERSION
    for stage in generic["stages"]:  # block-form fields at their defaults are left out of the JSON
        if stage["block"] == "conv":
            del stage["block"]
        if stage["coarse_width"] is None:
            del stage["coarse_width"]
        for block in stage["blocks"]:  # block options at their defaults are left out too
            for key, default in (("kernel", 3), ("se", False), ("act", "relu")):
                if block[key] == default:
                    del block[key]
    assert spec.to_dict() == generic
    d = spec.to_dict()
    d["stem"]["width"] = 999  # a fresh dict each time: the cached JSON does not change
    assert spec.to_dict()["stem"]["width"] == 16 and ArchSpec.from_json(spec.to_json()) == spec


def test_hash_is_canonical_and_distinguishes():
    spec = make("mgic")
    d = spec.to_dict()
    reordered = json.dumps(dict(reversed(list(d.items()))))
    assert ArchSpec.from_json(reordered).hash == spec.hash
    other = spec.replace(num_classes=100)
    assert other.hash != spec.hash
    # lists/tuples and int-valued dropout normalise to the same value
    same = ArchSpec(family="mgic", stem=Stem(16), stages=list(spec.stages), head=Head(dropout=0))
    assert same.hash == spec.hash


def test_frozen():
    spec = make()
    with pytest.raises(Exception):
        spec.family = "resnet"  # type: ignore[misc]


# ----------------------------------------------------------------------------- width slots
@pytest.mark.parametrize("family", family_names())
def test_width_slots_round_trip(family):
    spec = make(family, share=2, blocks=(Block(16), Block(16))) if get_family(family).allows_sharing else make(family)
    slots = width_slots(spec)
    values = [s.value for s in slots]
    assert spec.with_slot_values(values) == spec
    # every free width is set by exactly one slot
    paths = [p for s in slots for p in s.paths]
    assert len(paths) == len(set(paths)) == len(spec.widths())
    doubled = spec.with_slot_values([2 * v for v in values])
    assert [s.value for s in width_slots(doubled)] == [2 * v for v in values]
    assert doubled.widths() == [2 * w for w in spec.widths()]
    with pytest.raises(SpecError, match="slot values"):
        spec.with_slot_values(values[:-1])


def test_width_slot_ties():
    dacnn = make("dacnn", share=2, blocks=(Block(16), Block(16)))
    names = [s.name for s in width_slots(dacnn)]
    assert "stages[0].blocks[0:2].inner" in names
    mg = make("mgiad")
    first = width_slots(mg)[0]
    assert first.paths[0] == "stem.width" and "stages[0].blocks[1].inner" in first.paths and first.multiple_of == 8
    assert all(s.multiple_of == 8 for s in width_slots(make("mgic")) if s.kind != "stem")


def test_sharing_runs_and_rounding():
    stage = Stage(width=8, blocks=tuple(Block(8) for _ in range(5)), share=2)
    assert [list(r) for r in sharing_runs(stage)] == [[0, 1], [2, 3], [4]]
    assert round_to_multiple(21, 8) == 24 and round_to_multiple(3, 8) == 8 and round_to_multiple(19, 1) == 19


# ----------------------------------------------------------------------------- JSON Schema
def test_shipped_json_schema_matches_code():
    shipped = json.loads((ROOT / "docs" / "archspec.schema.json").read_text())
    assert shipped == json_schema(), (
        "docs/archspec.schema.json is stale; regenerate it with: python -c 'import json, mgsearch.spec as s; "
        "print(json.dumps(s.json_schema(), indent=2, sort_keys=True))' > docs/archspec.schema.json"
    )


def test_json_schema_accepts_specs_and_rejects_unknown_keys():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    assert schema["properties"]["family"]["enum"] == list(family_names())
    for family in family_names():
        jsonschema.validate(make(family).to_dict(), schema)
    d = base_dict()
    d["stem"]["colour"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, schema)


def test_docs_json_example_is_a_valid_spec():
    import re

    from mgsearch.cost import cost

    text = (ROOT / "docs" / "concepts.md").read_text()
    block = re.search(r"```json\n(.*?)```", text, re.S).group(1)
    spec = ArchSpec.from_json(block)
    assert cost(spec).params == 36_650 and "36,650 params" in text
    names = [f"`{s.name}` ({s.value}" for s in width_slots(spec)]
    assert all(n in text for n in names), names
