"""Exception types of mgsearch.

Every error a user can cause (a bad file, key, value, budget, dataset or database) is a subclass of
:class:`MgsearchError`. The CLI prints such errors as one line on stderr and exits non-zero; any other
exception is a bug and shows a traceback.
"""

from __future__ import annotations

from typing import Any, Sequence, TypeVar

E = TypeVar("E", bound=BaseException)

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


# --------------------------------------------------------------------------- the one way to word a file error
#: marks "no value to show" in :func:`field_error`
NO_VALUE: Any = object()


def key_path(path: str, key: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """``path.key`` (``key`` alone at the top level), the key clipped: where a key of a file sits."""
    return f"{path}.{clip(key, limit)}" if path else clip(key, limit)


def field_error(kind: "type[E]", path: str, rule: str, *, value: Any = NO_VALUE, shown: str | None = None,
                source: Any = None) -> E:
    """The error of one field of a study, space or spec file, in the one shape all three validators use:
    ``<source>: <path>=<value> <rule>`` (``kind``: ConfigError, SpecError). ``source`` (the file, or
    where a command-line override came from) and the value are optional; the value is shown clipped
    (:func:`clip_repr`) unless the caller gives its own rendering as ``shown``."""
    text = path
    if shown is not None:
        text = f"{path}={shown}"
    elif value is not NO_VALUE:
        text = f"{path}={clip_repr(value)}"
    return kind(f"{source}: {text} {rule}" if source is not None else f"{text} {rule}")


def unknown_key_error(kind: "type[E]", path: str, key: Any, allowed: Sequence[str], *, value: Any = NO_VALUE,
                      shown: str | None = None, source: Any = None, limit: int = MAX_VALUE_CHARS) -> E:
    """``<source>: <path>.<key> is not a known key; allowed: a, b`` (see :func:`field_error`)."""
    return field_error(kind, key_path(path, key, limit), f"is not a known key; allowed: {', '.join(allowed)}",
                       value=value, shown=shown, source=source)


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
