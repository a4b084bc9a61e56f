"""Export folders: round trips (PyTorch and onnxruntime), atomicity, --force, tampered inputs."""

from __future__ import annotations

import importlib
import json
import pickle
import shutil

import numpy as np
import pytest
import torch

import mgsearch
from mgsearch.cost import cost
from mgsearch.errors import ExportError, SpecError
from mgsearch.spec import ArchSpec, Block, Stage, Stem

torch.set_num_threads(1)
# the module (mgsearch.export is also the name of the export function in the package namespace)
ex = importlib.import_module("mgsearch.export")


def _resnet_like(family, stages, *, stem=8, group_size=None, share=1):
    return ArchSpec(
        family=family, in_channels=1, num_classes=5, input_size=16, stem=Stem(width=stem),
        stages=tuple(Stage(width=w, blocks=tuple(Block(inner=b) for b in inner), stride=1 if i == 0 else 2,
                           group_size=group_size, share=share) for i, (w, inner) in enumerate(stages)),
    )


SPECS = {
    # MGIC convs and weight sharing in one small network: the fast round trip
    "mgic": _resnet_like("mgic", ((8, (8, 8)), (16, (16, 16))), group_size=4, share=2),
    "resnet": _resnet_like("resnet", ((8, (4, 12)), (16, (8,)))),
    "dacnn": _resnet_like("dacnn", ((8, (8, 8, 8)), (16, (16, 16))), share=2),
    "mgnet": _resnet_like("mgnet", ((8, (8, 8)), (16, (16, 16))), share=2),
    "mgiad": _resnet_like("mgiad", ((8, (8, 8)), (16, (16, 16))), group_size=4, share=2),
}


def trained_like(spec: ArchSpec, seed: int = 0) -> torch.nn.Module:
    """A built model whose weights and BN statistics are moved away from their initial values, so a
    round trip that dropped or mixed up any tensor shows in the outputs."""
    torch.manual_seed(seed)
    model = mgsearch.build(spec)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.normal_(0, 0.1)
            elif name.endswith("running_var"):
                b.uniform_(0.5, 1.5)
    # as trained on a GPU: weights in channels_last layout (not contiguous)
    return model.to(memory_format=torch.channels_last).eval()


def check_round_trip(spec: ArchSpec, folder) -> dict:
    import onnxruntime as ort

    model = trained_like(spec)
    result = ex.export_model(spec, folder, model=model, info={"study": "unit", "trial": 7}, latency=False)
    assert sorted(result.files) == sorted([ex.ARCH_FILE, ex.WEIGHTS_FILE, ex.ONNX_FILE, ex.PROGRAM_FILE,
                                           ex.CARD_FILE, ex.INFO_FILE])
    loaded = mgsearch.load(folder)
    assert not loaded.training
    assert loaded.spec == spec
    x = torch.randn(6, spec.in_channels, spec.input_size, spec.input_size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = model(x)
        got = loaded(x)
    assert torch.allclose(got, ref, atol=1e-5, rtol=0), float((got - ref).abs().max())
    sess = ort.InferenceSession(str(folder / ex.ONNX_FILE), providers=["CPUExecutionProvider"])
    onnx_out = sess.run(None, {"input": x.numpy()})[0]
    assert np.abs(onnx_out - ref.numpy()).max() <= 1e-4
    assert sess.get_inputs()[0].shape[0] == "batch" and sess.get_outputs()[0].shape[0] == "batch"
    program = torch.export.load(str(folder / ex.PROGRAM_FILE))
    with torch.no_grad():
        assert torch.allclose(program.module()(x), ref, atol=1e-5, rtol=0)
    info = json.loads((folder / ex.INFO_FILE).read_text())
    assert info["onnx_opset"] == ex.ONNX_OPSET and info["onnx_max_abs_diff"] <= 1e-4
    assert info["params"] == cost(spec).params and info["trained"] is True
    card = (folder / ex.CARD_FILE).read_text()
    assert f"| params (analytic, shared weights once) | {info['params']:,} |" in card
    assert "study `unit`, trial 7" in card and "onnxruntime" in card
    return info


@pytest.fixture(scope="module")
def mgic_export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports") / "mgic"
    info = check_round_trip(SPECS["mgic"], folder)
    return folder, info


def test_round_trip_mgic_shared(mgic_export):
    folder, info = mgic_export
    # shared weights are stored once
    from safetensors import safe_open

    with safe_open(str(folder / ex.WEIGHTS_FILE), framework="pt") as fh:
        stored = sum(int(np.prod(fh.get_slice(k).get_shape())) for k in fh.keys())
    model = mgsearch.load(folder)
    unique = {p.data_ptr(): p.numel() for p in model.state_dict().values()}
    assert stored == sum(unique.values())


@pytest.mark.slow
@pytest.mark.parametrize("family", ["resnet", "dacnn", "mgnet", "mgiad"])
def test_round_trip_families(family, tmp_path):
    check_round_trip(SPECS[family], tmp_path / family)


def test_arch_only_export_and_build(tmp_path):
    spec = SPECS["resnet"]
    result = ex.export_model(spec, tmp_path / "arch", latency=False)
    assert ex.WEIGHTS_FILE not in result.files and result.info["trained"] is False
    assert ArchSpec.from_json((tmp_path / "arch" / ex.ARCH_FILE).read_text()) == spec
    assert json.loads((tmp_path / "arch" / ex.ARCH_FILE).read_text())["schema"] == 1
    assert "No trained weights" in (tmp_path / "arch" / ex.CARD_FILE).read_text()
    with pytest.raises(ExportError, match=r"weights.safetensors: not found; the folder was exported without weights"):
        mgsearch.load(tmp_path / "arch")
    model = mgsearch.load(tmp_path / "arch", weights=False)
    assert model.spec == spec and not model.training
    # resolve_spec accepts the folder too
    assert mgsearch.resolve_spec(str(tmp_path / "arch")) == spec


def test_load_never_unpickles(mgic_export, monkeypatch):
    folder, _ = mgic_export

    def forbidden(*a, **k):
        raise AssertionError("load must not unpickle")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(torch.export, "load", forbidden)
    mgsearch.load(folder)


def _copy(folder, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(folder, dst)
    return dst


def test_tampered_arch_json(mgic_export, tmp_path):
    dst = _copy(mgic_export[0], tmp_path)
    data = json.loads((dst / ex.ARCH_FILE).read_text())
    data["stages"][0]["width"] = -3
    (dst / ex.ARCH_FILE).write_text(json.dumps(data))
    with pytest.raises(SpecError, match=r"copy/arch\.json: .*stages\[0\]\.width=-3 must be >= 1"):
        mgsearch.load(dst)
    (dst / ex.ARCH_FILE).write_text('{"family": "resnet", "stem": ')
    with pytest.raises(SpecError, match=r"arch\.json: spec JSON is malformed"):
        mgsearch.load(dst)
    (dst / ex.ARCH_FILE).unlink()
    with pytest.raises(ExportError, match=r"arch\.json: not found"):
        mgsearch.load(dst)


def test_arch_json_changed_to_other_valid_spec(mgic_export, tmp_path):
    dst = _copy(mgic_export[0], tmp_path)
    data = json.loads((dst / ex.ARCH_FILE).read_text())
    data["stages"][1]["width"] = 24
    (dst / ex.ARCH_FILE).write_text(json.dumps(data))
    with pytest.raises(ExportError, match=r"weights\.safetensors: the weights belong to spec \w{12}, but .*arch\.json is spec"):
        mgsearch.load(dst)


@pytest.mark.parametrize("keep", [0.5, 0.999, 0.0])
def test_truncated_weights(mgic_export, tmp_path, keep):
    dst = _copy(mgic_export[0], tmp_path)
    w = dst / ex.WEIGHTS_FILE
    blob = w.read_bytes()
    w.write_bytes(blob[: int(len(blob) * keep)])
    with pytest.raises(ExportError, match=r"copy/weights\.safetensors: ") as info:
        mgsearch.load(dst)
    assert "\n" not in str(info.value)


def test_weights_of_another_model(mgic_export, tmp_path):
    from safetensors.torch import save_model

    dst = _copy(mgic_export[0], tmp_path)
    other = mgsearch.build(SPECS["resnet"])
    save_model(other, str(dst / ex.WEIGHTS_FILE))  # no spec hash in the metadata: keys/shapes decide
    with pytest.raises(ExportError, match=r"weights\.safetensors: weights do not fit .*arch\.json \(") as info:
        mgsearch.load(dst)
    assert "\n" not in str(info.value)


def test_existing_folder_refused_then_forced(tmp_path, monkeypatch):
    spec = SPECS["resnet"]
    out = tmp_path / "found"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match=r"found: already exists; pass --force to replace it"):
        ex.export_model(spec, out, latency=False)
    # --force replaces only an earlier export folder, never one holding anything else
    with pytest.raises(ExportError, match=r"found: holds 'keep.txt', which no export writes"):
        ex.export_model(spec, out, force=True, latency=False)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    (out / "keep.txt").unlink()
    (out / ex.ARCH_FILE).write_text("old")
    # --force, and the final rename fails after the old folder was moved aside: it is put back
    real_rename = ex.os.rename

    def failing_rename(src, dst):
        if str(dst) == str(out) and ".tmp-" in str(src):
            raise OSError("simulated rename failure")
        return real_rename(src, dst)

    monkeypatch.setattr(ex.os, "rename", failing_rename)
    with pytest.raises(ExportError, match=r"found: cannot write the export \(OSError\); nothing was written"):
        ex.export_model(spec, out, force=True, latency=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["found"]
    assert [p.name for p in out.iterdir()] == [ex.ARCH_FILE] and (out / ex.ARCH_FILE).read_text() == "old"
    monkeypatch.setattr(ex.os, "rename", real_rename)
    ex.export_model(spec, out, force=True, latency=False)
    assert (out / ex.ARCH_FILE).read_text() != "old" and (out / ex.ONNX_FILE).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["found"]


def _fail_in_onnx_export(monkeypatch, exc):
    """Make the ONNX step write half a file and fail: arch.json and model.pt2 are already written."""

    def half_written(program, args, path, **kw):
        with open(path, "wb") as fh:
            fh.write(b"\x08\x09partial")
        raise exc

    monkeypatch.setattr(torch.onnx, "export", half_written)


def test_failure_mid_export_leaves_nothing(tmp_path, monkeypatch):
    _fail_in_onnx_export(monkeypatch, RuntimeError("simulated failure"))
    with pytest.raises(RuntimeError, match="simulated"):
        ex.export_model(SPECS["resnet"], tmp_path / "found", latency=False)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_export_leaves_nothing(tmp_path, monkeypatch):
    _fail_in_onnx_export(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        ex.export_model(SPECS["resnet"], tmp_path / "found", latency=False)
    assert list(tmp_path.iterdir()) == []


def test_failure_with_force_keeps_old_folder(tmp_path, monkeypatch):
    _fail_in_onnx_export(monkeypatch, RuntimeError("simulated failure"))
    old = tmp_path / "found"
    old.mkdir()
    (old / "arch.json").write_text("old")
    with pytest.raises(RuntimeError, match="simulated"):
        ex.export_model(SPECS["resnet"], old, force=True, latency=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["found"]
    assert [p.name for p in old.iterdir()] == ["arch.json"] and (old / "arch.json").read_text() == "old"


def test_model_of_another_spec_refused(tmp_path):
    with pytest.raises(ExportError, match="the model given is spec"):
        ex.export_model(SPECS["resnet"], tmp_path / "x", model=mgsearch.build(SPECS["mgic"]))
    assert list(tmp_path.iterdir()) == []


def test_unwritable_destination_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError, match=r"file: cannot write the export here"):
        ex.export_model(SPECS["resnet"], blocker / "found", latency=False)
