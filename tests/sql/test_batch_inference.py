"""Batch inference jobs: Personalize's line shapes per recipe type, equality with the
real-time path, per-line errors, kill -9 and restart, inputs and refusals, filter values,
events after training, lifecycle and the analyst table / Parquet rows."""

from __future__ import annotations

import glob
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import pypersonalize
from pypersonalize.errors import InvalidInput, PypersonalizeError, ResourceAlreadyExists, ResourceInUse
from tests.conftest import DOMAIN_DIRS, ROOT, build_sample_group

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
NO_EXPLORATION = {"itemExplorationConfig": {"explorationWeight": 0}}
USERS = [f"u{i}" for i in range(1, 2001)]          # the sample's users
RECIPES = {"up": "aws-user-personalization", "upv2": "aws-user-personalization-v2",
           "pop": "aws-popularity-count", "sims": "aws-sims", "similar": "aws-similar-items",
           "rank": "aws-personalized-ranking", "trend": "aws-trending-now", "affinity": "aws-item-affinity"}


# -- fixtures and helpers ---------------------------------------------------------------

@pytest.fixture(scope="module")
def bat(tmp_path_factory):
    """One project with the sample group, a version of every recipe kind, campaigns, filters."""
    base = tmp_path_factory.mktemp("batch")
    with pypersonalize.open(base / "batch.duckdb", quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        versions = {}
        for name, recipe in RECIPES.items():
            pp.create_solution(name=name, dataset_group="movies", recipe=recipe)
            versions[name] = pp.create_solution_version(name)["solutionVersionArn"]
        pp.create_campaign(name="up-w0", solution_version=versions["up"], campaign_config=NO_EXPLORATION)
        pp.create_campaign(name="up-explore", solution_version=versions["up"])
        pp.create_campaign(name="upv2-explore", solution_version=versions["upv2"])
        pp.create_campaign(name="sims-c", solution_version=versions["sims"])
        pp.create_campaign(name="similar-c", solution_version=versions["similar"])
        pp.create_campaign(name="rank-c", solution_version=versions["rank"])
        pp.create_filter("genre", "movies", "INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)")
        pp.create_filter("unwatched", "movies", 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')
        pp.create_filter("basic-users", "movies", 'INCLUDE UserID WHERE Users.SUBSCRIPTION_MODEL IN ("basic")')
        # a second group without data: a filter of another group, and a version that failed
        build_sample_group(pp, "VIDEO_ON_DEMAND", "other", import_data=False)
        pp.create_filter("other-drama", "other", 'EXCLUDE ItemID WHERE Items.GENRES IN ("Drama")')
        pp.create_solution(name="starved", dataset_group="other", recipe="aws-popularity-count")
        with pytest.raises(InvalidInput):
            pp.create_solution_version("starved")
        versions["failed"] = pp.list_solution_versions("starved")["solutionVersions"][0]["solutionVersionArn"]
        yield SimpleNamespace(pp=pp, v=versions, base=base, count=[0])


def _folder(bat, label: str) -> Path:
    bat.count[0] += 1
    return bat.base / f"{label}-{bat.count[0]}"


def _write(path: Path, lines) -> Path:
    """JSON Lines from dicts (dumped) or raw strings (kept as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
    return path


def _read(path) -> list[dict]:
    return [json.loads(ln) for ln in Path(path).read_text().splitlines()]


def _job(bat, name: str, version: str, lines, **kw) -> tuple[list[dict], dict]:
    """Run a job over ``lines`` (written to a fresh folder); its output lines and description."""
    folder = _folder(bat, name)
    source = _write(folder / "in" / "records.jsonl", lines)
    bat.pp.create_batch_inference_job(name, bat.v[version], str(source), str(folder / "out"), **kw)
    job = bat.pp.describe_batch_inference_job(name)["batchInferenceJob"]
    assert job["status"] == "ACTIVE", job
    return _read(folder / "out" / "records.jsonl.out"), job


def _most_popular(n: int) -> list[str]:
    """The items with the most distinct users in the sample (ties by item id), by pandas."""
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str)
    users = raw.groupby("ITEM_ID").USER_ID.nunique().rename("users").reset_index()
    return users.sort_values(["users", "ITEM_ID"], ascending=[False, True]).ITEM_ID.head(n).tolist()


def _hidden(folder) -> list[str]:
    return [p for p in os.listdir(folder) if p.startswith(".")]


# -- a validator of Personalize's documented line shapes ----------------------------------

SHAPES = {   # recipe kind -> (input keys, output keys)
    "USER_PERSONALIZATION": ({"userId"}, {"recommendedItems", "scores"}),
    "POPULARITY_COUNT": ({"userId"}, {"recommendedItems"}),
    "RELATED_ITEMS": ({"itemId"}, {"recommendedItems"}),
    "PERSONALIZED_RANKING": ({"userId", "itemList"}, {"recommendedItems", "scores"}),
    "USER_PERSONALIZATION_V2": ({"userId"}, {"recommendedItems", "scores", "reason"}),
}


def _is_str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def check_line(line: dict, kind: str, n: int | None = None, descending: bool = True) -> dict:
    """Assert one successful output line has exactly Personalize's shape for ``kind``."""
    inputs, outputs = SHAPES[kind]
    assert set(line) == {"input", "output", "error"}, line
    assert line["error"] is None, line
    assert isinstance(line["input"], dict) and set(line["input"]) - {"filterValues"} == inputs, line
    for key in inputs:
        assert _is_str_list(line["input"][key]) if key == "itemList" else isinstance(line["input"][key], str)
    out = line["output"]
    assert isinstance(out, dict) and set(out) == outputs, line
    items = out["recommendedItems"]
    assert _is_str_list(items) and len(set(items)) == len(items), line
    if n is not None:
        assert len(items) == n, line
    if "scores" in out:
        scores = out["scores"]
        assert isinstance(scores, list) and len(scores) == len(items)
        assert all(isinstance(s, float) and not isinstance(s, bool) and 0.0 <= s <= 1.0 for s in scores), line
        assert all(round(s, 7) == s for s in scores), "batch scores are rounded to 7 decimals"
        if descending:
            assert scores == sorted(scores, reverse=True), line
    if "reason" in out:
        assert isinstance(out["reason"], list) and len(out["reason"]) == len(items)
        assert all(isinstance(r, list) and all(isinstance(x, str) for x in r) for r in out["reason"]), line
    return out


def check_error(line: dict, number: int) -> str:
    assert set(line) == {"input", "output", "error"}, line
    assert line["output"] is None, line
    assert isinstance(line["error"], str) and line["error"].startswith(f"line {number}: "), line
    return line["error"]


# -- 1. shapes per recipe type -------------------------------------------------------------

def test_user_personalization_lines_have_the_documented_shape(bat):
    lines, job = _job(bat, "shape-up", "up", [{"userId": u} for u in USERS[:40]] + [{"userId": "stranger"}],
                      num_results=7, batch_inference_job_config=NO_EXPLORATION)
    assert [ln["input"]["userId"] for ln in lines] == USERS[:40] + ["stranger"]
    for line in lines:
        out = check_line(line, "USER_PERSONALIZATION", n=7)
        if line["input"]["userId"] != "stranger":
            assert sum(out["scores"]) <= 1.0 + 1e-6     # a softmax over the whole catalog
    assert job["numResults"] == 7 and job["recordsProcessed"] == 41 == job["recordsSucceeded"]


def test_popularity_count_lines_have_no_scores_and_one_list(bat):
    lines, _ = _job(bat, "shape-pop", "pop", [{"userId": u} for u in ("u1", "u2", "nobody")], num_results=5)
    outs = [check_line(ln, "POPULARITY_COUNT", n=5) for ln in lines]
    assert all(o == outs[0] for o in outs)
    assert outs[0]["recommendedItems"] == _most_popular(5)


@pytest.mark.parametrize("version", ["sims", "similar"])
def test_related_items_lines_take_item_ids_and_have_no_scores(bat, version):
    lines, _ = _job(bat, f"shape-{version}", version, [{"itemId": i} for i in ("m1", "m52", "m114", "unknown")],
                    num_results=6)
    for line, item in zip(lines, ("m1", "m52", "m114", "unknown")):
        out = check_line(line, "RELATED_ITEMS", n=6)
        assert line["input"] == {"itemId": item} and item not in out["recommendedItems"]


def test_personalized_ranking_reorders_the_item_list(bat):
    records = [{"userId": "u1", "itemList": ["m1", "m2", "no-such-item", "m3", "m52"]},
               {"userId": "u9", "itemList": ["m114"]},
               {"userId": "stranger", "itemList": ["m7", "m8", "m9"]}]
    lines, _ = _job(bat, "shape-rank", "rank", records)
    for line, record in zip(lines, records):
        assert line["input"] == record
        out = check_line(line, "PERSONALIZED_RANKING", descending=False)
        items, scores = out["recommendedItems"], out["scores"]
        assert sorted(items) == sorted(record["itemList"])       # a permutation of the list
        known = [i for i in items if i != "no-such-item"]
        assert items[:len(known)] == known                       # an unknown item is appended last
        assert scores[:len(known)] == sorted(scores[:len(known)], reverse=True)
        assert math.isclose(sum(scores[:len(known)]), 1.0, abs_tol=1e-5)   # softmax over the list
        real = bat.pp.get_personalized_ranking("rank-c", record["userId"], record["itemList"])
        assert [r["itemId"] for r in real["personalizedRanking"]] == items
        assert all(abs(r["score"] - s) <= 1e-6 for r, s in zip(real["personalizedRanking"], scores))


def test_v2_name_adds_a_reason_list_per_item(bat):
    lines, _ = _job(bat, "shape-v2", "upv2", [{"userId": u} for u in USERS[:30]] + [{"userId": "stranger"}],
                    num_results=10)
    explored = 0
    for line in lines:
        out = check_line(line, "USER_PERSONALIZATION_V2", n=10, descending=False)
        relevant = [s for s, r in zip(out["scores"], out["reason"]) if "Exploration" not in r]
        assert relevant == sorted(relevant, reverse=True)
        explored += sum("Exploration" in r for r in out["reason"])
    assert explored > 0        # the default explorationWeight places cold items, and says so
    lines, _ = _job(bat, "shape-v2-w0", "upv2", [{"userId": "u1"}], num_results=10,
                    batch_inference_job_config=NO_EXPLORATION)
    assert check_line(lines[0], "USER_PERSONALIZATION_V2", n=10)["reason"] == [[]] * 10
    # the same version trained without the -v2 name has no "reason"
    up, _ = _job(bat, "shape-up-noreason", "up", [{"userId": "u1"}], num_results=10)
    assert "reason" not in up[0]["output"]


@pytest.mark.parametrize("version,why", [("trend", "Trending-Now"), ("affinity", "create_batch_segment_job")])
def test_trending_now_and_user_segmentation_versions_are_refused(bat, version, why):
    out = _folder(bat, "refused")
    source = _write(out / "in.jsonl", [{"userId": "u1"}])
    with pytest.raises(InvalidInput, match=why):
        bat.pp.create_batch_inference_job(f"no-{version}", bat.v[version], str(source), str(out / "o"))
    assert not (out / "o").exists()
    assert f"no-{version}" not in [j["jobName"] for j in bat.pp.list_batch_inference_jobs()["batchInferenceJobs"]]


# -- 2. equality with the real-time path -------------------------------------------------------

def _same(real: list[dict], out: dict) -> None:
    assert [r["itemId"] for r in real] == out["recommendedItems"]
    if "scores" in out:
        assert all(abs(r["score"] - s) <= 1e-6 for r, s in zip(real, out["scores"]))
    if "reason" in out:
        assert [r.get("reason", []) for r in real] == out["reason"]


def test_batch_equals_get_recommendations_without_exploration(bat):
    """More than one block (2,048 records): every user, then unknown users."""
    users = USERS + [f"new{i}" for i in range(60)]
    lines, job = _job(bat, "eq-w0", "up", [{"userId": u} for u in users], num_results=12,
                      batch_inference_job_config=NO_EXPLORATION)
    assert job["recordsSucceeded"] == len(users) and [ln["input"]["userId"] for ln in lines] == users
    for user, line in zip(users, lines):
        real = bat.pp.get_recommendations(campaign="up-w0", user_id=user, num_results=12)["itemList"]
        _same(real, line["output"])
    assert lines[-1]["output"]["recommendedItems"][:5] == _most_popular(5)    # unknown users: popular items
    assert all(ln["output"]["recommendedItems"] == lines[-1]["output"]["recommendedItems"] for ln in lines[-60:])


@pytest.mark.parametrize("version,campaign", [("up", "up-explore"), ("upv2", "upv2-explore")])
def test_batch_with_exploration_equals_get_recommendations_seeded_by_line(bat, version, campaign):
    """README: exploration placed with the line number as seed (blank lines count)."""
    records = [{"userId": u} for u in USERS] + [{"userId": f"newcomer{i}"} for i in range(60)]
    raw = [json.dumps(r) for r in records]
    raw.insert(5, "")                                      # line numbers shift after a blank line
    lines, _ = _job(bat, f"eq-x-{version}", version, raw, num_results=10)
    assert len(lines) == len(records)
    number = 0
    for k, line in enumerate(lines):
        number = k + 1 if k < 5 else k + 2
        real = bat.pp.get_recommendations(campaign=campaign, user_id=line["input"]["userId"], num_results=10,
                                          seed=number)["itemList"]
        _same(real, line["output"])
    assert number == len(raw)


@pytest.mark.parametrize("recipe", ["aws-hrnn", "aws-hrnn-metadata", "aws-hrnn-coldstart"])
def test_hrnn_family_batch_has_the_user_shape_and_equals_get_recommendations(bat, recipe):
    name = recipe.replace("aws-", "")
    bat.pp.create_solution(name=name, dataset_group="movies", recipe=recipe)
    bat.v[name] = bat.pp.create_solution_version(name)["solutionVersionArn"]
    config = NO_EXPLORATION if recipe == "aws-hrnn-coldstart" else None
    bat.pp.create_campaign(name=f"{name}-c", solution_version=bat.v[name], campaign_config=config)
    users = USERS[:150] + ["stranger"]
    lines, _ = _job(bat, f"eq-{name}", name, [{"userId": u} for u in users], num_results=10,
                    batch_inference_job_config=config)
    for user, line in zip(users, lines):
        out = check_line(line, "USER_PERSONALIZATION", n=10)
        _same(bat.pp.get_recommendations(campaign=f"{name}-c", user_id=user, num_results=10)["itemList"], out)


@pytest.mark.parametrize("version,campaign", [("sims", "sims-c"), ("similar", "similar-c")])
def test_related_items_batch_equals_get_recommendations(bat, version, campaign):
    items = pd.read_csv(VOD / "items.csv", dtype=str).ITEM_ID.tolist() + ["no-such-item"]
    lines, _ = _job(bat, f"eq-{version}", version, [{"itemId": i} for i in items], num_results=10)
    assert [ln["input"]["itemId"] for ln in lines] == items
    for item, line in zip(items, lines):
        real = bat.pp.get_recommendations(campaign=campaign, item_id=item, num_results=10)["itemList"]
        _same(real, line["output"])


def test_exploration_weight_zero_is_accepted_for_sims_as_on_campaigns(bat):
    lines, _ = _job(bat, "sims-w0", "sims", [{"itemId": "m52"}], num_results=5,
                    batch_inference_job_config=NO_EXPLORATION)
    assert len(lines) == 1


# -- 3. malformed lines ------------------------------------------------------------------

BAD_LINES = ['{"userId": "u1"', "[1, 2]", '"just text"', "null", '{"itemId": "m1"}', '{"userId": 17}',
             '{"userId": ""}', '{"userId": "u1", "colour": "red"}', '{"userId": "u1", "itemList": ["m1"]}',
             '{"userId": "u1", "filterValues": {"GENRES": 3}}', '{"userId": "u1", "filterValues": ["x"]}']


def test_one_percent_of_malformed_lines_error_and_the_rest_succeed(bat):
    raw, bad_numbers, blank = [], {}, 0
    for k in range(1100):
        if k % 100 == 50:
            bad = BAD_LINES[(k // 100) % len(BAD_LINES)]
            raw.append(bad)
            bad_numbers[len(raw)] = bad
        elif k % 250 == 10:
            raw.append("   ")
            blank += 1
        else:
            raw.append(json.dumps({"userId": USERS[k % 2000]}))
    assert len(bad_numbers) == 11
    lines, job = _job(bat, "malformed", "up", raw, num_results=4)
    records = [(n, r) for n, r in enumerate(raw, start=1) if r.strip()]
    assert len(lines) == len(records) == 1100 - blank         # blank lines give no output line
    for (number, text), line in zip(records, lines):
        if number in bad_numbers:
            error = check_error(line, number)
            try:
                expected = json.loads(text)
            except json.JSONDecodeError:
                expected = text
            assert line["input"] == expected and len(error) > len(f"line {number}: ")
        else:
            check_line(line, "USER_PERSONALIZATION", n=4, descending=False)
            assert line["input"] == json.loads(text)
    assert job["status"] == "ACTIVE"
    assert job["recordsFailed"] == len(bad_numbers)
    assert job["recordsSucceeded"] == len(records) - len(bad_numbers)
    assert job["recordsProcessed"] == job["recordsSucceeded"] + job["recordsFailed"] == len(records)


def test_each_error_names_its_problem(bat):
    lines, _ = _job(bat, "errors-named", "up", BAD_LINES, num_results=3)
    errors = [check_error(ln, k) for k, ln in enumerate(lines, start=1)]
    assert "JSON" in errors[0]
    assert all("object" in e for e in errors[1:4])
    assert "userId" in errors[4] and "userId" in errors[5] and "userId" in errors[6]
    assert "colour" in errors[7] and "itemList" in errors[8]
    assert all("filterValues" in e for e in errors[9:])


def test_a_ranking_record_without_a_valid_item_list_errors(bat):
    records = [{"userId": "u1"}, {"userId": "u1", "itemList": []}, {"userId": "u1", "itemList": "m1"},
               {"userId": "u1", "itemList": ["m1", 2]}, {"userId": "u1", "itemList": [f"m{i}" for i in range(501)]},
               {"userId": "u1", "itemList": ["m1", "m2"]}]
    lines, job = _job(bat, "rank-errors", "rank", records)
    for k, line in enumerate(lines[:-1], start=1):
        assert "itemList" in check_error(line, k)
    check_line(lines[-1], "PERSONALIZED_RANKING", descending=False)
    assert (job["recordsFailed"], job["recordsSucceeded"]) == (5, 1)


# -- 4. kill -9 mid-job and rerun ------------------------------------------------------------

@pytest.fixture(scope="module")
def killable(tmp_path_factory):
    """A closed project file (a subprocess opens it) with a UP and a Popularity-Count version."""
    base = tmp_path_factory.mktemp("kill")
    db = base / "kill.duckdb"
    with pypersonalize.open(db, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies", types=("Interactions", "Items"))
        out = {}
        for name in ("up", "pop"):
            pp.create_solution(name=name, dataset_group="movies", recipe=RECIPES[name])
            out[name] = pp.create_solution_version(name)["solutionVersionArn"]
    return SimpleNamespace(db=db, base=base, v=out)


def _kill_mid_job(db: Path, call: str, partial_glob: str, timeout: float = 60) -> bytes:
    """Start ``call`` on the project in a subprocess, SIGKILL it once its partial output has a
    line; the partial file's complete lines at that moment."""
    script = f"import pypersonalize\nwith pypersonalize.open({str(db)!r}, quiet=True) as pp:\n    {call}\n"
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    start = time.monotonic()
    try:
        while time.monotonic() - start < timeout:
            found = glob.glob(partial_glob)
            if found and b"\n" in Path(found[0]).read_bytes():
                os.kill(child.pid, signal.SIGKILL)
                break
            assert child.poll() is None, "the job ended before it could be killed: give it more records"
            time.sleep(0.002)
        else:
            pytest.fail("no partial output line appeared")
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    data = Path(found[0]).read_bytes()
    return data[:data.rfind(b"\n") + 1]


def test_kill_9_mid_job_then_create_again_resumes_with_one_line_per_record(killable):
    folder = killable.base / "resume"
    records = [{"userId": USERS[(k * 7) % 2000]} for k in range(24_000)]
    raw = [json.dumps(r) for r in records]
    raw[100:100] = ["", "  "]                     # blank lines are not records
    source = _write(folder / "big.jsonl", raw)
    out = folder / "out"
    args = (str(source), str(out))
    call = (f"pp.create_batch_inference_job('resume', {killable.v['up']!r}, *{args!r}, num_results=5, "
            f"batch_inference_job_config={NO_EXPLORATION!r})")
    before = _kill_mid_job(killable.db, call, str(out / ".big.jsonl.out.*.partial"))
    assert not (out / "big.jsonl.out").exists()
    (partial,) = out.glob(".big.jsonl.out.*.partial")
    with open(partial, "ab") as handle:             # as if the kill had torn the last line
        handle.write(b'{"input":{"userId":"u1"},"output":{"recommendedIte')
    with pypersonalize.open(killable.db, quiet=True) as pp:
        assert pp.describe_batch_inference_job("resume")["batchInferenceJob"]["status"] == "CREATE IN_PROGRESS"
        with pytest.raises(ResourceAlreadyExists, match="other settings"):     # not taken up with others
            pp.create_batch_inference_job("resume", killable.v["up"], *args, num_results=6,
                                          batch_inference_job_config=NO_EXPLORATION)
        pp.create_batch_inference_job("resume", killable.v["up"], *args, num_results=5,
                                      batch_inference_job_config=NO_EXPLORATION)
        job = pp.describe_batch_inference_job("resume")["batchInferenceJob"]
        with pytest.raises(ResourceAlreadyExists):     # done now: its name is taken
            pp.create_batch_inference_job("resume", killable.v["up"], *args, num_results=5,
                                          batch_inference_job_config=NO_EXPLORATION)
    assert job["status"] == "ACTIVE" and job["recordsProcessed"] == len(records) == job["recordsSucceeded"]
    final = (out / "big.jsonl.out").read_bytes()
    lines = [json.loads(ln) for ln in final.splitlines()]
    assert len(lines) == len(records)
    assert [ln["input"] for ln in lines] == records
    assert all(len(ln["output"]["recommendedItems"]) == 5 and ln["error"] is None for ln in lines)
    assert 0 < before.count(b"\n") < len(records) and final.startswith(before)   # the first run's lines kept
    # the same user gets the same answer before and after the kill
    by_user = {}
    for line in lines:
        assert by_user.setdefault(line["input"]["userId"], line["output"]) == line["output"]
    assert _hidden(out) == []


def test_kill_9_with_an_output_table_resumes_and_the_table_has_every_row(killable):
    folder = killable.base / "resume-table"
    records = [{"userId": USERS[k % 2000]} if k % 997 else {"userId": 5} for k in range(60_000)]
    source = _write(folder / "users.jsonl", records)
    out = folder / "out"
    config = {"outputTable": "resumed_rows"}
    call = (f"pp.create_batch_inference_job('resume-t', {killable.v['pop']!r}, {str(source)!r}, {str(out)!r}, "
            f"num_results=3, batch_inference_job_config={config!r})")
    _kill_mid_job(killable.db, call, str(out / ".users.jsonl.out.*.partial"))
    # as if the kill had torn a line of the output and lost a line of the rows file:
    # both are cut back to the lines they have in common
    (partial,) = out.glob(".users.jsonl.out.*.partial")
    (rows_file,) = out.glob(".users.jsonl.out.*.rows")
    with open(partial, "ab") as handle:
        handle.write(b'{"input":{"userId":"u1"},"outp')
    kept = rows_file.read_bytes().splitlines(keepends=True)
    rows_file.write_bytes(b"".join(kept[:-1]))      # (or the kill came before any rows line)
    with pypersonalize.open(killable.db, quiet=True) as pp:
        pp.create_batch_inference_job("resume-t", killable.v["pop"], str(source), str(out), num_results=3,
                                      batch_inference_job_config=config)
        rows = pp.sql("SELECT input_key, rank, item_id FROM resumed_rows").fetchall()
    lines = _read(out / "users.jsonl.out")
    assert [ln["input"] for ln in lines] == records
    good = [ln for ln in lines if ln["error"] is None]
    assert len(good) == len(records) - sum(1 for r in records if r["userId"] == 5)
    assert len(rows) == sum(len(ln["output"]["recommendedItems"]) for ln in good) == 3 * len(good)
    assert sorted({r[0] for r in rows}) == sorted({ln["input"]["userId"] for ln in good})
    assert _hidden(out) == []


def test_kill_9_with_a_query_source_resumes_from_its_snapshot(killable):
    """The query's rows are read once: rows added between the kill and the rerun are not records."""
    out = killable.base / "resume-query" / "out"
    with pypersonalize.open(killable.db, quiet=True) as pp:
        pp.sql("CREATE TABLE main.nightly AS SELECT i, 'u' || (1 + i % 2000) AS userId FROM range(60000) t(i)")
    sql = "SELECT userId FROM main.nightly ORDER BY i"
    call = (f"pp.create_batch_inference_job('resume-q', {killable.v['pop']!r}, {{'sql': {sql!r}}}, {str(out)!r}, "
            "num_results=2)")
    _kill_mid_job(killable.db, call, str(out / ".query.out.*.partial"))
    assert len(list(out.glob(".query.in.*"))) == 1                   # the snapshot the rerun reads
    with pypersonalize.open(killable.db, quiet=True) as pp:
        pp.sql("INSERT INTO main.nightly SELECT -i, 'late' FROM range(1, 100) t(i)")    # sorts first
        pp.create_batch_inference_job("resume-q", killable.v["pop"], {"sql": sql}, str(out), num_results=2)
    lines = _read(out / "query.out")
    assert [ln["input"] for ln in lines] == [{"userId": f"u{1 + i % 2000}"} for i in range(60000)]
    assert _hidden(out) == []


def test_closing_the_project_waits_for_a_background_job(killable):
    folder = killable.base / "closing"
    source = _write(folder / "users.jsonl", [{"userId": u} for u in USERS] * 2)
    pp = pypersonalize.open(killable.db, quiet=True)
    pp.create_batch_inference_job("at-close", killable.v["up"], str(source), str(folder / "out"), wait=False)
    pp.close()
    lines = _read(folder / "out" / "users.jsonl.out")
    assert len(lines) == 4000 and _hidden(folder / "out") == []
    with pypersonalize.open(killable.db, quiet=True) as pp:
        job = pp.describe_batch_inference_job("at-close")["batchInferenceJob"]
    assert job["status"] == "ACTIVE" and job["recordsSucceeded"] == 4000


# -- 5. inputs and outputs, and refusals -------------------------------------------------------------

def test_a_folder_of_two_files_gives_two_outputs_and_a_glob_picks_files(bat):
    folder = _folder(bat, "two-files")
    _write(folder / "in" / "a.jsonl", [{"userId": "u1"}, {"userId": "u2"}])
    _write(folder / "in" / "b.json", [{"userId": "u3"}])
    _write(folder / "in" / ".hidden", [{"userId": "u4"}])
    bat.pp.create_batch_inference_job("folder-in", bat.v["pop"], str(folder / "in"), str(folder / "out"))
    assert sorted(os.listdir(folder / "out")) == ["a.jsonl.out", "b.json.out"]
    assert [ln["input"]["userId"] for ln in _read(folder / "out" / "a.jsonl.out")] == ["u1", "u2"]
    assert [ln["input"]["userId"] for ln in _read(folder / "out" / "b.json.out")] == ["u3"]
    job = bat.pp.describe_batch_inference_job("folder-in")["batchInferenceJob"]
    assert job["recordsProcessed"] == 3 and len(job["outputFiles"]) == 2
    bat.pp.create_batch_inference_job("glob-in", bat.v["pop"], str(folder / "in" / "*.jsonl"), str(folder / "g"))
    assert os.listdir(folder / "g") == ["a.jsonl.out"]


def test_s3_shapes_query_table_and_an_output_file(bat):
    folder = _folder(bat, "shapes")
    source = _write(folder / "u.jsonl", [{"userId": "u5"}])
    bat.pp.create_batch_inference_job("s3-shape", bat.v["up"], {"s3DataSource": {"path": str(source)}},
                                      {"s3DataDestination": {"path": str(folder / "s3")}})
    assert _read(folder / "s3" / "u.jsonl.out")[0]["input"] == {"userId": "u5"}
    job = bat.pp.describe_batch_inference_job("s3-shape")["batchInferenceJob"]
    assert job["jobInput"] == {"s3DataSource": {"path": str(source)}}

    sql = "SELECT USER_ID AS userId FROM movies.users ORDER BY USER_ID LIMIT 50"
    bat.pp.create_batch_inference_job("from-sql", bat.v["pop"], {"sql": sql}, str(folder / "q"))
    expected = [u for (u,) in bat.pp.sql(sql).fetchall()]
    assert [ln["input"]["userId"] for ln in _read(folder / "q" / "query.out")] == expected
    assert _hidden(folder / "q") == []

    bat.pp.sql("CREATE TABLE main.requests AS SELECT * FROM (VALUES ('u8'), ('u9'), ('nobody')) t(userId)")
    bat.pp.create_batch_inference_job("from-table", bat.v["pop"], {"table": "requests"}, str(folder / "t"))
    assert sorted(ln["input"]["userId"] for ln in _read(folder / "t" / "requests.out")) == ["nobody", "u8", "u9"]

    bat.pp.create_batch_inference_job("to-file", bat.v["pop"], str(source), str(folder / "answers.jsonl"))
    assert _read(folder / "answers.jsonl")[0]["input"] == {"userId": "u5"}
    assert sorted(p.name for p in folder.iterdir()) == ["answers.jsonl", "q", "s3", "t", "u.jsonl"]


def _refusal_cases(bat, folder: Path):
    good = str(_write(folder / "good.jsonl", [{"userId": "u1"}]))
    two = folder / "two"
    _write(two / "a.jsonl", [{"userId": "u1"}])
    _write(two / "b.jsonl", [{"userId": "u2"}])
    many = folder / "many"
    for k in range(1001):
        _write(many / f"f{k:04d}.jsonl", [{"userId": "u1"}])
    return [  # (keywords, expected text, exception)
        (dict(job_input=str(folder / "missing.jsonl")), "no such file", InvalidInput),
        (dict(job_input="s3://bucket/users.jsonl"), "s3://", InvalidInput),
        (dict(job_input={"s3DataSource": {"path": "s3://bucket/users.jsonl"}}), "s3://", InvalidInput),
        (dict(job_input=str(many)), "1000", InvalidInput),
        (dict(job_input=good, num_results=0), "num_results", InvalidInput),
        (dict(job_input=good, num_results=501), "num_results", InvalidInput),
        (dict(job_input=good, num_results=True), "num_results", InvalidInput),
        (dict(job_input=good, batch_inference_job_config={"explorationWeight": 0}), "explorationWeight",
         InvalidInput),
        (dict(job_input=good, batch_inference_job_mode="THEME_GENERATION"), "not supported yet", InvalidInput),
        (dict(job_input=good, batch_inference_job_mode="SIDEWAYS"), "SIDEWAYS", InvalidInput),
        (dict(job_input=good, batch_inference_job_config={"outputTable": "pypersonalize.recs"}), "pypersonalize",
         InvalidInput),
        (dict(job_input=good, batch_inference_job_config={"outputTable": "movies.recs"}), "movies", InvalidInput),
        (dict(job_input=good, batch_inference_job_config={"outputParquet": str(folder / "nope" / "r.parquet")}),
         "does not exist", InvalidInput),
        (dict(job_input=good, filter="basic-users"), "UserID", InvalidInput),
        (dict(job_input=good, filter="other-drama"), "another dataset group", InvalidInput),
        (dict(job_input=good, solution_version=bat.v["failed"]), "not ACTIVE", InvalidInput),
        (dict(job_input=good, job_name="bad name"), "name", InvalidInput),
        (dict(job_input=str(two), job_output=str(folder / "one.out")), "2 sources", InvalidInput),
        (dict(job_input=good, job_output=str(_write(folder / "a-file", ["x"]))), "not a folder", InvalidInput),
    ]


def test_refusals_are_clear_and_leave_nothing_behind(bat):
    folder = _folder(bat, "refusals")
    before = {j["jobName"] for j in bat.pp.list_batch_inference_jobs()["batchInferenceJobs"]}
    for k, (kw, text, error) in enumerate(_refusal_cases(bat, folder)):
        target = folder / f"out-{k}"
        args = {"job_name": f"refused-{k}", "solution_version": bat.v["up"], "job_output": str(target), **kw}
        with pytest.raises(error) as info:
            bat.pp.create_batch_inference_job(**args)
        assert text in str(info.value) and "\n" not in str(info.value), (kw, info.value)
        assert not target.exists() or kw.get("job_output") == str(folder / "a-file"), kw
    after = {j["jobName"] for j in bat.pp.list_batch_inference_jobs()["batchInferenceJobs"]}
    assert after == before


def test_creating_a_finished_jobs_name_again_is_refused(bat):
    lines, _ = _job(bat, "twice", "pop", [{"userId": "u1"}])
    folder = _folder(bat, "twice-again")
    source = _write(folder / "in.jsonl", [{"userId": "u2"}])
    with pytest.raises(ResourceAlreadyExists, match="twice"):
        bat.pp.create_batch_inference_job("twice", bat.v["pop"], str(source), str(folder / "o"))
    assert bat.pp.describe_batch_inference_job("twice")["batchInferenceJob"]["recordsProcessed"] == 1


def test_a_refused_duplicate_name_leaves_no_output_folder(bat):
    _job(bat, "dup", "pop", [{"userId": "u1"}])
    folder = _folder(bat, "dup-again")
    source = _write(folder / "in.jsonl", [{"userId": "u2"}])
    with pytest.raises(ResourceAlreadyExists):
        bat.pp.create_batch_inference_job("dup", bat.v["pop"], str(source), str(folder / "o"))
    assert not (folder / "o").exists()


def test_a_refused_duplicate_name_of_a_finished_job_does_not_say_in_progress(bat):
    _job(bat, "dup2", "pop", [{"userId": "u1"}])
    with pytest.raises(ResourceAlreadyExists) as info:
        bat.pp.create_batch_inference_job("dup2", bat.v["pop"], str(_write(_folder(bat, "d2") / "x.jsonl", [])),
                                          str(bat.base / "d2-out"), num_results=3)
    assert "in progress" not in str(info.value)


def test_an_output_file_that_is_the_input_file_is_refused(bat):
    folder = _folder(bat, "overwrite")
    source = _write(folder / "users.jsonl", [{"userId": "u1"}, {"userId": "u2"}])
    try:
        bat.pp.create_batch_inference_job("overwrite", bat.v["pop"], str(source), str(source))
    except InvalidInput:
        pass
    assert _read(source) == [{"userId": "u1"}, {"userId": "u2"}]


def test_an_output_table_that_is_a_view_is_refused_at_create(bat):
    bat.pp.sql("CREATE VIEW main.a_view AS SELECT 1 AS x")
    folder = _folder(bat, "onto-view")
    source = _write(folder / "in" / "users.jsonl", [{"userId": "u1"}])
    with pytest.raises(InvalidInput, match="is a view"):
        bat.pp.create_batch_inference_job("onto-view", bat.v["pop"], str(source), str(folder / "out"),
                                          batch_inference_job_config={"outputTable": "a_view"})
    assert not bat.pp.catalog.select("batch-inference-job", name="onto-view")
    assert not (folder / "out").exists()


def test_a_parquet_output_that_is_a_folder_is_refused_at_create(bat):
    folder = _folder(bat, "parquet-dir")
    (folder / "recs.parquet").mkdir(parents=True)
    source = _write(folder / "users.jsonl", [{"userId": "u1"}])
    with pytest.raises(InvalidInput, match="is a folder"):
        bat.pp.create_batch_inference_job("parquet-dir", bat.v["pop"], str(source), str(folder / "out"),
                                          batch_inference_job_config={"outputParquet": str(folder / "recs.parquet")})
    assert sorted(os.listdir(folder)) == ["recs.parquet", "users.jsonl"]


def test_a_query_of_a_missing_table_fails_and_leaves_no_output(bat):
    folder = _folder(bat, "no-table")
    with pytest.raises(PypersonalizeError, match="nope"):
        bat.pp.create_batch_inference_job("no-table", bat.v["pop"], {"table": "nope"}, str(folder))
    assert os.listdir(folder) == []
    job = bat.pp.describe_batch_inference_job("no-table")["batchInferenceJob"]
    assert job["status"] == "CREATE FAILED" and "nope" in job["failureReason"]


BAD_QUERIES = {
    "unknown-column": "SELECT no_such_column AS userId FROM movies.users",
    "fails-midway": "SELECT CASE WHEN i < 150000 THEN 'u1' ELSE CAST(CAST(i AS VARCHAR) || 'x' AS INTEGER)::VARCHAR "
                    "END AS userId FROM range(200000) t(i)",
}


@pytest.mark.parametrize("case", sorted(BAD_QUERIES))
def test_a_query_that_fails_when_run_fails_the_job_cleanly(bat, case):
    folder = _folder(bat, "bad-query")
    name = f"bad-query-{case}"
    try:
        bat.pp.create_batch_inference_job(name, bat.v["pop"], {"sql": BAD_QUERIES[case]}, str(folder))
    except Exception as exc:            # noqa: BLE001 - the test is about which exception
        assert isinstance(exc, PypersonalizeError), type(exc)
    assert bat.pp.describe_batch_inference_job(name)["batchInferenceJob"]["status"] == "CREATE FAILED"
    assert os.listdir(folder) == []


# -- 6. filter values per line ----------------------------------------------------------------------

def test_filter_values_per_line_restrict_each_lines_items(bat):
    genres = pd.read_csv(VOD / "items.csv", dtype=str).set_index("ITEM_ID").GENRES.str.split("|").map(set)
    asks = [["Comedy"], ["Drama"], ["Horror", "Action"], ["Documentary"], ["Sci-Fi", "Romance", "Musical"]]
    records = [{"userId": u, "filterValues": {"GENRES": ",".join(f'"{g}"' for g in asks[k % len(asks)])}}
               for k, u in enumerate(USERS[:60] + ["stranger"])]
    lines, job = _job(bat, "by-genre", "up", records, num_results=10, filter="genre")
    assert job["filterArn"].endswith("filter/genre") and job["recordsSucceeded"] == len(records)
    for k, line in enumerate(lines):
        out = check_line(line, "USER_PERSONALIZATION", descending=False)
        wanted = set(asks[k % len(asks)])
        assert out["recommendedItems"], line
        assert all(genres[i] & wanted for i in out["recommendedItems"]), (wanted, out)
        real = bat.pp.get_recommendations(campaign="up-explore", user_id=line["input"]["userId"], num_results=10,
                                          filter="genre", filter_values=records[k]["filterValues"],
                                          seed=k + 1)["itemList"]
        _same(real, out)


def test_an_items_filter_passing_few_or_no_items_equals_the_real_time_path(bat):
    """Users are ranked a block at a time among the items the filter allows: with a genre of
    few items (fewer than num_results), a genre nobody has and a rare one asked deeper,
    every line still equals get_recommendations (exploration off)."""
    genres = pd.read_csv(VOD / "items.csv", dtype=str).GENRES.str.split("|").explode().value_counts()
    rare, common = genres.index[-1], genres.index[0]
    quiet = {"itemExplorationConfig": {"explorationWeight": 0}}
    asks = [f'"{rare}"', '"no-such-genre"', f'"{common}"', f'"{rare}","{genres.index[-2]}"']
    records = [{"userId": u, "filterValues": {"GENRES": asks[k % len(asks)]}} for k, u in enumerate(USERS[:40])]
    n = min(int(genres.iloc[-1]) + 5, 500)      # more than the rare genre's items
    lines, _ = _job(bat, "few-items", "up", records, num_results=n, filter="genre",
                    batch_inference_job_config=quiet)
    counts = set()
    for record, line in zip(records, lines):
        real = bat.pp.get_recommendations(campaign="up-w0", user_id=record["userId"], num_results=n, filter="genre",
                                          filter_values=record["filterValues"])["itemList"]
        assert [r["itemId"] for r in real] == line["output"]["recommendedItems"], record
        counts.add(len(real))
    assert 0 in counts and n in counts and any(0 < c < n for c in counts)


def test_an_include_filter_without_values_and_values_without_a_filter_error_per_line(bat):
    records = [{"userId": "u1", "filterValues": {"GENRES": '"Comedy"'}}, {"userId": "u2"}]
    lines, _ = _job(bat, "values-missing", "up", records, filter="genre")
    check_line(lines[0], "USER_PERSONALIZATION", descending=False)
    assert "GENRES" in check_error(lines[1], 2)
    lines, job = _job(bat, "values-no-filter", "up", records)
    assert "filter" in check_error(lines[0], 1)
    check_line(lines[1], "USER_PERSONALIZATION", descending=False)
    assert (job["recordsFailed"], job["recordsSucceeded"]) == (1, 1)


# -- 7. events recorded after training ---------------------------------------------------------------

def test_a_watch_put_after_training_drops_the_item_from_the_next_job(bat):
    user = "u7"
    first, _ = _job(bat, "before-event", "up", [{"userId": user}], num_results=10, filter="unwatched",
                    batch_inference_job_config=NO_EXPLORATION)
    top = first[0]["output"]["recommendedItems"][0]
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str)
    assert top not in set(raw[(raw.USER_ID == user) & (raw.EVENT_TYPE == "Watch")].ITEM_ID)
    bat.pp.put_events("movies", user, "s-batch", [{"eventType": "Watch", "itemId": top, "sentAt": 1_800_000_000}])
    second, _ = _job(bat, "after-event", "up", [{"userId": user}, {"userId": "u8"}], num_results=10,
                     filter="unwatched", batch_inference_job_config=NO_EXPLORATION)
    assert top not in second[0]["output"]["recommendedItems"]
    assert len(second[0]["output"]["recommendedItems"]) == 10
    real = bat.pp.get_recommendations(campaign="up-w0", user_id=user, num_results=10, filter="unwatched")
    _same(real["itemList"], second[0]["output"])


# -- 8. lifecycle -------------------------------------------------------------------------------

def test_wait_false_returns_at_once_and_describe_follows_the_statuses(bat):
    folder = _folder(bat, "background")
    source = _write(folder / "users.jsonl", [{"userId": u} for u in USERS] * 4)
    start = time.monotonic()
    arn = bat.pp.create_batch_inference_job("background", bat.v["up"], str(source), str(folder / "out"),
                                            wait=False)["batchInferenceJobArn"]
    returned = time.monotonic() - start
    seen = []
    while time.monotonic() - start < 60:
        status = bat.pp.describe_batch_inference_job(arn)["batchInferenceJob"]["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in ("ACTIVE", "CREATE FAILED"):
            break
        time.sleep(0.01)
    took = time.monotonic() - start
    assert seen[-1] == "ACTIVE" and seen[0] in ("CREATE PENDING", "CREATE IN_PROGRESS"), seen
    order = ["CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"]
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen), seen
    assert returned < took / 2, (returned, took)
    assert len(_read(folder / "out" / "users.jsonl.out")) == 8000
    listed = bat.pp.list_batch_inference_jobs()["batchInferenceJobs"]
    assert [j["status"] for j in listed if j["batchInferenceJobArn"] == arn] == ["ACTIVE"]


def _until_done(pp, arn: str, timeout: float = 60) -> dict:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        job = pp.describe_batch_inference_job(arn)["batchInferenceJob"]
        if job["status"] not in ("CREATE PENDING", "CREATE IN_PROGRESS"):
            return job
        time.sleep(0.02)
    pytest.fail(f"{arn} still running after {timeout} s")


def test_a_running_jobs_name_is_in_use_and_other_jobs_run_meanwhile(bat):
    folder = _folder(bat, "running")
    source = _write(folder / "users.jsonl", [{"userId": u} for u in USERS] * 4)
    args = ("running", bat.v["up"], str(source), str(folder / "out"))
    arn = bat.pp.create_batch_inference_job(*args, wait=False)["batchInferenceJobArn"]
    with pytest.raises(ResourceInUse, match="running"):
        bat.pp.create_batch_inference_job(*args)
    lines, _ = _job(bat, "meanwhile", "pop", [{"userId": "u1"}], num_results=3)
    assert lines[0]["output"]["recommendedItems"] == _most_popular(3)
    assert _until_done(bat.pp, arn)["status"] == "ACTIVE"
    assert len(_read(folder / "out" / "users.jsonl.out")) == 8000


def test_a_background_job_that_fails_is_recorded_as_create_failed(bat):
    folder = _folder(bat, "bg-fails")
    arn = bat.pp.create_batch_inference_job("bg-fails", bat.v["pop"], {"table": "no_such_table"}, str(folder),
                                            wait=False)["batchInferenceJobArn"]
    job = _until_done(bat.pp, arn)
    assert job["status"] == "CREATE FAILED" and "no_such_table" in job["failureReason"]
    assert os.listdir(folder) == []


def test_list_filters_by_solution_version(bat):
    _job(bat, "list-pop", "pop", [{"userId": "u1"}])
    by_pop = bat.pp.list_batch_inference_jobs(solution_version=bat.v["pop"])["batchInferenceJobs"]
    everything = bat.pp.list_batch_inference_jobs()["batchInferenceJobs"]
    assert "list-pop" in [j["jobName"] for j in by_pop]
    assert {j["solutionVersionArn"] for j in by_pop} == {bat.v["pop"]}
    assert {j["jobName"] for j in by_pop} == {j["jobName"] for j in everything
                                              if j["solutionVersionArn"] == bat.v["pop"]}
    assert len(everything) > len(by_pop)
    assert {"batchInferenceJobArn", "jobName", "status", "solutionVersionArn"} <= set(by_pop[0])


# -- 9. analyst outputs ----------------------------------------------------------------------------

def test_output_table_and_parquet_rows_equal_the_json_lines(bat):
    folder = _folder(bat, "analyst")
    raw = [json.dumps({"userId": u}) for u in USERS[:200]] + ["not json", '{"userId": 3}', '{"userId": "nobody"}']
    source = _write(folder / "users.jsonl", raw)
    parquet = folder / "recs.parquet"
    bat.pp.create_batch_inference_job("analyst", bat.v["up"], str(source), str(folder / "out"), num_results=8,
                                      batch_inference_job_config={"outputTable": "marketing.recs",
                                                                  "outputParquet": str(parquet)})
    lines = _read(folder / "out" / "users.jsonl.out")
    expected = [(ln["input"]["userId"], rank, item, score)
                for ln in lines if ln["error"] is None
                for rank, (item, score) in enumerate(zip(ln["output"]["recommendedItems"], ln["output"]["scores"]),
                                                     start=1)]
    assert len(expected) == 8 * 201
    table = bat.pp.sql("SELECT input_key, rank, item_id, score FROM marketing.recs").df()
    from_file = pd.read_parquet(parquet)
    for frame in (table, from_file):
        assert list(frame.columns) == ["input_key", "rank", "item_id", "score"]
        got = sorted(frame.itertuples(index=False, name=None))
        assert len(got) == len(expected)
        for (k, r, i, s), (k2, r2, i2, s2) in zip(got, sorted(expected)):
            assert (k, int(r), i) == (k2, r2, i2) and abs(s - s2) <= 1e-6
    assert _hidden(folder / "out") == [] and sorted(os.listdir(folder)) == ["out", "recs.parquet", "users.jsonl"]
