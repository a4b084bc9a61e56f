"""Exception types of mgsearch.

Every error a user can cause (a bad file, key, value, budget, dataset or database) is a subclass of
:class:`MgsearchError`. The CLI prints such errors as one line on stderr and exits non-zero; any other
exception is a bug and shows a traceback.
"""

from __future__ import annotations

from typing import Any

#: the longest value echoed in an error message (:func:`clip`)
MAX_VALUE_CHARS = 200
#: the longest error message before its "…(N chars)" mark (a safety net behind :func:`clip`)
MAX_MESSAGE_CHARS = 960


def clip(text: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """``str(text)`` cut to ``limit`` characters, marked ``…(N chars)`` when cut: for echoing values
    from files or the command line (which may be megabytes long) in one-line messages."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…({len(text)} chars)"


def clip_repr(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """``repr(value)`` cut like :func:`clip` (a string is cut before ``repr``, so a huge value costs nothing)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}…({len(value)} chars)"
    try:
        return clip(repr(value), limit)
    except RecursionError:  # a value nested deeper than the recursion limit
        return f"<{type(value).__name__} nested too deeply to show>"


class MgsearchError(Exception):
    """Base class of user-facing errors: the message is one line that names what and where.

    A message is made one line (line breaks become spaces) and cut to :data:`MAX_MESSAGE_CHARS`,
    whatever its parts; builders should still :func:`clip` each echoed value so the end of the
    message (what is allowed, the fix) survives.
    """

    exit_code: int = 2

    def __init__(self, *args: Any) -> None:
        if args and isinstance(args[0], str):
            message = " ".join(args[0].splitlines()) if "\n" in args[0] or "\r" in args[0] else args[0]
            args = (clip(message, MAX_MESSAGE_CHARS), *args[1:])
        super().__init__(*args)


class SpecError(MgsearchError, ValueError):
    """An invalid architecture description; the message names the field path and the values."""


class ConfigError(MgsearchError, ValueError):
    """An invalid study or search-space file; the message names the file, key and value."""


class DataError(MgsearchError):
    """A dataset that is missing, corrupt or unknown; the message names the path and the fix."""


class StorageError(MgsearchError):
    """A study database that cannot be reached or used; credentials are never in the message."""


class ExportError(MgsearchError):
    """An export or load that cannot be done; nothing half-written is left behind."""


class BudgetError(MgsearchError, ValueError):
    """A budget no architecture of the structure can meet; the message names the minimum cost."""


class TrainingDiverged(MgsearchError, RuntimeError):
    """The training loss became non-finite; ``epoch`` says when."""

    def __init__(self, message: str, *, epoch: int) -> None:
        super().__init__(message)
        self.epoch = epoch
