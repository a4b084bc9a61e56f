"""Every command and snippet of README.md, docs/*.md and a generated MODEL_CARD.md runs as written.

Blocks: every fenced ```bash / ```sh / ```python block (untagged fences are synopses, transcripts and
diagrams). A block is skipped only when the line before its fence is ``<!-- no-test: REASON -->``;
``SKIPPED`` below lists every such block, so the list cannot grow unnoticed.

Where: a temporary folder holding copies of ``studies/`` and ``search_spaces/``, where
``studies/quickstart.toml`` is the shipped file at a tiny fidelity (``TINY_STUDY``: 2 trials, 1 epoch,
1% of the training split; every other key as shipped, so the fixture follows the real file). bash
blocks run with ``bash -e`` (a failing line stops the block and is reported with its docs line);
python blocks run in a fresh interpreter each, compiled under their docs file name and line, so a
traceback names ``docs/x.md:LINE``. The data is the real Fashion-MNIST (Debian package; the tests
skip without it).

Tiny fidelity for commands, by rewriting flags (``TINY_FLAGS``; nothing else is changed):
``mgsearch train`` runs 1 epoch on 1% of the training split with a 1% validation split and no test
pass; ``--n-trials N`` becomes 3; ``Fidelity(epochs=5)`` becomes 1 epoch on 1%.

The default run (``test_readme_quick_start``) walks README.md's quick start and Python block and the
exported model cards' snippets (about 40 s on 2 cores); ``-m slow`` runs every block of docs/*.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
LANGS = {"bash": "bash", "sh": "bash", "python": "python"}
NO_TEST = re.compile(r"^<!--\s*no-test:\s*(?P<reason>\S.*?)\s*-->\s*$")
FENCE = re.compile(r"^```(?P<lang>[\w+-]*)\s*$")
BLOCK_TIMEOUT = 300

#: (file, first command of the block, without its comment) of every skipped block, and why (the same reason is in the docs)
SKIPPED = {
    ("README.md", "bash scripts/install.sh"): "root + apt; test.sh runs the whole suite, this test included",
    ("README.md", "mgsearch confirm studies/quickstart.toml --top 3 --seeds 3"):
        "a test-set pass per run (10,000 images): too slow for the default suite; docs/confirm.md runs it (-m slow)",
    ("docs/deploy.md", "apt-get install -y postgresql"): "installs a system PostgreSQL server as root",
    ("docs/deploy.md", "URL='postgresql+psycopg://mgsearch:PASSWORD@db.example.org/mgsearch'"): "remote PostgreSQL",
    ("docs/deploy.md", "for i in 0 1 2 3; do"): "four GPUs and a remote PostgreSQL",
    ("docs/results.md", "optuna-dashboard sqlite:///studies/quickstart.db --host 127.0.0.1 --port 8080"): "a server",
    ("docs/search.md", "mgsearch worker studies/big.toml --storage postgresql+psycopg://mg:PW@db/studies"):
        "remote PostgreSQL and a server",
    ("docs/search.md", "optuna-dashboard sqlite:///studies/quickstart.db"): "a server",
}

#: the shipped quickstart study -> the tiny fixture under the same name: (pattern, replacement), each must match once
TINY_STUDY = [
    (r"(?m)^n_trials = \d+", "n_trials = 2"),
    (r"(?m)^val_fraction = [\d.]+", "val_fraction = 0.01"),
    (r"(?m)^train_fraction = [\d.]+", "train_fraction = 0.01"),  # [data] and [confirm]
    (r"(?m)^epochs = \d+", "epochs = 1"),  # [fidelity] and [confirm]
    (r"(?m)^n = \d+", "n = 3"),  # [calibrate]
]
#: patterns of TINY_STUDY that match more than once (in [confirm] as well): how often
TINY_COUNTS = {r"(?m)^train_fraction = [\d.]+": 2, r"(?m)^epochs = \d+": 2}


@dataclass(frozen=True)
class Block:
    path: str  # relative to the repository (or the export folder's card)
    line: int  # 1-based line of the first code line
    lang: str  # bash | python
    code: str
    skip: str | None = None  # the no-test reason

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def extract(path: Path, name: str | None = None) -> list[Block]:
    """The bash/sh/python blocks of a markdown file, in order, with their no-test reasons."""
    name = name or str(path.relative_to(REPO))
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        lang = LANGS.get(m.group("lang"))
        if lang:
            before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            marker = NO_TEST.match(before.strip())
            blocks.append(Block(name, i + 2, lang, "\n".join(lines[i + 1:j]) + "\n",
                                marker.group("reason") if marker else None))
        i = j + 1
    return blocks


# ------------------------------------------------------------------------------------------ tiny fidelity
TINY_FLAGS = [
    # mgsearch train: 1 epoch on 1% with a 1% validation split and no test pass
    (re.compile(r"^(\s*mgsearch train .*?)(\s+#.*)?$"), lambda m: _tiny_train(m.group(1)) + (m.group(2) or "")),
    (re.compile(r"--n-trials \d+"), lambda m: "--n-trials 3"),
    # mgsearch confirm / calibrate: one found network with one seed, three calibration candidates
    (re.compile(r"(mgsearch confirm .*)--top \d+"), lambda m: m.group(1) + "--top 1"),
    (re.compile(r"(mgsearch confirm .*)--seeds \d+"), lambda m: m.group(1) + "--seeds 1"),
    (re.compile(r"(mgsearch calibrate .*)--n \d+"), lambda m: m.group(1) + "--n 3"),
]


def _tiny_train(cmd: str) -> str:
    cmd = re.sub(r"--epochs \d+", "--epochs 1", cmd)
    cmd = re.sub(r"--train-fraction [\d.]+", "--train-fraction 0.01", cmd)
    for flag, value in (("--epochs", "1"), ("--train-fraction", "0.01"), ("--val-fraction", "0.01")):
        if flag not in cmd:
            cmd += f" {flag} {value}"
    return cmd + ("" if "--no-test" in cmd else " --no-test")


def tiny(block: Block) -> str:
    if block.lang == "python":
        return block.code.replace("Fidelity(epochs=5)", "Fidelity(epochs=1, train_fraction=0.01)")
    out = []
    for line in block.code.splitlines():
        for pattern, repl in TINY_FLAGS:
            line = pattern.sub(repl, line)
        out.append(line)
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------ running
def make_workspace(root: Path) -> Path:
    """studies/ and search_spaces/ copied, studies/quickstart.toml at the tiny fidelity."""
    root.mkdir(parents=True, exist_ok=True)
    for folder in ("studies", "search_spaces"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("*.db", "*.db-*", "*.html"))
    text = (REPO / "studies" / "quickstart.toml").read_text(encoding="utf-8")
    for pattern, repl in TINY_STUDY:
        text, n = re.subn(pattern, repl, text)
        want = TINY_COUNTS.get(pattern, 1)
        assert n == want, f"studies/quickstart.toml: {pattern!r} matched {n} times, not {want}; update TINY_STUDY"
    (root / "studies" / "quickstart.toml").write_text(text, encoding="utf-8")
    return root


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(REPO), MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    env.pop("MGSEARCH_DATA_ROOT", None)
    return env


def run_block(block: Block, cwd: Path) -> str | None:
    """Run one block in ``cwd``; None when it succeeds, else a message naming the docs line."""
    code = tiny(block)
    if block.lang == "bash":
        # line 1 of the script is the trap, so $LINENO - 2 is the offset in the block
        script = f"trap 'echo \"FAILED AT BLOCK LINE $((LINENO - 2))\" >&2' ERR\nset -eo pipefail\n{code}"
        cmd = ["bash", "-c", script]
    else:
        driver = textwrap.dedent("""
            import sys
            path, line, code = sys.argv[1], int(sys.argv[2]), sys.stdin.read()
            exec(compile("\\n" * (line - 1) + code, path, "exec"), {"__name__": "__main__"})
        """)
        cmd = [sys.executable, "-c", driver, block.path, str(block.line)]
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=_env(), input=code if block.lang == "python" else None,
                              capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"{block.where}: timed out after {BLOCK_TIMEOUT} s"
    if proc.returncode == 0:
        return None
    where = block.where
    m = re.search(r"FAILED AT BLOCK LINE (\d+)", proc.stderr)
    if m:
        where = f"{block.path}:{block.line + int(m.group(1)) - 1}"
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
    return f"{where}: {block.lang} block failed (exit {proc.returncode}):\n{textwrap.indent(tail, '    ')}"


def run_blocks(blocks: list[Block], cwd: Path) -> list[str]:
    return [err for b in blocks if not b.skip and (err := run_block(b, cwd))]


# ------------------------------------------------------------------------------------------ tests (fast)
def test_every_block_is_found_and_every_skip_is_listed_and_justified():
    blocks = [b for doc in DOCS for b in extract(doc)]
    assert len(blocks) >= 20
    skipped = {(b.path, b.code.splitlines()[0].split("#")[0].strip()): b.skip for b in blocks if b.skip}
    assert set(skipped) == set(SKIPPED), "a <!-- no-test --> marker was added or removed: update SKIPPED"
    for block in blocks:  # even skipped blocks must parse
        if block.lang == "bash":
            proc = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True)
            assert proc.returncode == 0, f"{block.where}: {proc.stderr}"
        else:
            compile("\n" * (block.line - 1) + block.code, block.where, "exec")


def test_tiny_rewrites_only_fidelity():
    b = Block("README.md", 1, "bash", "mgsearch train resnet20 --dataset fashion-mnist --epochs 1 --train-fraction 0.2  # x\n")
    assert tiny(b) == ("mgsearch train resnet20 --dataset fashion-mnist --epochs 1 --train-fraction 0.01"
                       " --val-fraction 0.01 --no-test  # x\n")
    assert tiny(Block("a", 1, "bash", "mgsearch search s.toml --n-trials 40 --json\n")) == \
        "mgsearch search s.toml --n-trials 3 --json\n"
    assert tiny(Block("a", 1, "bash", "mgsearch confirm s.toml --top 3 --seeds 3  # x\n")) == \
        "mgsearch confirm s.toml --top 1 --seeds 1  # x\n"
    assert tiny(Block("a", 1, "bash", "mgsearch calibrate s.toml --n 12\n")) == "mgsearch calibrate s.toml --n 3\n"


def test_a_failing_block_names_its_docs_line(tmp_path):
    err = run_block(Block("docs/x.md", 10, "bash", "true\nfalse\ntrue\n"), tmp_path)
    assert err and err.startswith("docs/x.md:11:")
    err = run_block(Block("docs/x.md", 20, "python", "x = 1\nraise ValueError('boom')\n"), tmp_path)
    assert err and err.startswith("docs/x.md:20:") and 'File "docs/x.md", line 21' in err and "boom" in err


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> tuple[Path, list[str]]:
    """A workspace after README.md's blocks ran in it, and their failures."""
    if not FASHION_MNIST.is_dir():
        pytest.skip("the Debian package dataset-fashion-mnist is not installed")
    ws = make_workspace(tmp_path_factory.mktemp("readme") / "repo")
    return ws, run_blocks(extract(REPO / "README.md"), ws)


def test_readme_quick_start(quickstart):
    ws, failures = quickstart
    assert not failures, "\n".join(failures)
    assert (ws / "found" / "arch.json").is_file() and (ws / "quickstart.html").is_file()


def test_model_card_snippets(quickstart):
    """The README export's card: its own snippets run, written for a folder without weights; class
    names from the dataset."""
    ws, failures = quickstart
    if not (ws / "found" / "MODEL_CARD.md").is_file():
        pytest.fail("the quick start wrote no found/MODEL_CARD.md:\n" + "\n".join(failures))
    card = (ws / "found" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "| classes (logit order) | T-shirt/top, Trouser, Pullover" in card
    assert 'mgsearch.load("found", weights=False)' in card and not (ws / "found" / "weights.safetensors").exists()
    blocks = extract(ws / "found" / "MODEL_CARD.md", "found/MODEL_CARD.md")
    assert len(blocks) >= 2
    errors = run_blocks(blocks, ws)
    assert not errors, "\n".join(errors)


@pytest.mark.slow
def test_trained_model_card_snippets(quickstart, tmp_path):
    """A folder with weights: its card's snippets load them (a built network stands in for a trained one)."""
    import mgsearch
    from mgsearch.export import export_model

    ws, _ = quickstart
    spec = mgsearch.ArchSpec.from_json((ws / "found" / "arch.json").read_text(encoding="utf-8"))
    export_model(spec, tmp_path / "trained", model=mgsearch.build(spec), info={"classes": list("abcdefghij")})
    trained = extract(tmp_path / "trained" / "MODEL_CARD.md", "trained/MODEL_CARD.md")
    assert any('mgsearch.load("trained")' in b.code and "weights=False" not in b.code for b in trained)
    errors = run_blocks(trained, tmp_path)
    assert not errors, "\n".join(errors)


# ------------------------------------------------------------------------------------------ tests (slow)
@pytest.mark.slow
@pytest.mark.parametrize("doc", [d for d in DOCS if d.name != "README.md"], ids=lambda d: d.name)
def test_docs_blocks(doc, quickstart, tmp_path):
    """Every block of one docs page, in order, in a copy of the workspace after the quick start
    (its study database and report; no found/, which the pages export themselves)."""
    ws, failures = quickstart
    assert not failures, "the README quick start failed first:\n" + "\n".join(failures)
    copy = tmp_path / "repo"
    shutil.copytree(ws, copy, ignore=shutil.ignore_patterns("found"))
    errors = run_blocks(extract(doc), copy)
    assert not errors, "\n".join(errors)
