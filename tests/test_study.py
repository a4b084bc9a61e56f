"""Study files: defaults, counts, CLI overrides, redaction and one-line errors naming file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgsearch.errors import ConfigError
from mgsearch.study import config_differences, load_study_config, redact_url

SPACE = Path(__file__).resolve().parents[1] / "search_spaces" / "resnet.toml"


@pytest.fixture
def write(tmp_path: Path):
    def write(text: str, name: str = "exp.toml") -> Path:
        path = tmp_path / name
        path.write_text(f'[study]\nspace = "{SPACE}"\n' + text if not text.startswith("[study]") else text)
        return path

    return write


BASE = '[data]\ndataset = "fashion-mnist"\n'


def test_defaults(write, tmp_path):
    c = load_study_config(write(BASE))
    assert c.name == "exp" and c.strategy == "direct" and c.seed == 0
    assert c.n_trials == 20 and c.timeout is None
    assert c.storage == f"sqlite:///{tmp_path.resolve()}/exp.db"
    assert (c.sampler, c.pruner, c.objectives, c.repair) == ("tpe", "median", ("val_acc",), False)
    assert (c.epochs, c.batch_size, c.train_fraction, c.val_fraction) == (5, 128, 1.0, 0.1)
    assert c.budget() == {"max_params": None, "max_macs": None, "max_latency_ms": None}
    assert c.device == "auto" and c.space_path == SPACE and len(c.space_sha256) == 64


def test_counts_relative_paths_and_timeouts(write, tmp_path):
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "x.toml").write_text(SPACE.read_text())
    c = load_study_config(write(
        '[study]\nspace = "spaces/x.toml"\ntimeout = "1.5h"\nstorage = "sqlite:///dbs/a.db"\n'
        'objectives = ["val_acc", "params"]\nsampler = "nsga2"\n'
        '[data]\ndataset = "cifar10"\nroot = "../data"\n[budget]\nmax_params = "50k"\nmax_macs = "1.5M"\n'
        'max_latency_ms = 2.5\n'))
    assert c.space_path == (tmp_path / "spaces" / "x.toml").resolve() and c.space == "spaces/x.toml"
    assert c.timeout == 5400.0 and c.n_trials is None
    assert c.storage == f"sqlite:///{tmp_path.resolve()}/dbs/a.db"
    assert c.data_root == str((tmp_path / ".." / "data").resolve())
    assert (c.max_params, c.max_macs, c.max_latency_ms) == (50_000, 1_500_000, 2.5)
    assert c.pruner == "none" and c.multi_objective  # the default pruner of a multi-objective study


def test_cli_overrides_win_and_are_validated(write):
    path = write(BASE + "[fidelity]\nepochs = 3\n")
    c = load_study_config(path, {"n_trials": 7, "epochs": 1, "max_params": "25k", "device": "cpu", "seed": 3})
    assert (c.n_trials, c.epochs, c.max_params, c.device, c.seed) == (7, 1, 25_000, "cpu", 3)
    with pytest.raises(ConfigError, match=r"^command line --n-trials: study.n_trials=-2 is not allowed"):
        load_study_config(path, {"n_trials": -2})


def test_the_stored_config_has_no_password(write):
    url = "postgresql+psycopg://mg:s3cret-pw@db.example:5432/studies"
    c = load_study_config(write(BASE), {"storage": url})
    assert c.storage == url
    assert "s3cret-pw" not in str(c.to_dict()) and "s3cret-pw" not in c.storage_display
    assert c.to_dict()["study"]["storage"] == "postgresql+psycopg://mg:***@db.example:5432/studies"
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


@pytest.mark.parametrize(
    "text, pattern",
    [
        ('[stdy]\nname = "x"\n', r"\[stdy\] is not a known table"),
        ('n_trails = 3\n' + BASE, r"study.n_trails is not a known key; allowed: name, space"),
        ('n_trials = "ten"\n' + BASE, r"study.n_trials='ten' is not allowed: an integer"),
        ('seed = 1.5\n' + BASE, r"study.seed=1.5 is not allowed"),
        ('sampler = "cmaes"\n' + BASE, r"study.sampler='cmaes' is not allowed: one of tpe, nsga2, random, gp, qmc"),
        ('pruner = "median"\nobjectives = ["val_acc", "macs"]\n' + BASE, r"study.pruner='median' is not allowed: 'none'"),
        ('objectives = ["params"]\n' + BASE, r"study.objectives=\['params'\] is not allowed: a list starting with 'val_acc'"),
        ('repair = "yes"\n' + BASE, r"study.repair='yes' is not allowed: true or false"),
        ('storage = "not a url"\n' + BASE, r"study.storage='not a url' is not allowed"),
        (BASE + "[budget]\nmax_params = -5\n", r"budget.max_params=-5 is not allowed: a positive count"),
        (BASE + "[budget]\nmax_params = 1e15\n", r"budget.max_params=1000000000000000.0 is not allowed: a positive count up to 1e13"),
        (BASE + '[budget]\nmax_macs = "lots"\n', r"budget.max_macs='lots' is not allowed"),
        (BASE + "[budget]\nmax_latency_ms = 0\n", r"budget.max_latency_ms=0 is not allowed"),
        (BASE + "[fidelity]\nepochs = 0\n", r"fidelity.epochs=0 is not allowed: an integer in 1..10000"),
        (BASE + "[fidelity]\nepoch = 2\n", r"fidelity.epoch is not a known key"),
        ('[data]\ndataset = "x"\ntrain_fraction = 1.5\n', r"data.train_fraction=1.5 is not allowed: a number in \(0, 1\]"),
        ("[data]\nroot = 'x'\n", r"data.dataset is missing"),
        (BASE + '[device]\nname = "tpu"\n', r"device.name='tpu' is not allowed: auto, cpu, cuda"),
        (BASE + '[device]\nname = "mps"\n', r"device.name='mps' is not allowed: auto, cpu, cuda or cuda:N"),
        (BASE + "[lwdna]\nwiden = 2.0\n", r"\[lwdna\] is given but study.strategy='direct'"),
        (BASE + "[recipe]\nlr = -1.0\n", r"recipe"),
        (BASE + "[recipe]\nlearning_rate = 0.1\n", r"recipe.learning_rate is not a known key"),
        ("name = 3\n" + BASE, r"study.name=3 is not allowed"),
        ("[study]\nseed = 1\n" + BASE, r"study.space is missing"),
        ('[study]\nspace = "nowhere.toml"\n' + BASE, r"study.space='nowhere.toml' is not allowed: the file .*nowhere.toml does not exist"),
        ("[study\n", r"invalid TOML"),
    ],
)
def test_bad_files_give_one_line_naming_file_and_key(write, text, pattern):
    path = write(text)
    with pytest.raises(ConfigError) as info:
        load_study_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)), message
    assert __import__("re").search(pattern, message), message


def test_missing_study_file(tmp_path):
    with pytest.raises(ConfigError, match="study file not found"):
        load_study_config(tmp_path / "nope.toml")


def test_config_differences_ignore_run_settings(write):
    a = load_study_config(write(BASE)).to_dict()
    b = load_study_config(write(BASE), {"n_trials": 99, "device": "cpu", "timeout": "5m"}).to_dict()
    assert config_differences(a, b) == []
    c = load_study_config(write(BASE), {"epochs": 9, "max_params": "10k"}).to_dict()
    assert config_differences(a, c) == ["budget.max_params", "fidelity.epochs"]


def test_device_names_follow_the_one_rule():
    """The study file's check and the run-time resolution agree: what one accepts the other resolves
    (or refuses only for a missing CUDA device), what one refuses the other refuses."""
    import torch

    from mgsearch.devices import check_device_name, resolve_device

    for name in ("auto", "cpu", "CPU ", "cuda", "cuda:0"):
        assert check_device_name(name) is not None
        if "cuda" not in name.lower() or torch.cuda.is_available():
            assert resolve_device(name).type in ("cpu", "cuda")
    for name in ("mps", "tpu", "cuda:x", "", 3, None):
        assert check_device_name(name) is None
        if isinstance(name, str):
            with pytest.raises(ConfigError, match="auto, cpu, cuda or cuda:N"):
                resolve_device(name)
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_reading_a_study_file_with_a_recipe_imports_neither_torch_nor_optuna(write):
    import subprocess
    import sys

    path = write(BASE + "[recipe]\nlr = 0.05\nschedule = \"onecycle\"\n")
    code = ("import sys; from mgsearch.study import load_study_config; "
            f"c = load_study_config({str(path)!r}); assert c.recipe == {{'lr': 0.05, 'schedule': 'onecycle'}}; "
            "print(','.join(m for m in ('torch', 'optuna', 'plotly') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == ""
