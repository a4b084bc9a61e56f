"""The public API re-exported by ``mgsearch``: every name resolves, and importing stays light."""

from __future__ import annotations

import subprocess
import sys

import mgsearch


def test_every_public_name_resolves() -> None:
    for name in mgsearch.__all__:
        assert getattr(mgsearch, name) is not None, name


def test_cost_stays_the_function_after_submodule_imports() -> None:
    import mgsearch.cost as cost_module  # noqa: F401  (the import that used to shadow the function)
    from mgsearch.cost import cost

    assert mgsearch.cost is cost
    spec = mgsearch.preset("resnet20")
    assert mgsearch.cost(spec).params == 269_722


def test_submodules_are_reachable_as_attributes() -> None:
    assert callable(mgsearch.train.train)
    assert callable(mgsearch.shrink.shrink_to_budget)


def test_train_and_export_are_callable_modules(tiny_dataset) -> None:
    """docs/data.md's ``mgsearch.train(spec, ds, fidelity=...)``: the module forwards a call to its
    function, before and after ``from mgsearch.train import ...`` bound the name to the module."""
    from mgsearch.train import Fidelity, TrainResult  # noqa: F401

    ds = tiny_dataset
    spec = mgsearch.resolve_spec("resnet20", in_channels=ds.in_channels, num_classes=ds.num_classes,
                                 input_size=ds.input_size)
    result = mgsearch.train(spec, ds, fidelity=mgsearch.Fidelity(epochs=1, batch_size=16), seed=0, progress=False)
    assert isinstance(result, mgsearch.train.TrainResult) and result.epochs == 1
    assert callable(mgsearch.export) and callable(mgsearch.export.export)


def test_import_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, mgsearch; "
        "heavy = [m for m in ('torch', 'optuna', 'plotly', 'onnx') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
