"""Opening the project file, and one DuckDB cursor per thread over it.

A project file must be a DuckDB database (or a new path): DuckDB would otherwise attach a
CSV or Parquet file as an in-memory database and every change would vanish on close. New
files are written in the oldest storage format that holds what the project uses, so that
DuckDB 1.x clients (CLI, JDBC, DBeaver) can read them. A :class:`Connections` hands every
thread its own cursor (DuckDB connections are not safe to share between threads; cursors
of one database are) and serialises writers, as DuckDB allows one writer anyway.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import weakref
from contextlib import contextmanager

import duckdb

from .errors import InvalidInput, PypersonalizeError, ResourceInUse
from .sqlkit import quote_literal

# A file attached as pp_project never clashes with a dataset group (a DuckDB schema) of
# the file's own name.
PROJECT_CATALOG = "pp_project"
# The oldest storage version that reads every feature the project's tables and macros use;
# DuckDB 1.4 and newer clients open such a file (tests/sql/test_old_client.py).
STORAGE_VERSION = "v1.4.0"
_MAGIC = b"DUCK"                # bytes 8..11 of every DuckDB database file
_LOCK = re.compile(r'Conflicting lock is held in (?P<prog>.*?) \(PID (?P<pid>\d+)\)')


def check_project_path(path: str) -> bool:
    """True when ``path`` is an existing DuckDB file, False when it is new; else an error."""
    if not os.path.exists(path):
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise InvalidInput(f"cannot create project file {path}: folder {parent} does not exist")
        return False
    if os.path.isdir(path):
        raise InvalidInput(f"{path} is a folder, not a project file; give a path ending in .duckdb")
    if not os.path.isfile(path):
        raise InvalidInput(f"{path} is not a regular file, so it cannot be a project file")
    with open(path, "rb") as fh:
        head = fh.read(12)
    if len(head) == 0:
        return False            # an empty file (e.g. from mktemp) becomes a new project
    if head[8:12] != _MAGIC:
        kind = _guess_kind(path, head)
        raise InvalidInput(f"{path} is not a DuckDB database file{kind}; a project file is a "
                           "DuckDB database (give a new path to create one). To import data from "
                           "it, use `dataset import` / create_dataset_import_job")
    return True


def _guess_kind(path: str, head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return " (it is a Parquet file)"
    if head.startswith(b"SQLite format"):
        return " (it is a SQLite database)"
    suffix = os.path.splitext(path)[1].lower()
    if suffix in (".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".parquet", ".gz"):
        return f" (it looks like a {suffix[1:].upper()} file)"
    return ""


MEMORY_LIMIT_ENV = "PYPERSONALIZE_MEMORY_LIMIT"
_MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", re.IGNORECASE)


def memory_setting(limit: str | None) -> str | None:
    """DuckDB's memory_limit text for ``limit`` (or $PYPERSONALIZE_MEMORY_LIMIT); None: DuckDB's default."""
    source = "memory_limit"
    if limit is None:
        limit, source = os.environ.get(MEMORY_LIMIT_ENV) or None, MEMORY_LIMIT_ENV
    if limit is None:
        return None
    found = _MEMORY.fullmatch(str(limit))
    if found is None or float(found.group(1)) <= 0:
        raise InvalidInput(f"{source} must be a size such as 12GB or 800MB, got {str(limit)[:40]!r}")
    return f"{found.group(1)}{found.group(2)}"


def connect(path: str, read_only: bool, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open ``path`` (or ``:memory:``) attached as ``pp_project`` and in use."""
    memory = memory_setting(memory_limit)
    if not path.strip():
        raise InvalidInput("the project path is empty; give a file path such as shop.duckdb")
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", path):
        raise InvalidInput(f"{path} names a DuckDB extension location (like md: or s3://); a project "
                           "is a local DuckDB file")
    config = {} if memory is None else {"memory_limit": memory}
    if path == ":memory:":
        if read_only:
            raise InvalidInput("an in-memory project cannot be opened read-only")
        return duckdb.connect(":memory:", config=config)
    exists = check_project_path(path)
    if read_only and not exists:
        raise InvalidInput(f"cannot open {path} read-only: there is no project file there yet")
    options = ["READ_ONLY"] if read_only else ([] if exists else [f"STORAGE_VERSION '{STORAGE_VERSION}'"])
    con = duckdb.connect(":memory:", config=config)
    try:
        con.execute(f"ATTACH {quote_literal(path)} AS {PROJECT_CATALOG}"
                    + (f" ({', '.join(options)})" if options else ""))
    except duckdb.Error as exc:
        con.close()
        raise _open_error(path, exc, read_only) from None
    con.execute(f"USE {PROJECT_CATALOG}")
    return con


def _open_error(path: str, exc: Exception, read_only: bool) -> PypersonalizeError:
    text = str(exc)
    lock = _LOCK.search(text)
    if lock:
        prog = os.path.basename(lock.group("prog"))
        how = ("it is open for writing there; close that program (or its project) first"
               if read_only else
               "close that program's project first; if you only read, open with --read-only "
               "(read_only=True) in every process that only reads")
        return ResourceInUse(f"project file {path} is in use by another process ({prog}, PID "
                             f"{lock.group('pid')}): {how}")
    return PypersonalizeError(f"cannot open {path}: {text.strip().splitlines()[0]}")


class _Holder:
    def __init__(self, cursor):
        self.cursor = cursor


class Connections:
    """The root connection plus one cursor per thread; ``write()`` serialises writers."""

    def __init__(self, root: duckdb.DuckDBPyConnection, path: str):
        self.root = root
        self.in_memory = path == ":memory:"
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._guard = threading.Lock()
        self.write_lock = threading.RLock()

    def current(self) -> duckdb.DuckDBPyConnection:
        """This thread's connection: the root for the opening thread, a cursor for others."""
        if threading.get_ident() == self._owner:
            return self.root
        holder = getattr(self._local, "holder", None)
        if holder is None:
            with self._guard:
                cur = self.root.cursor()
                self._cursors.append(cur)
            if not self.in_memory:
                cur.execute(f"USE {PROJECT_CATALOG}")
            holder = _Holder(cur)
            # A thread's locals die with it: its cursor is closed then, so servers that
            # start a thread per request do not collect cursors.
            weakref.finalize(holder, self._release, cur)
            self._local.holder = holder
        return holder.cursor

    def _release(self, cur) -> None:
        with self._guard:
            if cur in self._cursors:
                self._cursors.remove(cur)
                try:
                    cur.close()
                except duckdb.Error:
                    pass

    @contextmanager
    def write(self):
        """One writer at a time, in this thread's own transaction (nested calls join it)."""
        with self.write_lock:
            con = self.current()
            if getattr(self._local, "depth", 0):
                self._local.depth += 1
                try:
                    yield con
                finally:
                    self._local.depth -= 1
                return
            con.execute("BEGIN TRANSACTION")
            self._local.depth = 1
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            else:
                con.execute("COMMIT")
            finally:
                self._local.depth = 0

    def in_transaction(self) -> bool:
        """Whether this thread is inside write()."""
        return bool(getattr(self._local, "depth", 0))

    def local_set(self, name: str) -> set:
        """A set private to the calling thread (e.g. what its transaction changed)."""
        found = getattr(self._local, name, None)
        if found is None:
            found = set()
            setattr(self._local, name, found)
        return found

    def close(self) -> None:
        with self._guard:
            for cur in self._cursors:
                try:
                    cur.close()
                except duckdb.Error:
                    pass
            self._cursors.clear()
        self.root.close()


def writes(method):
    """Mark a Project verb that changes the file: refused when read-only, one writer at a time.

    Holding the writer lock across the whole verb makes its checks (e.g. "that name is
    free") and its writes one step for other threads; readers are not blocked.
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        self._check_writable()
        with self._connections.write_lock:
            return method(self, *args, **kwargs)
    return wrapper
