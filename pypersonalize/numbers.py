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
