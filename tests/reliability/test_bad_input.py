"""The bad-input battery: every command, fed bad input, exits non-zero with one clear line.

Each case runs ``mgsearch.cli.main`` in-process on a shared "world" (a finished tiny study in
SQLite, its study/space files, the tiny image folder) and checks:

- a non-zero exit code and exactly one line on stderr, ``mgsearch: error: ...`` (no traceback), that
  contains the case's fragments (what and where) — argparse usage errors keep argparse's format;
- no secret from a storage URL in stdout or stderr;
- nothing changed or left behind: every file of the world (the study database compared as an SQL
  dump, so a WAL checkpoint does not count as a change) and nothing new beside it.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from mgsearch.cli import main
from tests.fixtures.datasets import write_image_folder
from tests.search.conftest import MICRO_SPACE, fake_result

SECRET = "hunter2-not-a-real-password"
UNREACHABLE = f"postgresql+psycopg://mgsearch:{SECRET}@127.0.0.1:9/mgsearch"


@dataclass
class World:
    root: Path
    data: Path
    study: Path
    db: Path
    inputs: Path

    def write(self, name: str, text: str) -> str:
        path = self.inputs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return str(path)

    def study_text(self, *, study: str = "", budget: str = "max_params = 100000", space: str = "space.toml",
                   data_root: str | None = None) -> str:
        return (
            f'[study]\nspace = "{self.root / space}"\nn_trials = 3\nsampler = "random"\npruner = "none"\n{study}\n'
            f'[data]\ndataset = "imagefolder"\nroot = "{data_root or self.data}"\nval_fraction = 0.25\n'
            f"[fidelity]\nepochs = 1\nbatch_size = 16\n[budget]\n{budget}\n"
            f'[device]\nname = "cpu"\nthreads = 1\n'
        )

    def bad_study(self, name: str, **kwargs: Any) -> str:
        return self.write(name, self.study_text(**kwargs))


def _fake_train(spec, ds, *, fidelity, on_epoch=None, **kwargs):  # noqa: ANN001
    return fake_result(0.5, fidelity.epochs)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("world")
    data = write_image_folder(root / "data")
    (root / "space.toml").write_text(MICRO_SPACE)
    w = World(root=root, data=data, study=root / "rel.toml", db=root / "rel.db", inputs=root / "inputs")
    w.study.write_text(w.study_text())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MGSEARCH_CACHE_DIR", str(root.parent / "cache"))
        mp.setattr(importlib.import_module("mgsearch.train"), "train", _fake_train)
        assert main(["search", str(w.study), "--no-progress"]) == 0
    with sqlite3.connect(w.db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    w.inputs.mkdir()
    (root.parent / "cache").mkdir(exist_ok=True)
    return w


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.endswith(("-wal", "-shm", "-journal")):
            continue  # folders, FIFOs, devices and links to them (hostile cases) are not read
        if path.suffix == ".db":
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                text = "\n".join(conn.iterdump())
            out[str(path.relative_to(root))] = hashlib.sha256(text.encode()).hexdigest()
        else:
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _read_only_dir(w: World) -> Path:
    """A folder nobody may write: chmod 555 for a normal user; for root (who ignores modes) /sys."""
    if os.geteuid() == 0:
        return Path("/sys")
    ro = w.root.parent / "read-only"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o555)
    return ro


@dataclass
class Case:
    id: str
    argv: Callable[[World], list[str]]
    expect: list[str] = field(default_factory=list)
    usage: bool = False  # an argparse usage error (exit 2, argparse's own format)
    postgres: bool = False
    patch: Callable[[pytest.MonkeyPatch, World], None] | None = None
    absent: Callable[[World], list[Path]] | None = None  # paths that must not exist afterwards


def _spec_json(w: World, mutate: Callable[[dict], None]) -> str:
    from mgsearch.presets import get_preset

    spec = json.loads(get_preset("resnet20").to_json())
    mutate(spec)
    return w.write("spec.json", json.dumps(spec))


def _corrupt_folder(w: World) -> str:
    target = w.inputs / "corrupt"
    if not target.exists():
        shutil.copytree(w.data, target)
        first = sorted((target / "train").rglob("*.png"))[0]
        first.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    return str(target)


def _disk_full(mp: pytest.MonkeyPatch, w: World) -> None:
    """The model card (the export's last file) hits a full disk."""
    real = Path.write_text

    def write_text(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.name.endswith(".md"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, *args, **kwargs)

    mp.setattr(Path, "write_text", write_text)


def _wrong_password(w: World, request: pytest.FixtureRequest) -> str:
    from sqlalchemy.engine import make_url

    url = request.getfixturevalue("postgres_db_url")
    return make_url(url).set(password=SECRET).render_as_string(hide_password=False)


S = lambda w: str(w.study)  # noqa: E731
TRAIN = lambda w: ["--dataset", "imagefolder", "--data-root", str(w.data), "--epochs", "1", "--threads", "1"]  # noqa: E731
SHRINK = lambda w: ["--dataset", "imagefolder", "--data-root", str(w.data), "--epochs", "1"]  # noqa: E731

CASES = [
    # --- info
    Case("info-unknown-preset", lambda w: ["info", "resnet999"], ["resnet999"]),
    Case("info-malformed-json", lambda w: ["info", w.write("bad.json", '{"family": "resnet",')], ["bad.json"]),
    Case("info-wrong-type", lambda w: ["info", _spec_json(w, lambda s: s["stem"].update(width="wide"))],
         ["stem.width", "wide"]),
    Case("info-unknown-key", lambda w: ["info", _spec_json(w, lambda s: s.update(colour="red"))], ["colour"]),
    Case("info-absurd-size", lambda w: ["info", "resnet20", "--input-size", "-4"], ["input"]),
    # --- presets
    Case("presets-unknown-flag", lambda w: ["presets", "--bogus"], ["--bogus"], usage=True),
    # --- space
    Case("space-missing-file", lambda w: ["space", str(w.inputs / "missing.toml")], ["missing.toml"]),
    Case("space-malformed-toml", lambda w: ["space", w.write("bad.toml", 'family = "resnet')], ["bad.toml"]),
    Case("space-unknown-key", lambda w: ["space", w.write("colour.toml", MICRO_SPACE + '\ncolour = "red"\n')],
         ["colour.toml", "colour"]),
    Case("space-wrong-type", lambda w: ["space", w.write("type.toml", MICRO_SPACE.replace(
        "width = { min = 4, max = 8, step = 4 }", 'width = "wide"', 1))], ["type.toml", "wide"]),
    Case("space-unknown-family", lambda w: ["space", w.write("fam.toml", MICRO_SPACE.replace(
        'family = "resnet"', 'family = "transformer"'))], ["fam.toml", "transformer"]),
    Case("space-negative-sample", lambda w: ["space", str(w.root / "space.toml"), "--sample", "-3"], ["-3"]),
    # --- train
    Case("train-unknown-preset", lambda w: ["train", "nope20", *TRAIN(w)], ["nope20"]),
    Case("train-missing-dataset", lambda w: ["train", "resnet20", "--dataset", "imagefolder", "--data-root",
                                             str(w.inputs / "nowhere")], ["nowhere"]),
    Case("train-corrupt-dataset", lambda w: ["train", "resnet20", "--dataset", "imagefolder", "--data-root",
                                             _corrupt_folder(w)], ["corrupt"]),
    Case("train-unknown-dataset", lambda w: ["train", "resnet20", "--dataset", "imagenet99k"], ["imagenet99k"]),
    Case("train-negative-epochs", lambda w: ["train", "resnet20", *TRAIN(w), "--epochs", "-1"], ["epochs"]),
    Case("train-zero-batch", lambda w: ["train", "resnet20", *TRAIN(w), "--batch-size", "0"], ["batch"]),
    Case("train-wrong-type", lambda w: ["train", "resnet20", *TRAIN(w), "--epochs", "many"], ["many"], usage=True),
    # --- search
    Case("search-malformed-toml", lambda w: ["search", w.write("m.toml", "[study\nspace = 1")], ["m.toml"]),
    Case("search-unknown-key", lambda w: ["search", w.bad_study("k.toml", study="colour = 1")], ["k.toml", "colour"]),
    Case("search-wrong-type", lambda w: ["search", w.bad_study("t.toml", study='seed = "zero"')], ["t.toml", "seed"]),
    Case("search-negative-budget", lambda w: ["search", w.bad_study("nb.toml", budget="max_params = -5")],
         ["nb.toml", "max_params"]),
    Case("search-absurd-budget", lambda w: ["search", w.bad_study("ab.toml", budget="max_params = 1e30")],
         ["ab.toml", "max_params"]),
    Case("search-budget-below-space", lambda w: ["search", w.bad_study("lo.toml", budget="max_params = 10")],
         ["lo.toml", "max_params"]),
    Case("search-negative-trials", lambda w: ["search", S(w), "--n-trials", "-3"], ["n_trials"]),
    Case("search-missing-space", lambda w: ["search", w.bad_study("ns.toml", space="nospace.toml")], ["nospace.toml"]),
    Case("search-missing-dataset", lambda w: ["search", w.bad_study("nd.toml", data_root=str(w.inputs / "nowhere"))],
         ["nowhere"]),
    Case("search-corrupt-dataset", lambda w: ["search", w.bad_study("cd.toml", data_root=_corrupt_folder(w))],
         ["corrupt"]),
    Case("search-unknown-sampler", lambda w: ["search", S(w), "--sampler", "bogus"], ["bogus"]),
    Case("search-unreachable-db", lambda w: ["search", S(w), "--storage", UNREACHABLE], ["127.0.0.1"]),
    Case("search-not-a-url", lambda w: ["search", S(w), "--storage", "nosuchdb://x/y"], ["nosuchdb"]),
    Case("search-read-only-db", lambda w: ["search", S(w), "--storage", f"sqlite:///{_read_only_dir(w)}/x.db"],
         ["x.db"]),
    Case("search-changed-fidelity", lambda w: ["search", S(w), "--epochs", "3"], ["epochs"]),
    Case("search-wrong-password", lambda w: ["search", S(w), "--storage", w.pg_wrong], ["password"], postgres=True),
    # --- worker
    Case("worker-no-such-study", lambda w: ["worker", S(w), "--name", "nostudy"], ["nostudy"]),
    Case("worker-unreachable-db", lambda w: ["worker", S(w), "--storage", UNREACHABLE], ["127.0.0.1"]),
    Case("worker-wrong-password", lambda w: ["worker", S(w), "--storage", w.pg_wrong], ["password"], postgres=True),
    Case("worker-malformed-toml", lambda w: ["worker", w.write("w.toml", "n_trials = = 3")], ["w.toml"]),
    # --- baseline
    Case("baseline-unknown-key", lambda w: ["baseline", w.bad_study("bk.toml", study="colour = 1")], ["colour"]),
    Case("baseline-negative-budget", lambda w: ["baseline", w.bad_study("bn.toml", budget="max_params = -1")],
         ["max_params"]),
    Case("baseline-unreachable-db", lambda w: ["baseline", S(w), "--storage", UNREACHABLE], ["127.0.0.1"]),
    # --- confirm
    Case("confirm-zero-top", lambda w: ["confirm", S(w), "--top", "0"], ["--top", "0"]),
    Case("confirm-zero-epochs", lambda w: ["confirm", S(w), "--epochs", "0"], ["--epochs", "0"]),
    Case("confirm-zero-jobs", lambda w: ["confirm", S(w), "--jobs", "0"], ["--jobs", "0"]),
    Case("confirm-too-many-jobs", lambda w: ["confirm", S(w), "--jobs", "100000"], ["--jobs", "100000", "256"]),
    Case("confirm-bad-table", lambda w: ["confirm", w.bad_study("cf.toml", study="[confirm]\nseeds = 0")],
         ["cf.toml", "confirm.seeds"]),
    Case("confirm-no-such-study", lambda w: ["confirm", S(w), "--name", "nostudy"], ["nostudy"]),
    Case("confirm-unreachable-db", lambda w: ["confirm", S(w), "--storage", UNREACHABLE], ["127.0.0.1"]),
    # --- calibrate
    Case("calibrate-too-few", lambda w: ["calibrate", S(w), "--n", "2"], ["--n", "2"]),
    Case("calibrate-bad-jobs", lambda w: ["calibrate", S(w), "--jobs", "two"], ["--jobs", "two"]),
    Case("calibrate-bad-table", lambda w: ["calibrate", w.bad_study("cb.toml", study="[calibrate]\nn = 1")],
         ["cb.toml", "calibrate.n"]),
    Case("calibrate-unreachable-db", lambda w: ["calibrate", S(w), "--storage", UNREACHABLE], ["127.0.0.1"]),
    # --- shrink
    Case("shrink-unknown-preset", lambda w: ["shrink", "nope20", *SHRINK(w)], ["nope20"]),
    Case("shrink-negative-widen", lambda w: ["shrink", "resnet20", "--widen", "-2", *SHRINK(w)], ["widen"]),
    Case("shrink-missing-dataset", lambda w: ["shrink", "resnet20", "--dataset", "imagefolder", "--data-root",
                                              str(w.inputs / "nowhere")], ["nowhere"]),
    Case("shrink-read-only-out", lambda w: ["shrink", "resnet20", *SHRINK(w), "--max-params", "1M", "--out",
                                            f"{_read_only_dir(w)}/shrunk.json"], ["shrunk.json"]),
    # --- report
    Case("report-missing-study", lambda w: ["report", str(w.inputs / "none.toml")], ["none.toml"]),
    Case("report-unknown-study-name", lambda w: ["report", S(w), "--study-name", "nostudy"], ["nostudy"]),
    Case("report-unreachable-db", lambda w: ["report", S(w), "--storage", UNREACHABLE], ["127.0.0.1"]),
    Case("report-read-only-out", lambda w: ["report", S(w), "--out", f"{_read_only_dir(w)}/r.html"], ["r.html"]),
    Case("report-wrong-password", lambda w: ["report", S(w), "--storage", w.pg_wrong], ["password"], postgres=True),
    # --- export
    Case("export-unknown-trial", lambda w: ["export", S(w), "--trial", "999", "--out", str(w.root.parent / "e1")],
         ["999"], absent=lambda w: [w.root.parent / "e1"]),
    Case("export-negative-budget", lambda w: ["export", S(w), "--best", "--max-params", "-5", "--out",
                                              str(w.root.parent / "e2")], ["-5"], absent=lambda w: [w.root.parent / "e2"]),
    Case("export-nothing-fits", lambda w: ["export", S(w), "--best", "--max-params", "1", "--out",
                                           str(w.root.parent / "e3")], ["1"], absent=lambda w: [w.root.parent / "e3"]),
    Case("export-read-only-out", lambda w: ["export", S(w), "--trial", "0", "--out", f"{_read_only_dir(w)}/found"],
         ["cannot write"]),
    Case("export-disk-full", lambda w: ["export", S(w), "--trial", "0", "--out", str(w.root.parent / "e4")],
         ["e4", "No space left"], patch=_disk_full, absent=lambda w: [w.root.parent / "e4"]),
    Case("export-unreachable-db", lambda w: ["export", S(w), "--trial", "0", "--storage", UNREACHABLE, "--out",
                                             str(w.root.parent / "e5")], ["127.0.0.1"],
         absent=lambda w: [w.root.parent / "e5"]),
]

@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_with_one_clear_line_and_changes_nothing(case: Case, world: World, capsys, monkeypatch,
                                                                 request):
    run_case(case, world, capsys, monkeypatch, request)


def run_case(case: Case, world: World, capsys: Any, monkeypatch: pytest.MonkeyPatch,
             request: pytest.FixtureRequest) -> str:
    """Run one case on ``world`` and check the battery's promises; returns the error line."""
    monkeypatch.setenv("MGSEARCH_CACHE_DIR", str(world.root.parent / "cache"))
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train", _fake_train)
    if case.postgres:
        world.pg_wrong = _wrong_password(world, request)  # skips without a PostgreSQL server
    argv = case.argv(world)
    if case.patch:
        case.patch(monkeypatch, world)
    before = _snapshot(world.root)
    parent_before = sorted(p.name for p in world.root.parent.iterdir())
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    monkeypatch.undo()
    lines = err.strip().splitlines()
    assert code not in (0, None), f"exit 0 for {argv}; stderr: {err!r}"
    assert "Traceback" not in err
    if case.usage:
        assert code == 2 and lines and lines[-1].startswith("usage:") is False and "error:" in lines[-1], err
    else:
        assert len(lines) == 1 and lines[0].startswith("mgsearch: error: "), err
    for fragment in case.expect:
        assert fragment in lines[-1], f"{fragment!r} not in {lines[-1]!r}"
    assert SECRET not in out and SECRET not in err
    # nothing changed, nothing partial left behind
    assert _snapshot(world.root) == before
    assert sorted(p.name for p in world.root.parent.iterdir()) == parent_before
    for path in (case.absent(world) if case.absent else []):
        assert not path.exists()
    return lines[-1]


def test_every_command_is_covered():
    from mgsearch.cli import COMMANDS

    seen = {c.id.split("-")[0] for c in CASES}
    assert seen == set(COMMANDS)
