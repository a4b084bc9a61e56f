"""Hostile input files and absurd sizes: the bad-input battery's promises for the worst inputs.

Deeply nested TOML / JSON, folders, FIFOs and devices given as files, huge files, non-UTF-8 bytes,
megabyte-long values, file names that break the study-name rule, absurd counts and widths whose
weights or activations cannot fit in memory. Every case runs like a case of
``test_bad_input.py`` (one ``mgsearch: error: ...`` line, non-zero exit, nothing changed or left
behind), the error line is at most :data:`MAX_LINE` characters, and no case may take longer than a
few seconds (a read that blocks on a FIFO or never ends on ``/dev/zero`` fails the test).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mgsearch.errors import ConfigError, MgsearchError, SpecError
from tests.reliability.test_bad_input import S, SHRINK, TRAIN, Case, World, run_case, world  # noqa: F401
from tests.search.conftest import MICRO_SPACE

#: no error line may be longer than this (values are clipped to 200 characters, messages to 1000)
MAX_LINE = 1000
DEEP = 100_000
BIG = 17 * 2**20  # just over the 16 MiB cap on study / space / spec files


def _deep_json() -> str:
    return "[" * DEEP + "]" * DEEP


def _deep_toml() -> str:
    return "a = " + "[" * DEEP + "]" * DEEP + "\n"


def _resnet20_json() -> str:
    from mgsearch.presets import get_preset

    return get_preset("resnet20").to_json()


def _wide_spec(w: World, width: int = 60_000) -> str:
    spec = json.loads(_resnet20_json())
    spec["stem"]["width"] = width
    for stage in spec["stages"]:
        stage["width"] = width
        for block in stage["blocks"]:
            block["inner"] = width
    return w.write("wide.json", json.dumps(spec))


def _folder(w: World, name: str) -> str:
    path = w.inputs / name
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def _fifo(w: World, name: str) -> str:
    path = w.inputs / name
    if not path.exists():
        os.mkfifo(path)
    return str(path)


def _link(w: World, name: str, target: str) -> str:
    path = w.inputs / name
    if not path.is_symlink():
        path.symlink_to(target)
    return str(path)


def _huge(w: World, name: str, head: str) -> str:
    path = w.inputs / name
    path.write_text(head + " " * BIG)
    return str(path)


def _space_study(w: World, name: str, space: str) -> str:
    """A study file whose ``[study] space`` is ``space`` (an absolute path)."""
    return w.write(name, w.study_text().replace(f'space = "{w.root / "space.toml"}"', f'space = "{space}"'))


def _deep_spec_values(w: World) -> str:
    value = "[" * 200 + "1" + "]" * 200
    return w.write("deep-values.json", '{"family": "resnet", "stem": {"width": %s}, "stages": []}' % value)


def _long_family(w: World) -> str:
    from mgsearch.presets import get_preset

    spec = json.loads(get_preset("resnet20").to_json())
    spec["family"] = "x" * 1_000_000
    return w.write("long-family.json", json.dumps(spec))


HOSTILE = [
    # --- nesting (defect 6)
    Case("info-deep-spec-file", lambda w: ["info", w.write("deep.json", _deep_json())], ["deep.json", "nested"]),
    Case("info-deep-inline-spec", lambda w: ["info", '{"a":' * DEEP + "1" + "}" * DEEP], ["inline spec", "nested"]),
    Case("info-deep-spec-values", lambda w: ["info", _deep_spec_values(w)], ["deep-values.json", "nested"]),
    Case("space-deep-toml", lambda w: ["space", w.write("deep.toml", _deep_toml())], ["deep.toml", "nested"]),
    Case("search-deep-study", lambda w: ["search", w.write("deep-study.toml", _deep_toml())],
         ["deep-study.toml", "nested"]),
    Case("search-deep-space", lambda w: ["search", _space_study(w, "ds.toml", w.write("deep-space.toml", _deep_toml()))],
         ["deep-space.toml", "nested"]),
    # --- a folder where a file belongs (defect 12)
    Case("space-folder", lambda w: ["space", _folder(w, "dir.toml")], ["dir.toml", "is a folder"]),
    Case("search-space-folder", lambda w: ["search", _space_study(w, "sf.toml", _folder(w, "spacedir"))],
         ["spacedir", "is a folder"]),
    Case("search-study-folder", lambda w: ["search", _folder(w, "studydir.toml")], ["studydir.toml", "is a folder"]),
    Case("info-spec-folder", lambda w: ["info", _folder(w, "specdir") + "/"], ["specdir", "is a folder"]),
    # --- FIFOs, devices and links to them: no read may block or never end
    Case("space-fifo", lambda w: ["space", _fifo(w, "pipe.toml")], ["pipe.toml", "not a regular file"]),
    Case("search-fifo-study", lambda w: ["search", _fifo(w, "pipe-study.toml")],
         ["pipe-study.toml", "not a regular file"]),
    Case("info-fifo-spec", lambda w: ["info", _fifo(w, "pipe.json")], ["pipe.json", "not a regular file"]),
    Case("space-dev-zero-link", lambda w: ["space", _link(w, "zero.toml", "/dev/zero")],
         ["zero.toml", "not a regular file"]),
    Case("search-urandom-study-link", lambda w: ["search", _link(w, "random.toml", "/dev/urandom")],
         ["random.toml", "not a regular file"]),
    Case("search-dev-zero-space", lambda w: ["search", _space_study(w, "zs.toml", "/dev/zero")],
         ["/dev/zero", "not a regular file"]),
    Case("info-dev-zero-spec", lambda w: ["info", "/dev/zero"], ["/dev/zero", "not a regular file"]),
    # --- huge files and bytes that are not text
    Case("space-huge-file", lambda w: ["space", _huge(w, "huge.toml", MICRO_SPACE)], ["huge.toml", "16 MB"]),
    Case("info-huge-spec", lambda w: ["info", _huge(w, "huge.json", _resnet20_json())], ["huge.json", "16 MB"]),
    Case("space-binary", lambda w: ["space", str(_bytes(w, "bin.toml"))], ["bin.toml", "UTF-8"]),
    Case("search-binary-study", lambda w: ["search", str(_bytes(w, "bin-study.toml"))], ["bin-study.toml", "UTF-8"]),
    Case("info-binary-spec", lambda w: ["info", str(_bytes(w, "bin.json"))], ["bin.json", "UTF-8"]),
    # --- unbounded values in the error line (defect 12)
    Case("search-long-value", lambda w: ["search", w.bad_study("lv.toml", study=f'name = "{"x" * 1_000_000}"')],
         ["lv.toml", "study.name", "chars)"]),
    Case("space-long-key", lambda w: ["space", w.write("lk.toml", MICRO_SPACE + f'\n{"k" * 1_000_000} = 1\n')],
         ["lk.toml", "chars)"]),
    Case("info-long-family", lambda w: ["info", _long_family(w)], ["long-family.json", "family", "chars)"]),
    Case("info-long-argument", lambda w: ["info", "y" * 100_000], ["chars)"]),
    # --- the default study name obeys the naming rule (defect 12)
    Case("search-bad-default-name", lambda w: ["search", w.write("bad name!.toml", w.study_text())],
         ["bad name!", "[study] name"]),
    # --- absurd counts: one line before any work
    Case("search-absurd-trials", lambda w: ["search", w.write("at.toml", w.study_text().replace(
        "n_trials = 3", f"n_trials = {10**18}"))], ["at.toml", "n_trials"]),
    Case("search-absurd-epochs", lambda w: ["search", w.write("ae.toml", w.study_text().replace(
        "epochs = 1", f"epochs = {10**12}"))], ["ae.toml", "epochs"]),
    Case("space-absurd-depth", lambda w: ["space", w.write("ad.toml", MICRO_SPACE.replace(
        "depth = { min = 1, max = 2 }", f"depth = {10**9}", 1))], ["ad.toml", "depth"]),
    Case("space-absurd-sample", lambda w: ["space", str(w.root / "space.toml"), "--sample", str(10**12)],
         ["--sample"]),
    Case("train-absurd-epochs", lambda w: ["train", "resnet20", *TRAIN(w), "--epochs", str(10**12)], ["epochs"]),
    Case("train-absurd-batch", lambda w: ["train", "resnet20", *TRAIN(w), "--batch-size", str(10**9)], ["batch"]),
    Case("train-absurd-threads", lambda w: ["train", "resnet20", *TRAIN(w), "--threads", str(10**9)], ["threads"]),
    # --- widths whose weights cannot fit in memory (defect 7): checked before building
    Case("train-wide-spec", lambda w: ["train", _wide_spec(w), *TRAIN(w)], ["wide.json", "GB", "params"]),
    Case("shrink-widen-1000", lambda w: ["shrink", "resnet20", "--widen", "1000", *SHRINK(w)],
         ["widen", "GB", "params"]),
]


def _bytes(w: World, name: str) -> Path:
    path = w.inputs / name
    path.write_bytes(b"\xff\xfe\x00garbage\x80\x81" * 100)
    return path


@pytest.mark.timeout(20)
@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
def test_hostile_input_exits_with_one_short_line_and_changes_nothing(case: Case, world: World, capsys, monkeypatch,
                                                                     request):
    line = run_case(case, world, capsys, monkeypatch, request)
    assert len(line) <= MAX_LINE, f"{len(line)} characters"


# --------------------------------------------------------------------------- library level
def test_from_json_of_deeply_nested_text_is_a_spec_error():
    with pytest.raises(SpecError, match="nested"):
        from mgsearch.spec import ArchSpec

        ArchSpec.from_json(_deep_json())


def test_from_dict_bounds_the_nesting_depth():
    from mgsearch.spec import ArchSpec

    data: object = 1
    for _ in range(200):
        data = [data]
    with pytest.raises(SpecError, match="nested") as info:
        ArchSpec.from_dict({"family": "resnet", "stem": {"width": data}, "stages": []})
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("cls", [MgsearchError, ConfigError, SpecError])
def test_error_messages_are_one_bounded_line(cls):
    exc = cls("file.toml: key=" + "v" * 1_000_000 + "\nsecond line")
    text = str(exc)
    assert len(text) <= MAX_LINE and "\n" not in text and text.startswith("file.toml: key=vvv")
    assert "chars)" in text


def test_clip_keeps_short_values_and_marks_long_ones():
    from mgsearch.errors import clip

    assert clip("short") == "short"
    long = clip("z" * 5000)
    assert long.startswith("z" * 200) and long.endswith("…(5000 chars)") and len(long) < 230


def test_training_memory_check_refuses_weights_and_batches_that_cannot_fit(monkeypatch):
    from mgsearch.memory import MemoryLimitError
    from mgsearch.presets import get_preset
    from mgsearch.spec import width_slots
    from mgsearch.train import check_training_memory

    monkeypatch.setenv("MGSEARCH_MEMORY_LIMIT", "4G")
    small = get_preset("resnet20")
    check_training_memory(small, batch_size=128, what="resnet20")  # 0.27M params, ~0.3 GB a batch: fine
    with pytest.raises(MemoryLimitError, match=r"resnet20: training needs ~[\d,]+ GB .*batch size 1000000"):
        check_training_memory(small, batch_size=1_000_000, what="resnet20")
    wide = small.with_slot_values([40_000] * len(width_slots(small)))
    with pytest.raises(MemoryLimitError, match=r"wide: needs [\d,.]+ GB for weights \([\d,]+ params"):
        check_training_memory(wide, batch_size=1, what="wide")


def test_train_refuses_a_spec_too_big_for_memory_before_building_it(monkeypatch):
    import mgsearch.families
    from mgsearch.memory import MemoryLimitError
    from mgsearch.presets import get_preset
    from mgsearch.train import Fidelity, train
    from tests.fixtures.datasets import write_image_folder  # noqa: F401

    def no_build(spec):  # noqa: ANN001
        raise AssertionError("built")

    monkeypatch.setattr(mgsearch.families, "build", no_build)
    monkeypatch.setenv("MGSEARCH_MEMORY_LIMIT", "1M")

    class Data:  # what train() reads before building
        import torch

        train_x = torch.zeros(1000, 3, 32, 32, dtype=torch.uint8)
        in_channels, num_classes, input_size, name = 3, 10, 32, "fake"

    with pytest.raises(MemoryLimitError, match="spec .*needs"):
        train(get_preset("resnet20"), Data(), fidelity=Fidelity(epochs=1))


def test_reading_a_study_or_space_file_never_imports_torch(tmp_path):
    import subprocess
    import sys

    from tests.reliability.conftest import REPO

    (tmp_path / "space.toml").write_text(MICRO_SPACE)
    (tmp_path / "s.toml").write_text('[study]\nspace = "space.toml"\n[data]\ndataset = "cifar10"\n')
    code = ("import sys; from mgsearch.study import load_study_config; from mgsearch.space import SearchSpace; "
            f"load_study_config({str(tmp_path / 's.toml')!r}); SearchSpace.from_file({str(tmp_path / 'space.toml')!r}); "
            "import mgsearch.memory; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"
