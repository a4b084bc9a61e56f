"""The one-shot search's per-process state: structures seen, supernets loaded, calibration images.

The ``oneshot`` strategy records each trial's structure here when it proposes the candidate
(:func:`remember_structure`) and scores the candidate after the budget check
(:func:`score_candidate`): the supernet of the structure is loaded (or trained) once per process and
kept for the next trials.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from mgsearch.errors import ConfigError
from mgsearch.oneshot.evaluation import OneShotScore, calibration_images, score_config
from mgsearch.oneshot.files import obtain_supernet
from mgsearch.oneshot.slicing import Supernet
from mgsearch.oneshot.structure import Structure
from mgsearch.oneshot.training import SandwichProtocol
from mgsearch.spec import ArchSpec

__all__ = ["remember_structure", "score_candidate", "protocol_of"]

_STRUCTURES: dict[str, Structure] = {}
_SUPERNETS: dict[tuple[str, str], tuple[Supernet, Any]] = {}
_CALIBRATION: dict[tuple[str, int, int], torch.Tensor] = {}


def remember_structure(structure: Structure) -> str:
    """Keep ``structure`` for :func:`score_candidate`; returns its key."""
    key = structure.key
    _STRUCTURES[key] = structure
    return key


def protocol_of(context: Any, settings: Any) -> SandwichProtocol:
    """The supernet training protocol of a study: its fidelity and recipe, ``[oneshot]`` overrides."""
    from mgsearch.training.recipe import Recipe

    fidelity = dict(context.fidelity)
    return SandwichProtocol(
        epochs=int(settings.epochs or fidelity.get("epochs", 1)),
        train_fraction=float(settings.train_fraction or fidelity.get("train_fraction", 1.0)),
        batch_size=int(fidelity.get("batch_size", 128)),
        recipe=Recipe(**dict(context.recipe or {})),
        seed=int(context.seed),
        random_configs=int(settings.random_configs),
        distill=bool(settings.distill),
    )


def score_candidate(spec: ArchSpec, structure_key: str, context: Any, settings: Any) -> OneShotScore:
    """Score ``spec`` on the supernet of the structure remembered under ``structure_key``."""
    from mgsearch.devices import resolve_device
    from mgsearch.training.runtime import default_threads

    structure = _STRUCTURES.get(structure_key)
    if structure is None:
        raise KeyError(f"structure {structure_key} was not proposed in this process")
    if context.files_dir is None:
        raise ConfigError(f"{context.source}: strategy = \"oneshot\" needs a place for its supernets "
                          "(a study with SQLite or PostgreSQL storage)")
    protocol = protocol_of(context, settings)
    device = resolve_device(context.device)
    prev = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(default_threads())
    try:
        cache_key = (str(context.files_dir), structure_key + repr(protocol.to_dict()))
        if cache_key not in _SUPERNETS:
            def progress(line: str) -> None:
                print(line, file=sys.stderr, flush=True)

            supernet, files, _ = obtain_supernet(structure, context.dataset, protocol, context.files_dir,
                                                 device=device, progress=progress)
            _SUPERNETS.clear()  # one supernet in memory at a time
            _SUPERNETS[cache_key] = (supernet, files)
        supernet, files = _SUPERNETS[cache_key]
        cal_key = (context.dataset.fingerprint, int(settings.calibration_images), protocol.seed)
        if cal_key not in _CALIBRATION:
            _CALIBRATION.clear()
            _CALIBRATION[cal_key] = calibration_images(context.dataset, settings.calibration_images, protocol.seed)
        result = score_config(supernet, spec, context.dataset, _CALIBRATION[cal_key], val_images=settings.val_images,
                              batch_size=int(settings.calibration_batch), device=device)
    finally:
        torch.set_num_threads(prev)
    n_val = context.dataset.val_x.shape[0]
    result.trial_attrs = {
        "fidelity": {"epochs": protocol.epochs, "train_fraction": protocol.train_fraction,
                     "batch_size": protocol.batch_size, "kind": "oneshot",
                     "calibration_images": int(_CALIBRATION[cal_key].shape[0]),
                     "val_images": n_val if settings.val_images is None else min(settings.val_images, n_val)},
        "supernet_file": str(Path(files.weights).name),
        "oneshot_seconds": result.seconds,
    }
    return result
