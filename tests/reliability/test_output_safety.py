"""Output paths that could destroy data (issue 16: defects 1, 2, 8 and the load/export parts of 7, 12).

Each case: one line ``mgsearch: error: ...`` (or one exception) naming the path, a non-zero exit,
nothing written, nothing lost. ``--force`` replaces only an earlier export folder (export) or an
existing file that is neither a database nor the study's own file (report, shrink).
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import mgsearch
from mgsearch.cli import main
from tests.report.studyfactory import T, resnet_spec, write_study

REPO = Path(__file__).resolve().parents[2]
ex = importlib.import_module("mgsearch.export")
SPEC = resnet_spec(8, ((8, (8,)), (16, (8,))))
HUGE = resnet_spec(8, ((60000, (60000,)), (16, (8,))))  # ~260 GB of weights: must never be built
SMALL = json.dumps({"family": "resnet", "stem": {"width": 8},
                    "stages": [{"width": 8, "blocks": [{"inner": 8}]}, {"width": 16, "blocks": [{"inner": 8}], "stride": 2}]})


def _cli(capsys, *argv) -> tuple[int, list[str]]:
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    return code, capsys.readouterr().err.strip().splitlines()


def _one_line(code: int, err: list[str], *fragments: str) -> None:
    assert code not in (0, None), err
    assert len(err) == 1 and err[0].startswith("mgsearch: error: "), err
    for f in fragments:
        assert f in err[0], (f, err[0])


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(root.rglob("*")) if not p.name.endswith(("-wal", "-shm"))}


@pytest.fixture
def studies(tmp_path: Path) -> Path:
    """``studies/``: s.toml (the study file), space.toml, s.db (trial 0 tiny, trial 1 huge widths)."""
    folder = tmp_path / "studies"
    folder.mkdir()
    shutil.copy(REPO / "search_spaces" / "tiny.toml", folder / "space.toml")
    (folder / "s.toml").write_text('[study]\nspace = "space.toml"\n[data]\ndataset = "cifar10"\n'
                                   "[budget]\nmax_params = 100000\n")
    write_study(folder / "s.db", "s", [T(spec=SPEC, val_acc=0.7), T(status="infeasible", spec=HUGE)],
                budget={"max_params": 100_000})
    return folder


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A trained export folder of SPEC (shared by the load tests; copy it before changing it)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("exported") / "found"
    ex.export_model(SPEC, folder, model=mgsearch.build(SPEC), latency=False)
    return folder


@pytest.fixture
def no_build(monkeypatch):
    """Building any model fails the test (huge specs must be refused from their analytic cost)."""
    def build(spec, *a, **k):
        raise AssertionError(f"built a model of {mgsearch.cost(spec).params:,} params")
    monkeypatch.setattr(importlib.import_module("mgsearch.families"), "build", build)


# --------------------------------------------------------------------------- defect 1: export --force
def test_export_force_never_replaces_the_study_folder(studies, capsys):
    before = _tree(studies)
    code, err = _cli(capsys, "export", studies / "s.toml", "--trial", "0", "--out", studies, "--force")
    _one_line(code, err, str(studies))
    assert _tree(studies) == before
    assert sorted(p.name for p in studies.parent.iterdir()) == ["studies"]


def test_export_force_never_replaces_a_folder_with_foreign_files(tmp_path):
    out = tmp_path / "found"
    out.mkdir()
    (out / "arch.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ex.ExportError, match=r"found: holds 'notes.txt', which no export writes"):
        ex.export_model(SPEC, out, force=True, latency=False)
    assert sorted(p.name for p in out.iterdir()) == ["arch.json", "notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["found"]


def test_export_force_never_replaces_the_database_folder(studies, tmp_path, capsys):
    """The study file elsewhere; --out is the folder holding only its database (or the database)."""
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    shutil.move(studies / "s.db", db_dir / "s.db")
    before = _tree(db_dir)
    url = f"sqlite:///{db_dir / 's.db'}"
    for out in (db_dir, db_dir / "s.db"):
        code, err = _cli(capsys, "export", studies / "s.toml", "--storage", url, "--trial", "0", "--out", out, "--force")
        _one_line(code, err, str(out))
    assert _tree(db_dir) == before


def test_export_force_replaces_an_earlier_export(tmp_path):
    out = tmp_path / "found"
    ex.export_model(SPEC, out, latency=False)
    ex.export_model(SPEC, out, force=True, latency=False)
    assert (out / "arch.json").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["found"]


# --------------------------------------------------------------------------- defect 2: report / shrink --out
def test_report_never_overwrites_a_database(studies, capsys):
    db = studies / "s.db"
    blob = db.read_bytes()
    for extra in ([], ["--force"]):
        code, err = _cli(capsys, "report", db, "--out", db, *extra)
        _one_line(code, err, "s.db")
    other = studies / "precious.db"
    shutil.copy(db, other)
    code, err = _cli(capsys, "report", db, "--out", other, "--force")
    _one_line(code, err, "precious.db", "SQLite")
    assert db.read_bytes() == blob and other.read_bytes() == blob


def test_report_never_overwrites_the_study_or_space_file(studies, capsys):
    before = _tree(studies)
    for target in ("s.toml", "space.toml"):
        code, err = _cli(capsys, "report", studies / "s.toml", "--out", studies / target, "--force")
        _one_line(code, err, target)
    assert _tree(studies) == before


def test_report_needs_force_for_a_foreign_file_and_replaces_its_own(studies, capsys):
    notes = studies / "notes.html"
    notes.write_text("<p>my notes</p>")
    code, err = _cli(capsys, "report", studies / "s.db", "--out", notes)
    _one_line(code, err, "notes.html", "--force")
    assert notes.read_text() == "<p>my notes</p>"
    assert _cli(capsys, "report", studies / "s.db", "--out", notes, "--force")[0] == 0
    assert 'content="mgsearch report"' in notes.read_text()[:2000]
    assert _cli(capsys, "report", studies / "s.db", "--out", notes)[0] == 0  # its own earlier output
    assert sorted(p.name for p in studies.iterdir()) == ["notes.html", "s.db", "s.toml", "space.toml"]


@pytest.mark.parametrize("kind", ["fifo", "dangling-link", "link", "device"])
def test_report_refuses_special_out_paths(studies, tmp_path, capsys, kind):
    out = tmp_path / "out.html"
    if kind == "fifo":
        os.mkfifo(out)
    elif kind == "dangling-link":
        out.symlink_to(tmp_path / "nowhere.html")
    elif kind == "link":
        (tmp_path / "real.html").write_text("x")
        out.symlink_to(tmp_path / "real.html")
    else:
        out = Path("/dev/null")
    code, err = _cli(capsys, "report", studies / "s.db", "--out", out, "--force")
    _one_line(code, err, str(out))
    assert not (tmp_path / "nowhere.html").exists()
    if kind == "link":
        assert out.is_symlink() and (tmp_path / "real.html").read_text() == "x"


def test_report_disk_full_leaves_old_file(studies, capsys, monkeypatch):
    out = studies / "r.html"
    assert _cli(capsys, "report", studies / "s.db", "--out", out)[0] == 0
    old = out.read_bytes()

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(importlib.import_module("mgsearch.outputs").os, "write", full)
    code, err = _cli(capsys, "report", studies / "s.db", "--out", out)
    monkeypatch.undo()
    _one_line(code, err, "r.html", "No space left")
    assert out.read_bytes() == old
    assert sorted(p.name for p in studies.iterdir()) == ["r.html", "s.db", "s.toml", "space.toml"]


def _shrink(folder: Path, out: Path, *extra: str) -> list[str]:
    return ["shrink", SMALL, "--dataset", "imagefolder", "--data-root", str(folder), "--importance-batches", "1",
            "--out", str(out), *extra]


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    from tests.fixtures.datasets import write_image_folder

    return write_image_folder(tmp_path_factory.mktemp("images"))


def test_shrink_never_overwrites_a_database(studies, images, capsys, monkeypatch):
    monkeypatch.setattr(importlib.import_module("mgsearch.shrink"), "shrink",
                        lambda *a, **k: pytest.fail("shrink ran before --out was checked"))
    precious = studies / "s.db"
    blob = precious.read_bytes()
    for extra in ([], ["--force"]):
        code, err = _cli(capsys, *_shrink(images, precious, *extra))
        _one_line(code, err, "s.db")
    assert precious.read_bytes() == blob


def test_shrink_needs_force_for_a_foreign_file_and_replaces_its_own(tmp_path, images, capsys):
    out = tmp_path / "notes.json"
    out.write_text('{"mine": true}\n')
    code, err = _cli(capsys, *_shrink(images, out))
    _one_line(code, err, "notes.json", "--force")
    assert out.read_text() == '{"mine": true}\n'
    assert _cli(capsys, *_shrink(images, out, "--force"))[0] == 0
    first = out.read_text()
    assert mgsearch.ArchSpec.from_json(first)
    assert _cli(capsys, *_shrink(images, out))[0] == 0  # its own earlier output: no --force needed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.json"]


# --------------------------------------------------------------------------- defect 8: disk full, SIGTERM, links
_FULL_DISK = """
import resource, signal, sys
import mgsearch, mgsearch.cli, mgsearch.export
ex = sys.modules["mgsearch.export"]
ex._retrain = lambda study, spec, **k: (mgsearch.build(spec), {})  # a trained model, without the training
# no file may grow past 64 KiB: the weights (13 KB) fit, model.pt2 (~120 KB) does not
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, resource.RLIM_INFINITY))
sys.exit(mgsearch.cli.main(["export", sys.argv[1], "--trial", "0", "--retrain", "--out", sys.argv[2]]))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MGSEARCH_THREADS": "1"}


def test_export_disk_full_in_torch_export_save_is_one_line(studies, tmp_path):
    """export --retrain, and model.pt2 cannot be written (a file-size limit: the OS fails the write
    as on a full disk): torch.export.save raised a RuntimeError, then C++ aborted (rc 134)."""
    out = tmp_path / "exports" / "found"
    proc = subprocess.run([sys.executable, "-c", _FULL_DISK, str(studies / "s.toml"), str(out)], env=_env(),
                          capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode not in (0, 134, -6), proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("mgsearch: error: "), proc.stderr[-2000:]
    assert f"{out}: cannot write the export (File too large)" in lines[0]
    assert list((tmp_path / "exports").iterdir()) == []


def test_export_disk_full_in_weights_is_one_line(tmp_path):
    from safetensors import SafetensorError

    import safetensors.torch as st

    def full(*a, **k):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(st, "save_file", full)
        with pytest.raises(ex.ExportError, match=r"found: cannot write the export \(.*No space left.*\); nothing"):
            ex.export_model(SPEC, tmp_path / "found", model=mgsearch.build(SPEC), latency=False)
    assert list(tmp_path.iterdir()) == []


_SLOW_ONNX = """
import sys, time, pathlib, torch
import mgsearch.cli
def slow(*a, **k):
    pathlib.Path(sys.argv[3]).write_text("ready")
    time.sleep(60)
torch.onnx.export = slow
sys.exit(mgsearch.cli.main(["export", sys.argv[1], "--trial", "0", "--out", sys.argv[2]]))
"""


def test_sigterm_during_export_leaves_no_temporary_folder(studies, tmp_path):
    out_dir = tmp_path / "exports"
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_ONNX, str(studies / "s.db"), str(out_dir / "found"),
                             str(ready)], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and "Traceback" not in err, err
    assert list(out_dir.iterdir()) == []


def test_export_refuses_a_symlink_out(tmp_path, capsys, studies):
    real = tmp_path / "real"
    ex.export_model(SPEC, real, latency=False)
    before = _tree(real)
    link = tmp_path / "link"
    link.symlink_to(real)
    code, err = _cli(capsys, "export", studies / "s.db", "--trial", "0", "--out", link, "--force")
    _one_line(code, err, "link", "symbolic link")
    assert link.is_symlink() and _tree(real) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real", "studies"]


@pytest.mark.parametrize("kind", ["fifo", "dangling-link", "file"])
def test_export_refuses_special_out_paths(tmp_path, capsys, studies, kind):
    out = tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(out)
    elif kind == "dangling-link":
        out.symlink_to(tmp_path / "nowhere")
    else:
        out.write_text("a file")
    for extra in ([], ["--force"]):
        code, err = _cli(capsys, "export", studies / "s.db", "--trial", "0", "--out", out, *extra)
        _one_line(code, err, str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "studies"]
    assert not (tmp_path / "nowhere").exists()


# --------------------------------------------------------------------------- defect 7: huge specs, hash first
def _tampered(exported: Path, tmp_path: Path, spec) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(exported, dst)
    (dst / ex.ARCH_FILE).write_text(spec.to_json(indent=2))
    return dst


def test_load_checks_the_weights_hash_before_building(exported, tmp_path, no_build):
    dst = _tampered(exported, tmp_path, HUGE)
    with pytest.raises(ex.ExportError, match=r"weights\.safetensors: the weights belong to spec \w{12}, but"):
        mgsearch.load(dst)


def test_load_refuses_a_spec_too_big_for_memory(exported, tmp_path, no_build):
    dst = _tampered(exported, tmp_path, HUGE)
    with pytest.raises(mgsearch.errors.MgsearchError, match=r"copy/arch\.json: needs [\d.]+ GB for weights .*more than"):
        mgsearch.load(dst, weights=False)


def test_export_of_a_huge_trial_is_refused_before_building(studies, tmp_path, capsys, no_build):
    code, err = _cli(capsys, "export", studies / "s.db", "--trial", "1", "--out", tmp_path / "huge")
    _one_line(code, err, "trial 1", "GB for weights")
    with pytest.raises(mgsearch.errors.MgsearchError, match="GB for weights"):
        ex.export_model(HUGE, tmp_path / "huge2", latency=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["studies"]


def test_memory_check_is_pure_and_states_the_limit(monkeypatch):
    from mgsearch import memory

    memory.check_weights_fit(1000, what="x")
    with pytest.raises(memory.MemoryLimitError, match=r"^x: needs 4 GB for weights \(1,000,000,000 params x 4 bytes\), "
                                                      r"more than 1 GB \(the given limit"):
        memory.check_weights_fit(10**9, what="x", limit=10**9)
    monkeypatch.setenv(memory.ENV_VAR, "1M")
    with pytest.raises(memory.MemoryLimitError, match=r"more than 0.00105 GB \(MGSEARCH_MEMORY_LIMIT"):
        memory.check_weights_fit(10**6, what="y", copies=4)
    monkeypatch.setenv(memory.ENV_VAR, "lots")
    with pytest.raises(memory.MemoryLimitError, match="MGSEARCH_MEMORY_LIMIT='lots' must be a size"):
        memory.check_weights_fit(1, what="z")


def test_memory_limit_counts_reclaimable_memory_and_never_prints_scientific_notation(monkeypatch):
    from mgsearch import memory

    monkeypatch.delenv(memory.ENV_VAR, raising=False)
    limit, source = memory.memory_limit()
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        available = next(int(line.split()[1]) * 1024 for line in meminfo.read_text().splitlines()
                         if line.startswith("MemAvailable:"))
        assert abs(limit - memory.AVAILABLE_SHARE * available) < 0.05 * available  # not the (smaller) MemFree
        assert "available memory" in source
    with pytest.raises(memory.MemoryLimitError, match=r"needs 7,000 GB for weights") as info:
        memory.check_weights_fit(1_750_000_000_000, what="x", limit=10**9)
    assert "e+" not in str(info.value)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero-link", "folder"])
def test_load_refuses_an_arch_json_that_is_not_a_regular_file(exported, tmp_path, kind):
    dst = tmp_path / "copy"
    shutil.copytree(exported, dst)
    arch = dst / ex.ARCH_FILE
    arch.unlink()
    if kind == "fifo":
        os.mkfifo(arch)
    elif kind == "dev-zero-link":
        arch.symlink_to("/dev/zero")
    else:
        arch.mkdir()
    with pytest.raises(ex.ExportError, match=r"arch\.json: .*(not a regular file|is a folder|FIFO|device)"):
        mgsearch.load(dst)


# --------------------------------------------------------------------------- defect 12: non-finite weights
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_load_refuses_non_finite_weights(exported, tmp_path, bad):
    from safetensors import safe_open
    from safetensors.torch import save_file

    dst = tmp_path / "copy"
    shutil.copytree(exported, dst)
    wpath = dst / ex.WEIGHTS_FILE
    with safe_open(str(wpath), framework="pt") as fh:
        meta = fh.metadata()
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    name = sorted(k for k in tensors if k.endswith("weight"))[0]
    tensors[name].view(-1)[0] = bad
    save_file(tensors, str(wpath), metadata=meta)
    with pytest.raises(ex.ExportError, match=rf"copy/weights\.safetensors: tensor {name} holds NaN or infinite"):
        mgsearch.load(dst)
