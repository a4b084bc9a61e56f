"""Search spaces: every shipped file parses and samples valid specs; strict one-line validation;
THE mapping ``to_spec(chooser)`` gives fixed knob domains (what Optuna needs) and valid specs."""

from __future__ import annotations

import copy
import glob
import math
from pathlib import Path
from typing import Any

import pytest

from mgsearch.cost import cost
from mgsearch.errors import ConfigError
from mgsearch.space import DictChooser, RandomChooser, SearchSpace
from mgsearch.families import LEVELS, family_names, get_family
from mgsearch.spec import ArchSpec, sharing_runs

ROOT = Path(__file__).resolve().parents[1]
SPACE_FILES = sorted(glob.glob(str(ROOT / "search_spaces" / "*.toml")))
FAMILY_FILES = {Path(f).stem for f in SPACE_FILES}


class RecordingChooser(RandomChooser):
    """A random chooser that remembers each knob's domain and fails if a name's domain changes."""

    domains: dict[str, Any] = {}

    def __init__(self, rng, domains: dict[str, Any]) -> None:
        super().__init__(rng)
        self.domains = domains

    def _check(self, name: str, domain: Any) -> None:
        assert self.domains.setdefault(name, domain) == domain, f"{name}: domain {domain} != {self.domains[name]}"

    def int(self, name, low, high, step=1):
        assert low < high and (high - low) % step == 0, (name, low, high, step)
        self._check(name, ("int", low, high, step))
        return super().int(name, low, high, step)

    def categorical(self, name, choices):
        self._check(name, ("cat", tuple(choices)))
        return super().categorical(name, choices)

    def float(self, name, low, high):
        self._check(name, ("float", low, high))
        return super().float(name, low, high)


def base() -> dict[str, Any]:
    return {
        "family": "mgic",
        "stem": {"width": {"min": 8, "max": 32, "step": 8}},
        "stages": [
            {
                "stride": 1,
                "depth": {"min": 1, "max": 3},
                "width": {"min": 16, "max": 48, "step": 8},
                "inner": {"min": 8, "max": 64, "step": 8, "per_layer": True},
                "group_size": [8, 16, "none"],
                "share": [1, 2],
            },
            {
                "stride": 2,
                "depth": 2,
                "width": {"min": 32, "max": 64, "step": 16},
                "inner": {"min": 16, "max": 64, "step": 16},
                "group_size": [16, "none"],
                "share": [1, "all"],
            },
        ],
    }


# ----------------------------------------------------------------------------- shipped files
def test_one_space_per_family_is_shipped():
    assert set(family_names()) <= FAMILY_FILES
    for name in family_names():
        assert SearchSpace.from_file(ROOT / "search_spaces" / f"{name}.toml").family == name


@pytest.mark.parametrize("path", SPACE_FILES, ids=lambda p: Path(p).name)
def test_shipped_space_parses_and_samples_valid_specs(path):
    space = SearchSpace.from_file(path)
    assert space.source == path
    assert SearchSpace.from_dict(space.to_dict(), source=path) == space
    domains: dict[str, Any] = {}
    import random

    rng = random.Random(0)
    knobs = set(space.knob_names())
    low, high = cost(space.min_spec()).params, cost(space.max_spec()).params
    assert low < high
    for _ in range(200):
        chooser = RecordingChooser(rng, domains)
        spec = space.to_spec(chooser)
        assert isinstance(spec, ArchSpec) and spec.family == space.family
        assert ArchSpec.from_json(spec.to_json()) == spec
        assert set(chooser.values) <= knobs
        c = cost(spec)
        assert low <= c.params <= high
        for i, (stage, st) in enumerate(zip(spec.stages, space.stages)):
            assert stage.group_size in st.group_sizes
            assert st.depth.min <= stage.depth <= st.depth.max
    # shipped spaces are sized for CIFAR-scale budgets of 25k..1M params
    if Path(path).stem != "tiny":
        assert low <= 25_000 * 2 and high >= 1_000_000, (low, high)


@pytest.mark.parametrize("path", SPACE_FILES, ids=lambda p: Path(p).name)
def test_shipped_space_samples_build(path):
    torch = pytest.importorskip("torch")
    from mgsearch.families import build

    space = SearchSpace.from_file(path)
    specs = space.sample(2, seed=1) + [space.min_spec()]
    for spec in specs:
        model = build(spec)
        with torch.no_grad():
            out = model(torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size))
        assert tuple(out.shape) == (1, spec.num_classes)
        assert sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()) == cost(spec).params


# ----------------------------------------------------------------------------- the mapping
def test_knob_domains_are_fixed_and_knob_names_complete():
    space = SearchSpace.from_file(ROOT / "search_spaces" / "tiny.toml")
    import random

    rng = random.Random(3)
    domains: dict[str, Any] = {}
    for _ in range(600):
        space.to_spec(RecordingChooser(rng, domains))
    assert set(domains) == set(space.knob_names())
    # width knobs of a stage with several group sizes are keyed by the choice
    assert domains["s0.width@s4"] == ("int", 8, 16, 4)
    assert domains["s0.width@dense"] == ("int", 8, 16, 4)
    assert domains["s1.width@s8"] == ("int", 16, 32, 8)
    assert domains["s0.group_size"] == ("cat", (4, None))


def test_group_size_changes_the_width_domain():
    space = SearchSpace.from_dict(base())
    names = space.knob_names()
    assert "s0.width@s16" in names and "s0.width@s8" in names and "s0.width@dense" in names
    domains: dict[str, Any] = {}
    import random

    rng = random.Random(0)
    for _ in range(300):
        space.to_spec(RecordingChooser(rng, domains))
    assert domains["s0.width@s16"] == ("int", 16, 48, 16)
    assert domains["s0.width@s8"] == ("int", 16, 48, 8)
    assert domains["s0.b0.inner@s16"] == ("int", 16, 64, 16)


def test_sharing_runs_and_per_stage_inners():
    space = SearchSpace.from_dict(base())
    for spec in space.sample(300, seed=5):
        s0, s1 = spec.stages
        for run in sharing_runs(s0):
            assert len({s0.blocks[j].inner for j in run}) == 1
        if s1.share == 2:
            assert len({b.inner for b in s1.blocks}) == 1
        for stage in spec.stages:
            if stage.group_size:
                assert all(w % stage.group_size == 0 for w in [stage.width] + [b.inner for b in stage.blocks])
    d = base()
    d["stages"][0]["inner"]["per_layer"] = False
    flat = SearchSpace.from_dict(d)
    assert all(len({b.inner for b in sp.stages[0].blocks}) == 1 for sp in flat.sample(100, seed=2))
    assert not any(".b" in n for n in flat.knob_names() if n.startswith("s0."))


def test_share_larger_than_depth_is_clamped_and_all_means_depth():
    d = base()
    d["stages"][0]["share"] = [4]
    d["stages"][1]["share"] = ["all"]
    for spec in SearchSpace.from_dict(d).sample(50, seed=0):
        assert spec.stages[0].share == spec.stages[0].depth
        assert spec.stages[1].share == spec.stages[1].depth == 2


@pytest.mark.parametrize("family", family_names(lambda f: f.topology == LEVELS))
def test_mgnet_ties(family):
    space = SearchSpace.from_file(ROOT / "search_spaces" / f"{family}.toml")
    for spec in space.sample(200, seed=11):
        assert all(b.inner == spec.stem.width for b in spec.stages[0].blocks)
        for stage in spec.stages:
            assert len({b.inner for b in stage.blocks}) == 1
        g0 = spec.stages[0].group_size
        if g0:
            assert spec.stem.width % g0 == 0


def test_width_multiplier_scales_and_rounds():
    d = base()
    d["width_multiplier"] = {"min": 0.5, "max": 2.0}
    space = SearchSpace.from_dict(d)
    assert space.knob_names()[0] == "width_multiplier"
    fixed = {"s0.group_size": 16, "s1.group_size": 16, "s0.share": 1, "s1.share": 1, "s0.depth": 1,
             "stem.width": 24, "s0.width@s16": 32, "s0.b0.inner@s16": 16, "s1.width@s16": 64,
             "s1.b0.inner@s16": 16, "s1.b1.inner@s16": 32}
    one = space.to_spec(DictChooser({**fixed, "width_multiplier": 1.0}))
    assert one.stages[0].width == 32 and one.stem.width == 24
    big = space.to_spec(DictChooser({**fixed, "width_multiplier": 1.3}))
    assert big.stem.width == 31  # 24 * 1.3 = 31.2, stem width needs no multiple
    assert big.stages[0].width == 48  # 32 * 1.3 = 41.6 -> nearest multiple of 16
    assert big.stages[1].blocks[0].inner == 16 and big.stages[1].blocks[1].inner == 48
    assert space.max_spec().stages[0].width == 96  # 48 * 2.0


def test_sample_is_reproducible_and_replayable():
    space = SearchSpace.from_file(ROOT / "search_spaces" / "mgic.toml")
    a = space.sample(20, seed=7)
    assert a == space.sample(20, seed=7)
    assert a != space.sample(20, seed=8)
    for spec, values in space.sample_with_values(20, seed=7):
        assert space.to_spec(DictChooser(values)) == spec
    with pytest.raises(ConfigError, match=r"knob 's0\.group_size' has no value"):
        space.to_spec(DictChooser({}))
    with pytest.raises(ConfigError, match=r"knob s0\.group_size=12 is not one of"):
        space.to_spec(DictChooser({"s0.group_size": 12}, default="low"))


def test_min_and_max_spec_bound_the_space():
    space = SearchSpace.from_dict(base())
    lo, hi = space.min_spec(), space.max_spec()
    c_lo, c_hi = cost(lo), cost(hi)
    params = [cost(s).params for s in space.sample(300, seed=1)]
    assert c_lo.params <= min(params) and c_hi.params >= max(params)
    assert lo.stem.width == 8 and all(st.depth == 1 for st in lo.stages[:1])
    assert hi.stages[0].depth == 3 and hi.stages[0].share == 1


def test_with_overrides():
    space = SearchSpace.from_file(ROOT / "search_spaces" / "resnet.toml")
    gray = space.with_overrides(in_channels=1, num_classes=100, input_size=28)
    assert (gray.in_channels, gray.num_classes, gray.input_size) == (1, 100, 28)
    assert gray.source == space.source and gray.knob_names() == space.knob_names()
    spec = gray.sample(1, seed=0)[0]
    assert (spec.in_channels, spec.num_classes, spec.input_size) == (1, 100, 28)
    assert space.with_overrides() == space
    with pytest.raises(ConfigError, match=r"resnet\.toml: num_classes=0 must be >= 1"):
        space.with_overrides(num_classes=0)


def test_optuna_drives_the_same_mapping(tmp_path):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = SearchSpace.from_file(ROOT / "search_spaces" / "mgiad.toml")

    class TrialChooser:
        def __init__(self, trial):
            self.trial = trial

        def int(self, name, low, high, step=1):
            return self.trial.suggest_int(name, low, high, step=step)

        def categorical(self, name, choices):
            return self.trial.suggest_categorical(name, choices)

        def float(self, name, low, high):
            return self.trial.suggest_float(name, low, high)

    seen = []

    def objective(trial):
        spec = space.to_spec(TrialChooser(trial))
        seen.append(spec)
        return float(cost(spec).params)

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    study.optimize(objective, n_trials=25)
    assert len(seen) == 25 and all(t.state.name == "COMPLETE" for t in study.trials)
    best = space.to_spec(DictChooser(study.best_trial.params))
    assert cost(best).params == study.best_value


# ----------------------------------------------------------------------------- validation
def _set(d: dict, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        d = d[k]
    if value is _DELETE:
        del d[path[-1]]
    else:
        d[path[-1]] = value


_DELETE = object()

BAD = [
    (("colour",), "red", r'colour="red" is not a known key; allowed: family, description'),
    (("stages", 1, "widht"), 32, r"stages\[1\]\.widht=32 is not a known key; allowed: stride, depth, width, inner"),
    (("stages", 0, "inner", "maximum"), 8, r"stages\[0\]\.inner\.maximum=8 is not a known key; allowed: min, max, step, per_layer"),
    (("family",), "vgg", r'family="vgg" is unknown; allowed: resnet, mgic, dacnn, mgnet, mgiad'),
    (("family",), _DELETE, r"family is missing; expected one of resnet"),
    (("stages", 0, "depth", "max"), True, r"stages\[0\]\.depth\.max=true must be an integer, not a boolean"),
    (("stages", 0, "depth", "max"), "3", r'stages\[0\]\.depth\.max="3" must be an integer, not a string'),
    (("stages", 0, "depth", "max"), 2.5, r"stages\[0\]\.depth\.max=2\.5 must be an integer, not a float"),
    (("stages", 1, "depth"), [1, 2], r"stages\[1\]\.depth=\[1, 2\] must be an integer or a table \{min, max, step\}, not a list"),
    (("stages", 0, "inner", "max"), 4, r"stages\[0\]\.inner\.max=4 is below stages\[0\]\.inner\.min=8: the range is empty"),
    (("stages", 0, "width", "step"), 24, r"stages\[0\]\.width\.step=24 does not fit stages\[0\]\.width: max - min = 32"),
    (("stages", 0, "width", "min"), 0, r"stages\[0\]\.width\.min=0 must be >= 1"),
    (("stages", 0, "width", "max"), -8, r"stages\[0\]\.width\.max=-8 must be >= 1"),
    (("stages", 1, "depth"), 0, r"stages\[1\]\.depth=0 must be >= 1"),
    (("stages", 0, "inner", "per_layer"), "yes", r'stages\[0\]\.inner\.per_layer="yes" must be true or false'),
    (("stages", 0, "stride"), 3, r"stages\[0\]\.stride=3 must be 1 or 2"),
    (("stages", 0, "group_size"), [8, 7], r"stages\[0\]\.group_size\[1\]=7 must be an even integer >= 2 or \"dense\""),
    (("stages", 0, "group_size"), [], r"stages\[0\]\.group_size=\[\] must hold at least one choice"),
    (("stages", 0, "group_size"), [8, 8], r"stages\[0\]\.group_size=\[8, 8\] repeats a choice"),
    (("stages", 0, "group_size"), [64], r"stages\[0\]\.group_size=64 divides no value of stages\[0\]\.width \(16\.\.48 step 8\)"),
    (("stages", 0, "share"), [1, 0], r"stages\[0\]\.share\[1\]=0 must be an integer >= 1 or \"all\""),
    (("stages", 0, "share"), "some", r'stages\[0\]\.share="some" must be an integer >= 1 or "all"'),
    (("stages",), [], r"stages=\[\] must be a non-empty list of \[\[stages\]\] tables"),
    (("stages", 0, "depth"), _DELETE, r"stages\[0\]\.depth is missing; expected an integer or a table"),
    (("stem",), _DELETE, r"stem is missing"),
    (("stem", "width"), {"min": 8}, r"stem\.width\.max is missing"),
    (("width_multiplier",), 100, r"width_multiplier=100 must be in \[0\.0625, 16\.0\]"),
    (("width_multiplier",), {"min": 2.0, "max": 1.0}, r"width_multiplier\.max=1\.0 is below width_multiplier\.min=2\.0"),
    (("dropout",), 1.0, r"dropout=1\.0 must be in \[0\.0, 1\.0\)"),
    (("in_channels",), True, r"in_channels=true must be an integer, not a boolean"),
    (("description",), 3, r"description=3 must be a string"),
]


@pytest.mark.parametrize("path, value, pattern", BAD)
def test_validation_errors_name_file_key_and_value(path, value, pattern):
    d = base()
    _set(d, path, value if value is _DELETE else copy.deepcopy(value))
    with pytest.raises(ConfigError) as info:
        SearchSpace.from_dict(d, source="spaces/my.toml")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("spaces/my.toml: "), msg
    import re

    assert re.search(pattern, msg), msg


def test_group_size_must_divide_inner_and_stem_ranges():
    d = base()
    d["stages"][0]["inner"] = {"min": 8, "max": 8}
    with pytest.raises(ConfigError, match=r"stages\[0\]\.group_size=16 divides no value of stages\[0\]\.inner \(8\)"):
        SearchSpace.from_dict(d)
    mg = {
        "family": "mgiad",
        "stem": {"width": {"min": 8, "max": 24, "step": 16}},
        "stages": [{"depth": 1, "width": 16, "group_size": [16]}],
    }
    with pytest.raises(ConfigError, match=r"stages\[0\]\.group_size=16 divides no value of stem\.width \(8\.\.24 step 16\)"):
        SearchSpace.from_dict(mg)


def test_family_rules():
    d = base()
    d["family"] = "resnet"
    with pytest.raises(ConfigError, match=r"stages\[0\]\.group_size\[0\]=8 is not allowed in family 'resnet'.*\(use \"dense\"\)"):
        SearchSpace.from_dict(d)
    for st in d["stages"]:
        st["group_size"] = "none"
    with pytest.raises(ConfigError, match=r"stages\[0\]\.share\[1\]=2 is not allowed in family 'resnet' \(use 1\)"):
        SearchSpace.from_dict(d)
    mg = {"family": "mgnet", "stem": {"width": 16}, "stages": [{"depth": 2, "width": 16, "inner": 16}]}
    with pytest.raises(ConfigError, match=r"stages\[0\]\.inner=16 is not allowed: in family 'mgnet' level 0's f-width is the stem width"):
        SearchSpace.from_dict(mg)
    mg["stages"] = [{"depth": 2, "width": 16}, {"depth": 2, "width": 16, "inner": {"min": 8, "max": 16, "per_layer": True}}]
    with pytest.raises(ConfigError, match=r"stages\[1\]\.inner\.per_layer=true is not allowed in family 'mgnet'"):
        SearchSpace.from_dict(mg)
    mg["stages"][1]["inner"] = {"min": 8, "max": 16}
    del mg["stages"][1]["inner"]
    with pytest.raises(ConfigError, match=r"stages\[1\]\.inner is missing"):
        SearchSpace.from_dict(mg)


def test_files_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: no such search-space file"):
        SearchSpace.from_file(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('family = "mgic"\n[stem\nwidth = 3\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML: .*line 2"):
        SearchSpace.from_file(bad)
    with pytest.raises(ConfigError, match=r"is a folder"):
        SearchSpace.from_file(tmp_path)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"bin\.toml: is not UTF-8 text"):
        SearchSpace.from_file(binary)


def test_intrange_domain_matches_brute_force():
    from mgsearch.space import IntRange

    for lo in range(1, 20):
        for step in (1, 2, 3, 4, 6, 8):
            for n in range(0, 8):
                rng = IntRange(lo, lo + n * step, step)
                values = list(range(rng.min, rng.max + 1, step))
                for m in (None, 2, 4, 6, 8, 16):
                    legal = [v for v in values if v % (m or 1) == 0]
                    dom = rng.domain(m)
                    if not legal:
                        assert dom is None
                    else:
                        first, last, st = dom
                        assert list(range(first, last + 1, st)) == legal, (rng, m)
                        assert st == math.lcm(step, m or 1) or len(legal) == 1


# ----------------------------------------------------------------------------- docs match the code
def _concepts() -> str:
    return (ROOT / "docs" / "concepts.md").read_text()


def test_docs_example_space_and_error_lines():
    import re
    import tomllib

    text = _concepts()
    block = re.search(r"```toml\n(# search_spaces/example\.toml\n.*?)```", text, re.S).group(1)
    data = tomllib.loads(block)
    space = SearchSpace.from_dict(data, source="search_spaces/example.toml")
    assert space.family == "mgic" and len(space.sample(20, seed=0)) == 20
    domains: dict[str, Any] = {}
    import random

    rng = random.Random(0)
    for _ in range(300):
        space.to_spec(RecordingChooser(rng, domains))
    assert domains["s0.width@s8"] == ("int", 16, 48, 8) and domains["s0.width@s16"] == ("int", 16, 48, 16)
    mutations = [
        (("stages", 1, "inner", "max"), 4),
        (("stages", 0, "width", "step"), 24),
        (("stages", 0, "group_size"), [64]),
        (("stages", 1, "widht"), 32),
    ]
    for path, value in mutations:
        d = copy.deepcopy(data)
        _set(d, path, value)
        with pytest.raises(ConfigError) as info:
            SearchSpace.from_dict(d, source="search_spaces/my.toml")
        assert str(info.value) in text, str(info.value)


def test_docs_table_of_shipped_spaces_matches():
    import re

    text = _concepts()
    rows = re.findall(r"^\| `(\w+)\.toml` \| (\w+) \| ([\d,]+) / ([\d,]+) \|", text, re.M)
    assert {r[0] for r in rows} == FAMILY_FILES
    for name, family, lo, hi in rows:
        space = SearchSpace.from_file(ROOT / "search_spaces" / f"{name}.toml")
        assert space.family == family
        assert (cost(space.min_spec()).params, cost(space.max_spec()).params) == (
            int(lo.replace(",", "")), int(hi.replace(",", ""))
        ), name


# ----------------------------------------------------------------------------- property: any valid file, valid specs
def _space_strategy():
    from hypothesis import strategies as st

    def rng(lo_max: int, span_max: int):
        return st.one_of(
            st.integers(1, lo_max),
            st.builds(
                lambda lo, k, step: {"min": lo, "max": lo + k * step, "step": step},
                st.integers(1, lo_max), st.integers(0, 6), st.sampled_from([1, 2, 4, 8, 16, 24]),
            ),
        )

    stage = st.fixed_dictionaries(
        {
            "stride": st.sampled_from([1, 2]),
            "depth": rng(3, 3),
            "width": rng(64, 64),
            "inner": st.one_of(rng(64, 64), st.builds(lambda r, pl: {**r, "per_layer": pl} if isinstance(r, dict) else r,
                                                       rng(64, 64), st.booleans())),
            "group_size": st.lists(st.sampled_from([2, 4, 8, 16, "none"]), min_size=1, max_size=3, unique=True),
            "share": st.lists(st.sampled_from([1, 2, 3, "all"]), min_size=1, max_size=3, unique=True),
            # block forms: "conv" and every form of any family (check() keeps those of the drawn family)
            "block": st.lists(st.sampled_from(["conv", "vcycle", "anchored"]), min_size=1, max_size=2, unique=True),
            "coarse_width": st.lists(st.sampled_from(["group_size", 2, 4, 8, 16, 32]), min_size=1, max_size=2,
                                     unique=True),
            "drop_inner": st.booleans(),  # leave inner out (legal when every listed form ties it to the width)
            "pow2_width": st.booleans(),  # vcycle stages: a width range holding 16, 32, 64, 128 (valid levels)
        }
    )
    return st.fixed_dictionaries(
        {
            "family": st.sampled_from(list(family_names())),
            "stem": st.fixed_dictionaries({"width": rng(64, 64)}),
            "stages": st.lists(stage, min_size=1, max_size=3),
            "width_multiplier": st.sampled_from([1.0, [0.5, 1.0, 1.7], {"min": 0.3, "max": 2.2}]),
        }
    )


def test_every_valid_space_gives_valid_specs():
    """Random space files: either a one-line ConfigError, or every drawn spec is a valid ArchSpec."""
    from hypothesis import HealthCheck, given, settings

    counts = {"valid": 0}

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(_space_strategy())
    def check(data):
        family = get_family(data["family"])
        for sd in data["stages"]:  # keep most generated files legal for their family
            if not family.allows_group_size:
                sd["group_size"] = "none"
            if not family.allows_sharing:
                sd["share"] = 1
            sd["block"] = [b for b in sd["block"] if b == "conv" or b in family.block_forms] or ["conv"]
            if sd["block"] == ["conv"]:
                del sd["block"]
            if not any(b != "conv" and family.block_forms[b].uses_coarse_width for b in sd.get("block", [])):
                del sd["coarse_width"]
            if sd.pop("drop_inner") and "conv" not in sd.get("block", ["conv"]):
                del sd["inner"]
            if sd.pop("pow2_width") and "vcycle" in sd.get("block", []):
                sd["width"] = {"min": 16, "max": 128, "step": 16}
                if "inner" in sd:
                    sd["inner"] = {"min": 16, "max": 64, "step": 16}
                sd["group_size"] = [g for g in sd["group_size"] if g != "none"] or [8]
        if family.knobs.stem_is_first_inner:
            data["stages"][0].pop("inner", None)
            for sd in data["stages"]:
                if isinstance(sd["inner"] if "inner" in sd else None, dict):
                    sd["inner"].pop("per_layer", None)
        try:
            space = SearchSpace.from_dict(data, source="gen.toml")
        except ConfigError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("gen.toml: ")
            return
        counts["valid"] += 1
        names = set(space.knob_names())
        for spec, values in space.sample_with_values(15, seed=0):  # ArchSpec validates: a SpecError fails here
            assert set(values) <= names
            assert spec.family == space.family
            for st in spec.stages:
                counts[st.block] = counts.get(st.block, 0) + 1
        lo, hi = space.min_spec(), space.max_spec()
        assert cost(lo).params <= cost(hi).params

    check()
    assert counts["valid"] >= 50, counts
    assert counts.get("vcycle", 0) > 0 and counts.get("anchored", 0) > 0, counts  # block forms were drawn
