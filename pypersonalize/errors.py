"""The one exception hierarchy of pypersonalize.

Names follow the exceptions of Amazon Personalize's API (``ResourceNotFoundException``
becomes :class:`ResourceNotFound`) so that code written against boto3 maps over easily.
The CLI turns every :class:`PypersonalizeError` into a one-line message and exit code 1.
"""

from __future__ import annotations

import re

QUOTE_MAX = 60     # characters of an offending value an error message may quote
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


class PypersonalizeError(Exception):
    """Base class of every error this library raises on purpose."""


class InvalidInput(PypersonalizeError, ValueError):
    """A parameter, a name or a value is not acceptable."""


class ResourceNotFound(PypersonalizeError, LookupError):
    """No object of that kind has that name or ARN."""


class ResourceAlreadyExists(PypersonalizeError):
    """An object of that kind already has that name."""


class ResourceInUse(PypersonalizeError):
    """The object cannot be changed or deleted while other objects depend on it."""


class LimitExceeded(PypersonalizeError):
    """A documented Amazon Personalize limit would be exceeded."""


class SchemaError(InvalidInput):
    """A schema JSON breaks a rule; the message names the field and the rule."""


class DataImportError(InvalidInput):
    """Imported data was rejected; nothing was written.

    ``source`` is the file (or "DataFrame"/"query"), ``row`` the 1-based data row
    (for CSV files the line number, the header being line 1), ``column`` the field.
    Any of them may be ``None`` when the problem is not tied to one place.

    The message is what the job record keeps as ``failureReason``, so it never holds more
    of the data than one offending value, shortened by :func:`quote_value`.
    """

    def __init__(self, reason: str, *, source: str | None = None, row: int | None = None,
                 column: str | None = None, job_arn: str | None = None, unit: str | None = None):
        self.reason = reason
        self.source = source
        self.row = row
        self.column = column
        self.job_arn = job_arn
        # "line" for a file read as CSV, "row" otherwise; by default told by the extension
        self.unit = unit or ("line" if _is_csv(source) else "row")
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.row is not None:
            where.append(f"{self.unit} {self.row}")
        if self.column:
            # A column name that is not a plain field name came from the data itself.
            where.append(f"column {self.column}" if _PLAIN_NAME.fullmatch(self.column)
                         else f"column {quote_value(self.column)}")
        return (", ".join(where) + ": " if where else "") + self.reason


def quote_value(value: object, limit: int = QUOTE_MAX) -> str:
    """``repr`` of a value for an error message, cut after ``limit`` characters.

    >>> quote_value("x" * 100, 5)
    "'xxxxx…'"
    """
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    shown = repr(text[:limit])
    return shown[:-1] + "…" + shown[-1]


def _is_csv(source: str | None) -> bool:
    return bool(source) and any(source.lower().endswith(s) for s in (".csv", ".csv.gz", ".tsv"))
