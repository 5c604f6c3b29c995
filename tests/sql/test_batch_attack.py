"""Hostile input for batch inference and batch segment jobs (batch.py, batch_io.py,
batch_runs.py, segment_query.py, cli_batch.py).

Every test states the behaviour the project promises for bad input: a clear, typed error
(a PypersonalizeError naming the file, line, field and what was expected) or a per-line
error while the job goes on; nothing left behind (no hidden .partial/.rows/.in/.tmp files,
no half-written outputs); values bound, never pasted into SQL; the project file opens
afterwards. A test marked xfail(strict=True) is a bug found by this file: it asserts the
correct behaviour and fails today.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

import pypersonalize
from pypersonalize import batch_runs
from pypersonalize.cli import main
from pypersonalize.errors import (
    InvalidInput,
    PypersonalizeError,
    ResourceAlreadyExists,
    ResourceInUse,
    ResourceNotFound,
)
from tests.conftest import build_sample_group

RECIPES = {"pop": "aws-popularity-count", "sims": "aws-sims", "aff": "aws-item-affinity",
           "attr": "aws-item-attribute-affinity"}
USERS = [f"u{i}" for i in range(1, 2001)]


# -- fixture and helpers ------------------------------------------------------------------

@pytest.fixture(scope="module")
def atk(tmp_path_factory):
    """One project: the sample group with Interactions, Items and Users, four cheap versions,
    an ItemID filter with a parameter and two UserID filters."""
    base = tmp_path_factory.mktemp("batch-attack")
    db = base / "attack.duckdb"
    pp = pypersonalize.open(db, quiet=True)
    build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
    versions = {}
    for name, recipe in RECIPES.items():
        pp.create_solution(name=name, dataset_group="movies", recipe=recipe)
        versions[name] = pp.create_solution_version(name)["solutionVersionArn"]
    pp.create_filter("genre", "movies", "INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)")
    pp.create_filter("by-sub", "movies", "INCLUDE UserID WHERE Users.SUBSCRIPTION_MODEL IN ($SUB)")
    pp.create_filter("watched", "movies", 'EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("Watch")')
    state = SimpleNamespace(pp=pp, db=db, v=versions, base=base, count=[0])
    yield state
    state.pp.close()


def _dir(atk, label: str) -> Path:
    atk.count[0] += 1
    path = atk.base / f"{label}-{atk.count[0]}"
    path.mkdir()
    return path


def _write(path: Path, lines) -> Path:
    """JSON Lines from objects (dumped), str (kept, encoded with surrogates allowed) or bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for line in lines:
            if not isinstance(line, (str, bytes)):
                line = json.dumps(line)
            if isinstance(line, str):
                line = line.encode("utf-8", "surrogatepass")
            handle.write(line + b"\n")
    return path


def _lines(path) -> list[dict]:
    return [json.loads(ln) for ln in Path(path).read_text(encoding="utf-8").splitlines()]


def _strict_lines(path) -> list[dict]:
    """The output lines parsed as strict JSON (no NaN / Infinity, which JSON does not have)."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return [json.loads(ln, parse_constant=refuse) for ln in Path(path).read_text(encoding="utf-8").splitlines()]


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).rglob(".*")) if Path(folder).exists() else []


def _job(atk, kind: str, name: str):
    try:
        if kind == "inference":
            return atk.pp.describe_batch_inference_job(name)["batchInferenceJob"]
        return atk.pp.describe_batch_segment_job(name)["batchSegmentJob"]
    except ResourceNotFound:
        return None


def _assert_failed_cleanly(atk, call, name: str, folders, kind: str = "inference") -> None:
    """A job that cannot be done: a typed one-line error, no job left running, nothing on disk."""
    with pytest.raises(PypersonalizeError) as info:
        call()
    assert "\n" not in str(info.value)
    job = _job(atk, kind, name)
    assert job is None or job["status"] == "CREATE FAILED", job
    for folder in folders:
        assert not Path(folder).exists() or sorted(os.listdir(folder)) == [], (folder, os.listdir(folder))


# -- 1. input paths that are no regular files ------------------------------------------------

def test_fifo_device_stdin_and_symlink_loop_inputs_are_refused_before_anything(atk):
    folder = _dir(atk, "odd-paths")
    os.mkfifo(folder / "fifo")
    os.symlink(folder / "loop-a", folder / "loop-b")
    os.symlink(folder / "loop-b", folder / "loop-a")
    os.symlink(folder / "fifo", folder / "to-fifo")
    cases = {"fifo": folder / "fifo", "to-fifo": folder / "to-fifo", "devnull": "/dev/null",
             "devzero": "/dev/zero", "stdin": "/dev/stdin", "loop": folder / "loop-a"}
    for label, path in cases.items():
        out = folder / f"out-{label}"
        with pytest.raises(InvalidInput) as info:
            atk.pp.create_batch_inference_job(f"odd-{label}", atk.v["pop"], str(path), str(out))
        assert str(path) in str(info.value) and "\n" not in str(info.value)
        assert _job(atk, "inference", f"odd-{label}") is None and not out.exists()


def test_a_folder_reads_only_its_regular_non_hidden_files(atk):
    folder = _dir(atk, "mixed-folder")
    _write(folder / "in" / "a.jsonl", [{"userId": "u1"}])
    _write(folder / "in" / ".hidden.jsonl", [{"userId": "u2"}])
    _write(folder / "in" / "sub" / "deeper.jsonl", [{"userId": "u3"}])
    os.mkfifo(folder / "in" / "pipe")
    os.symlink("/dev/zero", folder / "in" / "zero")
    os.symlink(folder / "in" / "nowhere", folder / "in" / "dangling")
    atk.pp.create_batch_inference_job("mixed-folder", atk.v["pop"], str(folder / "in"), str(folder / "out"),
                                      num_results=2)
    assert sorted(os.listdir(folder / "out")) == ["a.jsonl.out"]
    assert [ln["input"] for ln in _lines(folder / "out" / "a.jsonl.out")] == [{"userId": "u1"}]


# -- 2. hostile lines: each its own error, the job goes on --------------------------------------

def test_nul_bytes_bad_utf8_deep_nesting_long_ids_and_non_string_ids_are_line_errors(atk):
    folder = _dir(atk, "hostile-lines")
    lines = [
        b'{"userId": "u\x001"}',                           # a raw NUL inside a string
        b"\x00\x00\x00",
        b'{"userId": "\xff\xfe"}',                         # not UTF-8
        '{"userId": "u1", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",   # RecursionError in json
        {"userId": "x" * 10_000},
        {"userId": 7}, {"userId": True}, {"userId": None}, {"userId": ["u1"]}, {"userId": ""},
        [1, 2], "42", "null",
        {"userId": "u1\u0000"},                            # an escaped NUL
        {"userId": "u1"},
    ]
    source = _write(folder / "in.jsonl", lines)
    atk.pp.create_batch_inference_job("hostile-lines", atk.v["pop"], str(source), str(folder / "out"),
                                      num_results=3)
    job = _job(atk, "inference", "hostile-lines")
    assert job["status"] == "ACTIVE"
    out = _lines(folder / "out" / "in.jsonl.out")
    assert len(out) == len(lines) == job["recordsProcessed"]
    assert (job["recordsSucceeded"], job["recordsFailed"]) == (2, len(lines) - 2)   # "u1\0" is an unknown user
    for number, line in enumerate(out[:13], start=1):
        assert line["output"] is None and line["error"].startswith(f"line {number}: "), line
    assert out[0]["error"].endswith("not valid JSON") and out[2]["error"].endswith("not UTF-8 text")
    assert "256" in out[4]["error"]
    assert out[-1]["output"]["recommendedItems"]
    assert _hidden(folder) == []


def test_a_100_mb_line_is_one_line_error_and_the_job_goes_on(atk):
    folder = _dir(atk, "huge-line")
    source = folder / "in.jsonl"
    with open(source, "wb") as handle:
        handle.write(b'{"userId": "' + b"x" * (100 * 1024 * 1024) + b'"}\n')
        handle.write(b"not json " + b"y" * (10 * 1024 * 1024) + b"\n")
        handle.write(b'{"userId": "u1"}\n')
    atk.pp.create_batch_inference_job("huge-line", atk.v["pop"], str(source), str(folder / "out"), num_results=1)
    job = _job(atk, "inference", "huge-line")
    assert (job["status"], job["recordsSucceeded"], job["recordsFailed"]) == ("ACTIVE", 1, 2)
    with open(folder / "out" / "in.jsonl.out", "rb") as handle:
        handle.readline()
        second = json.loads(handle.readline())
        third = json.loads(handle.readline())
    assert len(second["input"]) <= 200 and second["error"] == "line 2: the line is not valid JSON"
    assert third["error"] is None


def test_an_integer_of_5000_digits_is_a_line_error_not_a_failed_job(atk):
    folder = _dir(atk, "bigint")
    source = _write(folder / "in.jsonl", [{"userId": "u1"}, '{"userId": ' + "1" * 5000 + "}", {"userId": "u2"}])
    atk.pp.create_batch_inference_job("bigint", atk.v["pop"], str(source), str(folder / "out"), num_results=1)
    job = _job(atk, "inference", "bigint")
    assert (job["status"], job["recordsFailed"]) == ("ACTIVE", 1)
    assert _lines(folder / "out" / "in.jsonl.out")[1]["error"].startswith("line 2: ")


@pytest.mark.parametrize("line", ['{"userId": "\\ud800"}', '{"userId": "u1", "other": "\\udc00"}'])
def test_a_lone_surrogate_is_a_line_error_not_a_failed_job(atk, line):
    folder = _dir(atk, "surrogate")
    source = _write(folder / "in.jsonl", [line, {"userId": "u2"}])
    name = f"surrogate-{atk.count[0]}"
    atk.pp.create_batch_inference_job(name, atk.v["pop"], str(source), str(folder / "out"), num_results=1)
    job = _job(atk, "inference", name)
    assert (job["status"], job["recordsSucceeded"], job["recordsFailed"]) == ("ACTIVE", 1, 1)
    assert _lines(folder / "out" / "in.jsonl.out")[0]["error"].startswith("line 1: ")


def test_output_lines_are_strict_json_even_when_the_input_had_nan(atk):
    folder = _dir(atk, "nan")
    source = _write(folder / "in.jsonl", ['{"userId": "u1", "filterValues": NaN}', '{"userId": "u1", "x": -Infinity}',
                                          {"userId": "u2"}])
    atk.pp.create_batch_inference_job("nan", atk.v["pop"], str(source), str(folder / "out"), num_results=1)
    lines = _strict_lines(folder / "out" / "in.jsonl.out")
    assert [ln["error"] is None for ln in lines] == [False, False, True]


def test_output_lines_are_strict_json_even_when_a_query_returns_nan(atk):
    folder = _dir(atk, "nan-query")
    atk.pp.create_batch_inference_job("nan-query", atk.v["pop"],
                                      {"sql": "SELECT 'u1' AS userId, 'NaN'::DOUBLE AS weight"}, str(folder / "out"))
    assert _strict_lines(folder / "out" / "query.out")[0]["error"].startswith("line 1: ")


def test_a_byte_order_mark_does_not_cost_the_first_record(atk):
    folder = _dir(atk, "bom")
    source = folder / "in.jsonl"
    source.write_bytes(b'\xef\xbb\xbf{"userId": "u1"}\n{"userId": "u2"}\n')
    atk.pp.create_batch_inference_job("bom", atk.v["pop"], str(source), str(folder / "out"), num_results=1)
    assert [ln["error"] for ln in _lines(folder / "out" / "in.jsonl.out")] == [None, None]


# -- 3. injection: filter values, SQL sources, tables -----------------------------------------

def test_filter_values_are_bound_never_pasted_into_sql(atk):
    folder = _dir(atk, "fv-injection")
    hostile = ['"); DROP TABLE movies.items; --', "'); DROP TABLE movies.items; --",
               '"Comedy"); DROP TABLE movies.items; --', '"Com\'edy"', '"a\\"b"', '"$GENRES"', '"\\u0000"']
    records = [{"userId": "u1", "filterValues": {"GENRES": v}} for v in hostile]
    records.append({"userId": "u1", "filterValues": {"GENRES": '"Comedy"'}})
    source = _write(folder / "in.jsonl", records)
    items_before = atk.pp.sql("SELECT count(*) FROM movies.items").fetchall()[0][0]
    atk.pp.create_batch_inference_job("fv-injection", atk.v["pop"], str(source), str(folder / "out"),
                                      num_results=3, filter="genre")
    out = _lines(folder / "out" / "in.jsonl.out")
    assert len(out) == len(records)
    for line in out[:-1]:       # refused, or a list of no items (no item has such a genre)
        assert line["error"] is not None or line["output"]["recommendedItems"] == [], line
    assert len(out[-1]["output"]["recommendedItems"]) == 3
    assert atk.pp.sql("SELECT count(*) FROM movies.items").fetchall()[0][0] == items_before


@pytest.mark.parametrize("query", [
    "SELECT 'u1' AS userId; DROP TABLE movies.items",
    "COPY movies.items TO 'stolen.csv'",
    "ATTACH 'evil.duckdb' AS evil",
    "SELECT * FROM query('DROP TABLE movies.items')",
    "CREATE TABLE pwned AS SELECT 1",
    "SELECT nextval('seq') AS userId",
    "PRAGMA version",
    "CALL checkpoint()",
    "FROM (INSERT INTO movies.items (ITEM_ID) VALUES ('zz') RETURNING ITEM_ID AS userId)",
])
def test_sql_sources_that_write_are_refused_with_a_typed_error(atk, query, monkeypatch):
    folder = _dir(atk, "sql-injection")
    monkeypatch.chdir(folder)
    name = f"sql-injection-{atk.count[0]}"
    items_before = atk.pp.sql("SELECT count(*) FROM movies.items").fetchall()[0][0]
    _assert_failed_cleanly(atk, lambda: atk.pp.create_batch_inference_job(
        name, atk.v["pop"], {"sql": query}, str(folder / "out")), name, [folder / "out"])
    assert atk.pp.sql("SELECT count(*) FROM movies.items").fetchall()[0][0] == items_before
    assert sorted(os.listdir(folder)) in ([], ["out"])
    assert not atk.pp.sql("SELECT * FROM duckdb_tables() WHERE table_name = 'pwned'").fetchall()
    assert "evil" not in {r[0] for r in atk.pp.sql("SELECT database_name FROM duckdb_databases()").fetchall()}


@pytest.mark.parametrize("table", ["users; DROP TABLE x", 'us"ers', "a.b.c.d", "", "1users", "users--"])
def test_table_sources_with_odd_names_are_refused_at_create(atk, table):
    folder = _dir(atk, "table-name")
    with pytest.raises(InvalidInput):
        atk.pp.create_batch_inference_job(f"table-name-{atk.count[0]}", atk.v["pop"], {"table": table},
                                          str(folder / "out"))
    assert not (folder / "out").exists()


def test_a_table_source_in_pypersonalizes_own_schema_is_refused(atk):
    folder = _dir(atk, "own-table")
    with pytest.raises(InvalidInput, match="pypersonalize"):
        atk.pp.create_batch_inference_job("own-table", atk.v["pop"], {"table": "pypersonalize.objects"},
                                          str(folder / "out"))


# -- 4. outputs: paths, tables, Parquet ------------------------------------------------------------

def test_the_output_file_never_replaces_the_input_file(atk):
    folder = _dir(atk, "same-file")
    source = _write(folder / "users.jsonl", [{"userId": "u1"}, {"userId": "u2"}])
    before = source.read_bytes()
    with pytest.raises(InvalidInput, match="input"):
        atk.pp.create_batch_inference_job("same-file", atk.v["pop"], str(source), str(source))
    assert source.read_bytes() == before


def test_an_output_folder_equal_to_the_input_folder_is_refused(atk):
    folder = _dir(atk, "same-folder")
    _write(folder / "a.jsonl", [{"userId": "u1"}])
    with pytest.raises(InvalidInput):
        atk.pp.create_batch_inference_job("same-folder", atk.v["pop"], str(folder), str(folder))


def test_an_output_path_that_is_a_file_or_cannot_be_made_is_refused(atk):
    folder = _dir(atk, "bad-output")
    source = _write(folder / "in.jsonl", [{"userId": "u1"}])
    (folder / "a-file").write_text("keep me")
    for k, target in enumerate([folder / "a-file", folder / "a-file" / "sub", folder / "missing" / "deeper.out"]):
        with pytest.raises(InvalidInput) as info:
            atk.pp.create_batch_inference_job(f"bad-output-{k}", atk.v["pop"], str(source), str(target))
        assert "\n" not in str(info.value)
        assert _job(atk, "inference", f"bad-output-{k}") is None
    assert (folder / "a-file").read_text() == "keep me"


def test_an_output_folder_that_cannot_be_created_is_refused_at_create(atk):
    folder = _dir(atk, "sys-output")
    source = _write(folder / "in.jsonl", [{"userId": "u1"}])
    with pytest.raises(InvalidInput):
        atk.pp.create_batch_inference_job("sys-output", atk.v["pop"], str(source), "/sys/kernel/no-such/out/")
    assert _job(atk, "inference", "sys-output") is None


def test_an_output_folder_that_refuses_writes_fails_with_a_typed_error(atk):
    folder = _dir(atk, "proc-output")
    source = _write(folder / "in.jsonl", [{"userId": "u1"}])
    _assert_failed_cleanly(atk, lambda: atk.pp.create_batch_inference_job(
        "proc-output", atk.v["pop"], str(source), "/proc/"), "proc-output", [])


@pytest.mark.parametrize("table", ["pypersonalize.recs", "PyPersonalize.recs", "movies.recs", "MOVIES.recs",
                                   'x"; DROP TABLE movies.items; --', "a.b.c", "a..b", ".recs", "recs.", "",
                                   "re cs", 7])
def test_output_tables_in_own_schemas_or_with_odd_names_are_refused_at_create(atk, table):
    folder = _dir(atk, "out-table")
    source = _write(folder / "in.jsonl", [{"userId": "u1"}])
    name = f"out-table-{atk.count[0]}"
    with pytest.raises(InvalidInput):
        atk.pp.create_batch_inference_job(name, atk.v["pop"], str(source), str(folder / "out"),
                                          batch_inference_job_config={"outputTable": table})
    assert _job(atk, "inference", name) is None and not (folder / "out").exists()


def test_an_output_table_that_is_a_view_is_refused_at_create(atk):
    atk.pp.sql("CREATE OR REPLACE VIEW a_view AS SELECT 1 AS x")
    folder = _dir(atk, "table-view")
    source = _write(folder / "in.jsonl", [{"userId": "u1"}])
    with pytest.raises(InvalidInput, match="view"):
        atk.pp.create_batch_inference_job("table-view", atk.v["pop"], str(source), str(folder / "out"),
                                          batch_inference_job_config={"outputTable": "a_view"})
    assert _job(atk, "inference", "table-view") is None and not (folder / "out").exists()
    assert atk.pp.sql("SELECT x FROM a_view").fetchall() == [(1,)]


@pytest.mark.parametrize("table", ["temp.recs", "system.recs", "pp_project.recs"])
def test_an_output_table_that_cannot_be_created_fails_the_job_cleanly(atk, table):
    atk.pp.sql("CREATE OR REPLACE VIEW a_view AS SELECT 1 AS x")
    folder = _dir(atk, "table-fails")
    source = _write(folder / "in.jsonl", [{"userId": "u1"}])
    name = f"table-fails-{atk.count[0]}"
    _assert_failed_cleanly(atk, lambda: atk.pp.create_batch_inference_job(
        name, atk.v["pop"], str(source), str(folder / "out"), batch_inference_job_config={"outputTable": table}),
        name, [folder / "out"])


def test_an_output_parquet_that_is_a_folder_is_refused_and_leaves_nothing(atk):
    folder = _dir(atk, "parquet-dir")
    (folder / "recs.parquet").mkdir()
    source = _write(folder / "in.jsonl", [{"userId": "u1"}])
    _assert_failed_cleanly(atk, lambda: atk.pp.create_batch_inference_job(
        "parquet-dir", atk.v["pop"], str(source), str(folder / "out"),
        batch_inference_job_config={"outputParquet": str(folder / "recs.parquet")}), "parquet-dir", [folder / "out"])
    assert sorted(os.listdir(folder)) in (["in.jsonl", "recs.parquet"], ["in.jsonl", "out", "recs.parquet"])


def test_an_output_parquet_that_cannot_be_written_fails_the_job_cleanly(atk):
    folder = _dir(atk, "parquet-io")
    source = _write(folder / "in.jsonl", [{"userId": "u1"}])
    _assert_failed_cleanly(atk, lambda: atk.pp.create_batch_inference_job(
        "parquet-io", atk.v["pop"], str(source), str(folder / "out"),
        batch_inference_job_config={"outputParquet": "/proc/recs.parquet"}), "parquet-io", [folder / "out"])


def test_an_output_parquet_path_with_quotes_and_sql_is_written_literally(atk):
    folder = _dir(atk, "parquet-quotes")
    source = _write(folder / "in.jsonl", [{"userId": "u1"}, {"userId": "u2"}])
    target = folder / "it's \"x\"'); COPY movies.items TO 'stolen.csv'; --.parquet"
    atk.pp.create_batch_inference_job("parquet-quotes", atk.v["pop"], str(source), str(folder / "out"),
                                      num_results=2, batch_inference_job_config={"outputParquet": str(target)})
    got = atk.pp.sql("SELECT input_key, count(*) FROM read_parquet($p) GROUP BY ALL ORDER BY 1",
                     params={"p": str(target)}).fetchall()
    assert got == [("u1", 2), ("u2", 2)]
    assert sorted(os.listdir(folder)) == sorted(["in.jsonl", "out", target.name])


def test_a_dataset_group_named_like_an_output_tables_schema_gets_a_typed_error(atk):
    folder = _dir(atk, "schema-then-group")
    source = _write(folder / "in.jsonl", [{"userId": "u1"}])
    atk.pp.create_batch_inference_job("schema-then-group", atk.v["pop"], str(source), str(folder / "out"),
                                      batch_inference_job_config={"outputTable": "marketing.recs"})
    try:
        atk.pp.create_dataset_group(name="marketing", domain="VIDEO_ON_DEMAND")
    except Exception as exc:        # noqa: BLE001 - the test is about which exception
        assert isinstance(exc, PypersonalizeError), type(exc)
    assert atk.pp.sql("SELECT count(*) FROM marketing.recs").fetchall()[0][0] == 25


# -- 5. inputs that look like SQL -------------------------------------------------------------

def test_a_glob_starting_with_an_sql_word_reads_the_files(atk, monkeypatch):
    folder = _dir(atk, "sql-word-glob")
    _write(folder / "selection-1.jsonl", [{"userId": "u1"}])
    monkeypatch.chdir(folder)
    atk.pp.create_batch_inference_job("sql-word-glob", atk.v["pop"], "selection-*.jsonl", str(folder / "out"),
                                      num_results=1)
    assert os.listdir(folder / "out") == ["selection-1.jsonl.out"]


# -- 6. names, counts and limits -----------------------------------------------------------

@pytest.mark.parametrize("name", ["", "-x", "a b", "a/b", "../x", "a" * 64, "x;DROP", "é", "a\x00", 7, None])
def test_odd_job_names_are_refused(atk, name):
    folder = _dir(atk, "names")
    source = _write(folder / "in.jsonl", [{"userId": "u1"}])
    with pytest.raises(InvalidInput, match="name"):
        atk.pp.create_batch_inference_job(name, atk.v["pop"], str(source), str(folder / "out"))
    assert not (folder / "out").exists()


def test_num_results_limits_of_both_job_kinds(atk):
    folder = _dir(atk, "limits")
    users = _write(folder / "u.jsonl", [{"userId": "u1"}])
    items = _write(folder / "i.jsonl", [{"itemId": "m1"}])
    for n in (0, 501, -1, 2.5, "5", True):
        with pytest.raises(InvalidInput, match="num_results"):
            atk.pp.create_batch_inference_job("limits-i", atk.v["pop"], str(users), str(folder / "o1"), num_results=n)
    for n in (0, 5_000_001, True):
        with pytest.raises(InvalidInput, match="num_results"):
            atk.pp.create_batch_segment_job("limits-s", atk.v["aff"], str(items), str(folder / "o2"), num_results=n)
    atk.pp.create_batch_segment_job("limits-s", atk.v["aff"], str(items), str(folder / "o2"), num_results=5_000_000)
    assert len(_lines(folder / "o2" / "i.jsonl.out")[0]["output"]["recommendedUsers"]) == len(USERS)
    assert not (folder / "o1").exists()


def test_500_item_records_run_and_a_501st_is_refused(atk):
    folder = _dir(atk, "five-hundred")
    ok = _write(folder / "500.jsonl", [{"itemId": f"m{i}"} for i in range(1, 501)] + [b"", b"   "])
    atk.pp.create_batch_segment_job("five-hundred", atk.v["aff"], str(ok), str(folder / "ok"), num_results=2)
    assert _job(atk, "segment", "five-hundred")["recordsProcessed"] == 500
    over = _write(folder / "501.jsonl", [{"itemId": f"m{i}"} for i in range(1, 502)])
    with pytest.raises(InvalidInput, match="500"):
        atk.pp.create_batch_segment_job("five-hundred-one", atk.v["aff"], str(over), str(folder / "over"))
    assert _job(atk, "segment", "five-hundred-one") is None
    with pytest.raises(InvalidInput, match="500"):
        atk.pp.create_batch_segment_job("five-hundred-one-q", atk.v["aff"],
                                        {"sql": "SELECT 'm' || i AS itemId FROM range(1, 502) t(i)"},
                                        str(folder / "over-q"))
    assert _hidden(folder) == [] and os.listdir(folder / "over-q") == []


def test_a_refused_501_record_file_leaves_no_output_folder(atk):
    folder = _dir(atk, "limit-folder")
    over = _write(folder / "501.jsonl", [{"itemId": f"m{i}"} for i in range(1, 502)])
    with pytest.raises(InvalidInput):
        atk.pp.create_batch_segment_job("limit-folder", atk.v["aff"], str(over), str(folder / "out"))
    assert not (folder / "out").exists()


# -- 7. segments: filters and the itemAttributes grammar ----------------------------------------

def test_segment_jobs_refuse_item_filters_and_interactions_filters_with_attributes(atk):
    folder = _dir(atk, "segment-filters")
    items = _write(folder / "i.jsonl", [{"itemId": "m1"}])
    with pytest.raises(InvalidInput, match="UserID"):
        atk.pp.create_batch_segment_job("seg-itemid", atk.v["aff"], str(items), str(folder / "o1"), filter="genre")
    with pytest.raises(InvalidInput, match="Interactions"):
        atk.pp.create_batch_segment_job("seg-inter", atk.v["attr"], str(items), str(folder / "o2"), filter="watched")
    with pytest.raises(InvalidInput, match="UserID|ItemID"):
        atk.pp.create_batch_inference_job("inf-userid", atk.v["pop"], str(folder / "i.jsonl"), str(folder / "o3"),
                                          filter="by-sub")
    for name in ("seg-itemid", "seg-inter"):
        assert _job(atk, "segment", name) is None
    assert sorted(os.listdir(folder)) == ["i.jsonl"]


def test_hostile_item_attribute_queries_are_line_errors_with_positions(atk):
    folder = _dir(atk, "attributes")
    queries = ['ITEMS.GÉNRES = "Comedy"', 'ITEMS.GENRES = "Com\\"edy"', 'ITEMS.GENRES = "\'); DROP TABLE movies.items; --"',
               'ITEMS."GENRES" = "Comedy"', 'ITEMS.GENRES = "a" OR 1=1', 'ITEMS.GENRES = "Comedy"; DROP TABLE movies.items',
               "ITEMS.GENRES = 'Comedy'", 'ITEMS.DURATION = "1e400"', 'ITEMS.GENRES = "Comedy"' + ' AND ITEMS.GENRES = "x"' * 50,
               'items.genres="Comedy"and items.genres="Drama"']
    source = _write(folder / "q.jsonl", [{"itemAttributes": q} for q in queries])
    items_before = atk.pp.sql("SELECT count(*) FROM movies.items").fetchall()[0][0]
    atk.pp.create_batch_segment_job("attributes", atk.v["attr"], str(source), str(folder / "out"), num_results=3)
    out = _lines(folder / "out" / "q.jsonl.out")
    assert [ln["itemAttributes"] for ln in out] == queries
    for number, line in enumerate(out[:9], start=1):
        assert line["output"] is None and line["error"].startswith(f"line {number}: "), line
    for k in (0, 3, 4, 5, 6, 7, 8):
        assert "position" in out[k]["error"], out[k]
    assert len(out[9]["output"]["recommendedUsers"]) == 3
    assert atk.pp.sql("SELECT count(*) FROM movies.items").fetchall()[0][0] == items_before


def test_user_filter_values_on_segments_are_bound(atk):
    folder = _dir(atk, "segment-values")
    source = _write(folder / "i.jsonl", [{"itemId": "m1", "filterValues": {"SUB": '"basic"'}},
                                         {"itemId": "m1", "filterValues": {"SUB": '"); DROP TABLE movies.users; --'}},
                                         {"itemId": "m1", "filterValues": {"SUB": 7}},
                                         {"itemId": "m1"}])
    atk.pp.create_batch_segment_job("segment-values", atk.v["aff"], str(source), str(folder / "out"), num_results=5,
                                    filter="by-sub")
    out = _lines(folder / "out" / "i.jsonl.out")
    basic = {u for (u,) in atk.pp.sql("SELECT USER_ID FROM movies.users WHERE list_contains(SUBSCRIPTION_MODEL, 'basic')")
             .fetchall()}
    assert set(out[0]["output"]["recommendedUsers"]) <= basic
    assert [ln["error"] is None for ln in out] == [True, False, False, False]
    assert atk.pp.sql("SELECT count(*) FROM movies.users").fetchall()[0][0] > 0


# -- 8. lifecycle: threads, kills, deletes ---------------------------------------------------

def test_the_same_job_created_from_two_threads_runs_once(atk):
    folder = _dir(atk, "twins")
    source = _write(folder / "in.jsonl", [{"userId": u} for u in USERS] * 8)
    barrier, results = threading.Barrier(2), []

    def create():
        barrier.wait()
        try:
            results.append(atk.pp.create_batch_inference_job("twins", atk.v["pop"], str(source), str(folder / "out"),
                                                             num_results=2))
        except Exception as exc:        # noqa: BLE001 - collected and checked below
            results.append(exc)

    threads = [threading.Thread(target=create) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(type(r).__name__ for r in results) == ["ResourceInUse", "dict"], results
    assert _job(atk, "inference", "twins")["recordsProcessed"] == len(USERS) * 8
    assert len(_lines(folder / "out" / "in.jsonl.out")) == len(USERS) * 8


def test_a_running_background_job_refuses_its_name_and_close_waits(atk, tmp_path):
    db = tmp_path / "copy.duckdb"
    with pypersonalize.open(db, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies", types=("Interactions",))
        pp.create_solution(name="pop", dataset_group="movies", recipe="aws-popularity-count")
        version = pp.create_solution_version("pop")["solutionVersionArn"]
        source = _write(tmp_path / "in.jsonl", [{"userId": u} for u in USERS] * 10)
        pp.create_batch_inference_job("bg", version, str(source), str(tmp_path / "out"), num_results=2, wait=False)
        with pytest.raises((ResourceInUse, ResourceAlreadyExists)) as info:
            pp.create_batch_inference_job("bg", version, str(source), str(tmp_path / "out"), num_results=2, wait=False)
        if isinstance(info.value, ResourceAlreadyExists):       # only once the first run is over
            assert pp.describe_batch_inference_job("bg")["batchInferenceJob"]["status"] == "ACTIVE"
    with pypersonalize.open(db, quiet=True, read_only=True) as pp:        # the file opens, the job is done
        job = pp.describe_batch_inference_job("bg")["batchInferenceJob"]
    assert (job["status"], job["recordsProcessed"]) == ("ACTIVE", len(USERS) * 10)
    assert _hidden(tmp_path / "out") == []


class _Killed(BaseException):
    """Stands for kill -9 in the middle of a job: nothing in the library catches it."""


def test_a_killed_job_whose_input_changed_is_not_resumed_onto_old_lines(atk, monkeypatch):
    folder = _dir(atk, "killed")
    source = _write(folder / "in.jsonl", [{"userId": u} for u in USERS] * 3)
    emit, calls = batch_runs.InferenceRun.emit, [0]

    def dies_on_second_block(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 2:
            raise _Killed()
        return emit(self, *args, **kwargs)

    monkeypatch.setattr(batch_runs.InferenceRun, "emit", dies_on_second_block)
    with pytest.raises(_Killed):
        atk.pp.create_batch_inference_job("killed", atk.v["pop"], str(source), str(folder / "out"), num_results=1)
    monkeypatch.setattr(batch_runs.InferenceRun, "emit", emit)
    new = [{"userId": f"new{i}"} for i in range(1000)]
    _write(source, new)
    try:
        atk.pp.create_batch_inference_job("killed", atk.v["pop"], str(source), str(folder / "out"), num_results=1)
    except InvalidInput as exc:         # refusing, naming the changed input, is correct too
        assert "in.jsonl" in str(exc)
        return
    assert [ln["input"] for ln in _lines(folder / "out" / "in.jsonl.out")] == new


def test_a_job_recorded_then_its_filter_deleted_fails_with_a_typed_error(atk):
    folder = _dir(atk, "filter-gone")
    atk.pp.create_filter("genre-tmp", "movies", "INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)")
    source = _write(folder / "in.jsonl", [{"userId": "u1", "filterValues": {"GENRES": '"Comedy"'}}])
    atk.pp.create_batch_inference_job("filter-gone", atk.v["pop"], str(source), str(folder / "out"),
                                      filter="genre-tmp", wait=None)
    atk.pp.delete_filter("genre-tmp")
    with pytest.raises(ResourceNotFound, match="genre-tmp"):
        atk.pp.create_batch_inference_job("filter-gone", atk.v["pop"], str(source), str(folder / "out"),
                                          filter="genre-tmp")
    assert _hidden(folder) == []


def test_a_solution_with_a_pending_batch_job_cannot_be_deleted(atk):
    folder = _dir(atk, "pending-delete")
    atk.pp.create_solution(name="doomed", dataset_group="movies", recipe="aws-item-affinity")
    version = atk.pp.create_solution_version("doomed")["solutionVersionArn"]
    source = _write(folder / "i.jsonl", [{"itemId": "m1"}])
    atk.pp.create_batch_segment_job("pending-delete", version, str(source), str(folder / "out"), wait=None)
    with pytest.raises(ResourceInUse, match="pending-delete"):
        atk.pp.delete_solution("doomed")


# -- 9. CLI ------------------------------------------------------------------------------------

def _cli(atk, *args):
    return CliRunner().invoke(main, ["--db", str(atk.db), *args])


def test_cli_bad_input_is_one_line_and_exit_1_usage_is_exit_2(atk):
    atk.pp.close()
    try:
        folder = _dir(atk, "cli")
        source = _write(folder / "in.jsonl", [{"userId": "u1"}])
        r = _cli(atk, "batch-inference", "create", "cli-both", "--solution-version", atk.v["pop"], "--input",
                 str(source), "--query", "SELECT 1", "--output", str(folder / "o"))
        assert r.exit_code == 2 and "exactly one of --input or --query" in r.output
        for args in (["--num-results", "0"], ["--output-table", "pypersonalize.x"], ["--filter", "by-sub"],
                     ["--output-parquet", str(folder / "no" / "r.parquet")]):
            r = _cli(atk, "batch-inference", "create", "cli-bad", "--solution-version", atk.v["pop"], "--input",
                     str(source), "--output", str(folder / "o"), *args)
            assert r.exit_code == 1 and r.output.startswith("Error: ") and r.output.count("\n") == 1, (args, r.output)
        r = _cli(atk, "batch-segment", "create", "cli-seg", "--solution-version", atk.v["pop"], "--input",
                 str(source), "--output", str(folder / "o"))
        assert r.exit_code == 1 and "USER_SEGMENTATION" in r.output
        r = _cli(atk, "batch-inference", "describe", "no-such-job")
        assert r.exit_code == 1 and "no-such-job" in r.output and r.output.count("\n") == 1
        assert not (folder / "o").exists()
    finally:
        atk.pp = pypersonalize.open(atk.db, quiet=True)


def test_cli_a_hostile_line_does_not_give_a_traceback(atk):
    atk.pp.close()
    try:
        folder = _dir(atk, "cli-trace")
        source = _write(folder / "in.jsonl", ['{"userId": "u1", "x": "\\udc00"}', {"userId": "u2"}])
        r = _cli(atk, "--format", "json", "batch-inference", "create", "cli-trace", "--solution-version",
                 atk.v["pop"], "--input", str(source), "--output", str(folder / "o"))
        assert r.exit_code == 0, (r.output, r.exception)
        assert json.loads(r.output)["recordsFailed"] == 1
    finally:
        atk.pp = pypersonalize.open(atk.db, quiet=True)


def test_cli_background_from_main_called_with_arguments_runs_the_job(atk, monkeypatch):
    atk.pp.close()
    try:
        folder = _dir(atk, "cli-background")
        source = _write(folder / "in.jsonl", [{"userId": "u1"}])
        monkeypatch.setattr("sys.argv", ["wrapper.py", "--wrapper-flag"])
        r = _cli(atk, "--format", "json", "batch-inference", "create", "cli-background", "--solution-version",
                 atk.v["pop"], "--input", str(source), "--output", str(folder / "o"), "--background")
        assert r.exit_code == 0, r.output
        os.waitpid(json.loads(r.output)["pid"], 0)
        with pypersonalize.open(atk.db, quiet=True, read_only=True) as pp:
            assert pp.describe_batch_inference_job("cli-background")["batchInferenceJob"]["status"] == "ACTIVE"
    finally:
        atk.pp = pypersonalize.open(atk.db, quiet=True)


# -- 10. after all of it -------------------------------------------------------------------------

def test_the_project_file_opens_after_every_attack(atk):
    atk.pp.close()
    with pypersonalize.open(atk.db, quiet=True, read_only=True) as pp:
        jobs = pp.list_batch_inference_jobs()["batchInferenceJobs"] + pp.list_batch_segment_jobs()["batchSegmentJobs"]
        assert jobs and pp.sql("SELECT count(*) FROM movies.items").fetchall()[0][0] > 0
    atk.pp = pypersonalize.open(atk.db, quiet=True)
