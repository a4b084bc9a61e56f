"""The strategy registry, exercised by a toy strategy registered from THIS module (no change to mgsearch).

``toy-fill`` proposes the space's smallest network scaled up (by :func:`mgsearch.fitting.scale_to_budget`)
to a sampled share of the params budget; its settings table ``[toy_fill]`` lists the shares. The
tests check that a study file may name it, that its settings are parsed once when the file is read,
that a tiny search stores its candidates with its attributes, and that ``mgsearch report`` and
``mgsearch export --best`` work on that study; plus the registry's own rules.
"""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, Mapping

import optuna
import pytest

from mgsearch.cost import cost
from mgsearch.errors import ConfigError
from mgsearch.fitting import scale_to_budget
from mgsearch.space import SearchSpace
from mgsearch.spec import ArchSpec
from mgsearch.strategies import (
    Candidate,
    Strategy,
    StrategyContext,
    get_strategy,
    register_strategy,
    strategy_names,
    unregister_strategy,
)
from mgsearch.study import load_study_config
from tests.search.conftest import MICRO_SPACE

TOY = "toy-fill"
REPO = Path(__file__).resolve().parents[1]


class ToyFill(Strategy):
    """The space's minimum network, scaled up to ``share x`` the params budget (share sampled)."""

    name = TOY
    description = "the space's smallest network scaled to a sampled share of the budget"
    table = "toy_fill"
    parsed = 0  # how often parse_settings ran (once per study file read)

    def parse_settings(self, table: Mapping[str, Any], *, source: str) -> tuple[float, ...]:
        type(self).parsed += 1
        for key in table:
            if key != "shares":
                raise ConfigError(f"{source}: toy_fill.{key} is not a known key; allowed: shares")
        shares = table.get("shares", [0.5])
        if not isinstance(shares, list) or not shares or not all(
                isinstance(s, (int, float)) and not isinstance(s, bool) and 0 < s <= 1 for s in shares):
            raise ConfigError(f"{source}: toy_fill.shares={shares!r} must be a list of numbers in (0, 1]")
        return tuple(float(s) for s in shares)

    def propose(self, chooser: Any, context: StrategyContext) -> Candidate:
        share = chooser.categorical("toy.share", list(context.settings))
        smallest = context.space.min_spec()
        limit = share * context.limits["params"]
        spec = scale_to_budget(smallest, lambda s: cost(s).params <= limit, grow=True) or smallest
        return Candidate(spec=spec, parent=smallest, attrs={"toy_share": share, "toy_extra_cost_epochs": 0.0})


@pytest.fixture
def toy() -> Iterator[ToyFill]:
    strategy = register_strategy(ToyFill())
    ToyFill.parsed = 0
    yield strategy
    unregister_strategy(TOY)


def _study(tmp_path: Path, root: Path, *, strategy: str = TOY, table: str = "[toy_fill]\nshares = [0.3, 0.6]\n",
           n_trials: int = 3) -> Path:
    (tmp_path / "space.toml").write_text(MICRO_SPACE)
    path = tmp_path / "toy.toml"
    path.write_text(
        f'[study]\nspace = "space.toml"\nstrategy = "{strategy}"\nn_trials = {n_trials}\nsampler = "random"\n'
        'pruner = "none"\nfill_budget = false\n'  # the toy sizes its candidates itself: keep them as proposed
        f'[data]\ndataset = "imagefolder"\nroot = "{root}"\nval_fraction = 0.25\n'
        '[fidelity]\nepochs = 1\nbatch_size = 32\n[budget]\nmax_params = 3000\n[device]\nname = "cpu"\nthreads = 1\n'
        f"{table}"
    )
    return path


# --------------------------------------------------------------------------- the registry
def test_builtin_strategies_and_the_names_a_study_may_use():
    assert strategy_names()[:3] == ("direct", "lwdna", "baseline")
    assert strategy_names(lambda s: s.searches)[:2] == ("direct", "lwdna")
    assert "baseline" not in strategy_names(lambda s: s.searches)  # driven by `mgsearch baseline`
    assert get_strategy("lwdna").table == "lwdna"


def test_unknown_strategy_is_one_line_listing_the_known_ones():
    with pytest.raises(ConfigError) as err:
        get_strategy("nope")
    message = str(err.value)
    assert "\n" not in message and "'nope'" in message and "direct, lwdna, baseline" in message


def test_duplicates_and_non_strategies_are_refused(toy):
    with pytest.raises(ValueError, match=f"strategy '{TOY}' is already registered"):
        register_strategy(ToyFill())
    with pytest.raises(ValueError, match=r"already registered"):
        register_strategy(type("Direct2", (ToyFill,), {"name": "direct"})())

    class Clash(ToyFill):
        name = "toy-other"

    with pytest.raises(ValueError, match=r"table \[toy_fill\] is already read by strategy 'toy-fill'"):
        register_strategy(Clash())
    with pytest.raises(TypeError, match="expects a Strategy"):
        register_strategy(object())  # type: ignore[arg-type]
    assert strategy_names().count(TOY) == 1


def test_a_candidate_may_not_set_contract_attributes():
    spec = ArchSpec.from_json(json.dumps({
        "family": "resnet", "in_channels": 3, "num_classes": 3, "input_size": 16, "stem": {"width": 4},
        "stages": [{"width": 4, "stride": 1, "blocks": [{"inner": 4}]}]}))
    with pytest.raises(ValueError, match=r"\['spec', 'status'\] are written by the objective"):
        Candidate(spec=spec, attrs={"status": "x", "spec": "y", "ok": 1})
    assert Candidate(spec=spec, parent=spec, attrs={"ok": 1}).trial_attrs() == {"ok": 1, "parent_spec": spec.to_json()}


def test_the_search_reaches_strategies_only_through_the_registry():
    """No module of mgsearch.search imports mgsearch.shrink or a strategy module (only the registry /
    the package's protocol), and none compares the strategy's name."""
    for path in sorted((REPO / "mgsearch" / "search").glob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("mgsearch.shrink"), f"{path.name} imports {name}"
                assert name in ("mgsearch.strategies",) or not name.startswith("mgsearch.strategies."), \
                    f"{path.name} imports {name}"
        assert "strategy ==" not in source and '"lwdna"' not in source, path.name


# --------------------------------------------------------------------------- study files
def test_study_files_name_it_and_its_table_is_parsed_once(toy, tmp_path, tiny_image_folder):
    root = tiny_image_folder()
    config = load_study_config(_study(tmp_path, root))
    assert config.strategy == TOY and config.strategy_settings == (0.3, 0.6) and ToyFill.parsed == 1
    assert config.to_dict()["toy_fill"] == {"shares": [0.3, 0.6]}
    with pytest.raises(ConfigError, match=r"toy\.toml: toy_fill\.shares=\[2\] must be a list of numbers") as err:
        load_study_config(_study(tmp_path, root, table="[toy_fill]\nshares = [2]\n"))
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"\[toy_fill\] is given but study.strategy='direct'; set strategy = \"toy-fill\""):
        load_study_config(_study(tmp_path, root, strategy="direct"))
    with pytest.raises(ConfigError, match=r"study.strategy='toy-nope' is not allowed: one of direct, lwdna, oneshot, toy-fill"):
        load_study_config(_study(tmp_path, root, strategy="toy-nope", table=""))
    with pytest.raises(ConfigError, match=r"study.strategy='baseline' is not allowed"):
        load_study_config(_study(tmp_path, root, strategy="baseline", table=""))


def test_reading_an_lwdna_study_file_imports_neither_torch_nor_optuna(tmp_path, tiny_image_folder):
    path = _study(tmp_path, tiny_image_folder(), strategy="lwdna", table="[lwdna]\nwiden = 1.5\nbatches = 1\n")
    code = ("import sys; from mgsearch.study import load_study_config; "
            f"c = load_study_config({str(path)!r}); assert c.strategy_settings.widen.low == 1.5; "
            "print(','.join(m for m in ('torch', 'optuna') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == ""


# --------------------------------------------------------------------------- a search with it
def test_a_tiny_search_report_and_export_with_the_toy(toy, tmp_path, tiny_image_folder, capsys):
    from mgsearch.cli import main
    from mgsearch.search import run_search

    path = _study(tmp_path, tiny_image_folder())
    config = load_study_config(path)
    result = run_search(config, progress=False)
    assert result.n_trials == 3
    study = optuna.load_study(study_name=config.name, storage=config.storage)
    assert study.user_attrs["strategy"] == TOY
    smallest = SearchSpace.from_file(tmp_path / "space.toml").min_spec()
    trained = 0
    for t in study.trials:
        a = t.user_attrs
        assert a["strategy"] == TOY and a["toy_share"] in (0.3, 0.6) and a["toy_extra_cost_epochs"] == 0.0
        spec = ArchSpec.from_json(a["spec"])
        assert a["params"] == cost(spec).params <= math.floor(a["toy_share"] * 3000)
        assert a["parent_spec"] == smallest.to_json()
        assert min(spec.widths()) >= 4  # the scaling's minimum width
        assert a["status"] in ("trained", "duplicate")
        trained += a["status"] == "trained"
    assert trained >= 1

    report = tmp_path / "toy.html"
    assert main(["report", str(path), "--out", str(report)]) == 0
    assert report.stat().st_size > 0
    out = tmp_path / "found"
    assert main(["export", str(path), "--best", "--out", str(out)]) == 0
    exported = ArchSpec.from_json((out / "arch.json").read_text())
    assert exported.hash in {t.user_attrs["spec_hash"] for t in study.trials}
    capsys.readouterr()
