"""Export a found architecture to a folder that rebuilds anywhere, and load it back.

An export folder holds::

    arch.json            the ArchSpec (canonical JSON with "schema"): mgsearch.build() rebuilds it
    weights.safetensors  trained weights (only when trained: `mgsearch export --retrain`, or a model given)
    model.onnx           the network in ONNX (opset ONNX_OPSET, dynamic batch), checked with onnxruntime
    model.pt2            a torch.export program (torch.export.load), dynamic batch
    MODEL_CARD.md        params, MACs, latency, accuracy, dataset, fidelity, study and trial, how to load
    export.json          the same facts, machine-readable

The folder appears complete or not at all: everything is written into a temporary folder next to
the destination, which is renamed into place at the end; a failure (disk full included), Ctrl-C or
SIGTERM removes it. ``force`` replaces only an earlier export folder (:func:`mgsearch.outputs.check_out_folder`:
nothing in it but the files above), never a symbolic link, a folder holding anything else or the
study's own files. A spec whose weights would not fit in memory is refused from its analytic cost,
before anything is built (:func:`mgsearch.memory.check_weights_fit`). :func:`load` reads ``arch.json``
and ``weights.safetensors`` only (JSON and safetensors: nothing is ever unpickled).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import errno
import io
import json
import os
import shutil
import sys
import tempfile
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from mgsearch.errors import ExportError, MgsearchError, SpecError
from mgsearch.memory import check_weights_fit
from mgsearch.metrics import resolve_limits
from mgsearch.outputs import check_out_folder, sigterm_as_interrupt, study_inputs
from mgsearch.spec import ArchSpec, group_size_text

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "ARCH_FILE", "WEIGHTS_FILE", "ONNX_FILE", "PROGRAM_FILE", "CARD_FILE", "INFO_FILE", "ONNX_OPSET",
    "ONNX_TOLERANCE", "ExportResult", "export", "export_model", "load", "read_spec",
]

ARCH_FILE = "arch.json"
WEIGHTS_FILE = "weights.safetensors"
ONNX_FILE = "model.onnx"
PROGRAM_FILE = "model.pt2"
CARD_FILE = "MODEL_CARD.md"
INFO_FILE = "export.json"
#: every file an export folder may hold (``force`` replaces only a folder holding nothing else)
EXPORT_FILES = frozenset({ARCH_FILE, WEIGHTS_FILE, ONNX_FILE, PROGRAM_FILE, CARD_FILE, INFO_FILE})
#: the ONNX opset written (opset 18: supported by onnxruntime >= 1.14 and the dynamo exporter's default)
ONNX_OPSET = 18
#: largest allowed max-abs difference between onnxruntime's and PyTorch's outputs
ONNX_TOLERANCE = 1e-4
EXPORT_FORMAT = 1


@dataclass
class ExportResult:
    """What an export wrote: the folder, the spec, the file names and the facts in ``export.json``."""

    path: Path
    spec: ArchSpec
    files: list[str]
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- loading
def read_spec(folder: str | Path) -> ArchSpec:
    """The ArchSpec in ``folder/arch.json``; a bad field is a :class:`SpecError` naming the file."""
    from mgsearch.inputs import read_input_file

    path = Path(folder) / ARCH_FILE
    # a regular file of at most 16 MB: an arch.json that is a FIFO or a link to /dev/zero is refused
    text = read_input_file(path, missing=f"not found; is {folder} an mgsearch export folder?",
                           expected="an arch.json file", error=ExportError)
    try:
        return ArchSpec.from_json(text)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def load(folder: str | Path, *, weights: bool = True, device: str = "cpu") -> "torch.nn.Module":
    """Rebuild the model exported to ``folder``, with its weights, in eval mode.

    Reads ``arch.json`` and ``weights.safetensors`` only (never unpickles). ``weights=False`` returns
    the freshly initialised architecture (for folders exported without training). A tampered
    ``arch.json`` raises :class:`SpecError`, a missing, truncated or mismatched weights file
    :class:`ExportError`, weights holding NaN or infinity :class:`ExportError`, a spec whose
    weights would not fit in memory :class:`~mgsearch.memory.MemoryLimitError`; each names the
    file. The weights' spec hash and the memory need are checked before the model is built.
    """
    from safetensors import safe_open
    from safetensors.torch import load_model

    from mgsearch.cost import cost
    from mgsearch.families import build

    folder = Path(folder)
    spec = read_spec(folder)
    if weights:
        wpath = folder / WEIGHTS_FILE
        if not wpath.is_file():
            raise ExportError(
                f"{wpath}: not found; the folder was exported without weights (export holds the architecture "
                f"only): call mgsearch.load({str(folder)!r}, weights=False) for the architecture, freshly "
                "initialised, or export again with --retrain for trained weights"
            )
        try:
            with safe_open(str(wpath), framework="pt") as fh:
                meta = fh.metadata() or {}
        except Exception as exc:  # safetensors raises its own error types for damaged headers
            raise ExportError(f"{wpath}: not a readable safetensors file ({_one_line(exc)})") from None
        saved = meta.get("spec_hash")
        if saved is not None and saved != spec.hash:
            raise ExportError(
                f"{wpath}: the weights belong to spec {str(saved)[:12]}, but {folder / ARCH_FILE} is spec {spec.short_hash}"
            )
    check_weights_fit(cost(spec).params, what=str(folder / ARCH_FILE))
    model = build(spec)
    if weights:
        try:
            load_model(model, str(wpath), strict=True)
        except Exception as exc:  # truncated data, missing/unexpected keys, shape mismatches
            raise ExportError(f"{wpath}: weights do not fit {folder / ARCH_FILE} ({_one_line(exc)})") from None
        _check_finite(model, wpath)
    return model.to(device).eval()


def _check_finite(model: "torch.nn.Module", wpath: Path) -> None:
    """Refuse weights holding NaN or infinity, naming the file and the first such tensor."""
    import torch

    for name, t in model.state_dict().items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise ExportError(f"{wpath}: tensor {name} holds NaN or infinite values ({bad:,} of {t.numel():,}); "
                              "the weights are damaged")


# --------------------------------------------------------------------------- writing
def _check_out(out: Path, force: bool, protect: Iterable[Path] = ()) -> None:
    check_out_folder(out, force=force, own_names=EXPORT_FILES, protected=protect)


def _verify_onnx(path: Path, model: "torch.nn.Module", spec: ArchSpec, seed: int) -> float:
    import numpy as np
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(seed + 1)
    worst = 0.0
    for batch in (1, 3):  # a batch size other than the traced one checks the dynamic batch axis
        x = torch.randn(batch, spec.in_channels, spec.input_size, spec.input_size, generator=gen)
        with torch.no_grad():
            ref = model(x).numpy()
        got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
        if got.shape != ref.shape:
            raise ExportError(f"{path}: onnxruntime returned shape {got.shape}, PyTorch {ref.shape}")
        worst = max(worst, float(np.abs(got - ref).max()))
    if not worst <= ONNX_TOLERANCE:
        raise ExportError(f"{path}: onnxruntime differs from PyTorch by {worst:.3g} (> {ONNX_TOLERANCE})")
    return worst


def _name_batch_axis(path: Path) -> None:
    """Call the dynamic batch axis ``batch`` in the ONNX file (the exporter names it after its symbol, e.g. s77)."""
    import onnx

    model = onnx.load(str(path))
    symbol = model.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    if not symbol or symbol == "batch":
        return
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param == symbol:
                dim.dim_param = "batch"
    onnx.save(model, str(path))


def _write_artifacts(tmp: Path, spec: ArchSpec, model: "torch.nn.Module", trained: bool, seed: int,
                     latency: bool) -> dict[str, Any]:
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import save_model

    (tmp / ARCH_FILE).write_text(spec.to_json(indent=2) + "\n", encoding="utf-8")
    facts: dict[str, Any] = {}
    if trained:
        try:
            save_model(model, str(tmp / WEIGHTS_FILE),
                       metadata={"format": "mgsearch-weights", "schema": str(EXPORT_FORMAT), "spec_hash": spec.hash})
        except SafetensorError as exc:  # safetensors reports a failed write (disk full...) as its own error
            raise OSError(errno.EIO, f"{WEIGHTS_FILE}: {_one_line(exc)}") from None
    x = torch.randn(2, spec.in_channels, spec.input_size, spec.input_size,
                    generator=torch.Generator().manual_seed(seed))
    batch = torch.export.Dim("batch", min=1, max=65536)
    with torch.no_grad():
        program = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    with warnings.catch_warnings():
        # torch notes tensors stored as views of one storage (shared weights); the program is checked below
        warnings.filterwarnings("ignore", message="No complete tensor found in the group")
        # into memory, then to disk from Python: torch's own file writer aborts the process (C++
        # terminate) when a write fails, and a full disk must be one error line
        buffer = io.BytesIO()
        torch.export.save(program, buffer)
    with open(tmp / PROGRAM_FILE, "wb") as fh:
        fh.write(buffer.getbuffer())
    with torch.no_grad():
        facts["program_max_abs_diff"] = float((program.module()(x) - model(x)).abs().max())
    torch.onnx.export(program, (x,), str(tmp / ONNX_FILE), input_names=["input"], output_names=["logits"],
                      opset_version=ONNX_OPSET, dynamo=True, external_data=False, verbose=False)
    _name_batch_axis(tmp / ONNX_FILE)
    facts["onnx_opset"] = ONNX_OPSET
    facts["onnx_max_abs_diff"] = _verify_onnx(tmp / ONNX_FILE, model, spec, seed)
    if latency:
        from mgsearch.cost import measure_latency

        lat = measure_latency(model, (1, spec.in_channels, spec.input_size, spec.input_size), "cpu")
        facts["latency_ms"] = lat["median_ms"]
        facts["latency_device"] = lat["device_name"]
        facts["latency_threads"] = torch.get_num_threads()
    return facts


def export_model(
    spec: ArchSpec,
    out: str | Path,
    *,
    model: "torch.nn.Module | None" = None,
    info: dict[str, Any] | None = None,
    force: bool = False,
    seed: int = 0,
    latency: bool = True,
    protect: Iterable[Path] = (),
) -> ExportResult:
    """Write the export folder ``out`` for ``spec`` (see the module docstring).

    ``model``: trained weights to export (an ``nn.Module`` built from ``spec``, e.g. a
    ``TrainResult.model``); without it the folder holds the architecture only (no weights file; the
    ONNX and torch.export graphs then carry a freshly initialised network, seeded by ``seed``, good
    for checking operator support and latency, not for predictions). ``info`` adds facts (accuracy,
    dataset, study, trial...) to the card and ``export.json``. An existing ``out`` is refused unless
    ``force``, and even then unless it is an earlier export folder that holds none of the files in
    ``protect`` (the study's own files); a symbolic link is always refused. On any failure,
    Ctrl-C or SIGTERM neither ``out`` nor a temporary folder is left behind (an old ``out`` stays).
    """
    with sigterm_as_interrupt():
        return _export_model(spec, Path(out), model=model, info=info, force=force, seed=seed, latency=latency,
                             protect=tuple(protect))


def _export_model(spec: ArchSpec, out: Path, *, model: "torch.nn.Module | None", info: dict[str, Any] | None,
                  force: bool, seed: int, latency: bool, protect: tuple[Path, ...]) -> ExportResult:
    import torch

    from mgsearch.cost import cost
    from mgsearch.families import build

    _check_out(out, force, protect)
    c = cost(spec)
    trained = model is not None
    if model is None:
        check_weights_fit(c.params, what=f"spec {spec.short_hash}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build(spec)
    else:
        model_spec = getattr(model, "spec", None)
        if model_spec is not None and model_spec != spec:
            raise ExportError(f"the model given is spec {model_spec.short_hash}, not the exported spec {spec.short_hash}")
    # training may leave weights in channels_last (strided) layout; safetensors, ONNX and the
    # export program want plain contiguous tensors (shared weights stay shared: .to() works in place)
    model = model.cpu().float().to(memory_format=torch.contiguous_format).eval()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise ExportError(f"{out.parent}: cannot write the export here ({exc.strerror or type(exc).__name__})") from None
    threads = torch.get_num_threads()
    try:
        # one thread: tracing gains nothing from more, and batch-1 latency is reported per thread
        torch.set_num_threads(1)
        try:
            facts = _write_artifacts(tmp, spec, model, trained, seed, latency)
        finally:
            torch.set_num_threads(threads)
        import onnxruntime
        import torch as _torch

        from mgsearch import __version__

        meta = {
            "format": EXPORT_FORMAT,
            "spec_hash": spec.hash,
            "family": spec.family,
            "params": c.params,
            "macs": c.macs,
            "trained": trained,
            "exported_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "versions": {"mgsearch": __version__, "torch": _torch.__version__, "onnxruntime": onnxruntime.__version__},
            **facts,
            **(info or {}),
        }
        (tmp / INFO_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        (tmp / CARD_FILE).write_text(model_card(spec, meta, out.name), encoding="utf-8")
        files = sorted(p.name for p in tmp.iterdir())
        _swap_into_place(tmp, out, force, protect)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):  # disk full, quota, ...: nothing is left behind
            raise ExportError(f"{out}: cannot write the export ({exc.strerror or type(exc).__name__}); "
                              "nothing was written") from None
        raise
    return ExportResult(path=out, spec=spec, files=files, info=meta)


def _swap_into_place(tmp: Path, out: Path, force: bool, protect: Iterable[Path] = ()) -> None:
    """Rename ``tmp`` to ``out``; with ``force`` an existing ``out`` (checked again: it may have
    changed while the export ran) is moved aside first and removed only after the new folder is in
    place (restored if the rename fails)."""
    os.chmod(tmp, 0o755)
    _check_out(out, force, protect)
    if not os.path.lexists(out):
        os.rename(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _fmt(v: Any, spec: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and spec:
        return format(v, spec)
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _confirmed_text(confirmed: dict[str, Any] | None) -> str | None:
    """``0.8712 ± 0.0031 (seeds 0, 1, 2: 0.8690, 0.8712, 0.8734)``."""
    if not confirmed:
        return None
    accs = ", ".join(f"{a:.4f}" for a in confirmed["test_accs"])
    seeds = ", ".join(map(str, confirmed["seeds"]))
    return f"{confirmed['test_acc_mean']:.4f} ± {confirmed['test_acc_sd']:.4f} (seeds {seeds}: {accs})"


def _normalize_text(norm: dict[str, Any] | None) -> str | None:
    if not norm:
        return None
    fmt = lambda v: "[" + ", ".join(f"{x:.4f}" for x in v) + "]"  # noqa: E731
    return f"(uint8 / 255 - mean) / std per channel, mean {fmt(norm['mean'])}, std {fmt(norm['std'])}"


def model_card(spec: ArchSpec, meta: dict[str, Any], folder_name: str = "found") -> str:
    """The ``MODEL_CARD.md`` text for an export with facts ``meta``."""
    trained = meta.get("trained")
    rows = [
        ("family", spec.family),
        ("input", f"{spec.in_channels} x {spec.input_size} x {spec.input_size}"),
        ("classes", spec.num_classes),
        ("params (analytic, shared weights once)", meta.get("params")),
        ("MACs per image (analytic)", meta.get("macs")),
        ("latency, batch 1 (median)", f"{_fmt(meta.get('latency_ms'), '.3f')} ms on {meta.get('latency_device', '-')}, "
         f"{meta.get('latency_threads', '?')} thread(s)"
         if meta.get("latency_ms") is not None else "-"),
        ("dataset", meta.get("dataset")),
        ("input preprocessing", _normalize_text(meta.get("normalize"))),
        ("classes (logit order)", ", ".join(map(str, meta["classes"])) if meta.get("classes") else None),
        ("validation accuracy (search)", _fmt(meta.get("val_acc"), ".4f")),
        ("search fidelity", json.dumps(meta.get("fidelity")) if meta.get("fidelity") else None),
        ("test accuracy (confirmed: mean ± sd over seeds)", _confirmed_text(meta.get("confirmed"))),
        ("confirm protocol", json.dumps(meta["confirmed"]["protocol"], sort_keys=True)
         if meta.get("confirmed") else None),
        ("test accuracy (retrained)", _fmt(meta.get("test_acc"), ".4f")),
        ("retraining", json.dumps(meta.get("retrain")) if meta.get("retrain") else "none"),
        ("study", meta.get("study")),
        ("trial", meta.get("trial")),
        ("spec hash", spec.short_hash),
        ("ONNX opset / max abs diff vs PyTorch (onnxruntime)",
         f"{meta.get('onnx_opset')} / {_fmt(meta.get('onnx_max_abs_diff'), '.2e')}"),
        ("torch.export program max abs diff", _fmt(meta.get("program_max_abs_diff"), ".2e")),
        ("exported", meta.get("exported_at")),
        ("versions", ", ".join(f"{k} {v}" for k, v in (meta.get("versions") or {}).items())),
    ]
    table = "\n".join(f"| {k} | {_fmt(v)} |" for k, v in rows)
    from mgsearch.families.registry import get_family

    grouped = get_family(spec.family).allows_group_size  # a family with MGIC convs says which stages are dense
    widths = ", ".join(
        f"stage {i}: width {st.width}, inner [{', '.join(str(b.inner) for b in st.blocks)}]"
        + (f", group size {group_size_text(st.group_size)}" if grouped else "")
        + (f", share {st.share}" if st.share > 1 else "")
        for i, st in enumerate(spec.stages)
    )
    weights_note = (
        "`weights.safetensors` holds the trained weights; `model.onnx` and `model.pt2` carry the same weights."
        if trained else
        "**No trained weights**: this folder holds the architecture. `model.onnx` and `model.pt2` carry a "
        "freshly initialised network (useful to check operator support and latency, not for predictions). "
        "Export with `--retrain` to get trained weights."
    )
    c, h = spec.in_channels, spec.input_size
    if trained:
        load_text = f"""From the folder that holds `{folder_name}/`:

```python
import mgsearch
model = mgsearch.load("{folder_name}")          # nn.Module in eval mode, weights from safetensors
spec = mgsearch.ArchSpec.from_json(open("{folder_name}/arch.json").read())
untrained = mgsearch.build(spec)                  # the same architecture, freshly initialised
```"""
    else:
        load_text = f"""From the folder that holds `{folder_name}/` (no weights file: `weights=False` says so;
`mgsearch.load("{folder_name}")` asks for trained weights and refuses this folder):

```python
import mgsearch
model = mgsearch.load("{folder_name}", weights=False)   # the architecture, freshly initialised, eval mode
spec = mgsearch.ArchSpec.from_json(open("{folder_name}/arch.json").read())
model = mgsearch.build(spec)                          # the same, without mgsearch.load
```"""
    return f"""# Model card: {spec.family} {spec.short_hash}

Found by mgsearch{f" in study `{meta['study']}`, trial {meta['trial']}" if meta.get("study") else ""}.

| | |
|---|---|
{table}

Widths: stem {spec.stem.width}; {widths}.

{weights_note}

## Files

- `arch.json`: the architecture (ArchSpec JSON, `"schema": 1`).
- `weights.safetensors`: trained weights{"" if trained else " (absent: exported without --retrain)"}.
- `model.onnx`: ONNX, opset {meta.get("onnx_opset")}, input `input` [N, {c}, {h}, {h}] float32 normalised
  as under "input preprocessing", output `logits` [N, {spec.num_classes}]; the batch axis (named `batch`) is dynamic.
- `model.pt2`: a `torch.export` program (`torch.export.load`).
- `export.json`: these facts, machine-readable.

## Load

{load_text}

```python
import numpy as np, onnxruntime as ort
sess = ort.InferenceSession("{folder_name}/model.onnx")
logits = sess.run(None, {{"input": np.zeros((1, {c}, {h}, {h}), np.float32)}})[0]
```
"""


# --------------------------------------------------------------------------- from a study
def _confirmed_group(data: Any, limits: Mapping[str, float], number: int | None = None) -> Any:
    """The confirmed found network (``mgsearch confirm``, latest protocol) with the highest mean test
    accuracy among those within ``limits`` (or trial ``number``'s), or None when there is none."""
    from mgsearch.evidence import compare_confirmed

    found = {r.number: r.spec_hash for r in data.records}
    runs = [r for r in data.confirmed if r.role == "found" and found.get(r.source_trial) == r.spec_hash]
    for g in compare_confirmed(runs).groups:  # highest mean first
        if g.role != "found" or (number is not None and g.source_trial != number):
            continue
        try:
            rec = data.trial(g.source_trial)
        except MgsearchError:
            continue
        if number is not None or all((x := rec.value(a)) is not None and x <= v for a, v in limits.items()):
            return g
    return None


def _dataset_classes(described: Any, num_classes: int) -> list[str] | None:
    """The class names in logit order, where the study's stored dataset description makes them known
    without loading the data: a named dataset's fixed list, an image folder's sorted class folders
    (while the folder is there); None otherwise or when the count is not ``num_classes``."""
    from mgsearch.data.sources import DATASETS, canonical_name

    if not isinstance(described, Mapping):
        return None
    try:
        name = canonical_name(str(described.get("name")))
    except MgsearchError:
        return None
    classes: list[str] = list(DATASETS[name].classes)
    source = str(described.get("source") or "")
    if name == "imagefolder" and source.startswith("imagefolder:"):
        train = Path(source.partition(":")[2]) / "train"
        try:
            classes = sorted(p.name for p in train.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return None
    return classes if len(classes) == num_classes else None


def _retrain(study_file: str, spec: ArchSpec, *, epochs: int | None, device: str, progress: bool | None,
             storage: str | None) -> tuple[Any, dict[str, Any]]:
    """Train ``spec`` on the full training split (train + validation) with the study's recipe;
    return the trained model and facts (test accuracy, fidelity, recipe, dataset)."""
    import torch

    from mgsearch.data import load_dataset
    from mgsearch.study import load_study_config
    from mgsearch.train import Fidelity, Recipe, train

    cfg = load_study_config(study_file, {"storage": storage} if storage else None)
    ds = load_dataset(cfg.dataset, cfg.data_root, val_fraction=cfg.val_fraction, seed=cfg.seed)
    # all labelled training images: the split carved for validation goes back into training
    full = dataclasses.replace(
        ds, train_x=torch.cat([ds.train_x, ds.val_x]), train_y=torch.cat([ds.train_y, ds.val_y]),
        val_x=ds.val_x[:0], val_y=ds.val_y[:0],
    )
    fidelity = Fidelity(epochs=epochs or cfg.epochs, train_fraction=1.0, batch_size=cfg.batch_size)
    recipe = Recipe(**dict(cfg.recipe))
    result = train(spec, full, fidelity=fidelity, recipe=recipe, seed=cfg.seed, device=device,
                   evaluate_test=True, progress=progress, threads=cfg.threads)
    facts = {
        "test_acc": result.test_acc,
        "retrain": {"epochs": fidelity.epochs, "train_images": int(full.train_x.shape[0]),
                    "batch_size": fidelity.batch_size, "seed": cfg.seed, "device": result.device,
                    "train_seconds": round(result.train_seconds, 2)},
        "recipe": recipe.to_dict(),
        "normalize": {"mean": list(ds.mean), "std": list(ds.std)},
        "classes": list(ds.classes),
    }
    return result.model, facts


def export(
    study: str | Path,
    out: str | Path,
    *,
    trial: int | None = None,
    under: Mapping[str, float] | None = None,
    retrain: bool = False,
    epochs: int | None = None,
    device: str = "cpu",
    force: bool = False,
    storage: str | None = None,
    study_name: str | None = None,
    progress: bool | None = None,
    **max_keys: float | None,
) -> ExportResult:
    """Export trial ``trial`` of a stored study, or (``trial=None``) the best trained feasible trial
    within the given budget (:func:`mgsearch.pareto.best`: ``under={metric: limit}`` and/or budget-key
    keywords of the registered metrics, e.g. ``max_params=50_000``), to the folder ``out``.

    ``retrain=True`` trains the architecture on the full training split (the validation split
    included) with the study's recipe for ``epochs`` (default: the study's) and measures test
    accuracy; it needs the study file. Errors (unknown trial, impossible budget, an ``out`` that may
    not be written, a trial too big for memory) are one-line :class:`~mgsearch.errors.MgsearchError` s,
    raised before any work. ``force`` never replaces the study file, its space file or database, nor
    a folder holding them. SIGTERM is handled like Ctrl-C: nothing is left behind.
    """
    with sigterm_as_interrupt():
        return _export(study, Path(out), trial=trial, limits=resolve_limits(under, **max_keys), retrain=retrain,
                       epochs=epochs, device=device, force=force,
                       storage=storage, study_name=study_name, progress=progress)


def _export(study: str | Path, out: Path, *, trial: int | None, limits: Mapping[str, float], retrain: bool,
            epochs: int | None, device: str, force: bool,
            storage: str | None, study_name: str | None, progress: bool | None) -> ExportResult:
    from mgsearch.cost import cost
    from mgsearch.pareto import best
    from mgsearch.store.records import read_study
    from mgsearch.study import locate_study

    protect = tuple(study_inputs(study, storage))
    _check_out(out, force, protect)
    if retrain and not str(study).endswith(".toml"):
        raise ExportError(f"--retrain needs the study file (.toml) for its dataset and recipe, not {study}")
    url, name, source = locate_study(study, storage=storage, study_name=study_name)
    data = read_study(url, name, source=source)
    group = None
    if trial is not None:
        rec = data.trial(trial)
        group = _confirmed_group(data, limits, number=trial)
    else:
        group = _confirmed_group(data, limits)  # confirmed results first: mean test accuracy over seeds
        rec = data.trial(group.source_trial) if group is not None else best(data, under=limits)
    if rec.spec is None:
        raise ExportError(f"trial {rec.number} of study {data.name!r} stored no readable architecture (status {rec.status})")
    check_weights_fit(cost(rec.spec).params, what=f"trial {rec.number} of study {data.name!r}")
    info: dict[str, Any] = {
        "study": data.name,
        "trial": rec.number,
        "status": rec.status,
        "val_acc": rec.val_acc,
        "dataset": data.dataset,
        "fidelity": rec.fidelity or data.fidelity,
        "budget": data.budget,
    }
    if group is not None:
        info["confirmed"] = {"test_acc_mean": group.mean, "test_acc_sd": group.sd, "test_accs": group.accs,
                             "seeds": group.seeds, "protocol": group.protocol,
                             "study": f"{data.name}.confirm", "runs": [r.number for r in group.runs]}
    described = data.attrs.get("dataset")
    if isinstance(described, dict) and described.get("mean") and described.get("std"):
        info["normalize"] = {"mean": list(described["mean"]), "std": list(described["std"])}
    classes = _dataset_classes(described, rec.spec.num_classes)
    if classes:
        info["classes"] = classes
    model = None
    if retrain:
        model, facts = _retrain(str(study), rec.spec, epochs=epochs, device=device, progress=progress, storage=storage)
        info.update(facts)
    return export_model(rec.spec, out, model=model, info=info, force=force, protect=protect)



class _CallableModule(types.ModuleType):
    """``mgsearch.export`` names both this module and its :func:`export` function (the package
    resolves the name lazily); making the module callable keeps ``mgsearch.export(...)`` working
    after ``import mgsearch.export`` bound the name to the module."""

    def __call__(self, *args: Any, **kwargs: Any) -> ExportResult:
        return export(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
