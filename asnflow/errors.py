"""One exception hierarchy for everything asnflow refuses.

The CLI turns any :class:`AsnflowError` into a single line on stderr and exit
status 2; nothing below the CLI prints or exits.
"""

from __future__ import annotations


class AsnflowError(Exception):
    """Base of every error asnflow reports to a user.

    ``path``, ``line`` and ``column`` locate the problem when there is a
    place to point at; ``hint`` is an optional suggestion shown after the
    message.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        self.hint = hint

    @property
    def location(self) -> str:
        """``file:line:col`` with whatever parts are known."""
        parts = [p for p in (self.path, self.line, self.column) if p is not None]
        return ":".join(str(p) for p in parts)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def one_line(self) -> str:
        """The line the CLI prints: ``file:line:col: error: message (hint: ...)``."""
        head = self.location or "asnflow"
        text = f"{head}: error: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return " ".join(text.split("\n"))


class InputError(AsnflowError):
    """A file given to asnflow is missing, unreadable or malformed."""


class PoolError(InputError):
    """An association pool cannot be read."""


class OutputError(InputError):
    """An output path given to asnflow cannot be written (a folder in the way, a link, read-only, disk full...)."""


class RuleError(AsnflowError):
    """A rule file or rules.yaml is wrong."""


class AssociationFileError(InputError):
    """An association file (JSON/YAML) cannot be read or is invalid."""


class GraphError(AsnflowError):
    """The dependency graph cannot be built (cycles, two producers, missing inputs)."""


class DispatchError(AsnflowError):
    """Calibration dispatch cannot start."""


class CalibrationError(AsnflowError):
    """A calibration module failed on one node."""


class CarriedError:
    """An :class:`AsnflowError` raised in a worker process, carried back whole (place and hint included)."""

    def __init__(self, error: AsnflowError) -> None:
        self.kind = type(error)
        self.fields = dict(vars(error))

    def error(self) -> AsnflowError:
        """The error again, as raised in the worker."""
        error = self.kind.__new__(self.kind)
        Exception.__init__(error, self.fields.get("message", ""))
        vars(error).update(self.fields)
        return error
