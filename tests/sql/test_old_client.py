"""A DuckDB 1.x client reads a project file and answers the plain-SQL macros (issue 9 item 14).

pypersonalize runs on DuckDB 2.0 but writes new project files with storage version
``connection.STORAGE_VERSION`` so that 1.x clients (the CLI, JDBC, DBeaver) can open them.
This test builds a real project with the Python API, reopens it read-write once more (as
every later command does), closes it and then runs the DuckDB 1.x command-line binary of the
``duckdb-cli`` package (the ``test`` extra; it installs ``.venv/bin/duckdb`` without touching
the ``duckdb`` Python package) as a subprocess on the file, read-only. The 1.x client must
see every table exactly as 2.0 does (a storage version that is accepted but decoded wrongly
gives NULLs, not errors) and ``pp_recommend`` / ``pp_recommend_filtered`` must return the
rows the Python API returns.

With CI=true the test never skips: a missing or non-1.x binary fails it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pypersonalize
from pypersonalize.connection import STORAGE_VERSION
from tests.conftest import build_sample_group


def _version(binary: str) -> tuple[int, int, int] | None:
    try:
        done = subprocess.run([binary, "-version"], capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    found = re.match(r"v(\d+)\.(\d+)\.(\d+)", done.stdout.strip())
    return tuple(int(p) for p in found.groups()) if found else None


@pytest.fixture(scope="module")
def cli() -> tuple[str, tuple[int, int, int]]:
    """The DuckDB 1.x CLI binary and its version; in CI it must be there."""
    beside = Path(sys.executable).parent / "duckdb"
    binary = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else shutil.which("duckdb")
    version = _version(binary) if binary else None
    problem = None
    if binary is None:
        problem = "no duckdb CLI next to the interpreter or on PATH (pip install '.[test]' installs duckdb-cli)"
    elif version is None:
        problem = f"{binary} -version did not print a DuckDB version"
    elif version[0] != 1:
        problem = f"{binary} is DuckDB {'.'.join(map(str, version))}, not a 1.x client"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    return binary, version


@pytest.fixture(scope="module")
def project_file(tmp_path_factory) -> Path:
    """The demo's project (Makefile `demo`), closed, reopened read-write and closed again."""
    path = tmp_path_factory.mktemp("old_client") / "project.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_recommender(name="most-popular", dataset_group="movies", use_case="Most popular")
        pp.create_recommender(name="because-you-watched", dataset_group="movies",
                              use_case="Because you watched X")
        # no exploration: exploration slots are Python-only, so pp_recommend would differ by design
        pp.create_recommender(name="top-picks", dataset_group="movies", use_case="Top picks for you",
                              recommender_config={"itemExplorationConfig": {"explorationWeight": "0"}})
        pp.create_filter(name="no-horror", dataset_group="movies",
                         filter_expression='EXCLUDE ItemID WHERE Items.GENRES IN ("Horror")')
    # A later read-write open (every CLI command does one) must keep the old storage version,
    # and what it writes (events, a filter macro) must be readable too.
    with pypersonalize.open(path, quiet=True) as pp:
        pp.put_events(dataset_group="movies", user_id="u1", session_id="old-client", event_list=[
            {"eventType": "Watch", "itemId": "m570", "sentAt": 1735700000},
            {"eventType": "Watch", "itemId": "m367", "sentAt": 1735700600}])
        pp.create_filter(name="genre", dataset_group="movies",
                         filter_expression="INCLUDE ItemID WHERE Items.GENRES IN ($GENRE)")
        cur = pp.con.execute("SELECT * FROM duckdb_databases() WHERE database_name = current_database()")
        database = dict(zip([d[0] for d in cur.description], cur.fetchall()[0]))
    if "tags" in database:          # DuckDB 2.0 tags a database with its storage version
        assert database["tags"].get("storage_version", "").startswith(STORAGE_VERSION), database
    return path


def _run(cli, path: Path, sql: str) -> list[list[str]]:
    """Rows (header first) of ``sql`` run by the 1.x CLI on the file, read-only."""
    binary, _ = cli
    done = subprocess.run([binary, "-init", os.devnull, "-readonly", str(path), "-csv", "-c", sql],
                          capture_output=True, text=True, timeout=60)
    shown = sql if len(sql) < 300 else sql[:300] + " ..."
    assert done.returncode == 0 and not done.stderr.strip(), \
        f"DuckDB {'.'.join(map(str, cli[1]))} CLI failed on {shown!r}:\n{done.stderr}{done.stdout}"
    return list(csv.reader(io.StringIO(done.stdout)))


def test_the_cli_is_a_1x_client_at_least_the_storage_version(cli, project_file):
    binary, version = cli
    assert version[0] == 1
    oldest = tuple(int(p) for p in re.findall(r"\d+", STORAGE_VERSION))[:2]
    assert version[:2] >= oldest, f"{binary} is older than the storage version {STORAGE_VERSION}"
    # ... and the queries below really run in it
    assert _run(cli, project_file, "SELECT version()")[1] == [f"v{'.'.join(map(str, version))}"]


def _integrity_sql(pp) -> str:
    """Per table: rows, non-NULL values per column, and a digest of the whole content."""
    tables = pp.con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                    "WHERE database_name = current_database() ORDER BY ALL").fetchall()
    parts = []
    for schema, table in tables:
        cols = [c for (c,) in pp.con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = $s AND table_name = $t ORDER BY column_index", {"s": schema, "t": table}).fetchall()]
        q = lambda name: '"' + name.replace('"', '""') + '"'  # noqa: E731
        counts = " || ' ' || ".join(f"count({q(c)})" for c in cols)
        parts.append(f"SELECT '{schema}.{table}' AS tbl, CAST(count(*) AS VARCHAR) AS n, {counts} AS nonnull, "
                     "md5(coalesce(string_agg(CAST(x AS VARCHAR), chr(10) ORDER BY CAST(x AS VARCHAR)), '')) "
                     f"AS digest FROM {q(schema)}.{q(table)} x")
    return "\nUNION ALL ".join(parts) + "\nORDER BY tbl"


def test_the_1x_client_reads_every_table_as_2_0_does(cli, project_file):
    with pypersonalize.open(project_file, quiet=True, read_only=True) as pp:
        sql = _integrity_sql(pp)
        expected = [[str(v) for v in row] for row in pp.con.execute(sql).fetchall()]
    got = _run(cli, project_file, sql)
    assert got[0] == ["tbl", "n", "nonnull", "digest"]
    assert {row[0] for row in expected} >= {"movies.interactions", "movies.items", "pypersonalize.objects"}
    assert got[1:] == expected


REQUESTS = [
    # (endpoint, user, item, filter, filter values)
    ("most-popular", "u1", None, None, None),
    ("because-you-watched", "u1", "m114", None, None),
    ("top-picks", "u1", None, None, None),
    ("most-popular", "u1", None, "no-horror", None),
    ("because-you-watched", "u1", "m114", "genre", {"GENRE": '"Thriller","Action"'}),
    ("top-picks", "u1", None, "genre", {"GENRE": '"Comedy","Drama"'}),
]


def _literal(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


@pytest.fixture(scope="module")
def python_answers(project_file) -> list[list[tuple[int, str, float]]]:
    with pypersonalize.open(project_file, quiet=True, read_only=True) as pp:
        out = []
        for endpoint, user, item, name, values in REQUESTS:
            items = pp.get_recommendations(recommender=endpoint, user_id=user, item_id=item, num_results=5,
                                           filter=name, filter_values=values)["itemList"]
            out.append([(rank, r["itemId"], r["score"]) for rank, r in enumerate(items, 1)])
    # every filter changes its endpoint's answer here, so the macro really applies it
    for k, (endpoint, user, item, name, _values) in enumerate(REQUESTS):
        if name is not None:
            plain = REQUESTS.index((endpoint, user, item, None, None))
            assert out[k] != out[plain], f"filter {name!r} leaves {endpoint!r} unchanged"
    return out


@pytest.mark.parametrize("k", range(len(REQUESTS)),
                         ids=[f"{r[0]}-{r[3] or 'unfiltered'}" for r in REQUESTS])
def test_the_1x_client_recommends_what_the_python_api_does(cli, project_file, python_answers, k):
    endpoint, user, item, name, values = REQUESTS[k]
    args = f"user_id := {_literal(user)}, item_id := {_literal(item)}, n := 5"
    if name is None:
        sql = f"SELECT rank, item_id, score FROM pp_recommend({_literal(endpoint)}, {args})"
    else:
        mapping = ("MAP {" + ", ".join(f"{_literal(key)}: {_literal(v)}" for key, v in values.items()) + "}"
                   if values else "NULL")
        sql = (f"SELECT rank, item_id, score FROM pp_recommend_filtered({_literal(endpoint)}, {_literal(name)}, "
               f"{args}, filter_values := {mapping})")
    rows = _run(cli, project_file, sql + " ORDER BY rank")
    assert rows[0] == ["rank", "item_id", "score"]
    got = [(int(rank), item_id, float(score)) for rank, item_id, score in rows[1:]]
    expected = python_answers[k]
    assert len(expected) == 5
    assert [(r, i) for r, i, _ in got] == [(r, i) for r, i, _ in expected]
    assert [s for _, _, s in got] == pytest.approx([s for _, _, s in expected], rel=0, abs=1e-9)
