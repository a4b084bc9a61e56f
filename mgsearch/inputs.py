"""Reading the files a user names (study, search-space and spec files) as hostile input.

Every such file goes through :func:`read_input_file`, which never blocks and never reads without
bound: the path must be a regular file (a symlink is followed; a folder, FIFO, device or socket is one
clear error, and a FIFO or device is never opened), at most :data:`MAX_FILE_BYTES` long, and UTF-8
text. :func:`parse_toml` and :func:`check_nesting` turn nesting deeper than Python's recursion limit
(or than any real file needs) into one line instead of a RecursionError traceback.

This module imports nothing heavy (no torch, no optuna).
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Mapping

from mgsearch.errors import ConfigError, MgsearchError, clip

__all__ = [
    "MAX_FILE_BYTES", "MAX_NESTING", "input_file_problem", "check_input_file", "read_input_file", "parse_toml",
    "check_nesting",
]

#: the largest study, search-space or spec file read (16 MiB; real ones are a few KB)
MAX_FILE_BYTES = 16 * 2**20
#: the deepest nesting of tables / lists / objects accepted in those files (real ones need 5)
MAX_NESTING = 32


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _stat_problem(st: os.stat_result, expected: str) -> str | None:
    if stat.S_ISDIR(st.st_mode):
        return f"is a folder, expected {expected}"
    if not stat.S_ISREG(st.st_mode):
        return f"is not a regular file ({_kind(st.st_mode)}), expected {expected}"
    if st.st_size > MAX_FILE_BYTES:
        return f"is {st.st_size / 2**20:.0f} MB, more than the {MAX_FILE_BYTES // 2**20} MB limit for {expected}"
    return None


def input_file_problem(path: str | Path, *, missing: str, expected: str) -> str | None:
    """What is wrong with ``path`` as an input file, or None when it is an existing regular file of at
    most :data:`MAX_FILE_BYTES` (``"is a folder, expected a .toml file"``; ``missing`` for a path
    that does not exist). Only ``stat`` is called: nothing is opened."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return missing
    except (OSError, ValueError) as exc:
        return f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    return _stat_problem(st, expected)


def check_input_file(path: str | Path, *, missing: str, expected: str,
                     error: type[MgsearchError] = ConfigError) -> None:
    """Raise ``error`` (``"PATH: problem"``) when :func:`input_file_problem` finds one."""
    problem = input_file_problem(path, missing=missing, expected=expected)
    if problem:
        raise error(f"{clip(str(path))}: {problem}")


def read_input_file(path: str | Path, *, missing: str, expected: str,
                    error: type[MgsearchError] = ConfigError) -> str:
    """The UTF-8 text of ``path``, read with the checks of :func:`check_input_file`.

    The file is opened non-blocking and checked again on the open descriptor (so a file swapped for
    a FIFO after the first check cannot block), and at most :data:`MAX_FILE_BYTES` + 1 bytes are read.
    """
    name = clip(str(path))
    check_input_file(path, missing=missing, expected=expected, error=error)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise error(f"{name}: {missing}") from None
    except OSError as exc:
        raise error(f"{name}: cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        problem = _stat_problem(os.fstat(f.fileno()), expected)
        if problem:
            raise error(f"{name}: {problem}")
        try:
            data = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise error(f"{name}: cannot be read ({exc.strerror})") from None
    if len(data) > MAX_FILE_BYTES:
        raise error(f"{name}: is more than the {MAX_FILE_BYTES // 2**20} MB limit for {expected}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{name}: is not UTF-8 text, expected {expected}") from None


def parse_toml(text: str, source: str, *, error: type[MgsearchError] = ConfigError) -> dict[str, Any]:
    """Parse TOML ``text`` of the file ``source``; a syntax error or nesting deeper than
    :data:`MAX_NESTING` is one line naming the file."""
    name = clip(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{name}: invalid TOML: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    except (RecursionError, MemoryError):
        raise error(f"{name}: is nested too deeply to parse (at most {MAX_NESTING} levels of tables and lists)") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise error(f"{name}: cannot be parsed: {clip(exc, 120)}") from None
    check_nesting(data, name, error=error)
    return data


def check_nesting(data: Any, source: str, *, limit: int = MAX_NESTING, what: str = "tables and lists",
                  error: type[MgsearchError] = ConfigError) -> None:
    """Raise ``error`` when ``data`` (dicts and lists) nests deeper than ``limit`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Mapping):
            children: Any = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth > limit:
            raise error(f"{clip(source)}: is nested {limit + 1} or more levels deep; at most {limit} levels of "
                        f"{what} are allowed")
        stack.extend((child, depth + 1) for child in children)
