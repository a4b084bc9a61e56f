"""`info` / `space` take a dataset's shape (`--dataset NAME`, `--study STUDY.toml`, or for `space` a study file
as its argument) from the dataset registry without reading data; `space --max-params/--max-macs` (or a
study's budget) answers "is my budget reachable?" with the share of the sample under it."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from mgsearch.cli import main
from mgsearch.cost import cost
from mgsearch.presets import resolve_spec
from mgsearch.space import SearchSpace
from mgsearch.spec import ArchSpec

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "search_spaces" / "tiny.toml"
QUICKSTART = ROOT / "studies" / "quickstart.toml"


@pytest.fixture(autouse=True)
def no_data_is_read(monkeypatch):
    """Every test here: reading a dataset's images is an error (the shapes come from the registry)."""
    import mgsearch.data.sources as sources

    def refuse(*a, **k):
        raise AssertionError("a dataset was read")

    monkeypatch.setattr(sources, "read_raw", refuse)


def study(tmp_path: Path, dataset: str = "mnist", budget: str = 'max_params = "10k"', space: Path = TINY) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(f'[study]\nspace = "{space}"\n\n[data]\ndataset = "{dataset}"\n\n[budget]\n{budget}\n')
    return path


def info_json(capsys, *args: str) -> dict:
    assert main(["info", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("dataset, shape", [("fashion-mnist", (1, 10, 28)), ("FMNIST", (1, 10, 28)),
                                            ("mnist", (1, 10, 28)), ("cifar10", (3, 10, 32)),
                                            ("cifar100", (3, 100, 32)), ("svhn", (3, 10, 32))])
def test_info_dataset_shapes(dataset, shape, capsys):
    spec = ArchSpec.from_dict(info_json(capsys, "resnet20", "--dataset", dataset)["spec"])
    assert (spec.in_channels, spec.num_classes, spec.input_size) == shape
    assert spec == resolve_spec("resnet20", in_channels=shape[0], num_classes=shape[1], input_size=shape[2])


def test_info_study_shape_and_flags_override(tmp_path, capsys):
    assert main(["info", "resnet20", "--study", str(QUICKSTART)]) == 0
    assert capsys.readouterr().out.startswith("resnet20: family resnet, input 1x28x28, 10 classes")
    spec = ArchSpec.from_dict(info_json(capsys, "mgic20", "--dataset", "cifar10", "--num-classes", "7")["spec"])
    assert (spec.in_channels, spec.num_classes, spec.input_size) == (3, 7, 32)
    # an image folder's shape is its images': the three numbers make it usable
    spec = ArchSpec.from_dict(info_json(capsys, "resnet20", "--study", str(study(tmp_path, "imagefolder:/nowhere")),
                                        "--in-channels", "3", "--num-classes", "5", "--input-size", "24")["spec"])
    assert (spec.in_channels, spec.num_classes, spec.input_size) == (3, 5, 24)


@pytest.mark.parametrize("args, pattern", [
    (["--dataset", "cifar11"], "--dataset='cifar11' is not a known dataset; choose one of cifar10, cifar100, svhn, "
                               "mnist, fashion-mnist"),
    (["--dataset", "imagefolder:/data/x"], "--dataset='imagefolder:/data/x' is an image folder, whose images set the "
                                           "shape (no data is read here); pass --in-channels, --num-classes, --input-size"),
    (["--dataset", "imagefolder", "--num-classes", "3"], "pass --in-channels, --input-size"),
    (["--dataset", "mnist", "--study", str(QUICKSTART)], "--dataset and --study both set the input shape"),
    (["--study", "nope.toml"], "nope.toml: study file not found"),
])
def test_shape_errors_are_one_line(args, pattern, capsys):
    for command in (["info", "resnet20"], ["space", str(TINY), "--sample", "2"]):
        assert main([*command, *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("mgsearch: error: ") and pattern in err and err.count("\n") == 1, err


def test_unknown_dataset_in_a_study_names_the_file_and_key(tmp_path, capsys):
    path = study(tmp_path, "tiny-imagenet")
    assert main(["space", str(path)]) == 2
    assert f"{path}: data.dataset='tiny-imagenet' is not a known dataset" in capsys.readouterr().err


def space_json(capsys, *args: str) -> tuple[dict, str]:
    assert main(["space", *args, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_space_dataset_shape(capsys):
    data, _ = space_json(capsys, str(TINY), "--sample", "5", "--dataset", "fashion-mnist")
    assert all((s["spec"]["in_channels"], s["spec"]["input_size"]) == (1, 28) for s in data["samples"])
    assert data["input"] == [1, 28, 28] and data["num_classes"] == 10
    assert main(["space", str(TINY), "--sample", "2", "--dataset", "fashion-mnist"]) == 0
    assert "input 1x28x28, 10 classes" in capsys.readouterr().out.splitlines()[0]


def test_space_budget_fraction_and_stats(capsys):
    data, err = space_json(capsys, str(TINY), "--sample", "60", "--seed", "3", "--max-params", "12k",
                           "--max-macs", "2.5M")
    params = [s["params"] for s in data["samples"]]
    macs = [s["macs"] for s in data["samples"]]
    b = data["budget"]
    assert b["params"]["limit"] == 12_000 and b["macs"]["limit"] == 2_500_000
    assert b["params"]["under"] == sum(p <= 12_000 for p in params) and 0 < b["params"]["under"] < 60
    assert b["params"]["fraction"] == pytest.approx(b["params"]["under"] / 60)
    assert (b["params"]["min"], b["params"]["median"], b["params"]["max"]) == (
        min(params), statistics.median(params), max(params))
    assert b["macs"]["under"] == sum(m <= 2_500_000 for m in macs)
    assert b["all"]["under"] == sum(p <= 12_000 and m <= 2_500_000 for p, m in zip(params, macs))
    assert b["params"]["space_minimum_under"] is True
    assert data["summary"]["params"]["space_minimum"] == cost(SearchSpace.from_file(TINY).min_spec()).params
    share = f"{b['params']['under']} of 60 drawn ({b['params']['fraction']:.1%})"
    assert f"under --max-params 12,000: {share}" in err and "under every limit" in err
    assert "budget reachable" in err
    # the text form says the same on stdout
    assert main(["space", str(TINY), "--sample", "60", "--seed", "3", "--max-params", "12k"]) == 0
    assert f"under --max-params 12,000: {share}" in capsys.readouterr().out


def test_space_budget_unreachable_and_no_budget(capsys):
    data, err = space_json(capsys, str(TINY), "--sample", "5", "--max-params", "1k")
    assert data["budget"]["all"] == {"under": 0, "fraction": 0.0, "space_minimum_under": False}
    assert "budget unreachable: the space's smallest architecture is over it" in err
    data, err = space_json(capsys, str(TINY), "--sample", "5")
    assert data["budget"] is None and "under" not in err


def test_space_takes_a_study_file(tmp_path, capsys):
    """A study file stands for its space, its dataset's shape and its budget (flags override the budget)."""
    path = study(tmp_path, "fashion-mnist", 'max_params = "12k"\nmax_latency_ms = 5')
    data, err = space_json(capsys, str(path), "--sample", "20")
    assert data["space"] == str(TINY) and data["input"] == [1, 28, 28]
    assert set(data["budget"]) == {"params", "all"} and data["budget"]["params"]["limit"] == 12_000  # no latency
    data, _ = space_json(capsys, str(path), "--sample", "20", "--max-params", "9k")
    assert data["budget"]["params"]["limit"] == 9_000
    # --study gives the shape and the budget to another space file
    data, _ = space_json(capsys, str(ROOT / "search_spaces" / "resnet.toml"), "--sample", "3", "--study", str(path))
    assert data["input"] == [1, 28, 28] and data["budget"]["params"]["limit"] == 12_000
    assert main(["space", str(path), "--dataset", "mnist"]) == 2
    assert "is a study file: it sets the shape itself" in capsys.readouterr().err


@pytest.mark.parametrize("table, says", [
    ("", "the study's fill_budget = true scales every candidate's widths up or down onto it"),
    ("fill_budget = false\nrepair = true\n", "the study's repair = true scales the others' widths down onto it"),
    ("fill_budget = false\n", "the others are rejected as over budget unless the study scales them"),
])
def test_space_verdict_follows_the_study_scaling(tmp_path, table, says, capsys):
    path = study(tmp_path, "mnist", 'max_params = "12k"')
    path.write_text(path.read_text().replace("[study]\n", "[study]\n" + table))
    assert main(["space", str(path), "--sample", "30"]) == 0
    assert says in capsys.readouterr().out.splitlines()[-1]


def test_space_measured_budgets_are_not_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["space", str(TINY), "--max-latency-ms", "5"])
    assert exc.value.code == 2
    assert main(["space", str(TINY), "--max-params", "lots"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("mgsearch: error: --max-params='lots' is not a count")
