"""May a command write this output path? And writing it atomically.

Every ``--out`` is treated as hostile. The rules (docs/results.md, "Output paths"):

- a symbolic link (dangling or not), a FIFO, a device or a socket is never written to or replaced;
- an SQLite database (16-byte header ``SQLite format 3\\0``, or a WAL file) and the study's own
  files (study file, space file, database and its ``-wal``/``-shm``/``-journal``) are never
  overwritten, not even with ``--force``; a folder holding one of them is never replaced;
- an existing file that is not the command's own earlier output needs ``--force``;
- ``--force`` on a folder replaces only an earlier export folder: nothing in it but files an
  export writes, at least one of them present.

:func:`write_text_atomic` writes through a temporary file in the same folder and ``os.replace``,
so a failure (disk full, Ctrl-C, SIGTERM inside :func:`sigterm_as_interrupt`) leaves the old file
or nothing, never half a file. Errors are one-line :class:`OutputError` s naming the path.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator

from mgsearch.errors import MAX_VALUE_CHARS, ExportError, clip

__all__ = [
    "OutputError", "SQLITE_MAGIC", "check_out_file", "check_out_folder", "is_sqlite", "show",
    "sigterm_as_interrupt", "study_inputs", "write_text_atomic",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
_WAL_MAGIC = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")


class OutputError(ExportError):
    """An output path the command may not write (or could not write); nothing was written."""


def show(path: str | Path, limit: int = MAX_VALUE_CHARS) -> str:
    """``path`` as text for an error line, cut like every echoed value (:func:`mgsearch.errors.clip`)."""
    return clip(path, limit)


def is_sqlite(path: str | Path) -> bool:
    """Whether ``path`` is a regular file that starts like an SQLite database or its WAL file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return head == SQLITE_MAGIC or head[:4] in _WAL_MAGIC


def study_inputs(study: str | Path | None, storage: str | None = None) -> list[Path]:
    """The files a command reading ``study`` (a study file, SQLite file or storage URL) must never
    overwrite: the study file, its space file, the SQLite database and its side files (absolute
    paths). A study file that cannot be read adds only itself (the command reports it later)."""
    if study is None:
        return []
    out: list[Path] = []
    url = storage
    text = str(study)
    if "://" in text:
        url = url or text
    elif text.endswith(".toml"):
        out.append(Path(text).absolute())
        try:
            from mgsearch.study import load_study_config

            cfg = load_study_config(text, {"storage": storage} if storage else None)
            out.append(Path(cfg.space_path).absolute())
            url = cfg.storage
        except Exception:  # noqa: BLE001  the command itself reports a bad study file
            pass
    elif not url:
        url = f"sqlite:///{Path(text).absolute()}"
    if url and url.startswith("sqlite") and ":///" in url:
        db = url.split(":///", 1)[1].split("?", 1)[0]
        if db and db != ":memory:":
            db_path = Path(db).absolute()
            out += [db_path] + [db_path.with_name(db_path.name + s) for s in ("-wal", "-shm", "-journal")]
    return out


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _inside(child: Path, folder: Path) -> bool:
    try:
        Path(os.path.realpath(child)).relative_to(os.path.realpath(folder))
        return True
    except ValueError:
        return False


def _check_not_special(out: Path) -> os.stat_result | None:
    """The lstat of ``out`` (None when absent); links, FIFOs, devices and sockets are refused."""
    try:
        st = out.lstat()
    except (FileNotFoundError, NotADirectoryError):  # absent (the parent is checked by the caller)
        return None
    except OSError as exc:
        raise OutputError(f"{show(out)}: cannot be checked ({exc.strerror or type(exc).__name__})") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(f"{show(out)}: is a symbolic link; give the real path (a link is never written "
                          "through or replaced)")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise OutputError(f"{show(out)}: is not a regular file or folder (a FIFO, device or socket); "
                          "choose another --out")
    return st


def _check_parent(out: Path) -> None:
    parent = out.parent
    if not parent.exists():
        raise OutputError(f"{show(out)}: the folder {show(parent)} does not exist")
    if not parent.is_dir():
        raise OutputError(f"{show(out)}: {show(parent)} is not a folder")


def check_out_file(
    out: str | Path,
    *,
    force: bool,
    is_own: Callable[[Path], bool],
    protected: Iterable[Path] = (),
    what: str = "this command",
) -> Path:
    """Raise :class:`OutputError` unless the file ``out`` may be (over)written; returns ``out``.

    ``is_own(path)`` says whether an existing regular file is the command's own earlier output
    (replaced without ``--force``); ``protected`` lists files never replaced (:func:`study_inputs`);
    ``what`` names the command in the message.
    """
    out = Path(out)
    st = _check_not_special(out)
    for p in protected:
        if _same(out, p):
            raise OutputError(f"{show(out)}: is the study's own file {show(p)}; it is never overwritten, "
                              "choose another --out")
    if st is None:
        _check_parent(out)
        return out
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{show(out)}: is a folder; give a file name (inside it, for instance)")
    if is_sqlite(out):
        raise OutputError(f"{show(out)}: is an SQLite database; it is never overwritten, not even with --force")
    if not force and not is_own(out):
        raise OutputError(f"{show(out)}: already exists and was not written by {what}; pass --force to replace it")
    return out


EXPORT_MARKERS = frozenset({"arch.json", "export.json", "MODEL_CARD.md"})


def check_out_folder(
    out: str | Path,
    *,
    force: bool,
    own_names: Iterable[str],
    protected: Iterable[Path] = (),
    markers: Iterable[str] = EXPORT_MARKERS,
) -> Path:
    """Raise :class:`OutputError` unless the folder ``out`` may be created or replaced.

    An existing ``out`` needs ``force``, and is replaced only when it is an earlier export folder:
    a real folder whose entries are all regular files named in ``own_names``, at least one of
    ``markers`` among them, none an SQLite file; never the current folder or a folder holding a
    ``protected`` file. Returns ``out``.
    """
    out = Path(out)
    for p in [*protected, Path.cwd()]:
        if _same(out, p) or _inside(p, out):
            kind = "the current folder" if p == Path.cwd() else f"the study's own file {show(p)}"
            raise OutputError(f"{show(out)}: is or holds {kind}; choose another --out")
    st = _check_not_special(out)
    if st is None:
        return out
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{show(out)}: exists and is not a folder; choose another --out")
    if not force:
        raise OutputError(f"{show(out)}: already exists; pass --force to replace it")
    own = set(own_names)
    try:
        entries = list(os.scandir(out))
    except OSError as exc:
        raise OutputError(f"{show(out)}: cannot be listed ({exc.strerror or type(exc).__name__})") from None
    for e in entries:
        if e.name not in own or not e.is_file(follow_symlinks=False) or is_sqlite(e.path):
            raise OutputError(f"{show(out)}: holds {show(e.name, 80)!r}, which no export writes; --force replaces "
                              "only an earlier export folder (remove it yourself if you mean it)")
    if entries and not any(e.name in set(markers) for e in entries):
        raise OutputError(f"{show(out)}: is not an earlier export folder (no {', '.join(sorted(markers))}); "
                          "--force replaces only an earlier export folder")
    return out


def write_text_atomic(path: str | Path, text: str, *, mode: int = 0o644) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same folder and
    ``os.replace``; on any failure the temporary file is removed and ``path`` is unchanged
    (an ``OSError`` such as disk full becomes a one-line :class:`OutputError`)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{show(path)}: cannot write here ({exc.strerror or type(exc).__name__})") from None
    try:
        data = memoryview(text.encode("utf-8"))
        try:
            while data:
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            why = exc.strerror or (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise OutputError(f"{show(path)}: cannot write ({why}); nothing was written") from None
        raise
    return path


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` (so cleanup runs as for Ctrl-C);
    the previous handler is restored after. A no-op outside the main thread (only it may set
    handlers) and where SIGTERM is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("terminated (SIGTERM)")

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
