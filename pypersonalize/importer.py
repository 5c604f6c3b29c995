"""Bulk imports into a dataset table: any source, validated whole, loaded in one step.

Every source (CSV files, Parquet, JSON, a DataFrame, a table or a query) is first staged
as text columns, spelled as Personalize's CSV would spell it; one SQL scan then finds the
first row that breaks a rule, and only a clean stage is loaded. The caller runs all of it
inside one transaction, so a rejected job leaves the dataset untouched.

What a data source may be:

- A path names a regular file, a glob or a folder; a FIFO, a device or a socket is refused
  ("not a regular file"). A name that looks like a file (it ends in a data extension such
  as ``.csv`` or ``.gz``, or holds a path separator) is never read as a table name, so a
  missing ``interactions.csv`` is "no such file".
- A table or view name (``table``, ``schema.table``, ``db.schema.table``) must exist.
- A query is exactly one SELECT statement (the ``WITH``, ``FROM``-first, ``VALUES``,
  ``TABLE`` and parenthesized forms included), parsed by DuckDB before it runs. It may read
  anything the project's DuckDB can read -- its tables, attached databases, local files
  through ``read_csv``/``read_parquet``/``read_json`` -- since it runs with the caller's own
  rights, as ``pp.sql()`` does. It may not change anything: several statements, COPY,
  ATTACH, SET, PRAGMA, CALL, EXPLAIN, DDL and DML are refused, and so are the functions
  that change the database or the session from inside a SELECT (``enable_profiling``,
  which can write a file, ``enable_logging``, ``checkpoint``, ``nextval``...) and those
  that run SQL given as a string (``query``, ``json_execute_serialized_sql``), which would
  escape this check. Macros are not looked into: whoever can create one can run SQL anyway.

Errors are :class:`DataImportError`, naming the source, the row (for CSV files the
physical line) and the column. The message becomes the job's ``failureReason``, so it
quotes at most the one offending value, shortened by :func:`errors.quote_value`, and
never a line of the file: a first line that is not a CSV header is described, not
quoted, and DuckDB's own messages are reduced to their first line with quoted fragments
shortened. Every DuckDB error raised while staging, validating or loading becomes such a
DataImportError here.
"""

from __future__ import annotations

import csv
import glob
import gzip
import json
import mmap
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from .errors import DataImportError, quote_value
from .schemas import Schema
from .sqlkit import one, quote_ident, render, statements

ID_MAX = 256          # USER_ID / ITEM_ID length limit
TEXT_MAX = 1000       # categorical, impression and plain string values
TEXTUAL_MAX = 20000   # textual fields are truncated past this, as Personalize does
TIMESTAMP_FIELDS = ("TIMESTAMP", "CREATION_TIMESTAMP")
# Fields that hold one value: no '|'. They and every list field (categorical,
# multi-value) hold no control characters either.
PIPE_FREE = ("USER_ID", "ITEM_ID", "EVENT_TYPE", "RECOMMENDATION_ID")
# A header longer than this names no Personalize schema's fields.
HEADER_BYTES = 64 * 1024
# The CSV reader's null string: no file holds it as a whole value, so an empty value reads
# as '' and NULL is left to mean "the row ended early" (see stage_csv.sql).
MISSING = "\x00pp#missing\x00"
FRAME_VIEW = "pp#frame"

_FORMATS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
            ".json": "json", ".jsonl": "json", ".ndjson": "json"}
_FILE_LIKE = (*_FORMATS, ".tsv", ".gz", ".zip", ".bz2", ".xz", ".zst", ".xls", ".xlsx")
_SQL_START = re.compile(r"^\s*(select|with|from|values|\(|table\s)", re.IGNORECASE)
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]*(\.[A-Za-z_][A-Za-z0-9_$-]*){0,2}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")   # a tab is a separator hint
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_SINGLE_SELECT = "a query source must be exactly one SELECT statement"
# Functions a SELECT can call that change the database or the session (enable_profiling
# and enable_logging can also write files), and those that run SQL held in a string.
_CHANGES_STATE = frozenset({
    "checkpoint", "force_checkpoint", "enable_logging", "disable_logging",
    "truncate_duckdb_logs", "enable_profiling", "disable_profiling", "add_grammar_extension",
    "remove_grammar_extension", "create_external_resource", "register_external_resource",
    "register_external_resource_type", "deregister_external_resource",
    "destroy_external_resource", "nextval", "setval", "setseed", "write_log",
})
_RUNS_SQL = frozenset({"query", "json_execute_serialized_sql"})

_MESSAGES = {
    "null": "empty value, but the field is not nullable (a type like [\"null\", \"{type}\"] allows it)",
    "idlen": "value is {length} characters long; ids may have at most " + str(ID_MAX),
    "len": "value is {length} characters long; at most " + str(TEXT_MAX) + " are allowed",
    "pipe": "value {value} contains '|', which separates multiple values and is allowed "
            "only in categorical fields",
    "ctrl": "value {value} contains the control character {char} (at character {position}); "
            "ids, event types and categorical values cannot hold control characters",
    "int": "expected an integer (Avro {type}), got {value}",
    "range": "value {value} is out of range for Avro {type}",
    "ms": "timestamp {value} looks like milliseconds; Personalize expects Unix epoch "
          "seconds (e.g. 1596238243)",
    "neg": "timestamp {value} is negative; expected Unix epoch seconds",
    "num": "expected a finite number (Avro {type}), got {value}",
    "bool": "expected lower-case true or false (Avro boolean), got {value}",
}


@dataclass
class Part:
    """One piece of a data source: a file, a DataFrame, a table or a query."""

    kind: str                 # csv | parquet | json | frame | table | sql
    label: str                # what error messages call it
    path: str | None = None
    obj: Any = None           # the DataFrame, the table name or the SQL text


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
    """Turn ``data_source`` into parts: a path, glob or folder, a DataFrame, a table or SQL."""
    if isinstance(data_source, dict):
        if "dataLocation" not in data_source:
            raise DataImportError('a data_source dict needs a "dataLocation" key')
        data_source = data_source["dataLocation"]
    fmt = data_format.lower() if data_format else None
    if fmt is not None and fmt not in ("csv", "parquet", "json"):
        raise DataImportError(f"unknown data_format {data_format!r}; expected csv, parquet or json")
    if hasattr(data_source, "__dataframe__") or type(data_source).__name__ in ("DataFrame", "Table"):
        return [Part("frame", "DataFrame", obj=data_source)]
    path_only = isinstance(data_source, Path)      # a Path is a path, never SQL
    if path_only:
        data_source = str(data_source)
    if not isinstance(data_source, str) or not data_source.strip():
        raise DataImportError(f"data_source must be a path, glob, DataFrame or SQL, "
                              f"not {type(data_source).__name__}")
    text = data_source.strip()
    if text.lower().startswith("s3://"):
        raise DataImportError("S3 locations are not read directly; copy the files to a local "
                              "folder first", source=text)
    if not path_only and _SQL_START.match(text):
        return [Part("sql", "query", obj=text)]
    sql_type = None if path_only or os.path.exists(text) else _statement_type(text)
    if sql_type:
        raise DataImportError(f"{_SINGLE_SELECT}; this is a {sql_type} statement", source="query")
    if os.path.isdir(text):
        files = sorted(p for p in glob.glob(os.path.join(text, "*"))
                       if _format_of(p, fmt) == (fmt or "csv"))
        if not files:
            raise DataImportError(f"folder holds no {(fmt or 'csv').upper()} files", source=text)
    elif any(ch in text for ch in "*?["):
        files = sorted(glob.glob(text))
        if not files:
            raise DataImportError("no file matches this pattern", source=text)
    elif os.path.exists(text):
        files = [text]
    elif path_only or _looks_like_file(text):
        raise DataImportError("no such file", source=text)
    elif _TABLE_NAME.match(text):
        return [Part("table", text, obj=text)]
    else:
        raise DataImportError("no such file, folder or table", source=text)
    parts = []
    for path in files:
        if not os.path.isfile(path):
            raise DataImportError("not a regular file (a FIFO, device or socket cannot be "
                                  "imported; copy the data to a file first)", source=path)
        kind = _format_of(path, fmt)
        if kind is None:
            raise DataImportError("cannot tell the format from the file name; pass "
                                  "data_format='csv', 'parquet' or 'json'", source=path)
        parts.append(Part(kind, path, path=path))
    return parts


def _statement_type(text: str) -> str | None:
    """The type of the first statement DuckDB parses from ``text`` (COPY, PRAGMA, ...),
    or None when it is no SQL: such a text is then refused as SQL, not as a missing file."""
    try:
        found = duckdb.extract_statements(text)
    except duckdb.Error:
        return None
    return found[0].type.name if found else None


def _looks_like_file(text: str) -> bool:
    seps = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return any(s in text for s in seps) or text.lower().endswith(_FILE_LIKE)


def _format_of(path: str, forced: str | None) -> str | None:
    if forced:
        return forced
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return _FORMATS.get(os.path.splitext(name)[1])


def _open_bytes(path: str):
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")


# --- CSV headers -----------------------------------------------------------------------

def read_csv_header(path: str, schema: Schema) -> list[str]:
    """The header row of a CSV file (UTF-8, an Excel BOM allowed, gzip by extension).

    Only the first line is read and decoded, so a bad byte further down is reported at its
    own line by DuckDB rather than blamed on the header. It may end in LF, CRLF or a bare
    CR (old Mac files, which DuckDB's reader detects too).
    """
    try:
        with _open_bytes(path) as fh:
            head = fh.read(HEADER_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        # BadGzipFile's text quotes the file's first bytes: it is not passed on.
        if path.lower().endswith(".gz") and not isinstance(exc, FileNotFoundError):
            raise DataImportError("the file is not gzip data (or it is damaged), though its "
                                  "name ends in .gz", source=path) from None
        why = getattr(exc, "strerror", None) or type(exc).__name__
        raise DataImportError(f"cannot read the file: {why}", source=path) from None
    if not head:
        raise DataImportError("file is empty; expected a header row naming the schema's fields",
                              source=path)
    ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]
    if not ends and len(head) > HEADER_BYTES:
        raise _not_a_header(schema, path, 1)
    first = head[:min(ends)] if ends else head
    if not first:
        raise DataImportError("the first line is blank; expected a header row naming the "
                              "schema's fields", source=path, row=1, unit="line")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataImportError("the header is not UTF-8 text; save the file as UTF-8",
                              source=path, row=1, unit="line") from None
    if _HEADER_CONTROL.search(text):
        raise _not_a_header(schema, path, 1)
    try:
        return next(csv.reader([text]), [])
    except csv.Error as exc:
        raise DataImportError(f"the header row is not valid CSV: {exc}", source=path, row=1,
                              unit="line") from None


def _not_a_header(schema: Schema, label: str, row: int | None) -> DataImportError:
    what = ("the first line is not a CSV header naming" if row else
            "the source's columns are not")
    return DataImportError(f"{what} the {schema.dataset_type} schema's fields "
                           f"({', '.join(schema.names)})", source=label, row=row, unit="line")


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
    except (StopIteration, csv.Error, OSError, EOFError, zlib.error):
        return record_line


def check_columns(names: list[str], schema: Schema, label: str, header_row: int | None) -> None:
    """The source's columns must be exactly the schema's fields.

    A header that names none of the fields (or holds control characters, or is far longer
    than any header of this schema) is not a header at all -- a wrong file, such as a
    config or an environment dump -- and is described, never quoted. Otherwise the one
    offending name is quoted, shortened.
    """
    expected = schema.names
    if not names or names == [""]:
        raise DataImportError("the header row is empty; expected the schema's field names",
                              source=label, row=header_row, unit="line")
    if len(names) == 1 and len(expected) > 1:
        for sep, sep_name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in names[0]:
                raise DataImportError(
                    f"the header has one column: the file looks {sep_name}-separated, but "
                    "Personalize CSV files must be comma-separated",
                    source=label, row=header_row, unit="line")
    known = {e.lower() for e in expected}
    if (not any(n.strip().lower() in known for n in names)
            or any(_CONTROL.search(n) for n in names)
            or sum(map(len, names)) > 2 * sum(map(len, expected)) + 256):
        raise _not_a_header(schema, label, header_row)
    seen = set()
    for name in names:
        if name in seen:
            raise DataImportError(f"column {quote_value(name)} appears twice", source=label,
                                  row=header_row, unit="line", column=_column(name))
        seen.add(name)
    for name in names:
        if name not in expected:
            hint = next((e for e in expected if e.lower() == name.strip().lower()), None)
            reason = (f"column {quote_value(name)} is not a field of the {schema.dataset_type} schema"
                      + (f" (did you mean {hint!r}? names are case-sensitive)" if hint else
                         f"; the schema's fields are {', '.join(expected)}"))
            raise DataImportError(reason, source=label, row=header_row, unit="line", column=_column(name))
    for name in expected:
        if name not in seen:
            raise DataImportError(f"column {name!r} of the {schema.dataset_type} schema is missing",
                                  source=label, row=header_row, unit="line", column=name)


def _column(name: str) -> str | None:
    return name if _FIELD_NAME.fullmatch(name) else None


# --- staging -----------------------------------------------------------------------------

def stage(con: duckdb.DuckDBPyConnection, schema: Schema, parts: list[Part]) -> Staged:
    """Load every part into the ``pp_stage`` temp table as text, in source order."""
    label = parts[0].label if len(parts) == 1 else f"{len(parts)} files"
    try:
        con.execute(render("datasets/stage_create.sql", fields=schema.fields))
        staged = Staged(parts)
        for index, part in enumerate(parts):
            if part.kind == "csv":
                _stage_csv(con, schema, part, index)
            else:
                _stage_relation(con, schema, part, index)
            # Rows of a transaction get rowids far from 0; a part's first rowid anchors its
            # row numbers.
            staged.starts.append(one(con.execute('SELECT min(rowid) FROM pp_stage WHERE "pp#src" = $s',
                                                 {"s": index}))[0])
        staged.rows = one(con.execute("SELECT count(*) FROM pp_stage"))[0]
    except duckdb.Error as exc:
        raise DataImportError(f"cannot stage the rows: {duckdb_reason(exc)}", source=label) from None
    if staged.rows == 0:
        raise DataImportError("no data rows: the source holds a header only", source=label)
    return staged


def _stage_csv(con, schema: Schema, part: Part, index: int) -> None:
    header = read_csv_header(part.path, schema)
    check_columns(header, schema, part.label, header_row=1)
    where = {name: j for j, name in enumerate(header)}
    columns = {f"c#{j}": "VARCHAR" for j in range(len(header))}
    columns["c#extra"] = "VARCHAR"
    sql = render("datasets/stage_csv.sql", positions=[where[f.name] for f in schema.fields],
                 width=len(header))
    try:
        con.execute(sql, {"path": part.path, "columns": columns, "src": index,
                          "missing": MISSING, "parallel": not _may_quote_line_breaks(part.path)})
    except duckdb.Error as exc:
        raise _csv_error(exc, part.path, len(header)) from None


def _may_quote_line_breaks(path: str) -> bool:
    """Whether a CSV file may hold a quoted line break: it has a '"' at all (or cannot be
    searched cheaply: compressed, or a size the OS does not know)."""
    if path.lower().endswith(".gz"):
        return True
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return True
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return mm.find(b'"') >= 0
    except (OSError, ValueError):
        return True


def _csv_error(exc: Exception, path: str, width: int) -> DataImportError:
    """DuckDB's CSV error as a located reason. DuckDB's text holds the offending line
    ("Original Line: ...") and the reader's options; neither is passed on."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    # Hints and the option dump follow the problem; the options name the quote character,
    # so they must not be searched for "quote".
    body = re.split(r"\n\s*(?:Possible (?:fixes|Solution)|file = )", text, maxsplit=1)[0]
    cols = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", body)
    too_long = re.search(r"Maximum line size of (\d+) bytes exceeded", body)
    if cols:
        reason = f"expected {width} comma-separated values, found {cols.group(2)}"
    elif too_long:
        limit = int(too_long.group(1))
        reason = (f"the line is longer than DuckDB's {limit / 1e6:g} MB line limit (a "
                  f"Personalize value has at most {TEXTUAL_MAX:,} characters: is a line "
                  "break or a closing quote missing?)")
    elif "unterminated quote" in body:
        reason = "a value opens a quote that is never closed"
    elif "Invalid unicode" in body or "not utf-8" in body.lower():
        reason = "invalid UTF-8 bytes: the file is not UTF-8 encoded"
    elif "gzip" in body.lower():
        reason = "the gzip data is damaged or cut short"
    elif "state machine reached an invalid state" in body:
        reason = "the file cannot be read as comma-separated text"
    elif line and "quote" in body.lower():
        reason = "a quoted value is malformed (a quote inside a value must be doubled: \"\")"
    elif line:
        reason = "the line cannot be read as comma-separated values"
    else:
        reason = f"cannot read the file: {duckdb_reason(exc)}"
    return DataImportError(reason, source=path, unit="line",
                           row=physical_line(path, int(line.group(1))) if line else None)


def _stage_relation(con, schema: Schema, part: Part, index: int) -> None:
    params: dict[str, Any] = {}
    if part.kind == "parquet":
        relation, params = "read_parquet($path)", {"path": part.path}
    elif part.kind == "json":
        # 'auto' reads JSON lines and a JSON array of objects alike.
        relation, params = "read_json($path, format = 'auto')", {"path": part.path}
    elif part.kind == "frame":
        con.register(FRAME_VIEW, part.obj)
        relation = quote_ident(FRAME_VIEW)
    elif part.kind == "table":
        relation = _table(con, part)
    else:
        relation = _query(con, part.obj)
    try:
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {relation}", params).fetchall()
        except duckdb.Error as exc:
            raise _source_error(exc, part) from None
        names = [row[0] for row in described]
        if part.kind == "json" and names == ["json"]:
            raise _not_json_records(con, part, relation, params)
        check_columns(names, schema, part.label, header_row=None)
        position = {n: j for j, n in enumerate(names)}
        columns = [{"index": i, "position": position[f.name],
                    "src_type": described[position[f.name]][1],
                    "is_list": described[position[f.name]][1].endswith("[]")}
                   for i, f in enumerate(schema.fields)]
        sql = render("datasets/stage_relation.sql", relation=relation, width=len(names),
                     columns=columns)
        try:
            con.execute(sql, {**params, "src": index})
        except duckdb.Error as exc:
            raise _source_error(exc, part) from None
    finally:
        if part.kind == "frame":
            con.unregister(FRAME_VIEW)


def _source_error(exc: Exception, part: Part) -> DataImportError:
    return DataImportError(f"cannot read the source: {duckdb_reason(exc)}", source=part.label)


def _not_json_records(con, part: Part, relation: str, params: dict) -> DataImportError:
    # DuckDB falls back to one column "json" when the file holds no objects at all.
    if one(con.execute(f"SELECT count(*) FROM {relation}", params))[0] == 0:
        return DataImportError("no data rows: the file holds no JSON records", source=part.label)
    return DataImportError("expected JSON objects naming the schema's fields, one per line "
                           "(or one JSON array of such objects)", source=part.label)


def _table(con, part: Part) -> str:
    """The quoted name of an existing table or view; checked first so that a missing name
    is "no such table" and never something DuckDB finds among Python's variables."""
    *scope, table = part.obj.split(".")
    found = one(con.execute(render("datasets/table_exists.sql"),
                            {"table": table, "scope": scope[-1] if scope else None,
                             "catalog": scope[0] if len(scope) == 2 else None}))[0]
    if not found:
        raise DataImportError("no such file, folder or table", source=part.label)
    return ".".join(quote_ident(p) for p in part.obj.split("."))


def _query(con, text: str) -> str:
    """The query as a subquery to select from, once DuckDB has parsed it as exactly one
    SELECT that calls nothing that changes state (see the module docstring)."""
    try:
        found = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise DataImportError(f"{_SINGLE_SELECT}; DuckDB cannot parse it: {duckdb_reason(exc)}",
                              source="query") from None
    if len(found) != 1:
        raise DataImportError(f"{_SINGLE_SELECT}; the text holds {len(found)} statements",
                              source="query")
    if found[0].type != duckdb.StatementType.SELECT:
        raise DataImportError(f"{_SINGLE_SELECT}; this is a {found[0].type.name} statement",
                              source="query")
    body = _subquery_text(found[0].query)
    tree = json.loads(one(con.execute("SELECT json_serialize_sql($q)", {"q": body}))[0])
    if tree.get("error"):
        raise DataImportError(f"{_SINGLE_SELECT}; DuckDB cannot check it: "
                              f"{_shorten(str(tree.get('error_message')))}", source="query")
    called = sorted(_functions(tree) & (_CHANGES_STATE | _RUNS_SQL))
    if called:
        why = ("runs SQL given as a string, which this check cannot see" if called[0] in _RUNS_SQL
               else "changes the database or the session")
        raise DataImportError(f"{_SINGLE_SELECT} that only reads; it calls {called[0]}(), "
                              f"which {why}", source="query")
    return f"(\n{body}\n) AS \"pp#query\""


def _subquery_text(statement: str) -> str:
    """The parsed statement's own text without the ';' (and comments) that may end it,
    checked by DuckDB to be one SELECT once wrapped in parentheses. A comment left at
    the end is closed by the line break before ')'."""
    for body in (re.sub(r"[\s;]+$", "", statement),
                 re.sub(r"(;(\s|--[^\n]*|/\*.*?\*/)*)+$", "", statement, flags=re.S)):
        try:
            check = duckdb.extract_statements(f"SELECT * FROM (\n{body}\n) AS \"pp#query\"")
        except duckdb.Error:
            continue
        if len(check) == 1 and check[0].type == duckdb.StatementType.SELECT:
            return body
    raise DataImportError(f"{_SINGLE_SELECT}; it cannot be read as a subquery", source="query")


def _functions(node: Any) -> set[str]:
    """Every function name in a json_serialize_sql tree (scalar, table and aggregate)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("class") == "FUNCTION" and isinstance(item.get("function_name"), str):
                out.add(item["function_name"].lower())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def duckdb_reason(exc: Exception) -> str:
    """The first line of a DuckDB error, without its class prefix and with every quoted
    fragment (a value, a line) shortened: safe to put in a message."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    first = re.sub(r"^[A-Za-z ]*Error: ", "", first)
    return _shorten(first)


def _shorten(text: str) -> str:
    # DuckDB quotes values in '...' (casts) and "..." (JSON transforms, paths)
    text = re.sub(r"'([^']*)'|\"([^\"]*)\"",
                  lambda m: m.group(0) if len(m.group(0)) <= 62 else
                  quote_value(m.group(1) if m.group(1) is not None else m.group(2)), text)
    return text if len(text) <= 300 else text[:300] + "…"


# --- validation and loading ----------------------------------------------------------

def validate(con, schema: Schema, staged: Staged) -> None:
    """Raise :class:`DataImportError` for the first staged row that breaks a rule."""
    try:
        _validate(con, schema, staged)
    except duckdb.Error as exc:
        label = staged.parts[0].label if len(staged.parts) == 1 else f"{len(staged.parts)} files"
        raise DataImportError(f"cannot check the staged rows: {duckdb_reason(exc)}",
                              source=label) from None


def _validate(con, schema: Schema, staged: Staged) -> None:
    sql = render("datasets/validate.sql", fields=schema.fields,
                 id_fields=("USER_ID", "ITEM_ID"), pipe_free=PIPE_FREE,
                 timestamp_fields=TIMESTAMP_FIELDS, id_max=ID_MAX, text_max=TEXT_MAX)
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    values = one(cur)
    # At one row, a wrong value count explains any other complaint about that row.
    hits = sorted((rowid, name != "row:issue", name)
                  for name, rowid in zip(names[1:], values[1:]) if rowid is not None)
    if hits:
        rowid, _, check = hits[0]
        where, rule = check.split(":")
        if where == "row":
            src, issue = one(con.execute('SELECT "pp#src", "pp#issue" FROM pp_stage WHERE rowid = $r',
                                         {"r": rowid}))
            kind, arg = issue.split(":")
            if kind == "values":
                raise _located(f"expected {len(schema.fields)} comma-separated values, found {arg}",
                               staged, src, rowid, None)
            raise _located("an element of this list contains '|', which separates the values "
                           "of a multi-value field: it would be split into two values",
                           staged, src, rowid, schema.fields[int(arg)].name)
        index = int(where)
        f = schema.fields[index]
        src, value = one(con.execute(f'SELECT "pp#src", "f#{index}" FROM pp_stage WHERE rowid = $r',
                                     {"r": rowid}))
        control = _CONTROL.search(value) if value else None
        if rule == "chars":
            rule = "ctrl" if control else "pipe"
        reason = _MESSAGES[rule].format(value=quote_value(value), type=f.type,
                                        length=len(value) if value else 0,
                                        char=repr(control.group()) if control else "",
                                        position=control.start() + 1 if control else 0)
        raise _located(reason, staged, src, rowid, f.name)
    if schema.id_field:
        id_index = schema.names.index(schema.id_field)
        dup = one(con.execute(render("datasets/duplicate_ids.sql", id_index=id_index)))
        if dup:
            first, second = (one(con.execute('SELECT "pp#src" FROM pp_stage WHERE rowid = $r',
                                             {"r": r}))[0] for r in (dup[1], dup[2]))
            where_first = _row_number(staged, first, dup[1])
            raise _located(f"{schema.id_field} {quote_value(dup[0])} occurs again (first at "
                           f"{'line' if staged.parts[first].kind == 'csv' else 'row'} "
                           f"{where_first} of {staged.parts[first].label}); each id may appear "
                           "once per import", staged, second, dup[2], schema.id_field)


def _row_number(staged: Staged, src: int, rowid: int) -> int:
    part = staged.parts[src]
    if part.kind == "csv":      # the header is record 1
        return physical_line(part.path, rowid - staged.starts[src] + 2)
    return rowid - staged.starts[src] + 1


def _located(reason: str, staged: Staged, src: int, rowid: int, column: str | None) -> DataImportError:
    part = staged.parts[src]
    return DataImportError(reason, source=part.label, row=_row_number(staged, src, rowid),
                           column=column, unit="line" if part.kind == "csv" else "row")


def load(con, schema: Schema, schema_name: str, table: str, mode: str) -> None:
    """Write the validated stage into the dataset table and extend the id maps."""
    id_index = schema.names.index(schema.id_field) if schema.id_field else None
    sql = render("datasets/load.sql", schema_name=schema_name, table=table, fields=schema.fields,
                 mode=mode, id_field=schema.id_field, id_index=id_index, textual_max=TEXTUAL_MAX)
    try:
        for statement in statements(sql):
            con.execute(statement)
        for id_field, map_table in (("USER_ID", "user_ids"), ("ITEM_ID", "item_ids")):
            if schema.field(id_field) is not None:
                con.execute(render("datasets/id_map_update.sql", schema_name=schema_name,
                                   map_table=map_table, id_index=schema.names.index(id_field)))
    except duckdb.Error as exc:
        raise DataImportError(f"cannot load the validated rows into {schema_name}.{table}: "
                              f"{duckdb_reason(exc)}") from None


def drop_stage(con) -> None:
    con.execute("DROP TABLE IF EXISTS pp_stage")
