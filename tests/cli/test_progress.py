"""Search progress as a user sees it: plain lines when stderr is not a terminal (one per epoch per trial,
no escape sequences), counts that add up, an ETA from trained trials only, a Ctrl-C message on its own
line that says how to resume, and a resume without Optuna's "constraint ... already set" warning."""

from __future__ import annotations

import importlib
import io
import json
import os
import re
import subprocess
import sys
import warnings
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from mgsearch.cli import main
from mgsearch.search.progress import Progress, eta_seconds
from mgsearch.study import load_study_config
from tests.search.conftest import MICRO_SPACE

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 2
EPOCH_LINE = re.compile(r"^trial (\d+) epoch (\d+)/(\d+): val_acc ")
SUMMARY = re.compile(r"(\d+) finished trials: ([^;\n]*)(?:; not counted: ([^\n]*))?")


@pytest.fixture
def study_file(tmp_path: Path, tiny_image_folder) -> Path:
    (tmp_path / "space.toml").write_text(MICRO_SPACE)
    root = tiny_image_folder()
    path = tmp_path / "prog.toml"
    path.write_text(
        '[study]\nspace = "space.toml"\nn_trials = 6\nsampler = "random"\npruner = "none"\n'
        f'[data]\ndataset = "imagefolder"\nroot = "{root}"\nval_fraction = 0.25\n'
        f"[fidelity]\nepochs = {EPOCHS}\nbatch_size = 32\n[budget]\nmax_params = 3000\n"
        '[device]\nname = "cpu"\nthreads = 1\n'
    )
    return path


def _trials(path: Path) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=path.stem, storage=f"sqlite:///{path.with_suffix('.db')}").get_trials()


def _counts_add_up(out: str) -> tuple[int, dict[str, int], dict[str, int]]:
    m = SUMMARY.search(out)
    assert m, out
    finished = {k: int(v) for k, v in (part.rsplit(" ", 1) for part in m.group(2).split(", "))}
    other = {k: int(v) for k, v in (part.rsplit(" ", 1) for part in m.group(3).split(", "))} if m.group(3) else {}
    assert sum(finished.values()) == int(m.group(1)), out
    return int(m.group(1)), finished, other


def test_non_tty_search_output_is_plain_one_line_per_epoch_per_trial(study_file: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MGSEARCH_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "mgsearch", "search", str(study_file)], capture_output=True,
                          text=True, env=env, timeout=300)  # stderr is a pipe: not a terminal
    assert proc.returncode == 0, proc.stderr
    for stream in (proc.stderr, proc.stdout):
        assert "\x1b" not in stream and "\r" not in stream, repr(stream[:500])
    lines = proc.stderr.splitlines()
    epochs = Counter((int(m.group(1)), int(m.group(2))) for m in map(EPOCH_LINE.match, lines) if m)
    trained = [t.number for t in _trials(study_file) if t.user_attrs.get("status") == "trained"]
    assert trained, proc.stderr
    # exactly one line per epoch of every trained trial, none for the trials that did not train
    assert epochs == Counter({(n, e): 1 for n in trained for e in range(1, EPOCHS + 1)}), proc.stderr
    for n in trained:  # and one line when it finished, with the counts and the ETA
        assert sum(1 for line in lines if line.startswith(f"trial {n} trained: ")) == 1, proc.stderr
    assert all(" ETA " in line for line in lines if " trained: " in line)
    n, finished, other = _counts_add_up(proc.stdout)
    assert n == 6 and not other


def _trial(number: int, status: str, seconds: float) -> optuna.trial.FrozenTrial:
    t = create_trial(value=0.5, params={"x": number}, distributions={"x": IntDistribution(0, 100)},
                     user_attrs={"status": status, "wall_seconds": seconds, "val_acc": 0.5, "constraints": []})
    t.number = number
    return t


def test_eta_counts_trained_trial_times_only() -> None:
    trained = [_trial(i, "trained", s) for i, s in enumerate((10.0, 20.0, 30.0))]
    cheap = [_trial(3 + i, "infeasible", 0.001) for i in range(5)] + [_trial(8, "duplicate", 0.002)]
    trials = trained + cheap
    # 20 - 9 finished = 11 to go, x the mean trained trial (20 s); the millisecond trials change nothing
    assert eta_seconds(trials, 20) == pytest.approx(11 * 20.0)
    assert eta_seconds(trials, 20, workers=2) == pytest.approx(11 * 20.0 / 2)
    assert eta_seconds(cheap, 20) is None  # no trained trial yet: unknown, not "0 s"
    assert eta_seconds(trials, None) is None and eta_seconds(trials, 9) == 0.0

    class Config:  # what Progress reads of a StudyConfig
        name, n_trials, epochs = "eta", 20, 2

    out = io.StringIO()
    progress = Progress(Config(), stream=out)
    progress.update([])  # the run starts on an empty study; then these trials finish
    progress.update(trials)
    text = out.getvalue()
    assert "ETA 3:40" in text and "\r" not in text
    assert text.count("\n") == 1 + 3 + 1  # start, 3 trained, 1 duplicate: infeasible trials are only counted


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_shows_a_bar_with_batch_updates_and_the_same_lines() -> None:
    class Config:
        name, n_trials, epochs = "tty", 4, 2

    out = _Terminal()
    bar = Progress(Config(), stream=out)
    assert bar.wants_batches
    bar.update([])
    bar.trial_started(0)
    for b in range(1, 4):
        bar.batch(1, b, 3)
    bar.epoch(1, 0.5)
    bar.close()
    text = out.getvalue()
    assert "batch 3/3" in text and "trial 0 epoch 1/2: val_acc 0.5000" in text
    assert text.endswith("\n")  # the bar's line is ended: later messages start on their own line


def _interrupt_second_training(monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("mgsearch.train")
    real = module.train
    calls = {"n": 0}

    def train(spec, dataset, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(spec, dataset, **kwargs)

    monkeypatch.setattr(module, "train", train)


def test_ctrl_c_says_how_to_resume_and_the_resume_adds_up(study_file: Path, monkeypatch, capsys) -> None:
    _interrupt_second_training(monkeypatch)
    assert main(["search", str(study_file)]) == 130
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    (line,) = [x for x in err.splitlines() if "interrupted" in x]
    assert err.count(line + "\n") == 1 and ("\n" + line in err or err.startswith(line))  # its own line
    assert re.fullmatch(r"mgsearch: interrupted: trial \d+ failed and queued again; \d+ of 6 trials finished and "
                        r"kept; re-run `mgsearch search \S+prog\.toml` to resume", line), line
    monkeypatch.undo()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["search", str(study_file)]) == 0
    assert not [w for w in caught if "already set" in str(w.message)], [str(w.message) for w in caught]
    out, err = capsys.readouterr()
    n, finished, other = _counts_add_up(out)
    assert n == 6 and other == {"failed": 1}, out


def test_a_retry_queued_by_an_older_version_records_its_own_constraints(study_file: Path, monkeypatch,
                                                                       capsys) -> None:
    _interrupt_second_training(monkeypatch)
    assert main(["search", str(study_file), "--no-progress"]) == 130
    monkeypatch.undo()
    storage = optuna.storages.RDBStorage(f"sqlite:///{study_file.with_suffix('.db')}")
    study = optuna.load_study(study_name="prog", storage=storage)
    (waiting,) = study.get_trials(states=(TrialState.WAITING,))
    assert not [k for k in waiting.system_attrs if k.startswith("constraints")]  # the cause: nothing inherited
    storage.set_trial_system_attr(waiting._trial_id, "constraints:params", 99.0)  # what older versions left
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["search", str(study_file), "--no-progress"]) == 0
    assert not [w for w in caught if "already set" in str(w.message)]
    retried = storage.get_trial(waiting._trial_id)
    assert retried.constraints["params"] == retried.user_attrs["constraints"][0] != 99.0


def test_train_prints_plain_epoch_lines_without_a_terminal_and_no_nan_without_val(tiny_dataset, capsys) -> None:
    import dataclasses

    from mgsearch.presets import resolve_spec
    from mgsearch.train import Fidelity, train

    spec = resolve_spec("resnet20", in_channels=tiny_dataset.in_channels, num_classes=tiny_dataset.num_classes,
                        input_size=tiny_dataset.input_size)
    no_val = dataclasses.replace(tiny_dataset, val_x=tiny_dataset.val_x[:0], val_y=tiny_dataset.val_y[:0])
    train(spec, no_val, fidelity=Fidelity(epochs=2, batch_size=32), progress=True, threads=1)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert [x.split(":")[0] for x in lines] == ["epoch 1/2", "epoch 2/2"], err
    assert "nan" not in err and "val" not in err and "\r" not in err and "\x1b" not in err
    train(spec, tiny_dataset, fidelity=Fidelity(epochs=1, batch_size=32), progress=None, threads=1)
    assert capsys.readouterr().err == ""  # the library default stays silent off a terminal


def test_one_progress_flag_name(capsys) -> None:
    from mgsearch.cli import build_parser

    parser = build_parser()
    for command in ("search", "worker", "baseline", "train", "export"):
        assert "--no-progress" in parser._subparsers._group_actions[0].choices[command].format_help()
    train_help = parser._subparsers._group_actions[0].choices["train"].format_help()
    assert "--quiet" not in train_help  # a hidden, deprecated alias
    args = parser.parse_args(["train", "resnet20", "--dataset", "x", "--quiet"])
    assert args.quiet and not args.no_progress


def test_search_json_counts(study_file: Path, monkeypatch, capsys) -> None:
    from tests.search.conftest import fake_result

    module = importlib.import_module("mgsearch.train")
    monkeypatch.setattr(module, "train", lambda spec, ds, *, fidelity, **kw: fake_result(0.5, fidelity.epochs))
    assert main(["search", str(study_file), "--json", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sum(result["finished_counts"].values()) == result["n_trials"] == 6


def test_baseline_progress_off_a_terminal_is_plain_lines(study_file: Path, monkeypatch, capsys) -> None:
    from tests.search.conftest import fake_result

    module = importlib.import_module("mgsearch.train")
    monkeypatch.setattr(module, "train", lambda spec, ds, *, fidelity, **kw: fake_result(0.5, fidelity.epochs))
    assert main(["baseline", str(study_file), "--sizes", "0.5,1"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    shown = [line.split(" (")[0] for line in err.splitlines() if line.startswith("baseline ")]
    assert shown == ["baseline dense-resnet@0.5x", "baseline dense-resnet@budget"], err
