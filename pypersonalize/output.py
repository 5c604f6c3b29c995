"""Formatting API results for the terminal: table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from datetime import date, datetime
from typing import Any

FORMATS = ("table", "json", "csv")
_CELL_MAX = 60


def _default(value: Any):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def flatten(record: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay whole."""
    out = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ", timespec="seconds") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=_default, ensure_ascii=False)
    return str(value)


def rows_of(result: Any) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of a result: a list of records, or one record as key/value pairs."""
    if isinstance(result, list):
        records = [flatten(r) if isinstance(r, dict) else {"value": r} for r in result]
        columns: list[str] = []
        for r in records:
            columns += [k for k in r if k not in columns]
        return columns, [[r.get(c) for c in columns] for r in records]
    if isinstance(result, dict):
        flat = flatten(result)
        return ["key", "value"], [[k, v] for k, v in flat.items()]
    return ["value"], [[result]]


def render(result: Any, fmt: str, columns: list[str] | None = None,
           rows: list[list[Any]] | None = None, *, wrap: bool = False) -> str:
    """``result`` (or ``columns`` and ``rows``) as text in ``fmt``.

    Table cells longer than 60 characters are cut with an ellipsis, or with ``wrap``
    folded onto further lines, for results whose long cells are the point (a recipe's
    hyperparameter descriptions).
    """
    if fmt == "json":
        if columns is not None:
            result = [dict(zip(columns, r)) for r in rows]
        return json.dumps(result, default=_default, indent=2, ensure_ascii=False)
    if columns is None:
        columns, rows = rows_of(result)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_text(v) for v in r] for r in rows])
        return buf.getvalue().rstrip("\n")
    cells = [[_wrapped(_text(v)) if wrap else [_short(_text(v))] for v in r] for r in rows]
    widths = [max([len(c)] + [len(line) for r in cells for line in r[i]]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()
    sep = "  ".join("-" * w for w in widths)
    body = []
    for r in cells:
        for k in range(max(len(c) for c in r)):
            body.append("  ".join((c[k] if k < len(c) else "").ljust(w) for c, w in zip(r, widths)).rstrip())
    return "\n".join([line, sep, *body]) if cells else "\n".join([line, sep, "(no rows)"])


def _short(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= _CELL_MAX else text[: _CELL_MAX - 1] + "…"


def _wrapped(text: str) -> list[str]:
    # Words longer than a line (an ARN, a path) are still broken, so the column keeps its width.
    return textwrap.wrap(text.replace("\n", " "), _CELL_MAX, break_on_hyphens=False) or [""]
