"""``text()``: every id or name a request gives is read through it."""

from __future__ import annotations

from .errors import InvalidInput


def text(value, what: str, *, optional: bool = False, limit: int | None = None) -> str | None:
    """``value`` if it is a string DuckDB can store (valid Unicode), else InvalidInput.

    >>> text("m1", "itemId")
    'm1'
    """
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid Unicode (it holds a lone surrogate)") from None
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{what} must be a string of at most {limit} characters")
    return value
