"""`--read-only` (global or per command): readers share the file, writers fail clearly.

DuckDB lets any number of processes open a file read-only, or one process read-write.
The CLI opens read-write by default, so a reader elsewhere locks it out; with --read-only
it reads alongside other readers.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

import pypersonalize
from pypersonalize.cli import main
from tests.conftest import DOMAIN_DIRS, build_sample_group

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """A VIDEO_ON_DEMAND project with a Because-you-watched recommender."""
    path = tmp_path_factory.mktemp("ro") / "ro.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies", types=("Interactions",))
        pp.create_recommender(name="byw", dataset_group="movies", use_case="Because you watched X")
    return str(path)


def _cli(*args):
    return CliRunner().invoke(main, list(args), env={"PYPERSONALIZE_DB": ""}, catch_exceptions=False)


def _digest(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


class _Holder:
    """Another process with the project open (read-only or not) until the block ends."""

    def __init__(self, db: str, read_only: bool):
        code = textwrap.dedent(f"""
            import sys, pypersonalize
            pp = pypersonalize.open({db!r}, read_only={read_only!r}, quiet=True)
            print("ready", flush=True)
            sys.stdin.read()
            pp.close()
        """)
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def __enter__(self):
        assert self.proc.stdout.readline().strip() == "ready"
        return self.proc

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _one_line_error(r) -> str:
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error:"), r.output
    return lines[0]


def test_read_only_reads_while_another_process_reads(db):
    with _Holder(db, read_only=True) as holder:
        r = _cli("--db", db, "--read-only", "--format", "json", "dataset-group", "list")
        assert r.exit_code == 0, r.output
        assert [g["name"] for g in json.loads(r.output)] == ["movies"]
        r = _cli("--db", db, "dataset", "list", "--read-only")           # the per-command flag
        assert r.exit_code == 0 and "movies-interactions" in r.output
        r = _cli("--db", db, "--read-only", "--format", "json", "recommend", "--recommender", "byw",
                 "--user-id", "u1", "--item-id", "m114", "-n", "5")
        assert r.exit_code == 0, r.output
        assert len(json.loads(r.output)["itemList"]) == 5
        # Without --read-only the CLI wants the file to itself: one line naming the holder.
        line = _one_line_error(_cli("--db", db, "dataset-group", "list"))
        assert str(holder.pid) in line and "--read-only" in line


def test_a_writer_elsewhere_is_named_in_the_error(db):
    with _Holder(db, read_only=False) as holder:
        line = _one_line_error(_cli("--db", db, "--read-only", "dataset-group", "list"))
        assert str(holder.pid) in line


WRITES = [
    ("dataset-group", "create", "more"),
    ("schema", "create", "s2", "--schema", str(VOD / "items.schema.json"), "--domain", "VIDEO_ON_DEMAND"),
    ("dataset", "import", "Interactions", str(VOD / "interactions.csv"), "--dataset-group", "movies"),
    ("recommender", "create", "pop", "--dataset-group", "movies", "--use-case", "Most popular"),
    ("recommender", "delete", "byw"),
    ("put-events", "--dataset-group", "movies", "--user-id", "u1", "--session-id", "s",
     "--event", '{"eventType": "Watch", "itemId": "m7", "sentAt": 1735700000}'),
    ("filter", "create", "f", "--dataset-group", "movies", "--expression",
     'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")'),
    ("refresh", "--force"),
    ("sql", "CREATE TABLE scratch AS SELECT 1 AS x"),
]


@pytest.mark.parametrize("args", WRITES, ids=[" ".join(a[:2]) for a in WRITES])
def test_commands_that_write_fail_in_one_line_and_change_nothing(db, args):
    before = _digest(db)
    line = _one_line_error(_cli("--db", db, "--read-only", "--quiet", *args))
    assert "read-only" in line
    assert _digest(db) == before


def test_read_only_commands_leave_the_file_as_it_was(db):
    before = _digest(db)
    for args in (("dataset-group", "describe", "movies"), ("recommender", "list"),
                 ("recommend", "--recommender", "byw", "--user-id", "u1", "--item-id", "m114"),
                 ("sql", "SELECT count(*) FROM movies.interactions")):
        r = _cli("--db", db, "--read-only", *args)
        assert r.exit_code == 0, (args, r.output)
    assert _digest(db) == before


def test_read_only_needs_an_existing_project(tmp_path):
    path = tmp_path / "new.duckdb"
    line = _one_line_error(_cli("--db", str(path), "--read-only", "dataset-group", "list"))
    assert str(path) in line and not path.exists()


@pytest.fixture(scope="module")
def logging_db(tmp_path_factory):
    """Top picks over interactions with RECOMMENDATION_ID: each list is logged when writable."""
    folder = tmp_path_factory.mktemp("ro-log")
    schema = json.loads((VOD / "interactions.schema.json").read_text())
    schema["fields"].append({"name": "RECOMMENDATION_ID", "type": ["null", "string"]})
    with open(VOD / "interactions.csv", newline="") as src, open(folder / "i.csv", "w", newline="") as dst:
        rows = csv.reader(src)
        out = csv.writer(dst, lineterminator="\n")
        out.writerow(next(rows) + ["RECOMMENDATION_ID"])
        out.writerows(r + [""] for r in rows)
    path = folder / "log.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        pp.create_dataset_group(name="movies", domain="VIDEO_ON_DEMAND")
        pp.create_schema(name="mi", schema=json.dumps(schema), domain="VIDEO_ON_DEMAND")
        pp.create_dataset(name="mi", dataset_group="movies", dataset_type="Interactions", schema="mi")
        pp.create_dataset_import_job(dataset="mi", data_source=str(folder / "i.csv"))
        pp.create_recommender(name="top", dataset_group="movies", use_case="Top picks for you")
    return str(path)


def _logged(db: str) -> int:
    with pypersonalize.open(db, read_only=True) as pp:
        return pp.sql("SELECT count(*) FROM pypersonalize.recommendation_log").fetchall()[0][0]


def test_recommend_logs_impressions_when_writable(logging_db):
    before = _logged(logging_db)
    r = _cli("--db", logging_db, "--format", "json", "recommend", "--recommender", "top", "--user-id", "u1",
             "-n", "5", "--seed", "1")
    assert r.exit_code == 0, r.output
    assert _logged(logging_db) == before + 1


def test_recommend_read_only_answers_without_logging(logging_db):
    before, digest = _logged(logging_db), _digest(logging_db)
    with _Holder(logging_db, read_only=True):
        r = _cli("--db", logging_db, "--read-only", "--format", "json", "recommend", "--recommender", "top",
                 "--user-id", "u1", "-n", "5", "--seed", "1")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.output)["itemList"]) == 5
    assert _logged(logging_db) == before and _digest(logging_db) == digest
