"""Reading numbers that users give: every accepted number is finite.

NaN passes every range check (``nan < 0`` and ``nan > 1`` are both false) and ±inf
passes open ranges, so a NaN hyperparameter or threshold would train "successfully" into
all-NaN scores; each numeric setting is read through :func:`finite` instead.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import InvalidInput


def finite(value: Any, what: str) -> float:
    """``value`` (a number or its string form) as a finite float, else :class:`InvalidInput`.

    >>> finite("0.5", "explorationWeight")
    0.5
    """
    if isinstance(value, bool):
        raise InvalidInput(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{what} must be a finite number, got {value!r}")
    return number


def epoch_seconds(value: Any, what: str) -> int:
    """A timestamp as botocore reads one: a datetime (naive means UTC), epoch seconds, or a
    string of either (ISO 8601 or another date dateutil parses); whole epoch seconds out.

    >>> epoch_seconds("2024-01-01T00:00:00Z", "sentAt")
    1704067200
    """
    from datetime import datetime, timezone

    when = value
    if isinstance(value, str):
        try:
            when = float(value)
        except ValueError:
            from dateutil import parser
            try:
                when = parser.parse(value)
            except (ValueError, OverflowError, TypeError, AttributeError):
                raise InvalidInput(f"{what}: {value[:40]!r} is not a timestamp (epoch seconds or a date "
                                   "such as 2024-01-01T00:00:00Z)") from None
    if isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return int(when.timestamp())
    if isinstance(when, bool) or not isinstance(when, (int, float)):
        raise InvalidInput(f"{what} must be epoch seconds, a datetime or a date string, got {type(when).__name__}")
    if isinstance(when, float) and not math.isfinite(when):
        raise InvalidInput(f"{what} must be a finite number, got {when!r}")
    try:
        datetime.fromtimestamp(when, timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(f"{what} is out of range: {str(value)[:40]} is not a timestamp botocore "
                           "can send (epoch seconds within years 1..9999)") from None
    return int(when)
