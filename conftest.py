"""Root pytest configuration: fixtures live in tests/fixtures/, one module per concern."""

pytest_plugins = [
    "tests.fixtures.datasets",
    "tests.fixtures.postgres",
]


def pytest_collection_modifyitems(config, items):  # noqa: ANN001 - pytest hook signature
    """Tests marked ``gpu`` are skipped, with a reason, where torch sees no CUDA device."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    import pytest
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in gpu_items:
        item.add_marker(skip)
