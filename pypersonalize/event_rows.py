"""PutEvents/PutItems/PutUsers rows checked in Python by the rules an import applies, then
written by one INSERT (after a DELETE of the same ids, for Items and Users).

An import stages text, scans it with ``validate.sql`` and casts it with ``load.sql``: tens
of milliseconds, far too slow for the (at most 10) rows of one PutEvents/PutItems/PutUsers call. Here each
value is spelled as staging would spell it (``as_text``), checked by ``validate.sql``'s
rules, refused with the importer's own error (the first bad row wins, then the smallest
check name, as :func:`importer.validate` picks) and typed as ``load.sql`` casts it.

Values are spelled one by one, as a DataFrame column holding only values of that kind is
staged. DuckDB's DataFrame scan spelled a column mixing kinds its own way (2.0 as "2.0",
True as "True", a list by its Python repr next to a string; ints past int64 next to a
float as doubles); values that are no string, number, boolean or list of strings are
refused here rather than stored as their repr.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .errors import DataImportError, InvalidInput, quote_value
from .importer import _MESSAGES, ID_MAX, PIPE_FREE, TEXT_MAX, TEXTUAL_MAX, TIMESTAMP_FIELDS, check_columns
from .schemas import Field, Schema
from .sqlkit import quote_ident

SOURCE = "DataFrame"     # what the importer path called these rows in its messages
ID_FIELDS = ("USER_ID", "ITEM_ID")
ID_MAPS = (("USER_ID", "user_ids"), ("ITEM_ID", "item_ids"))
# The patterns of validate.sql, read by RE2 there: [0-9] is ASCII digits in both.
_INT = re.compile(r"[+-]?[0-9]{1,18}")
_NUM = re.compile(r"[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PIPE_CONTROL = re.compile(r"[\x00-\x1f\x7f|]")
# DuckDB's trim() strips the Unicode space separators (Zs), not tabs or line breaks.
_SPACES = "".join(map(chr, (0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)))
INT_MAX = 2147483647     # validate.sql compares abs(), so -2^31 is refused too
FLOAT_MAX = 3.4028234e38
MS_FROM = 100_000_000_000
# importer.validate's reason for a staged "listpipe" issue
LIST_PIPE = ("an element of this list contains '|', which separates the values of a "
             "multi-value field: it would be split into two values")


@dataclass(frozen=True)
class Checked:
    """Rows ready for :func:`insert_sql`: one tuple per row, values in ``columns`` order."""

    columns: tuple[str, ...]
    rows: list[tuple]

    def params(self) -> list:
        return [v for row in self.rows for v in row]


def _spell(value, f: Field, row: int) -> tuple[str | None, bool]:
    """A value as stage_relation.sql writes it, and whether it is a list with a '|' element."""
    if value is None or value is pd.NA:
        return None, False
    if isinstance(value, str):
        return value, False
    if isinstance(value, (bool, np.bool_)):
        return ("true" if value else "false"), False
    if isinstance(value, numbers.Integral):
        return str(int(value)), False
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isnan(x):        # pandas' missing value: DuckDB reads a NaN as NULL
            return None, False
        if math.isinf(x):
            return ("inf" if x > 0 else "-inf"), False
        # as_text: whole numbers below 1e15 without ".0"; DuckDB spells the rest as repr
        return (str(int(x)) if x == math.trunc(x) and abs(x) < 1e15 else repr(x)), False
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, str) for v in value):
        items = [v for v in value if v is not None]        # array_to_string skips NULLs
        return "|".join(items), any("|" in v for v in items)
    raise DataImportError(f"a {type(value).__name__} value cannot be stored; expected a string, "
                          "a number, true/false or a list of strings",
                          source=SOURCE, row=row, column=f.name)


def _hits(f: Field, i: int, text: str | None) -> list[str]:
    """The validate.sql checks ("<field index>:<rule>") this staged value breaks."""
    hits = []
    present = text is not None and text != ""
    if not f.nullable and not present:
        hits.append("null")
    if f.type == "string":
        if text is not None:
            limit = ID_MAX if f.name in ID_FIELDS else None if f.textual else TEXT_MAX
            if limit is not None and len(text) > limit:
                hits.append("idlen" if f.name in ID_FIELDS else "len")
            pattern = _PIPE_CONTROL if f.name in PIPE_FREE else _CONTROL if f.is_list else None
            if pattern is not None and pattern.search(text):
                hits.append("chars")
    elif present and f.type in ("int", "long"):
        s = text.strip(_SPACES)
        if not _INT.fullmatch(s):
            hits.append("int")       # sorts before the checks below, which would also fire
        else:
            n = int(s)
            if f.type == "int" and abs(n) > INT_MAX:
                hits.append("range")
            if f.name in TIMESTAMP_FIELDS and (n >= MS_FROM or n < 0):
                hits.append("ms" if n >= MS_FROM else "neg")
    elif present and f.type in ("float", "double"):
        s = text.strip(_SPACES)
        if not _NUM.fullmatch(s) or not math.isfinite(float(s)):
            hits.append("num")
        else:
            x = float(s)
            if f.type == "float" and abs(x) > FLOAT_MAX:
                hits.append("range")
            # an Items schema may type CREATION_TIMESTAMP float/double (the ECOMMERCE page does)
            if f.name in TIMESTAMP_FIELDS and (x >= MS_FROM or x < 0):
                hits.append("ms" if x >= MS_FROM else "neg")
    elif present and f.type == "boolean" and text not in ("true", "false"):
        hits.append("bool")
    return [f"{i}:{rule}" for rule in hits]


def _typed(f: Field, text: str | None):
    """load.sql's typed(): the staged text as the table column's value (a textual field cut
    after TEXTUAL_MAX characters, as Personalize truncates it)."""
    if f.type == "string":
        if not text:
            return None
        return text.split("|") if f.is_list else text[:TEXTUAL_MAX] if f.textual else text
    if f.type == "boolean":
        return {"true": True, "false": False}.get(text)
    s = text.strip(_SPACES) if text else ""
    if not s:
        return None
    return int(s) if f.type in ("int", "long") else float(s)


def check_rows(schema: Schema, rows: pd.DataFrame | Sequence[Mapping]) -> Checked:
    """Validate rows of a schema's fields (Interactions, Items or Users) as an import would and type them.

    ``rows`` is a DataFrame, or dicts (a missing key is an absent value). Raises
    :class:`DataImportError` with the importer's message for the first bad row. The one
    rule of validate.sql's scan not applied here is an import's "each id once"
    (duplicate_ids.sql): a PutItems/PutUsers call lets a repeated id's last record win.
    """
    if isinstance(rows, pd.DataFrame):
        check_columns([str(n) for n in rows.columns], schema, SOURCE, header_row=None)
        records = rows.to_dict("records")
    elif isinstance(rows, Sequence) and all(isinstance(r, Mapping) for r in rows):
        records = list(rows)
        keys = dict.fromkeys([*schema.names, *(str(k) for r in records for k in r)])
        check_columns(list(keys), schema, SOURCE, header_row=None)
    else:
        raise InvalidInput("rows must be a DataFrame or a list of dicts")
    if not records:
        raise DataImportError("no data rows: the source holds a header only", source=SOURCE)
    fields = schema.fields
    # Staging spells every row before validation looks at any, so its errors come first.
    staged = [[_spell(r.get(f.name), f, n) for f in fields] for n, r in enumerate(records, 1)]
    for n, values in enumerate(staged, 1):
        piped = next((i for i, (_, pipe) in enumerate(values) if pipe), None)
        if piped is not None:        # validate.sql's "row:issue" wins within its row
            raise DataImportError(LIST_PIPE, source=SOURCE, row=n, column=fields[piped].name)
        hits = [h for i, (f, (text, _)) in enumerate(zip(fields, values)) for h in _hits(f, i, text)]
        if hits:
            where, rule = min(hits).split(":")     # importer.validate sorts the names as text
            raise DataImportError(_reason(rule, fields[int(where)], values[int(where)][0]),
                                  source=SOURCE, row=n, column=fields[int(where)].name)
    return Checked(tuple(schema.names),
                   [tuple(_typed(f, text) for f, (text, _) in zip(fields, values)) for values in staged])


def _reason(rule: str, f: Field, value: str | None) -> str:
    control = _CONTROL.search(value) if value else None
    if rule == "chars":
        rule = "ctrl" if control else "pipe"
    return _MESSAGES[rule].format(value=quote_value(value), type=f.type,
                                  length=len(value) if value else 0,
                                  char=repr(control.group()) if control else "",
                                  position=control.start() + 1 if control else 0)


@lru_cache(maxsize=256)
def insert_sql(schema_name: str, schema: Schema, rows: int = 1, table: str = "interactions") -> str:
    """``INSERT INTO "<group>"."<table>" (<fields>) VALUES ($1, ...)`` for ``rows`` rows.

    ``table`` is the dataset table of ``schema``'s type (``datasets.TABLE_OF``)."""
    width = len(schema.fields)
    values = ", ".join("(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")"
                       for r in range(rows))
    return (f"INSERT INTO {quote_ident(schema_name)}.{quote_ident(table)} "
            f"({', '.join(quote_ident(n) for n in schema.names)}) VALUES {values}")


@lru_cache(maxsize=256)
def delete_ids_sql(schema_name: str, table: str, id_field: str) -> str:
    """Delete the rows whose ``id_field`` is one of the ids bound as $1 (load.sql's INCREMENTAL replace)."""
    return (f"DELETE FROM {quote_ident(schema_name)}.{quote_ident(table)} "
            f"WHERE {quote_ident(id_field)} IN (SELECT unnest($1::VARCHAR[]))")


@lru_cache(maxsize=256)
def id_lookup_sql(schema_name: str) -> str:
    """Of the ids bound as $1 (users) and $2 (items), those the id maps hold, and each map's max idx.

    One statement for both maps: id_map_update.sql's anti-join scans the whole map twice.
    """
    parts = []
    for n, (_, table) in enumerate(ID_MAPS, 1):
        t = f"{quote_ident(schema_name)}.{quote_ident(table)}"
        parts += [f"(SELECT list(id) FROM {t} WHERE list_contains(${n}::VARCHAR[], id))",
                  f"(SELECT coalesce(max(idx), -1) FROM {t})"]
    return "SELECT " + ", ".join(parts)


@lru_cache(maxsize=256)
def id_insert_sql(schema_name: str, map_table: str) -> str:
    """New ids ($1) numbered from $2 + 1 in sorted order, as id_map_update.sql numbers them."""
    return (f"INSERT INTO {quote_ident(schema_name)}.{quote_ident(map_table)} "
            "SELECT id, $2 + row_number() OVER (ORDER BY id) FROM (SELECT unnest($1::VARCHAR[]) AS id)")


def write(con, schema_name: str, schema: Schema, checked: Checked, id_maps: bool = True,
          table: str = "interactions") -> None:
    """Insert checked rows into ``"<group>"."<table>"`` and extend the id maps, as an INCREMENTAL
    load() does: Interactions rows are appended; an Items or Users row first replaces the row of
    its id (so ``checked`` must hold each id once). Training joins rows through the id maps;
    ``id_maps=False`` leaves them to the caller (e.g. before training). The caller holds the
    transaction."""
    if schema.id_field is not None:
        ids = [row[checked.columns.index(schema.id_field)] for row in checked.rows]
        if len(set(ids)) != len(ids):
            raise InvalidInput(f"write: each {schema.id_field} may occur once among the rows")
        con.execute(delete_ids_sql(schema_name, table, schema.id_field), [ids])
    con.execute(insert_sql(schema_name, schema, len(checked.rows), table), checked.params())
    if id_maps:
        users, items = ({row[checked.columns.index(name)] for row in checked.rows}
                        if name in checked.columns else set() for name, _ in ID_MAPS)
        ensure_ids(con, schema_name, users, items)


def ensure_ids(con, schema_name: str, users, items) -> None:
    """Add the user and item ids the group's id maps lack, numbered as id_map_update.sql numbers them."""
    ids = [sorted(set(users) - {None}), sorted(set(items) - {None})]
    known_users, max_user, known_items, max_item = con.execute(id_lookup_sql(schema_name), ids).fetchall()[0]
    for (_, table), wanted, known, top in zip(ID_MAPS, ids, (known_users, known_items), (max_user, max_item)):
        fresh = sorted(set(wanted) - set(known or ()))
        if fresh:
            con.execute(id_insert_sql(schema_name, table), [fresh, top])


__all__ = ["Checked", "check_rows", "delete_ids_sql", "ensure_ids", "id_insert_sql", "id_lookup_sql",
           "insert_sql", "write"]
