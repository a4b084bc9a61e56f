"""Helpers for the search tests: a micro search space, a study file writer and a counting trainer."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest

#: a resnet space whose networks train in a fraction of a second on 16x16 images
MICRO_SPACE = """
family = "resnet"
in_channels = 3
num_classes = 3
input_size = 16

[stem]
width = { min = 4, max = 8, step = 4 }

[[stages]]
stride = 1
depth = { min = 1, max = 2 }
width = { min = 4, max = 8, step = 4 }
inner = { min = 4, max = 12, step = 4, per_layer = true }

[[stages]]
stride = 2
depth = { min = 1, max = 1 }
width = { min = 8, max = 16, step = 8 }
inner = { min = 4, max = 16, step = 4 }
"""

#: a space with exactly one architecture: every trial is the same spec
SINGLE_SPACE = """
family = "resnet"
in_channels = 3
num_classes = 3
input_size = 16

[stem]
width = 4

[[stages]]
stride = 1
depth = 1
width = 4
inner = 4
"""


@pytest.fixture
def micro_folder(tiny_image_folder: Callable[..., Path]) -> Path:
    return tiny_image_folder()


@pytest.fixture
def write_study(tmp_path: Path, micro_folder: Path) -> Callable[..., Path]:
    """``write_study(extra_study="", budget='max_params = 3000', space=MICRO_SPACE, ...) -> study path``."""

    def write(
        *,
        study: str = "",
        budget: str = "max_params = 2000",
        space: str = MICRO_SPACE,
        fidelity: str = "epochs = 1\nbatch_size = 32",
        extra: str = "",
        name: str = "s",
    ) -> Path:
        (tmp_path / "space.toml").write_text(space)
        path = tmp_path / f"{name}.toml"
        path.write_text(
            f'[study]\nspace = "space.toml"\nheartbeat_interval = 1\ngrace_period = 3\n{study}\n'
            f'[data]\ndataset = "imagefolder"\nroot = "{micro_folder}"\nval_fraction = 0.25\n'
            f"[fidelity]\n{fidelity}\n[budget]\n{budget}\n[device]\nname = \"cpu\"\nthreads = 1\n{extra}\n"
        )
        return path

    return write


class CountingTrain:
    """Wraps :func:`mgsearch.train.train` (or a fake) and records every call's spec."""

    def __init__(self, inner: Callable[..., Any] | None = None) -> None:
        self.inner = inner or importlib.import_module("mgsearch.train").train
        self.specs: list[Any] = []

    def __call__(self, spec: Any, dataset: Any, **kwargs: Any) -> Any:
        self.specs.append(spec)
        return self.inner(spec, dataset, **kwargs)

    @property
    def calls(self) -> int:
        return len(self.specs)


def fake_result(val_acc: float, epochs: int) -> SimpleNamespace:
    """What the objective reads from a TrainResult."""
    return SimpleNamespace(val_acc=val_acc, history=[{"val_acc": val_acc}] * epochs, train_seconds=0.01,
                           images_per_second=1000.0)


@pytest.fixture
def counting_train(monkeypatch: pytest.MonkeyPatch) -> CountingTrain:
    """Real training, counted: patches ``mgsearch.train.train``."""
    module = importlib.import_module("mgsearch.train")
    counter = CountingTrain(module.train)
    monkeypatch.setattr(module, "train", counter)
    return counter
