"""Bulk imports into a dataset table: any source, validated whole, loaded in one step.

Every source (CSV files, Parquet, JSON lines, a DataFrame, a table or a query) is first
staged as text columns, spelled as Personalize's CSV would spell it; one SQL scan then
finds the first row that breaks a rule, and only a clean stage is loaded. The caller runs
all of it inside one transaction, so a rejected job leaves the dataset untouched.
"""

from __future__ import annotations

import csv
import glob
import gzip
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from .errors import DataImportError
from .schemas import Schema
from .sqlkit import one, quote_ident, render, statements

ID_MAX = 256          # USER_ID / ITEM_ID length limit
TEXT_MAX = 1000       # categorical, impression and plain string values
TEXTUAL_MAX = 20000   # textual fields are truncated past this, as Personalize does
TIMESTAMP_FIELDS = ("TIMESTAMP", "CREATION_TIMESTAMP")
PIPE_FREE = ("USER_ID", "ITEM_ID", "EVENT_TYPE", "RECOMMENDATION_ID")

_FORMATS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
            ".json": "json", ".jsonl": "json", ".ndjson": "json"}
_SQL_START = re.compile(r"^\s*(select|with|from|values|\(|table\s)", re.IGNORECASE)
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]*(\.[A-Za-z_][A-Za-z0-9_$-]*){0,2}$")

_MESSAGES = {
    "null": "empty value, but the field is not nullable (a type like [\"null\", \"{type}\"] allows it)",
    "idlen": "value is {length} characters long; ids may have at most " + str(ID_MAX),
    "len": "value is {length} characters long; at most " + str(TEXT_MAX) + " are allowed",
    "pipe": "value {value!r} contains '|', which separates multiple values and is allowed "
            "only in categorical fields",
    "int": "expected an integer (Avro {type}), got {value!r}",
    "range": "value {value} is out of range for Avro {type}",
    "ms": "timestamp {value} looks like milliseconds; Personalize expects Unix epoch "
          "seconds (e.g. 1596238243)",
    "neg": "timestamp {value} is negative; expected Unix epoch seconds",
    "num": "expected a number (Avro {type}), got {value!r}",
    "bool": "expected lower-case true or false (Avro boolean), got {value!r}",
}


@dataclass
class Part:
    """One piece of a data source: a file, a DataFrame or a query."""

    kind: str                 # csv | parquet | json | frame | sql
    label: str                # what error messages call it
    path: str | None = None
    obj: Any = None           # the DataFrame, or the SQL text


@dataclass
class Staged:
    parts: list[Part]
    starts: list[int] = field(default_factory=list)   # first rowid of each part
    rows: int = 0


def describe_source(data_source: Any) -> str:
    """A short text for the job record: the path, 'DataFrame' or the query."""
    if isinstance(data_source, dict):
        data_source = data_source.get("dataLocation")
    if isinstance(data_source, (str, Path)):
        return str(data_source)
    return type(data_source).__name__


def resolve_source(data_source: Any, data_format: str | None = None) -> list[Part]:
    """Turn ``data_source`` into parts: a path, glob or folder, a DataFrame, or SQL."""
    if isinstance(data_source, dict):
        if "dataLocation" not in data_source:
            raise DataImportError('a data_source dict needs a "dataLocation" key')
        data_source = data_source["dataLocation"]
    fmt = data_format.lower() if data_format else None
    if fmt is not None and fmt not in ("csv", "parquet", "json"):
        raise DataImportError(f"unknown data_format {data_format!r}; expected csv, parquet or json")
    if hasattr(data_source, "__dataframe__") or type(data_source).__name__ in ("DataFrame", "Table"):
        return [Part("frame", "DataFrame", obj=data_source)]
    if isinstance(data_source, Path):
        data_source = str(data_source)
    if not isinstance(data_source, str) or not data_source.strip():
        raise DataImportError(f"data_source must be a path, glob, DataFrame or SQL, "
                              f"not {type(data_source).__name__}")
    text = data_source.strip()
    if text.lower().startswith("s3://"):
        raise DataImportError(f"{text}: S3 locations are not read directly; copy the files "
                              "to a local folder first")
    if _SQL_START.match(text):
        return [Part("sql", "query", obj=text)]
    if os.path.isdir(text):
        files = sorted(p for p in glob.glob(os.path.join(text, "*"))
                       if _format_of(p, fmt) == (fmt or "csv"))
        if not files:
            raise DataImportError(f"{text}: folder holds no {(fmt or 'csv').upper()} files")
    elif any(ch in text for ch in "*?["):
        files = sorted(glob.glob(text))
        if not files:
            raise DataImportError(f"{text}: no file matches this pattern")
    elif os.path.isfile(text):
        files = [text]
    elif _TABLE_NAME.match(text):
        return [Part("sql", text, obj=text)]
    else:
        raise DataImportError(f"{text}: no such file, folder or table")
    parts = []
    for path in files:
        kind = _format_of(path, fmt)
        if kind is None:
            raise DataImportError(f"{path}: cannot tell the format from the file name; pass "
                                  "data_format='csv', 'parquet' or 'json'")
        parts.append(Part(kind, path, path=path))
    return parts


def _format_of(path: str, forced: str | None) -> str | None:
    if forced:
        return forced
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return _FORMATS.get(os.path.splitext(name)[1])


def read_csv_header(path: str) -> list[str]:
    """The header row of a CSV file (UTF-8, an Excel BOM allowed, gzip by extension)."""
    opener = gzip.open if path.lower().endswith(".gz") else open
    # Only the first line is decoded, so a bad byte further down is reported at its own
    # line by DuckDB rather than blamed on the header.
    with opener(path, "rb") as fh:
        first = fh.readline()
    if not first.strip(b"\r\n"):
        reason = ("file is empty; expected a header row naming the schema's fields" if not first
                  else "the first line is blank; expected a header row naming the schema's fields")
        raise DataImportError(reason, source=path, row=1 if first else None)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataImportError("the header is not UTF-8 text; save the file as UTF-8",
                              source=path, row=1) from None
    try:
        return next(csv.reader([text.rstrip("\r\n")]))
    except csv.Error as exc:
        raise DataImportError(f"the header row is not valid CSV: {exc}", source=path, row=1) from None


def physical_line(path: str, record_line: int) -> int:
    """The file line where CSV record ``record_line`` starts (the header is record 1).

    Staged rows and DuckDB's parser count records, which differ from lines after a quoted
    value spanning lines or a blank line. Used on the error path only.
    """
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:
            reader = csv.reader(fh)
            seen = 0
            while True:
                start = reader.line_num + 1
                row = next(reader)
                if not row:           # a blank line: DuckDB skips it, it is not a record
                    continue
                seen += 1
                if seen == record_line:
                    return start
    except (StopIteration, csv.Error, OSError):
        return record_line


def check_columns(names: list[str], schema: Schema, label: str, header_row: int | None) -> None:
    """The source's columns must be exactly the schema's fields."""
    if not names or names == [""]:
        raise DataImportError("the header row is empty; expected the schema's field names",
                              source=label, row=header_row)
    if len(names) == 1 and len(schema.fields) > 1:
        for sep, sep_name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in names[0]:
                raise DataImportError(
                    f"the header has one column {names[0]!r}: the file looks {sep_name}-"
                    "separated, but Personalize CSV files must be comma-separated",
                    source=label, row=header_row)
    seen = set()
    for name in names:
        if name in seen:
            raise DataImportError(f"column {name!r} appears twice", source=label,
                                  row=header_row, column=name)
        seen.add(name)
    expected = schema.names
    for name in names:
        if name not in expected:
            hint = next((e for e in expected if e.lower() == name.strip().lower()), None)
            reason = (f"column {name!r} is not a field of the {schema.dataset_type} schema"
                      + (f" (did you mean {hint!r}? names are case-sensitive)" if hint else
                         f"; the schema's fields are {', '.join(expected)}"))
            raise DataImportError(reason, source=label, row=header_row, column=name)
    for name in expected:
        if name not in seen:
            raise DataImportError(f"column {name!r} of the {schema.dataset_type} schema is missing",
                                  source=label, row=header_row, column=name)


def stage(con: duckdb.DuckDBPyConnection, schema: Schema, parts: list[Part]) -> Staged:
    """Load every part into the ``pp_stage`` temp table as text, in source order."""
    con.execute(render("datasets/stage_create.sql", fields=schema.fields))
    staged = Staged(parts)
    for index, part in enumerate(parts):
        if part.kind == "csv":
            _stage_csv(con, schema, part, index)
        else:
            _stage_relation(con, schema, part, index)
        # Rows of a transaction get rowids far from 0; a part's first rowid anchors its
        # row numbers.
        staged.starts.append(one(con.execute("SELECT min(rowid) FROM pp_stage WHERE pp_src = $s",
                                             {"s": index}))[0])
    staged.rows = one(con.execute("SELECT count(*) FROM pp_stage"))[0]
    if staged.rows == 0:
        label = parts[0].label if len(parts) == 1 else f"{len(parts)} files"
        raise DataImportError("no data rows: the source holds a header only", source=label)
    return staged


def _stage_csv(con, schema: Schema, part: Part, index: int) -> None:
    header = read_csv_header(part.path)
    check_columns(header, schema, part.label, header_row=1)
    try:
        con.execute(render("datasets/stage_csv.sql", fields=schema.fields),
                    {"path": part.path, "columns": {n: "VARCHAR" for n in header}, "src": index})
    except duckdb.Error as exc:
        raise _csv_error(exc, part.path) from None


def _csv_error(exc: Exception, label: str) -> DataImportError:
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    cols = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if cols:
        reason = f"expected {cols.group(1)} comma-separated values, found {cols.group(2)}"
    elif "unterminated quote" in text:
        reason = "a value opens a quote that is never closed"
    elif "Invalid unicode" in text or "not utf-8" in text.lower():
        reason = "invalid UTF-8 bytes: the file is not UTF-8 encoded"
    elif "quote" in text.lower():
        reason = "a quoted value is malformed (a quote inside a value must be doubled: \"\")"
    else:
        body = [ln.strip() for ln in text.splitlines()[1:] if ln.strip()
                and not ln.strip().startswith(("Original Line", "Possible", "*", "file =",
                                               "delimiter", "quote", "escape", "new_line",
                                               "header", "skip", "comment", "strict",
                                               "date_format", "timestamp_format", "null_padding",
                                               "sample_size", "ignore_errors", "all_varchar"))]
        reason = body[0] if body else text.splitlines()[0]
    return DataImportError(reason, source=label,
                           row=physical_line(label, int(line.group(1))) if line else None)


def _stage_relation(con, schema: Schema, part: Part, index: int) -> None:
    params: dict[str, Any] = {}
    if part.kind == "parquet":
        relation, params = "read_parquet($path)", {"path": part.path}
    elif part.kind == "json":
        relation, params = "read_json($path, format = 'newline_delimited')", {"path": part.path}
    elif part.kind == "frame":
        con.register("pp_source_frame", part.obj)
        relation = "pp_source_frame"
    elif _TABLE_NAME.match(part.obj):
        relation = ".".join(quote_ident(p) for p in part.obj.split("."))
    else:
        relation = f"({part.obj}) AS pp_source_query"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {relation}", params).fetchall()
    except duckdb.Error as exc:
        raise DataImportError(f"cannot read the source: {_first_line(exc)}", source=part.label) from None
    names = [row[0] for row in described]
    check_columns(names, schema, part.label, header_row=None)
    columns = [{"name": row[0], "src_type": row[1]} for row in described]
    order = {n: i for i, n in enumerate(schema.names)}
    columns.sort(key=lambda c: order[c["name"]])
    try:
        con.execute(render("datasets/stage_relation.sql", relation=relation, columns=columns),
                    {**params, "src": index})
    except duckdb.Error as exc:
        raise DataImportError(f"cannot read the source: {_first_line(exc)}", source=part.label) from None
    finally:
        if part.kind == "frame":
            con.unregister("pp_source_frame")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def validate(con, schema: Schema, staged: Staged) -> None:
    """Raise :class:`DataImportError` for the first staged row that breaks a rule."""
    sql = render("datasets/validate.sql", fields=schema.fields,
                 id_fields=("USER_ID", "ITEM_ID"), pipe_free=PIPE_FREE,
                 timestamp_fields=TIMESTAMP_FIELDS, id_max=ID_MAX, text_max=TEXT_MAX)
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    values = one(cur)
    hits = [(rowid, name) for name, rowid in zip(names[1:], values[1:]) if rowid is not None]
    if hits:
        rowid, check = min(hits)
        index, rule = check.split(":")
        f = schema.fields[int(index)]
        src, value = one(con.execute(f"SELECT pp_src, {quote_ident(f.name)} FROM pp_stage "
                                     "WHERE rowid = $r", {"r": rowid}))
        reason = _MESSAGES[rule].format(value=value, type=f.type,
                                        length=len(value) if value else 0)
        raise _located(reason, staged, src, rowid, f.name)
    if schema.id_field:
        dup = one(con.execute(render("datasets/duplicate_ids.sql", id_field=schema.id_field)))
        if dup:
            first, second = (one(con.execute("SELECT pp_src FROM pp_stage WHERE rowid = $r",
                                             {"r": r}))[0] for r in (dup[1], dup[2]))
            where_first = _row_number(staged, first, dup[1])
            raise _located(f"{schema.id_field} {dup[0]!r} occurs again (first at "
                           f"{'line' if staged.parts[first].kind == 'csv' else 'row'} "
                           f"{where_first} of {staged.parts[first].label}); each id may appear "
                           "once per import", staged, second, dup[2], schema.id_field)


def _row_number(staged: Staged, src: int, rowid: int) -> int:
    part = staged.parts[src]
    if part.kind == "csv":      # the header is record 1
        return physical_line(part.path, rowid - staged.starts[src] + 2)
    return rowid - staged.starts[src] + 1


def _located(reason: str, staged: Staged, src: int, rowid: int, column: str) -> DataImportError:
    return DataImportError(reason, source=staged.parts[src].label,
                           row=_row_number(staged, src, rowid), column=column)


def load(con, schema: Schema, schema_name: str, table: str, mode: str) -> None:
    """Write the validated stage into the dataset table and extend the id maps."""
    sql = render("datasets/load.sql", schema_name=schema_name, table=table, fields=schema.fields,
                 mode=mode, id_field=schema.id_field, textual_max=TEXTUAL_MAX)
    for statement in statements(sql):
        con.execute(statement)
    for id_field, map_table in (("USER_ID", "user_ids"), ("ITEM_ID", "item_ids")):
        if schema.field(id_field) is not None:
            con.execute(render("datasets/id_map_update.sql", schema_name=schema_name,
                               map_table=map_table, id_field=id_field))


def drop_stage(con) -> None:
    con.execute("DROP TABLE IF EXISTS pp_stage")




