"""Exception types of mgsearch.

Every error a user can cause (a bad file, key, value, budget, dataset or database) is a subclass of
:class:`MgsearchError`. The CLI prints such errors as one line on stderr and exits non-zero; any other
exception is a bug and shows a traceback.
"""

from __future__ import annotations


class MgsearchError(Exception):
    """Base class of user-facing errors: the message is one line that names what and where."""

    exit_code: int = 2


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
