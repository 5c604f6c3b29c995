"""The CLI end to end: same names as the API, formats, exit codes, env var default."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from pypersonalize.cli import main
from tests.conftest import DOMAIN_DIRS

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]


@pytest.fixture
def run(tmp_path):
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()

    def invoke(*args, env_db=True):
        env = {"PYPERSONALIZE_DB": db} if env_db else {"PYPERSONALIZE_DB": ""}
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)
    invoke.db = db
    return invoke


def _setup(run):
    assert run("dataset-group", "create", "movies", "--domain", "VIDEO_ON_DEMAND").exit_code == 0
    for t in ("interactions", "items", "users"):
        r = run("schema", "create", f"m-{t}", "--schema", str(VOD / f"{t}.schema.json"),
                "--domain", "VIDEO_ON_DEMAND")
        assert r.exit_code == 0, r.output
        r = run("dataset", "create", f"movies-{t}", "--dataset-group", "movies", "--type", t,
                "--schema", f"m-{t}")
        assert r.exit_code == 0, r.output


def test_full_flow_and_json_output(run):
    _setup(run)
    r = run("--format", "json", "dataset", "import", "Interactions", str(VOD / "interactions.csv"),
            "--dataset-group", "movies")
    assert r.exit_code == 0, r.output
    job = json.loads(r.output)
    assert job["status"] == "ACTIVE" and job["rowCount"] == 45313
    r = run("dataset-group", "describe", "movies", "--format", "json")
    desc = json.loads(r.output)
    assert desc["datasetGroup"]["domain"] == "VIDEO_ON_DEMAND"
    assert desc["dataRequirements"]["interactions"]["count"] == 45313
    r = run("sql", "SELECT count(*) AS n FROM movies.interactions", "--format", "csv")
    assert list(csv.reader(io.StringIO(r.output))) == [["n"], ["45313"]]
    r = run("import-job", "list", "--format", "json")
    assert [j["status"] for j in json.loads(r.output)] == ["ACTIVE"]
    r = run("dataset-group", "validate", "movies", "--event-type", "Watch", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.output)["meetsMinimum"] is True


def test_table_and_csv_formats(run):
    run("dataset-group", "create", "a")
    run("dataset-group", "create", "b", "--domain", "ECOMMERCE")
    table = run("dataset-group", "list").output.splitlines()
    assert table[0].split()[:2] == ["name", "datasetGroupArn"]
    assert set(table[1]) == {"-", " "} and len(table) == 4
    rows = list(csv.DictReader(io.StringIO(run("--format", "csv", "dataset-group", "list").output)))
    assert [r["name"] for r in rows] == ["a", "b"] and rows[1]["domain"] == "ECOMMERCE"


def test_bad_input_gives_one_line_error_and_exit_1(run, tmp_path):
    _setup(run)
    bad = tmp_path / "bad.csv"
    bad.write_text("USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP,IMPRESSION\n"
                   "u1,m1,Watch,0.5,1700000000,\nu2,m2,Watch,0.5,17e,\n")
    r = run("dataset", "import", "Interactions", str(bad), "--dataset-group", "movies")
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:")
    assert "bad.csv" in lines[0] and "line 3" in lines[0] and "TIMESTAMP" in lines[0]
    r = run("--format", "json", "import-job", "list")
    assert json.loads(r.output)[-1]["status"] == "CREATE FAILED"
    assert run("dataset-group", "describe", "nope").exit_code == 1
    assert run("dataset-group", "delete", "movies").exit_code == 1


def test_usage_errors_exit_2(run):
    assert run("dataset-group", "create").exit_code == 2
    assert run("dataset", "import", "x", "y", "--mode", "SIDEWAYS").exit_code == 2
    assert run("--format", "xml", "dataset-group", "list").exit_code == 2
    r = run("dataset-group", "list", env_db=False)
    assert r.exit_code == 2 and "PYPERSONALIZE_DB" in r.output


def test_db_option_overrides_env(run, tmp_path):
    other = str(tmp_path / "other.duckdb")
    assert run("--db", other, "dataset-group", "create", "x").exit_code == 0
    assert "x" not in run("--format", "json", "dataset-group", "list").output
    assert '"x"' in run("--db", other, "--format", "json", "dataset-group", "list").output


def test_schema_commands(run):
    r = run("schema", "create", "u", "--schema",
            '{"type":"record","name":"Users","fields":[{"name":"USER_ID","type":"string"},'
            '{"name":"AGE","type":"int"}]}')
    assert r.exit_code == 0, r.output
    listing = json.loads(run("--format", "json", "schema", "list").output)
    assert [s["name"] for s in listing] == ["u"] and "schema" not in listing[0]
    desc = json.loads(run("--format", "json", "schema", "describe", "u").output)
    assert json.loads(desc["schema"])["name"] == "Users"
    r = run("schema", "create", "v", "--schema", '{"type":"record","name":"Users","fields":[]}')
    assert r.exit_code == 1 and "fields" in r.output
    assert run("schema", "delete", "u").exit_code == 0


def test_update_schema_command(run, tmp_path):
    _setup(run)
    schema = json.loads((VOD / "users.schema.json").read_text())
    schema["fields"].append({"name": "PLAN_START", "type": ["null", "long"]})
    path = tmp_path / "users2.json"
    path.write_text(json.dumps(schema))
    run("schema", "create", "m-users-2", "--schema", str(path), "--domain", "VIDEO_ON_DEMAND")
    r = run("dataset", "update-schema", "Users", "--dataset-group", "movies", "--schema", "m-users-2")
    assert r.exit_code == 0, r.output
    r = run("--format", "json", "dataset", "describe", "Users", "--dataset-group", "movies")
    assert json.loads(r.output)["schemaArn"].endswith("schema/m-users-2")


def test_quiet_and_non_tty_print_no_progress(run):
    _setup(run)
    r = run("dataset", "import", "Users", str(VOD / "users.csv"), "--dataset-group", "movies",
            "--format", "json", "--quiet")
    assert r.exit_code == 0
    assert json.loads(r.output)["rowCount"] == 2000   # stdout is the result and nothing else


def test_an_in_memory_project_is_a_usage_error():
    result = CliRunner().invoke(main, ["--db", ":memory:", "dataset-group", "create", "g"])
    assert result.exit_code == 2 and "keeps nothing between commands" in result.output
