"""The files of a batch job: where its input records come from and where its output lines go.

Input is Personalize's JSON Lines (one JSON object per line; blank lines are not records)
from a file, a folder (every regular, non-hidden file in it, by name), a glob, or, ours, a
SQL query or table whose columns are the JSON keys (``userId``, ``itemId``, ``itemList``,
``filterValues``, ``itemAttributes``). Each source becomes one output file
``<source name>.out`` (a query's is ``query.out``, a table's ``<table>.out``).

Restart: the lines of a source are written to a hidden ``.<name>.out.<job>.partial`` beside
the output, flushed and synced after every block; a query's rows are first written to a
hidden snapshot ``.<name>.in.<job>``, so a second run reads the same records in the same
order. A job run again after being killed counts the complete lines of the partial file,
drops a torn last line, skips that many records and appends; the partial file becomes
``<name>.out`` when the source is done. So every input record gets exactly one output line.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidInput

MAX_INPUT_FILES = 1000          # Personalize's limit per batch job
RAW_SHOWN = 200                 # characters of a line an error's "input" keeps when it is no JSON
_SQL_START = re.compile(r"^\s*((select|with|from|values|table)\s|\()", re.IGNORECASE)
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")


@dataclass(frozen=True)
class Source:
    """One input: a file, or a checked SQL relation (query or table)."""

    name: str                   # the output file is <name>.out
    path: str | None = None
    sql: str | None = None      # a query's text or a table's name
    is_table: bool = False
    listed: bool = False        # found by listing a folder or a glob (a later listing would see .out files)

    @property
    def label(self) -> str:
        return self.path or ("table " + self.sql if self.is_table else "query")


def _path_of(value: Any, key: str, what: str) -> Any:
    """Personalize's ``{"s3DataSource": {"path": ...}}`` shapes, or the value itself."""
    if isinstance(value, dict):
        if set(value) - {key, "sql", "table"} or not value:
            raise InvalidInput(f"{what} takes a path, or {{{key!r}: {{'path': ...}}}}"
                               + (", {'sql': query} or {'table': name}" if key == "s3DataSource" else ""))
        if key in value:
            inner = value[key]
            if not isinstance(inner, dict) or "path" not in inner or set(inner) - {"path", "kmsKeyArn"}:
                raise InvalidInput(f"{what}.{key} must be {{'path': ...}} (kmsKeyArn is recorded, not used)")
            return inner["path"]
    return value


def resolve_input(job_input: Any) -> list[Source]:
    """The sources of ``job_input`` (a path, glob, folder, Personalize's dict, or SQL)."""
    value = _path_of(job_input, "s3DataSource", "job_input")
    if isinstance(value, dict):
        if "sql" in value:
            text = value["sql"]
            if not isinstance(text, str) or not text.strip():
                raise InvalidInput("job_input sql must be a SELECT query")
            return [Source("query", sql=text)]
        name = value["table"]
        if not isinstance(name, str) or not _TABLE_NAME.match(name):
            raise InvalidInput(f"job_input table must be a table name like 'users' or 'main.users', got {name!r}")
        if "pypersonalize" in name.lower().split(".")[:-1]:
            raise InvalidInput(f"job_input table {name!r}: schema pypersonalize holds the project's own tables")
        return [Source(name.split(".")[-1], sql=name, is_table=True)]
    path_only = isinstance(value, Path)
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise InvalidInput(f"job_input must be a path, glob, folder or query, not {type(value).__name__}")
    text = str(value).strip()
    if text.lower().startswith("s3://"):
        raise InvalidInput("s3:// locations are not supported yet; give a local path")
    if not path_only and _SQL_START.match(text) and not os.path.exists(text) and not glob.glob(text):
        return [Source("query", sql=text)]
    if os.path.isdir(text):
        files = sorted(p for p in glob.glob(os.path.join(glob.escape(text), "*"))
                       if os.path.isfile(p) and not os.path.basename(p).startswith("."))
        if not files:
            raise InvalidInput(f"job_input folder {text} holds no files")
    elif any(ch in text for ch in "*?["):
        files = sorted(p for p in glob.glob(text) if os.path.isfile(p))
        if not files:
            raise InvalidInput(f"job_input: no file matches {text}")
    elif os.path.isfile(text):
        return [Source(os.path.basename(text), path=text)]
    elif os.path.exists(text):
        raise InvalidInput(f"job_input {text} is not a regular file (a FIFO, device or socket cannot be read; "
                           "copy the data to a file first)")
    else:
        raise InvalidInput(f"job_input: no such file or folder: {text}")
    if len(files) > MAX_INPUT_FILES:
        raise InvalidInput(f"job_input has {len(files)} files; a batch job reads at most {MAX_INPUT_FILES}")
    names = [os.path.basename(p) for p in files]
    if len(set(names)) != len(names):
        raise InvalidInput("job_input files must have distinct names (each becomes <name>.out)")
    return [Source(n, path=p, listed=True) for n, p in zip(names, files)]


def resolve_output(job_output: Any, sources: list[Source]) -> dict[str, Path]:
    """Each source's output file. ``job_output`` is a folder (created if missing) or, for one
    source, a file path ending in ``.out``/``.json``/``.jsonl``."""
    value = _path_of(job_output, "s3DataDestination", "job_output")
    if isinstance(value, dict) or not isinstance(value, (str, Path)) or not str(value).strip():
        raise InvalidInput("job_output must be a local folder or file path, or {'s3DataDestination': {'path': ...}}")
    text = str(value)
    if text.lower().startswith("s3://"):
        raise InvalidInput("s3:// locations are not supported yet; give a local path")
    path = Path(text)
    is_file = not text.endswith(("/", os.sep)) and not path.is_dir() and path.suffix in (".out", ".json", ".jsonl")
    if is_file:
        if len(sources) != 1:
            raise InvalidInput(f"job_output {text} is a file, but the input has {len(sources)} sources; "
                               "give a folder")
        if not path.parent.is_dir():
            raise InvalidInput(f"job_output folder {path.parent} does not exist")
        if sources[0].path is not None and path.resolve() == Path(sources[0].path).resolve():
            raise InvalidInput(f"job_output {text} is the input file; give another path")
        return {sources[0].name: path}
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"job_output {text} exists and is not a folder")
    existing = next((p for p in (path, *path.resolve().parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
        raise InvalidInput(f"job_output folder {text} cannot be written")
    # one named file may share its folder with its .out (as Personalize's samples do)
    inputs = {Path(s.path).resolve().parent for s in sources if s.path is not None and s.listed}
    if path.resolve() in inputs:
        raise InvalidInput(f"job_output {text} is the input's folder; give another (a later job would read "
                           "the .out files as input)")
    return {s.name: path / f"{s.name}.out" for s in sources}


def job_token(arn: str) -> str:
    return hashlib.sha1(arn.encode()).hexdigest()[:12]


def partial_path(final: Path, token: str) -> Path:
    return final.with_name(f".{final.name}.{token}.partial")


def rows_path(final: Path, token: str) -> Path:
    """The analyst rows of a source (key, items or users, scores), one line per record."""
    return final.with_name(f".{final.name}.{token}.rows")


def snapshot_path(final: Path, token: str) -> Path:
    return final.with_name(f".{final.name[:-4] if final.name.endswith('.out') else final.name}.in.{token}")


def _json_value(value: Any) -> Any:
    """A SQL value as JSON: MAPs (dicts or DuckDB's key/value lists) and lists kept."""
    if isinstance(value, dict):
        if set(value) == {"key", "value"} and isinstance(value["key"], list):
            return {str(k): _json_value(v) for k, v in zip(value["key"], value["value"])}
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None                  # NaN and infinities are no JSON
    return value


def write_snapshot(con, source: Source, target: Path, relation: str) -> None:
    """A query's or table's rows as JSON lines (the job then reads them as a file)."""
    cur = con.execute(f"SELECT * FROM {relation}")
    columns = [d[0] for d in cur.description]
    tmp = target.with_name(target.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            while True:
                rows = cur.fetchmany(10_000)
                if not rows:
                    break
                for row in rows:
                    record = {c: _json_value(v) for c, v in zip(columns, row) if v is not None}
                    out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def records(path: str | Path, skip: int = 0) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object or an error text) per non-blank line, after ``skip`` records."""
    seen = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            seen += 1
            if seen <= skip:
                continue
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):       # a byte-order mark is no part of the record
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, ParseError("the line is not UTF-8 text", raw[:RAW_SHOWN].decode("utf-8", "replace"))
                continue
            try:
                yield number, json.loads(text, parse_constant=_no_constant)
            except (ValueError, RecursionError):    # JSONDecodeError, NaN/Infinity, a 5,000-digit number
                yield number, ParseError("the line is not valid JSON", text.strip()[:RAW_SHOWN])


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True)
class ParseError:
    reason: str
    raw: str


def done_lines(partial: Path) -> int:
    """Complete lines already in a partial output; a torn last line is cut off."""
    if not partial.exists():
        return 0
    with open(partial, "rb+") as handle:
        data = handle.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            handle.truncate(end)
    return data[:end].count(b"\n")


def _cut(path: Path, lines: int) -> None:
    with open(path, "rb+") as handle:
        data = handle.read()
        end = 0
        for _ in range(lines):
            end = data.index(b"\n", end) + 1
        handle.truncate(end)


def align(partial: Path, rows: Path | None) -> int:
    """The records done: complete lines of the partial output (and of the rows file, which
    is written just after it; the longer one is cut back to the shorter)."""
    done = done_lines(partial)
    if rows is None:
        return done
    have = done_lines(rows)
    if have != done:
        done = min(done, have)
        _cut(partial, done)
        _cut(rows, done)
    return done


class Writer:
    """Appends output lines to a partial file, synced every block; ``finish`` renames it."""

    def __init__(self, partial: Path, final: Path):
        self.partial, self.final = partial, final
        self.handle = open(partial, "ab")
        self.pending: list[bytes] = []

    def add(self, line: dict) -> None:
        try:
            data = json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()
        except UnicodeEncodeError:          # a lone surrogate from a \udc00 escape: escaped again
            data = json.dumps(line, separators=(",", ":")).encode()
        self.pending.append(data + b"\n")

    def flush(self) -> None:
        if self.pending:
            self.handle.write(b"".join(self.pending))
            self.pending = []
            self.handle.flush()
            os.fsync(self.handle.fileno())

    def finish(self) -> None:
        self.flush()
        self.handle.close()
        os.replace(self.partial, self.final)

    def close(self) -> None:
        if not self.handle.closed:
            self.flush()
            self.handle.close()


__all__ = ["Source", "resolve_input", "resolve_output", "records", "done_lines", "Writer", "ParseError",
           "write_snapshot", "partial_path", "rows_path", "snapshot_path", "align", "job_token", "MAX_INPUT_FILES"]
