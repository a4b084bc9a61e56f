"""One word for dense (docs/concepts.md, "One word for dense"): ``null`` in spec JSON, ``"dense"`` in
search-space files (``"none"`` still read), ``@dense`` in knob names, ``dense`` in CLI and report output.
The older spellings (``"none"``, ``d``, ``0 = dense``, ``None``) never appear in what a user reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mgsearch.cli import main
from mgsearch.errors import ConfigError
from mgsearch.space import SearchSpace
from mgsearch.spec import DENSE, group_size_text
from mgsearch.study import space_sha256

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "search_spaces" / "tiny.toml"

#: space hashes of the shipped spaces as they were when they still said "none" (studies store them)
SHIPPED_SPACE_SHA256 = {
    "mgiad": "e7a04e9f8461f2444b6db35cefe28fbb24bfffac63d90f4d8cfe1fbda1214b3a",
    "mgic": "66fa5ca9957c6ae2092eff5d88b5f4f0580226436f90e6760ba9c40e69001600",
    "mgic_vcycle": "55dfd1f51c3f6486cab9e54a64da3aedf395c7033ed890ae8c66321b0646d72f",
    "tiny": "135672557275a887ecaf0ac34ba2f0b528f13471a4adc9b4345f4e3b2bfbe634",
}


def test_dense_word_and_text():
    assert DENSE == "dense" and group_size_text(None) == "dense" and group_size_text(8) == "8"


def test_space_files_read_both_spellings_and_write_dense(tmp_path):
    text = TINY.read_text()
    assert '"none"' not in text and '"dense"' in text
    old = tmp_path / "old.toml"
    old.write_text(text.replace('"dense"', '"none"'))
    new, legacy = SearchSpace.from_file(TINY), SearchSpace.from_file(old)
    assert new.to_dict() == legacy.to_dict()
    assert new.sample(20, seed=3) == legacy.sample(20, seed=3)
    assert all(g in (4, 8, DENSE) for st in new.to_dict()["stages"] for g in st["group_size"])
    # one hash for both spellings: a study made with either resumes with the other
    assert space_sha256(old) == space_sha256(TINY)


@pytest.mark.parametrize("name", sorted(SHIPPED_SPACE_SHA256))
def test_respelt_shipped_spaces_keep_their_hash(name):
    assert space_sha256(ROOT / "search_spaces" / f"{name}.toml") == SHIPPED_SPACE_SHA256[name]


def test_space_file_messages_say_dense(tmp_path):
    base = TINY.read_text()
    both = tmp_path / "both.toml"
    both.write_text(base.replace('[4, "dense"]', '[4, "dense", "none"]', 1))
    with pytest.raises(ConfigError, match="repeats a choice"):
        SearchSpace.from_file(both)
    odd = tmp_path / "odd.toml"
    odd.write_text(base.replace('[4, "dense"]', '[4, "Dense"]', 1))
    with pytest.raises(ConfigError, match=r'group_size\[1\]="Dense" must be an even integer >= 2 or "dense"$'):
        SearchSpace.from_file(odd)


def test_space_cli_table_spells_dense(capsys):
    assert main(["space", str(TINY), "--sample", "40", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    table = out.split("\n\n")[0].splitlines()[1:]  # the architectures' table: header, rule, rows
    col = table[0].index("group sizes")
    cells = {line[col:].split()[0] for line in table[2:]}
    assert cells and all(re.fullmatch(r"(\d+|dense)(-(\d+|dense))*", c) for c in cells), cells
    assert any("dense" in c for c in cells)


def test_report_spells_dense(tmp_path, capsys):
    """The report's knob axes and structure figure write dense; no None, no "0 = dense"."""
    import optuna

    from tests.report.studyfactory import T, resnet_spec, write_study

    trials = []
    for k, g in enumerate((4, None, 8, None)):
        spec = resnet_spec(8, ((8, (8, 8)), (16, (16, 16))), family="mgic", group_size=g, share=2 if k % 2 else 1)
        trials.append(T(spec=spec, val_acc=0.6 + k / 100, params=1000 + 500 * k,
                        knobs={"s0.group_size": g, "s0.width@" + ("dense" if g is None else f"s{g}"): 8},
                        distributions={"s0.group_size": optuna.distributions.CategoricalDistribution([4, 8, None])}))
    db = tmp_path / "v.db"
    write_study(db, "v", trials)
    out = tmp_path / "v.html"
    assert main(["report", str(db), "--out", str(out)]) == 0
    page = out.read_text()
    assert "0 = dense" not in page and '"None"' not in page
    assert re.search(r'"ticktext":\["4","8","dense"\]', page), "group-size knob axis"
    from mgsearch.report import figures, load_study

    data = load_study(db)
    cells = {c for row in figures.structure_figure(data).data[0].text for c in row}
    assert cells == {"4", "8", "dense"}
    assert main(["report", str(db), "--json"]) == 0
    text = capsys.readouterr().out
    json.loads(text)
    assert '"none"' not in text.lower()


def test_a_database_with_a_raw_space_hash_resumes_after_respelling(tmp_path):
    """Databases from before the parsed space hash stored the file's raw-bytes hash and its table."""
    import hashlib
    from types import SimpleNamespace

    from mgsearch.search.runner import _same_space, space_table

    space = tmp_path / "space.toml"
    space.write_text(TINY.read_text().replace('"dense"', '"none"'))
    stored = {"study": {"space_sha256": hashlib.sha256(space.read_bytes()).hexdigest()}}
    study = SimpleNamespace(user_attrs={"space_toml": space_table(space)})

    def same() -> str | None:
        config = SimpleNamespace(space_sha256=space_sha256(space), space_path=space, path=tmp_path / "s.toml",
                                 name="s", storage_display="s.db")
        return _same_space(study, stored, config)

    space.write_text(TINY.read_text())  # re-spelt: the same space
    assert same() is None
    space.write_text(TINY.read_text().replace("max = 2 }", "max = 3 }", 1))  # a real change is still named
    assert "stages[0].depth.max: 2 -> 3" in same()


def test_model_card_spells_dense():
    """A family with MGIC convs names every stage's group size, dense included; others say nothing of it."""
    from mgsearch.export import model_card
    from tests.report.studyfactory import resnet_spec

    import dataclasses

    spec = resnet_spec(8, ((8, (8, 8)), (16, (16, 16))), family="mgic", group_size=4)
    spec = dataclasses.replace(spec, stages=(spec.stages[0], dataclasses.replace(spec.stages[1], group_size=None)))
    card = model_card(spec, {})
    assert "stage 0: width 8, inner [8, 8], group size 4" in card
    assert "stage 1: width 16, inner [16, 16], group size dense" in card
    assert "group size" not in model_card(resnet_spec(), {})
