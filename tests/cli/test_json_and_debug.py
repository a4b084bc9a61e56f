"""`--debug` after the subcommand as well as before it; `report --json` and `export --json` say what they wrote."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import optuna
import pytest

from mgsearch.cli import main
from mgsearch.errors import ConfigError
from tests.search.conftest import MICRO_SPACE, fake_result


@pytest.mark.parametrize("argv", [
    ["search", "missing.toml", "--debug"],
    ["--debug", "search", "missing.toml"],
    ["report", "missing.toml", "--debug"],
])
def test_debug_before_or_after_the_subcommand_shows_the_traceback(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError):
        main(argv)


def test_without_debug_an_error_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["search", "missing.toml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mgsearch: error: ") and "Traceback" not in err


def test_debug_after_a_subcommand_that_succeeds(capsys):
    assert main(["info", "resnet20", "--debug"]) == 0


@pytest.fixture
def searched(tmp_path: Path, tiny_image_folder, monkeypatch) -> Path:
    (tmp_path / "space.toml").write_text(MICRO_SPACE)
    path = tmp_path / "js.toml"
    path.write_text(
        '[study]\nspace = "space.toml"\nn_trials = 5\nsampler = "random"\n'
        f'[data]\ndataset = "imagefolder"\nroot = "{tiny_image_folder()}"\nval_fraction = 0.25\n'
        '[fidelity]\nepochs = 1\nbatch_size = 32\n[budget]\nmax_params = 3000\n[device]\nname = "cpu"\nthreads = 1\n'
    )
    module = importlib.import_module("mgsearch.train")
    accs = iter([0.4, 0.7, 0.5, 0.6, 0.3])
    with monkeypatch.context() as m:
        m.setattr(module, "train", lambda spec, ds, *, fidelity, **kw: fake_result(next(accs), fidelity.epochs))
        assert main(["search", str(path), "--no-progress"]) == 0
    return path


def _trials(path: Path) -> list:
    return optuna.load_study(study_name=path.stem, storage=f"sqlite:///{path.with_suffix('.db')}").get_trials()


def test_report_json(searched: Path, tmp_path: Path, capsys):
    capsys.readouterr()
    out_file = tmp_path / "r.html"
    assert main(["report", str(searched), "--out", str(out_file), "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)  # stdout is one JSON document
    assert Path(data["path"]).resolve() == out_file.resolve() and out_file.is_file()
    trials = _trials(searched)
    assert data["study"] == "js" and data["trials"] == len(trials)
    assert sum(data["counts"].values()) == len(trials)
    trained = {t.number: t.user_attrs["val_acc"] for t in trials if t.user_attrs.get("status") == "trained"}
    assert data["trained"] == len(trained)
    best = max(trained, key=trained.get)
    assert data["best"]["trial"] == best and data["best"]["val_acc"] == trained[best]
    assert best in data["pareto_params"] and set(data["pareto_params"]) <= set(trained)


def test_export_json(searched: Path, tmp_path: Path, capsys):
    capsys.readouterr()
    folder = tmp_path / "found"
    assert main(["export", str(searched), "--best", "--out", str(folder), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert Path(data["path"]).resolve() == folder.resolve()
    assert "arch.json" in data["files"] and all(Path(p).is_file() for p in data["files"].values())
    arch = json.loads((folder / "arch.json").read_text())
    trained = {t.number: t.user_attrs for t in _trials(searched) if t.user_attrs.get("status") == "trained"}
    best = max(trained, key=lambda n: trained[n]["val_acc"])
    assert data["trial"] == best and data["spec_hash"] == trained[best]["spec_hash"]
    assert data["params"] == trained[best]["params"] and data["retrained"] is False and data["weights"] is False
    assert arch  # the folder holds what the JSON names
