"""`dataset import DATASET SOURCE`: SOURCE is a path (file, folder, glob) unless --query.

Text is never guessed to be SQL in the CLI: a mistyped path, or SQL given without
--query, is a usage error (exit 2) that runs nothing and records no job.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from pypersonalize.cli import main
from tests.conftest import DOMAIN_DIRS

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
ROWS = 45313


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)       # a relative file written by a stray statement lands here
    db = str(tmp_path / "src.duckdb")
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, ["--db", db, "--quiet", *args], env={"PYPERSONALIZE_DB": ""},
                             catch_exceptions=False)
    for args in (("dataset-group", "create", "movies", "--domain", "VIDEO_ON_DEMAND"),
                 ("schema", "create", "mi", "--schema", str(VOD / "interactions.schema.json"),
                  "--domain", "VIDEO_ON_DEMAND"),
                 ("dataset", "create", "movies-interactions", "--dataset-group", "movies",
                  "--type", "Interactions", "--schema", "mi")):
        assert invoke(*args).exit_code == 0
    return invoke


def _jobs(run) -> list[dict]:
    return json.loads(run("--format", "json", "import-job", "list").output)


NOT_PATHS = [
    "SELECT * FROM movies.interactions",
    "movies.interactions",                                    # a table name
    "SELECT 1) AS x; COPY (SELECT 'pwned') TO 'pwned.csv'; SELECT * FROM (SELECT 1",
    "interactions.csv",                                       # a missing bare file name
    "exports/2024/interactions.csv",
    "exports/*.csv",                                          # a glob matching nothing
]


@pytest.mark.parametrize("source", NOT_PATHS)
def test_a_source_that_names_no_file_is_a_usage_error(run, tmp_path, source):
    r = run("dataset", "import", "Interactions", source, "--dataset-group", "movies")
    assert r.exit_code == 2, r.output
    assert "pass --query to import from SQL" in r.output and source in r.output
    assert ("no file matches" if "*" in source else "no such file or folder") in r.output
    assert _jobs(run) == [] and not (tmp_path / "pwned.csv").exists()


def test_files_folders_and_globs_import_without_query(run, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(VOD / "interactions.csv", folder / "part-1.csv")
    for source in (str(VOD / "interactions.csv"), str(folder), str(folder / "*.csv")):
        r = run("--format", "json", "dataset", "import", "Interactions", source, "--dataset-group", "movies")
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["rowCount"] == ROWS


def test_query_imports_a_select_or_a_table(run):
    r = run("sql", f"CREATE TABLE staging AS SELECT * FROM read_csv('{VOD / 'interactions.csv'}')")
    assert r.exit_code == 0, r.output
    r = run("--format", "json", "dataset", "import", "Interactions",
            "SELECT * FROM staging WHERE EVENT_TYPE = 'Watch'", "--query", "--dataset-group", "movies")
    assert r.exit_code == 0, r.output
    watched = json.loads(r.output)["rowCount"]
    assert 0 < watched < ROWS
    r = run("--format", "json", "dataset", "import", "Interactions", "staging", "--query",
            "--dataset-group", "movies")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["rowCount"] == ROWS
    assert [j["status"] for j in _jobs(run)] == ["ACTIVE", "ACTIVE"]


def test_query_takes_no_data_format(run):
    r = run("dataset", "import", "Interactions", "staging", "--query", "--data-format", "csv",
            "--dataset-group", "movies")
    assert r.exit_code == 2 and "--data-format" in r.output


def test_a_query_of_several_statements_runs_none(run, tmp_path):
    # The library's half of the rule: a query source is exactly one SELECT.
    r = run("dataset", "import", "Interactions",
            "SELECT 1) AS x; COPY (SELECT 'pwned') TO 'pwned.csv'; SELECT * FROM (SELECT 1",
            "--query", "--dataset-group", "movies")
    assert not (tmp_path / "pwned.csv").exists()
    assert r.exit_code == 1 and r.output.startswith("Error:") and len(r.output.strip().splitlines()) == 1


def test_the_usage_error_comes_before_the_project_is_opened(tmp_path):
    path = tmp_path / "never.duckdb"
    r = CliRunner().invoke(main, ["--db", str(path), "dataset", "import", "Interactions", "missing.csv"],
                           env={"PYPERSONALIZE_DB": ""})
    assert r.exit_code == 2 and "missing.csv" in r.output and not path.exists()
