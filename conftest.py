"""Root pytest configuration: fixtures live in tests/fixtures/, one module per concern."""

pytest_plugins = [
    "tests.fixtures.datasets",
    "tests.fixtures.postgres",
]
