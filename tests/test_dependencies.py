"""The dependency direction of DESIGN.md, read from the package's imports.

`cli -> search / report / export / shrink / strategies -> store / train / space / study -> families /
metrics / cost -> layers -> spec`: every ``import`` of a module of ``mgsearch`` (module level and inside
functions alike; ``if TYPE_CHECKING:`` blocks are left out, they never run) must go to a lower tier,
to a leaf utility, or to a registry. Where a tier is split finer below (``pareto`` and ``outputs``
under the commands; ``training`` and ``data`` under ``train``), the finer order is the one checked.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "mgsearch"

#: tiers, highest first: a module may import from lower tiers only
TIERS: list[tuple[str, set[str]]] = [
    ("entry points", {"__main__", ""}),  # python -m mgsearch; "": the facade mgsearch/__init__.py (lazy exports)
    ("command line", {"cli"}),
    ("commands", {"search", "report", "export", "shrink", "strategies"}),
    ("one-shot weight sharing", {"oneshot"}),  # supernets: used by the oneshot strategy and shrink's slimmable importance
    ("shared by the commands", {"pareto", "outputs", "evidence"}),  # fronts/best over stored records; output
    # folders; what confirm / calibrate runs say (seed statistics, the found-vs-baseline sentence, rank correlations)
    ("inputs of a run", {"store", "train", "space", "study"}),
    ("training parts", {"training"}),  # the recipe (torch-free) and the runtime: below train and study
    ("data", {"data"}),
    ("models and measures", {"families", "metrics", "cost", "presets", "fitting"}),
    ("layers", {"layers"}),
    ("spec", {"spec"}),
]

#: leaf utilities any module may import, each imports nothing of mgsearch but errors (checked below)
LEAVES = {
    "mgsearch.errors": "the exception types and message clipping every tier raises",
    "mgsearch.registry": "the generic name -> object table the registries of every tier are made of",
    "mgsearch.inputs": "the one reader of user files (size caps, no FIFOs) for spec, space and study files",
    "mgsearch.memory": "the memory limit check (pure arithmetic on sizes)",
    "mgsearch.devices": "the one device-name rule: study files check the syntax, training resolves it",
    "mgsearch.store.urls": "storage URL parsing and redaction: study files and storage both show URLs",
    "mgsearch.metrics.numbers": "counts as text ('50k'), finite floats: parsing and formatting numbers",
}

#: registries: reached from any tier (the engine reaches families, metrics and strategies only through
#: them; they load their built-ins lazily)
REGISTRIES = {"mgsearch.families.registry", "mgsearch.metrics.registry", "mgsearch.strategies.registry"}
#: the registries' package front doors (lookup functions over the registry): from their own tier or above
FRONT_DOORS = {"mgsearch.families", "mgsearch.metrics", "mgsearch.strategies"}

#: deliberate exceptions: (importing group, imported module) -> reason
ALLOWED = {
    ("strategies", "mgsearch.shrink"): "the lwdna strategy is LW-DNA's search form: it calls shrink's widen / "
                                       "importance / fit inside propose; shrink never imports strategies",
    ("search", "mgsearch"): "package_versions() reads mgsearch.__version__ (the facade imports errors and spec only)",
    ("export", "mgsearch"): "the model card and export metadata read mgsearch.__version__",
    ("cli", "mgsearch"): "--version reads mgsearch.__version__",
    ("oneshot", "mgsearch"): "a supernet file's metadata records mgsearch.__version__",
}

#: built-in implementations: only their own package (its builtin.py) may import them
IMPLEMENTATIONS = ("mgsearch.families.residual", "mgsearch.families.mgnet", "mgsearch.families.builtin",
                   "mgsearch.strategies.direct", "mgsearch.strategies.lwdna", "mgsearch.strategies.uniform",
                   "mgsearch.strategies.oneshot",
                   "mgsearch.strategies.builtin", "mgsearch.metrics.builtin")

HEAVY = ("optuna", "plotly", "mgsearch.cli")
LIGHT_GROUPS = ("spec", "layers", "families", "cost")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for sub in ast.walk(child):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, imported module)`` of every import in ``path`` that runs (``from a import b`` gives
    ``a.b`` when ``a.b`` is a module of mgsearch, else ``a``)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_checking_lines(tree)
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                is_module = (ROOT / Path(*sub.split("."))).with_suffix(".py").is_file() or (
                    ROOT / Path(*sub.split(".")) / "__init__.py").is_file()
                out.append((node.lineno, sub if is_module else base))
    return out


def _modules() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def _tier(group: str) -> int:
    for i, (_, groups) in enumerate(TIERS):
        if group in groups:
            return i
    raise AssertionError(f"mgsearch.{group} is in no tier of tests/test_dependencies.py: add it to TIERS")


def _within(target: str, names: set[str] | tuple[str, ...]) -> bool:
    return any(target == n or target.startswith(n + ".") for n in names)


def violations() -> list[str]:
    out = []
    for path in _modules():
        module = _module_name(path)
        group = _group(module)
        if module in LEAVES:
            continue
        for line, target in imports(path):
            if not (target == "mgsearch" or target.startswith("mgsearch.")):
                continue
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            tgroup = _group(target)
            if tgroup == group and target != "mgsearch":
                continue  # inside one package (or module)
            if _within(target, tuple(LEAVES)) or target in REGISTRIES:
                continue
            if _within(target, IMPLEMENTATIONS):
                out.append(f"{where}: a built-in implementation is reached through its registry only")
                continue
            if (group, target) in ALLOWED or (group, target.split(".")[0] + "." + tgroup) in ALLOWED:
                continue
            if target == "mgsearch":
                out.append(f"{where}: the package facade is the top tier")
                continue
            mine, theirs = _tier(group), _tier(tgroup)
            if theirs > mine:
                continue
            if theirs == mine and target in FRONT_DOORS:
                continue
            kind = "upward" if theirs < mine else "same-tier"
            out.append(f"{where}: {kind} import ({TIERS[mine][0]} -> {TIERS[theirs][0]})")
    return out


def test_imports_follow_the_tiers():
    assert violations() == []


def test_every_package_is_in_a_tier():
    for path in _modules():
        if _module_name(path) not in LEAVES:
            _tier(_group(_module_name(path)))


def test_leaves_import_only_errors():
    for name in LEAVES:
        path = ROOT / Path(*name.split("."))
        path = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
        ours = {t for _, t in imports(path) if t.startswith("mgsearch")}
        assert ours <= {"mgsearch.errors"}, (name, ours)


def test_allow_list_entries_are_still_needed():
    """An exception that no import uses any more is removed from ALLOWED."""
    used = set()
    for path in _modules():
        group = _group(_module_name(path))
        for _, target in imports(path):
            for key in ALLOWED:
                if key[0] == group and (target == key[1] or target.startswith(key[1] + ".")):
                    used.add(key)
    assert used == set(ALLOWED), set(ALLOWED) - used


def test_the_checker_sees_function_level_and_relative_imports():
    found = {t for _, t in imports(PKG / "spec.py")}
    assert "mgsearch.families.registry" in found  # imported inside a function of spec.py
    assert any(t.startswith("mgsearch.shrink.") for _, t in imports(PKG / "strategies" / "lwdna.py"))  # in propose
    assert "mgsearch.cost" not in {t for _, t in imports(PKG / "metrics" / "metric.py")}  # TYPE_CHECKING only


@pytest.mark.parametrize("group", LIGHT_GROUPS)
def test_light_tiers_never_import_optuna_plotly_or_the_cli(group):
    """``spec``, ``layers``, ``families`` and ``cost`` never import optuna, plotly or the CLI: read from
    their source (any import, at any level) ..."""
    paths = [PKG / f"{group}.py"] if (PKG / f"{group}.py").is_file() else sorted((PKG / group).rglob("*.py"))
    for path in paths:
        for line, target in imports(path):
            assert not _within(target, HEAVY), f"{path.relative_to(ROOT)}:{line} imports {target}"


def test_light_tiers_at_run_time():
    """... and at run time: building and costing every preset loads neither."""
    code = ("import sys; import mgsearch.spec, mgsearch.layers, mgsearch.families; "
            "from mgsearch.cost import cost; from mgsearch.presets import PRESETS, get_preset; "
            "[mgsearch.families.build(get_preset(n)) and cost(get_preset(n)) for n in PRESETS]; "
            "print(','.join(m for m in ('optuna', 'plotly', 'mgsearch.cli') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
