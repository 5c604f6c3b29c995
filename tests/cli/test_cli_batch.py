"""`pypersonalize batch-inference create|describe|list` end to end (CliRunner, and
subprocesses for --background and for a process that holds the project file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import pypersonalize
from pypersonalize.cli import main
from tests.conftest import ROOT, build_sample_group

CLI = [sys.executable, "-c", "from pypersonalize.cli import main; main()"]
USERS = [f"u{i}" for i in range(1, 2001)]


@pytest.fixture(scope="module")
def proj(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli-batch")
    db = base / "cli.duckdb"
    with pypersonalize.open(db, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies", types=("Interactions", "Items"))
        pp.create_solution(name="up", dataset_group="movies", recipe="aws-user-personalization")
        up = pp.create_solution_version("up")["solutionVersionArn"]
        pp.create_solution(name="pop", dataset_group="movies", recipe="aws-popularity-count")
        pop = pp.create_solution_version("pop")["solutionVersionArn"]
    users = base / "users.jsonl"
    users.write_text("".join(json.dumps({"userId": u}) + "\n" for u in USERS[:30]) + "not json\n")
    return {"db": str(db), "base": base, "up": up, "pop": pop, "users": users}


def _run(proj, *args):
    return CliRunner().invoke(main, ["--db", proj["db"], *args], catch_exceptions=False)


def _lines(path) -> list[dict]:
    return [json.loads(ln) for ln in Path(path).read_text().splitlines()]


def test_create_writes_the_out_file_and_describe_and_list_show_the_job(proj):
    out = proj["base"] / "out-create"
    r = _run(proj, "--format", "json", "batch-inference", "create", "cli-job", "--solution-version", proj["up"],
             "--input", str(proj["users"]), "--output", str(out), "--num-results", "4")
    assert r.exit_code == 0, r.output
    job = json.loads(r.output)
    assert job["status"] == "ACTIVE" and job["numResults"] == 4
    assert (job["recordsProcessed"], job["recordsSucceeded"], job["recordsFailed"]) == (31, 30, 1)
    lines = _lines(out / "users.jsonl.out")
    assert job["outputFiles"] == [str(out / "users.jsonl.out")]
    assert [ln["input"] for ln in lines[:30]] == [{"userId": u} for u in USERS[:30]]
    assert all(len(ln["output"]["recommendedItems"]) == 4 for ln in lines[:30])
    assert lines[30] == {"input": "not json", "output": None, "error": "line 31: the line is not valid JSON"}

    r = _run(proj, "--format", "json", "batch-inference", "describe", "cli-job")
    assert r.exit_code == 0, r.output
    described = json.loads(r.output)
    assert described["status"] == "ACTIVE" and described["recordsSucceeded"] == 30
    assert described["batchInferenceJobArn"] == job["batchInferenceJobArn"]
    with pypersonalize.open(proj["db"], quiet=True) as pp:     # the CLI shows what the API returns
        api = pp.describe_batch_inference_job("cli-job")["batchInferenceJob"]
    assert {k: described[k] for k in ("jobName", "numResults", "outputFiles", "recordsFailed")} == \
        {k: api[k] for k in ("jobName", "numResults", "outputFiles", "recordsFailed")}

    r = _run(proj, "--format", "json", "batch-inference", "list")
    assert r.exit_code == 0 and "cli-job" in [j["jobName"] for j in json.loads(r.output)]
    r = _run(proj, "--format", "json", "batch-inference", "list", "--solution-version", proj["pop"])
    assert r.exit_code == 0 and "cli-job" not in [j["jobName"] for j in json.loads(r.output)]
    table = _run(proj, "batch-inference", "describe", "cli-job").output
    assert "ACTIVE" in table and "recordsProcessed" in table


def test_query_output_table_and_exploration_options(proj):
    out = proj["base"] / "out-query"
    sql = "SELECT DISTINCT USER_ID AS userId FROM movies.interactions ORDER BY 1 LIMIT 20"
    r = _run(proj, "--format", "json", "batch-inference", "create", "cli-query", "--solution-version", proj["up"],
             "--query", sql, "--output", str(out), "--num-results", "3", "--output-table", "cli_rows",
             "--output-parquet", str(proj["base"] / "cli_rows.parquet"), "--exploration-weight", "0")
    assert r.exit_code == 0, r.output
    config = json.loads(r.output)["batchInferenceJobConfig"]
    assert config["outputTable"] == "cli_rows" and config["outputParquet"] == str(proj["base"] / "cli_rows.parquet")
    assert set(config) == {"itemExplorationConfig", "outputTable", "outputParquet"}
    assert float(config["itemExplorationConfig"]["explorationWeight"]) == 0.0   # Personalize's are strings
    lines = _lines(out / "query.out")
    with pypersonalize.open(proj["db"], quiet=True) as pp:
        expected = [u for (u,) in pp.sql(sql).fetchall()]
        rows = pp.sql("SELECT input_key, rank, item_id FROM cli_rows ORDER BY input_key, rank").fetchall()
    assert [ln["input"]["userId"] for ln in lines] == expected
    parquet = pd.read_parquet(proj["base"] / "cli_rows.parquet")
    assert sorted(zip(parquet.input_key, parquet["rank"].astype(int), parquet.item_id)) == rows
    assert rows == sorted((ln["input"]["userId"], k, i) for ln in lines
                          for k, i in enumerate(ln["output"]["recommendedItems"], start=1))


@pytest.mark.parametrize("args,words", [
    (["--input", "{base}/no-such.jsonl"], ["no-such.jsonl"]),
    (["--input", "{users}", "--num-results", "0"], ["num_results"]),
    (["--input", "{users}", "--filter", "nope"], ["nope"]),
    (["--input", "s3://bucket/users.jsonl"], ["s3://"]),
])
def test_a_bad_create_exits_1_with_one_line_naming_the_problem(proj, args, words):
    args = [a.format(base=proj["base"], users=proj["users"]) for a in args]
    out = proj["base"] / "out-bad"
    r = _run(proj, "batch-inference", "create", "cli-bad", "--solution-version", proj["up"], *args,
             "--output", str(out))
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), r.output
    assert all(w in lines[0] for w in words), lines
    assert not out.exists()
    r = _run(proj, "--format", "json", "batch-inference", "list")
    assert "cli-bad" not in [j["jobName"] for j in json.loads(r.output)]


def test_usage_errors_exit_2(proj):
    r = _run(proj, "batch-inference", "create", "x", "--solution-version", proj["up"], "--output", "o")
    assert r.exit_code == 2 and "--input" in r.output          # neither --input nor --query
    r = _run(proj, "batch-inference", "create", "x", "--input", str(proj["users"]), "--output", "o")
    assert r.exit_code == 2 and "--solution-version" in r.output
    r = _run(proj, "batch-inference", "describe", "no-such-job")
    assert r.exit_code == 1 and "no-such-job" in r.output


def _wait_active(proj, name: str, timeout: float = 60) -> tuple[dict, list[int]]:
    """Poll ``describe`` (a subprocess, as a user would) until the job is ACTIVE."""
    codes, start = [], time.monotonic()
    while time.monotonic() - start < timeout:
        done = subprocess.run([*CLI, "--db", proj["db"], "--format", "json", "batch-inference", "describe", name],
                              capture_output=True, text=True, cwd=ROOT)
        codes.append(done.returncode)
        if done.returncode == 0:
            found = json.loads(done.stdout)
            if found["status"] == "ACTIVE":
                return found, codes
            assert found["status"] in ("CREATE PENDING", "CREATE IN_PROGRESS"), found
        time.sleep(0.2)
    pytest.fail(f"{name} not ACTIVE after {timeout} s (describe exit codes {codes})")


def test_background_returns_at_once_with_a_pid_and_the_job_finishes(proj):
    source = proj["base"] / "many.jsonl"
    source.write_text("".join(json.dumps({"userId": u}) + "\n" for u in USERS * 4))
    out = proj["base"] / "out-bg"
    start = time.monotonic()
    done = subprocess.run([*CLI, "--db", proj["db"], "--format", "json", "batch-inference", "create", "cli-bg",
                           "--solution-version", proj["up"], "--input", str(source), "--output", str(out),
                           "--background"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout)
    assert not (out / "many.jsonl.out").exists()           # returned before the job could finish
    assert isinstance(started["pid"], int) and started["status"] == "CREATE PENDING"
    assert started["jobArn"].endswith("batch-inference-job/cli-bg")
    found, _codes = _wait_active(proj, "cli-bg")
    assert found["recordsProcessed"] == 8000 and time.monotonic() - start < 60
    assert len(_lines(out / "many.jsonl.out")) == 8000
    assert [p for p in os.listdir(out) if p.startswith(".")] == []


def test_describe_reads_the_status_file_while_another_process_holds_the_project(proj):
    out = proj["base"] / "out-held"
    r = _run(proj, "batch-inference", "create", "cli-held", "--solution-version", proj["pop"],
             "--input", str(proj["users"]), "--output", str(out))
    assert r.exit_code == 0, r.output
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time, pypersonalize\n"
                               f"pp = pypersonalize.open({proj['db']!r}, quiet=True)\n"
                               "print('held', flush=True)\ntime.sleep(60)\n"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        done = subprocess.run([*CLI, "--db", proj["db"], "--format", "json", "batch-inference", "describe",
                               "cli-held"], capture_output=True, text=True, cwd=ROOT)
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["status"] == "ACTIVE" and found["recordsProcessed"] == 31


def test_background_through_main_with_arguments_runs_the_job(proj):
    out = proj["base"] / "out-bg-runner"
    r = _run(proj, "--format", "json", "batch-inference", "create", "cli-bg-runner", "--solution-version",
             proj["pop"], "--input", str(proj["users"]), "--output", str(out), "--background")
    assert r.exit_code == 0, r.output
    pid = json.loads(r.output)["pid"]
    os.waitpid(pid, 0)                                      # the detached process is our child
    r = _run(proj, "--format", "json", "batch-inference", "describe", "cli-bg-runner")
    assert json.loads(r.output)["status"] == "ACTIVE", r.output


def test_a_detached_job_waits_for_a_process_that_holds_the_file(proj):
    """CI once saw the detached process start while a polling ``describe`` held the file: it
    gave up and the job stayed CREATE PENDING for ever. It now waits for the file."""
    out = proj["base"] / "out-waits"
    with pypersonalize.open(proj["db"], quiet=True) as pp:
        arn = pp.create_batch_inference_job("cli-waits", proj["pop"], str(proj["users"]), str(out),
                                            wait=None)["batchInferenceJobArn"]
        child = subprocess.Popen([*CLI[:2], "from pypersonalize.cli_batch import run_detached; import sys; "
                                  "run_detached(*sys.argv[1:4])", proj["db"], "batch-inference-job", arn],
                                 stderr=subprocess.PIPE, text=True, cwd=ROOT)
        time.sleep(2.0)                                     # long enough to have met the held file
        assert child.poll() is None, child.stderr.read()     # still waiting, not given up
        assert pp.describe_batch_inference_job(arn)["batchInferenceJob"]["status"] == "CREATE PENDING"
    assert child.wait(timeout=120) == 0, child.stderr.read()
    r = _run(proj, "--format", "json", "batch-inference", "describe", "cli-waits")
    assert json.loads(r.output)["status"] == "ACTIVE", r.output
    assert len(_lines(out / "users.jsonl.out")) == 31
