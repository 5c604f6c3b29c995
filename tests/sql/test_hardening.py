"""Regression tests of the hardening issue: the project file, filters, settings and events.

Each test names the issue item it covers. Import-path items live in
tests/sql/test_import_hardening.py, internal names in tests/sql/test_internal_names.py,
the CLI in tests/cli.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

import pypersonalize
from pypersonalize.configs import CAMPAIGN_CONFIG, LATER, RECOMMENDER_CONFIG, SOLUTION_CONFIG
from pypersonalize.recipes import RECIPES
from tests.conftest import DOMAIN_DIRS, build_sample_group

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
NON_FINITE = [float("nan"), float("inf"), float("-inf"), "NaN", "inf", "-Infinity", "1e999"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _interactions(pp, group="movies") -> int:
    return pp.sql(f'SELECT count(*) FROM "{group}".interactions').fetchall()[0][0]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A VIDEO_ON_DEMAND project with popular, related and personalized recommenders."""
    path = tmp_path_factory.mktemp("served") / "served.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_recommender(name="top", dataset_group="movies", use_case="Most popular")
        pp.create_recommender(name="byw", dataset_group="movies", use_case="Because you watched X")
        pp.create_recommender(name="picks", dataset_group="movies", use_case="Top picks for you")
        pp.create_filter(name="comedy", dataset_group="movies",
                         filter_expression='INCLUDE ItemID WHERE Items.GENRES IN ("Comedy")')
    return path


def _copy(served: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.duckdb"
    target.write_bytes(served.read_bytes())
    return target


# -- item 2: put_events properties cannot overwrite reserved fields -------------------------


@pytest.mark.parametrize("key", ["userId", "USER_ID", "user_id", "UserId", "sessionId", "eventType",
                                 "EVENT_TYPE", "timestamp", "TIMESTAMP", "recommendationId",
                                 "impression", "Impression", "session_id"])
def test_put_events_refuses_reserved_properties(served, tmp_path, key):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        before = _interactions(pp)
        event = {"eventType": "Watch", "itemId": "m1", "sentAt": 1735700000,
                 "properties": {key: "intruder"}}
        with pytest.raises(pypersonalize.InvalidInput, match=f"property {key!r} is reserved"):
            pp.put_events("movies", "u1", "s1", [event])
        assert _interactions(pp) == before
        assert pp.sql("SELECT count(*) FROM movies.interactions WHERE USER_ID = 'intruder'").fetchall() == [(0,)]


def test_put_events_properties_may_not_repeat_the_event_keys(served, tmp_path):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        with pytest.raises(pypersonalize.InvalidInput, match="repeats the event's itemId"):
            pp.put_events("movies", "u1", "s1", [{"eventType": "Watch", "itemId": "m1", "sentAt": 1735700000,
                                                   "properties": {"itemId": "m2"}}])
        # the older API form, itemId only inside properties, still works
        pp.put_events("movies", "u1", "s1", [{"eventType": "Watch", "sentAt": 1735700000,
                                              "properties": json.dumps({"itemId": "m2"})}])
        assert pp.sql("SELECT ITEM_ID FROM movies.interactions WHERE USER_ID = 'u1' AND "
                      '"TIMESTAMP" = 1735700000').fetchall() == [("m2",)]


# -- item 4: a project never becomes unopenable ---------------------------------------------


def _force_rebuild_on_open(path: Path) -> None:
    """Make the next open rebuild every view and macro, as after an upgrade."""
    with pypersonalize.open(path, quiet=True) as pp:
        pp.sql("UPDATE pypersonalize.settings SET value = 'stale' WHERE key = 'sql_fingerprint'")


def test_deleting_a_dataset_a_filter_reads_is_refused(served, tmp_path):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        pp.create_filter(name="basic-users", dataset_group="movies", filter_expression=(
            'INCLUDE ItemID WHERE Items.GENRES IN ("Drama") IF CurrentUser.SUBSCRIPTION_MODEL IN ("basic")'))
        rows = pp.sql("SELECT count(*) FROM movies.items").fetchall()
        with pytest.raises(pypersonalize.ResourceInUse, match="filter 'comedy'"):
            pp.delete_dataset("Items", dataset_group="movies")
        with pytest.raises(pypersonalize.ResourceInUse, match="filter 'basic-users'"):
            pp.delete_dataset("Users", dataset_group="movies")
        assert pp.sql("SELECT count(*) FROM movies.items").fetchall() == rows     # nothing changed
        pp.delete_filter("basic-users")
        pp.delete_dataset("Users", dataset_group="movies")                         # no reader left


def test_update_dataset_with_an_internal_looking_field_keeps_the_filter_working(served, tmp_path):
    path = _copy(served, tmp_path)
    with pypersonalize.open(path, quiet=True) as pp:
        pp.create_filter(name="basic-users", dataset_group="movies", filter_expression=(
            'INCLUDE ItemID WHERE Items.GENRES IN ("Drama") IF CurrentUser.SUBSCRIPTION_MODEL IN ("basic")'))
        before = pp.get_recommendations(recommender="top", user_id="u1", filter="basic-users")["itemList"]
        schema = json.loads((VOD / "users.schema.json").read_text())
        for name in ("PP_USER", "pp#user", "pp_values", "pp_candidate"):
            if "#" in name:
                continue           # not a legal field name: it cannot collide
            schema["fields"].append({"name": name, "type": ["null", "string"]})
        pp.create_schema(name="users-v2", schema=schema, domain="VIDEO_ON_DEMAND")
        pp.update_dataset("Users", schema="users-v2", dataset_group="movies")
        after = pp.get_recommendations(recommender="top", user_id="u1", filter="basic-users")["itemList"]
        assert after == before and after
        sql = pp.sql("SELECT item_id FROM pp_recommend_filtered('top', 'basic-users', user_id := 'u1', "
                     "n := 25)").fetchall()
        assert [r[0] for r in sql] == [i["itemId"] for i in before]
    _force_rebuild_on_open(path)
    with pypersonalize.open(path, quiet=True) as pp:
        assert pp.describe_filter("basic-users")["filter"]["status"] == "ACTIVE"


@pytest.mark.parametrize("rebuild", [False, True], ids=["same-code", "after-upgrade"])
def test_a_table_dropped_by_raw_sql_leaves_the_file_openable(served, tmp_path, rebuild):
    path = _copy(served, tmp_path)
    with pypersonalize.open(path, quiet=True) as pp:
        pp.create_filter(name="basic-users", dataset_group="movies", filter_expression=(
            'INCLUDE ItemID WHERE Items.GENRES IN ("Drama") IF CurrentUser.SUBSCRIPTION_MODEL IN ("basic")'))
        pp.sql("SELECT 1; DROP TABLE movies.users CASCADE")
    if rebuild:
        _force_rebuild_on_open(path)
    with pypersonalize.open(path, quiet=True) as pp:               # opens
        if rebuild:
            broken = pp.describe_filter("basic-users")["filter"]
            assert broken["status"] == "CREATE FAILED"
        assert pp.describe_filter("comedy")["filter"]["status"] == "ACTIVE"
        users = pp.describe_dataset("Users", dataset_group="movies")["dataset"]
        assert users["status"] == "FAILED" and "missing" in users["failureReason"]
        # everything that does not need the dropped table still answers
        assert len(pp.get_recommendations(recommender="top", user_id="u1", filter="comedy")["itemList"]) == 25
        pp.delete_filter("basic-users")
        pp.delete_dataset("Users", dataset_group="movies")
        assert [d["datasetType"] for d in pp.list_datasets("movies")["datasets"]] == ["INTERACTIONS", "ITEMS"]
    with pypersonalize.open(path, quiet=True) as pp:
        assert pp.list_filters()["Filters"][0]["name"] == "comedy"


def test_a_filter_that_cannot_be_rebuilt_is_marked_and_heals(served, tmp_path):
    """The broken object is skipped, not fatal, and becomes ACTIVE again once it builds."""
    path = _copy(served, tmp_path)
    with pypersonalize.open(path, quiet=True) as pp:
        pp.sql("ALTER TABLE movies.items RENAME COLUMN GENRES TO GENRES_OLD")
    _force_rebuild_on_open(path)
    with pypersonalize.open(path, quiet=True) as pp:
        desc = pp.describe_filter("comedy")["filter"]
        assert desc["status"] == "CREATE FAILED" and "GENRES" in pp.catalog.get("filter", "comedy").failure_reason
        pp.sql("ALTER TABLE movies.items RENAME COLUMN GENRES_OLD TO GENRES")
    _force_rebuild_on_open(path)
    with pypersonalize.open(path, quiet=True) as pp:
        assert pp.describe_filter("comedy")["filter"]["status"] == "ACTIVE"
        assert pp.sql("SELECT count(*) FROM pp_recommend_filtered('top', 'comedy', user_id := 'u1', n := 5)"
                      ).fetchall() == [(5,)]


# -- item 5: only DuckDB files (or new paths) are project files ------------------------------


@pytest.mark.parametrize("name,content", [
    ("interactions.csv", b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1700000000\n"),
    ("interactions.tsv", b"USER_ID\tITEM_ID\n"),
    ("events.json", b'{"USER_ID": "u1"}\n'),
    ("data.parquet", None),
    ("notes.txt", b"just some words that are longer than twelve bytes"),
    ("project.duckdb", b"not a duckdb file, only named like one"),
])
def test_opening_a_file_that_is_not_a_duckdb_database_is_refused(tmp_path, name, content):
    path = tmp_path / name
    if content is None:
        pd.DataFrame({"USER_ID": ["u1"]}).to_parquet(path)
    else:
        path.write_bytes(content)
    before = _digest(path)
    with pytest.raises(pypersonalize.InvalidInput, match="is not a DuckDB database file"):
        pypersonalize.open(path)
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]      # no WAL or side file


def test_a_folder_is_not_a_project_file(tmp_path):
    with pytest.raises(pypersonalize.InvalidInput, match="is a folder"):
        pypersonalize.open(tmp_path)


# -- item 7: filter names that differ only in case -----------------------------------------


def test_filter_names_differing_in_case_are_refused_and_plain_sql_applies_the_right_one(served, tmp_path):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        with pytest.raises(pypersonalize.ResourceAlreadyExists, match="differ only in case"):
            pp.create_filter(name="COMEDY", dataset_group="movies",
                             filter_expression='EXCLUDE ItemID WHERE Items.GENRES IN ("Comedy")')
        assert [f["name"] for f in pp.list_filters()["Filters"]] == ["comedy"]
        comedies = {r[0] for r in pp.sql("SELECT ITEM_ID FROM movies.items WHERE list_contains(GENRES, 'Comedy')"
                                         ).fetchall()}
        got = [r[0] for r in pp.sql("SELECT item_id FROM pp_recommend_filtered('top', 'comedy', user_id := 'u1', "
                                    "n := 10)").fetchall()]
        assert got and set(got) <= comedies


# -- item 8: non-finite numbers are refused everywhere -------------------------------------


NUMERIC_HPS = [(r.name, h.name) for r in RECIPES.values() for h in r.hyperparameters if h.type in (int, float)]


@pytest.mark.parametrize("recipe,name", NUMERIC_HPS, ids=[f"{r}:{h}" for r, h in NUMERIC_HPS])
def test_every_numeric_hyperparameter_refuses_non_finite_values(recipe, name):
    for value in NON_FINITE:
        with pytest.raises(pypersonalize.InvalidInput, match=f"hyperparameter {name}"):
            RECIPES[recipe].resolve_hyperparameters({name: value})


def test_numeric_settings_refuse_non_finite_values(served, tmp_path):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        version = pp.describe_recommender("picks")["recommender"]["modelVersionArn"]
        for value in NON_FINITE:
            with pytest.raises(pypersonalize.InvalidInput, match="finite|number"):
                pp.create_solution(name="s", dataset_group="movies", recipe="aws-sims",
                                   solution_config={"eventValueThreshold": value})
            with pytest.raises(pypersonalize.InvalidInput, match="finite|number"):
                pp.create_solution(name="s", dataset_group="movies", recipe="aws-sims",
                                   event_value_threshold=value)
            with pytest.raises(pypersonalize.InvalidInput, match="finite|number"):
                pp.validate_dataset_group("movies", event_value_threshold=value)
            for key in ("explorationWeight", "explorationItemAgeCutOff"):
                with pytest.raises(pypersonalize.InvalidInput, match=key):
                    pp.create_campaign(name="c", solution_version=version,
                                       campaign_config={"itemExplorationConfig": {key: value}})
            if not isinstance(value, str):
                with pytest.raises(pypersonalize.InvalidInput, match="retrainingIntervalDays"):
                    pp.create_recommender(name="r2", dataset_group="movies", use_case="Most popular",
                                          recommender_config={"retrainingIntervalDays": value})
        assert pp.list_solutions()["solutions"] == [] and pp.list_campaigns()["campaigns"] == []


@pytest.mark.parametrize("key", ["eventValue", "sentAt"])
def test_put_events_refuses_non_finite_numbers(served, tmp_path, key):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        before = _interactions(pp)
        for value in (float("nan"), float("inf"), float("-inf")):
            event = {"eventType": "Watch", "itemId": "m1", "sentAt": 1735700000, key: value}
            with pytest.raises(pypersonalize.InvalidInput, match=f"event 1: {key} must be a finite number"):
                pp.put_events("movies", "u1", "s1", [event])
            props = {"eventType": "Watch", "itemId": "m1", "sentAt": 1735700000, "properties": {"eventValue": value}}
            if key == "eventValue":
                with pytest.raises(pypersonalize.InvalidInput, match="finite"):
                    pp.put_events("movies", "u1", "s1", [props])
        assert _interactions(pp) == before


# -- item 10: one Project shared by threads ------------------------------------------------


def _same(a, b) -> bool:
    """Equal, but for the last bits of float scores (DuckDB sums in parallel, in any order)."""
    if isinstance(a, list) and a and isinstance(a[0], dict):
        return [x["itemId"] for x in a] == [y["itemId"] for y in b] and all(
            abs(x["score"] - y["score"]) <= 1e-12 * max(1.0, abs(y["score"])) for x, y in zip(a, b))
    return a == b


def test_a_project_shared_by_eight_threads_answers_as_one_thread(served, tmp_path):
    path = _copy(served, tmp_path)
    users = [f"u{n}" for n in range(1, 41)]
    with pypersonalize.open(path, quiet=True) as pp:
        calls = []
        for n, user in enumerate(users):
            calls.append(("rec", dict(recommender="top", user_id=user, num_results=10)))
            calls.append(("rec", dict(recommender="byw", user_id=user, item_id=f"m{n + 1}", num_results=10)))
            calls.append(("rec", dict(recommender="picks", user_id=user, num_results=10, seed=n)))
            calls.append(("rec", dict(recommender="top", user_id=user, filter="comedy", num_results=5)))
            calls.append(("describe", "picks"))
            calls.append(("sql", user))

        def run(call, thread=None, k=None):
            kind, arg = call
            if kind == "rec":
                return pp.get_recommendations(**arg)["itemList"]
            if kind == "describe":
                out = pp.describe_recommender(arg)["recommender"]
                return out["status"], out["modelVersionArn"]
            if kind == "sql":
                return pp.sql("SELECT count(*) FROM movies.interactions WHERE USER_ID = $u", {"u": arg}).fetchall()
            if kind == "write":        # each thread writes its own user and schema
                pp.put_events("movies", f"thread{thread}", "s", [{"eventType": "Watch", "itemId": "m1",
                                                                   "sentAt": 1735700000 + k}])
                pp.create_schema(name=f"t{thread}-{k}", schema=VOD / "users.schema.json", domain="VIDEO_ON_DEMAND")
                return pp.describe_schema(f"t{thread}-{k}")["schema"]["name"]

        expected = [run(c) for c in calls]
        results: dict[tuple[int, int], object] = {}
        errors: list[BaseException] = []
        start = threading.Barrier(8)

        def worker(t):
            start.wait()
            try:
                for k in range(200):
                    index = (t * 37 + k * 11) % len(calls)
                    if k % 20 == 0:
                        results[(t, k)] = ("write", run(("write", None), t, k))
                    else:
                        results[(t, k)] = (index, run(calls[index]))
            except BaseException as exc:        # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        assert len(results) == 8 * 200
        for (t, k), (index, answer) in results.items():
            if index == "write":
                assert answer == f"t{t}-{k}"
            else:
                assert _same(answer, expected[index]), calls[index]
        for t in range(8):
            assert pp.sql("SELECT count(*) FROM movies.interactions WHERE USER_ID = $u",
                          {"u": f"thread{t}"}).fetchall() == [(10,)]


# -- item 11: accepted means done; the rest is refused -------------------------------------


def _later(table):
    return [k for k, v in table.items() if v == LATER]


@pytest.mark.parametrize("key", _later(SOLUTION_CONFIG))
def test_solution_config_keys_not_built_yet_are_refused(served, tmp_path, key):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        with pytest.raises(pypersonalize.InvalidInput, match=f"solution_config.{key} is not supported yet"):
            pp.create_solution(name="s", dataset_group="movies", recipe="aws-sims", solution_config={key: {}})
        assert pp.list_solutions()["solutions"] == []


@pytest.mark.parametrize("key,flag", [("hpoConfig", "perform_hpo"), ("autoMLConfig", "perform_auto_ml")])
def test_tuning_configs_without_their_flag_are_refused(served, tmp_path, key, flag):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        with pytest.raises(pypersonalize.InvalidInput, match=f"{key} is given but {flag} is false"):
            pp.create_solution(name="s", dataset_group="movies", recipe="aws-sims", solution_config={key: {}})
        with pytest.raises(pypersonalize.InvalidInput, match=f"{flag} must be true or false"):
            pp.create_solution(name="s", dataset_group="movies", recipe="aws-sims", **{flag: "yes"})
        assert pp.list_solutions()["solutions"] == []


@pytest.mark.parametrize("table,key", [("campaign", k) for k in _later(CAMPAIGN_CONFIG)]
                         + [("recommender", k) for k in _later(RECOMMENDER_CONFIG)])
def test_endpoint_config_keys_not_built_yet_are_refused(served, tmp_path, table, key):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        with pytest.raises(pypersonalize.InvalidInput, match=f"{table}_config.{key} is not supported yet"):
            if table == "campaign":
                version = pp.describe_recommender("top")["recommender"]["modelVersionArn"]
                pp.create_campaign(name="c", solution_version=version, campaign_config={key: True})
            else:
                pp.create_recommender(name="r2", dataset_group="movies", use_case="Most popular",
                                      recommender_config={key: True})


def test_unknown_config_keys_are_refused(served, tmp_path):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        with pytest.raises(pypersonalize.InvalidInput, match="has no key 'algorithmHyperParameter'"):
            pp.create_solution(name="s", dataset_group="movies", recipe="aws-sims",
                               solution_config={"algorithmHyperParameter": {}})
        with pytest.raises(pypersonalize.InvalidInput, match="autoTrainingConfig has no key"):
            pp.create_solution(name="s", dataset_group="movies", recipe="aws-sims",
                               solution_config={"autoTrainingConfig": {"schedule": "rate(1 days)"}})


def _effect(pp, table: str, key: str):
    """Two results that differ only by ``key``: proof that the key changes something."""
    if table == "solution" and key in _STEERING:
        return _steering_effect(pp, key)
    if table == "recommender" and key == "trainingDataConfig":
        return _recommender_training_data_effect(pp)
    if table == "solution" and key in ("hpoConfig", "autoMLConfig"):
        return _tuning_effect(pp, key)
    if table == "solution":
        value = {"algorithmHyperParameters": {"popularity_discount_factor": "0.9"},
                 "featureTransformationParameters": {"min_cointeraction_count": "5"},
                 "eventValueThreshold": "0.5",
                 "autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}}[key]
        pp.create_solution(name="with", dataset_group="movies", recipe="aws-sims", solution_config={key: value},
                           perform_auto_training=key == "autoTrainingConfig")
        pp.create_solution(name="without", dataset_group="movies", recipe="aws-sims",
                           perform_auto_training=key == "autoTrainingConfig")
        strip = lambda d: {k: v for k, v in d.items() if k not in ("name", "solutionArn", "creationDateTime",  # noqa: E731
                                                                   "lastUpdatedDateTime")}
        return (strip(pp.describe_solution("with")["solution"]),
                strip(pp.describe_solution("without")["solution"]))
    if table == "campaign" and key == "rankingInfluence":
        return _ranking_influence_effect(pp)
    if key == "enableMetadataWithRecommendations":
        return _metadata_effect(pp, table)
    if table == "campaign":
        version = pp.describe_recommender("picks")["recommender"]["modelVersionArn"]
        value = {"itemExplorationConfig": {"explorationWeight": "1.0", "explorationItemAgeCutOff": "3650"},
                 "syncWithLatestSolutionVersion": True}[key]
        pp.create_campaign(name="with", solution_version=version, campaign_config={key: value})
        pp.create_campaign(name="without", solution_version=version)
        if key == "itemExplorationConfig":
            return [pp.get_recommendations(campaign=c, user_id="u1", seed=1)["itemList"] for c in ("with", "without")]
        return [pp.describe_campaign(c)["campaign"]["campaignConfig"] for c in ("with", "without")]
    value = {"itemExplorationConfig": {"explorationWeight": "1.0", "explorationItemAgeCutOff": "3650"},
             "minRecommendationRequestsPerSecond": 7, "retrainingIntervalDays": 1e-9}[key]
    use_case = "Top picks for you" if key == "itemExplorationConfig" else "Most popular"
    pp.create_recommender(name="with", dataset_group="movies", use_case=use_case, recommender_config={key: value})
    if key == "itemExplorationConfig":
        return [pp.get_recommendations(recommender=r, user_id="u1", seed=1)["itemList"] for r in ("with", "picks")]
    if key == "retrainingIntervalDays":
        return [pp.describe_recommender(r)["recommender"]["stale"] for r in ("with", "top")]
    return [pp.describe_recommender(r)["recommender"]["recommenderConfig"] for r in ("with", "top")]


# solution_config keys that steer User-Personalization training: recipe and value
_STEERING = {
    "eventsConfig": ("aws-user-personalization-v2", {"eventParametersList": [
        {"eventType": "Watch", "eventValueThreshold": 0.5, "weight": 1.0}, {"eventType": "Click", "weight": 0.2}]}),
    "optimizationObjective": ("aws-user-personalization",
                              {"itemAttribute": "CREATION_TIMESTAMP", "objectiveSensitivity": "HIGH"}),
    "trainingDataConfig": ("aws-user-personalization", {"excludedDatasetColumns": {
        "ITEMS": ["PRODUCT_DESCRIPTION", "GENRE_L2", "CONTENT_CLASSIFICATION"]}}),
}


def _steering_effect(pp, key):
    """Two User-Personalization campaigns trained with and without ``key``: u1's lists differ."""
    recipe, value = _STEERING[key]
    out = []
    for name, config in (("with", {key: value}), ("without", None)):
        pp.create_solution(name=name, dataset_group="movies", recipe=recipe, solution_config=config)
        version = pp.create_solution_version(name)["solutionVersionArn"]
        pp.create_campaign(name=name, solution_version=version, campaign_config={
            "itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"}})
        out.append(pp.get_recommendations(campaign=name, user_id="u1", num_results=10)["itemList"])
    return out


def _tuning_effect(pp, key):
    """hpoConfig: the searched range decides the version's hyperparameters; autoMLConfig: the
    recipe list decides the version's recipe."""
    out = []
    for name, value in (("low", 0.0), ("high", 1.0)):
        if key == "hpoConfig":
            config = {"hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "2"},
                                    "algorithmHyperParameterRanges": {
                                        "integerHyperParameterRanges": [],
                                        "continuousHyperParameterRanges": [
                                            {"name": "popularity_discount_factor", "minValue": value,
                                             "maxValue": value}],
                                        "categoricalHyperParameterRanges": []}}}
            pp.create_solution(name=name, dataset_group="movies", recipe="aws-sims", perform_hpo=True,
                               solution_config=config)
        else:
            recipe = "aws-hrnn" if value else "aws-user-personalization"
            config = {"autoMLConfig": {"recipeList": [f"arn:aws:personalize:::recipe/{recipe}"]},
                      "hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "1"}}}
            pp.create_solution(name=name, dataset_group="movies", perform_auto_ml=True, solution_config=config)
        version = pp.describe_solution_version(pp.create_solution_version(name)["solutionVersionArn"])
        v = version["solutionVersion"]
        out.append((v["recipeArn"], v["solutionConfig"]["algorithmHyperParameters"]))
    return out


def _recommender_training_data_effect(pp):
    """Top picks with the sample's impressions left out of training (no impression penalty)
    and without: u1's lists differ."""
    config = {"trainingDataConfig": {"excludedDatasetColumns": {"INTERACTIONS": ["IMPRESSION"]}}}
    pp.create_recommender(name="with", dataset_group="movies", use_case="Top picks for you", recommender_config=config)
    return [pp.get_recommendations(recommender=r, user_id="u1", seed=1)["itemList"] for r in ("with", "picks")]


SUPPORTED_KEYS = [("solution", k) for k, v in SOLUTION_CONFIG.items() if v != LATER] + \
    [("campaign", k) for k, v in CAMPAIGN_CONFIG.items() if v != LATER] + \
    [("recommender", k) for k, v in RECOMMENDER_CONFIG.items() if v != LATER]


def _metadata_effect(pp, table):
    """With enableMetadataWithRecommendations, metadata_columns answers with Items columns;
    without it, the same request is refused."""
    out = []
    for flag in (True, False):
        name = f"meta-{flag}".lower()
        if table == "campaign":
            version = pp.describe_recommender("picks")["recommender"]["modelVersionArn"]
            pp.create_campaign(name=name, solution_version=version,
                               campaign_config={"enableMetadataWithRecommendations": flag})
        else:
            pp.create_recommender(name=name, dataset_group="movies", use_case="Most popular",
                                  recommender_config={"enableMetadataWithRecommendations": flag})
        try:
            out.append(pp.get_recommendations(**{table: name}, user_id="u1", num_results=3, seed=1,
                                              metadata_columns={"ITEMS": ["GENRES"]})["itemList"])
        except pypersonalize.InvalidInput as exc:
            out.append(str(exc))
    return out


def _ranking_influence_effect(pp):
    """A Semantic-Similarity campaign (the sample's items with their genres as the title)
    with and without rankingInfluence: the lists differ."""
    ns = "com.amazonaws.personalize.schema"
    items = pp.con.execute("SELECT ITEM_ID, array_to_string(GENRES, ' ') AS TITLE, PRODUCT_DESCRIPTION, "
                           "CREATION_TIMESTAMP FROM movies.items").df()
    events = pp.con.execute('SELECT USER_ID, ITEM_ID, "TIMESTAMP" FROM movies.interactions').df()
    schemas = {"Interactions": {"type": "record", "name": "Interactions", "namespace": ns, "fields": [
        {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"}]},
        "Items": {"type": "record", "name": "Items", "namespace": ns, "fields": [
            {"name": "ITEM_ID", "type": "string"}, {"name": "TITLE", "type": "string", "itemName": True},
            {"name": "PRODUCT_DESCRIPTION", "type": ["null", "string"], "textual": True},
            {"name": "CREATION_TIMESTAMP", "type": "long"}]}}
    pp.create_dataset_group(name="texts")
    for dtype, frame in (("Interactions", events), ("Items", items)):
        pp.create_schema(name=f"texts-{dtype}", schema=schemas[dtype])
        pp.create_dataset(name=f"texts-{dtype}", dataset_group="texts", dataset_type=dtype, schema=f"texts-{dtype}")
        pp.create_dataset_import_job(dataset=dtype, dataset_group="texts", data_source=frame)
    pp.create_solution(name="texts", dataset_group="texts", recipe="aws-semantic-similarity")
    version = pp.create_solution_version("texts")["solutionVersionArn"]
    pp.create_campaign(name="with", solution_version=version, campaign_config={"rankingInfluence": {"FRESHNESS": 1}})
    pp.create_campaign(name="without", solution_version=version)
    item = str(items.ITEM_ID[0])
    return [pp.get_recommendations(campaign=c, item_id=item)["itemList"] for c in ("with", "without")]


@pytest.mark.parametrize("table,key", SUPPORTED_KEYS, ids=[f"{t}:{k}" for t, k in SUPPORTED_KEYS])
def test_every_supported_config_key_changes_something(served, tmp_path, table, key):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        with_key, without = _effect(pp, table, key)
        assert with_key != without


# -- item 13: schemas as Amazon's samples write them ---------------------------------------


@pytest.mark.parametrize("name,version", [("interactions", "1.0"), ("INTERACTIONS", 1.0), ("Interactions", 1)])
def test_schemas_from_amazons_samples_are_accepted(project, name, version):
    schema = {"type": "record", "name": name, "namespace": "com.amazonaws.personalize.schema",
              "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                         {"name": "TIMESTAMP", "type": "long"}], "version": version}
    project.create_dataset_group(name="g")
    project.create_schema(name="s", schema=schema)
    project.create_dataset(name="d", dataset_group="g", dataset_type="Interactions", schema="s")
    assert project.describe_dataset("d")["dataset"]["datasetType"] == "INTERACTIONS"


@pytest.mark.parametrize("bad", [{"name": "Interaction"}, {"version": True}, {"version": {"v": 1}}])
def test_schemas_personalize_refuses_stay_refused(bad):
    schema = {"type": "record", "name": "Interactions",
              "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                         {"name": "TIMESTAMP", "type": "long"}], "version": "1.0", **bad}
    with pytest.raises(pypersonalize.SchemaError):
        pypersonalize.open().create_schema(name="s", schema=schema)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary\x00", b"USER_ID,ITEM_ID\nSECRET=hunter2\n", b""])
def test_a_schema_file_that_is_not_json_is_described_not_quoted(project, tmp_path, content):
    path = tmp_path / "schema.txt"
    path.write_bytes(content)
    with pytest.raises(pypersonalize.SchemaError) as err:
        project.create_schema(name="s", schema=path)
    assert str(path) in str(err.value) and "SECRET" not in str(err.value)


# -- item 16: read-only projects write nothing ---------------------------------------------


def test_a_read_only_project_writes_nothing_and_logs_no_impressions(tmp_path):
    path = tmp_path / "logged.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:       # interactions that can name a list
        schema = json.loads((VOD / "interactions.schema.json").read_text())
        schema["fields"].append({"name": "RECOMMENDATION_ID", "type": ["null", "string"]})
        pp.create_dataset_group(name="movies", domain="VIDEO_ON_DEMAND")
        pp.create_schema(name="inter", schema=schema, domain="VIDEO_ON_DEMAND")
        pp.create_dataset(name="inter", dataset_group="movies", dataset_type="Interactions", schema="inter")
        events = pd.read_csv(VOD / "interactions.csv", dtype=str, keep_default_na=False)
        pp.create_dataset_import_job(dataset="inter", data_source=events.assign(RECOMMENDATION_ID=""))
        pp.create_recommender(name="picks", dataset_group="movies", use_case="Top picks for you")
        pp.sql("CHECKPOINT")
    before = _digest(path)
    with pypersonalize.open(path, read_only=True) as pp:
        items = pp.get_recommendations(recommender="picks", user_id="u1", seed=1)["itemList"]
        assert len(items) == 25
        assert pp.sql("SELECT count(*) FROM pypersonalize.recommendation_log").fetchall() == [(0,)]
        with pytest.raises(pypersonalize.InvalidInput, match="read-only"):
            pp.put_events("movies", "u1", "s1", [{"eventType": "Watch", "itemId": "m1", "sentAt": 1735700000}])
        with pytest.raises(pypersonalize.InvalidInput, match="read-only"):
            pp.create_schema(name="s", schema=VOD / "users.schema.json", domain="VIDEO_ON_DEMAND")
        with pytest.raises(pypersonalize.InvalidInput, match="read-only"):
            pp.create_filter(name="f", dataset_group="movies",
                             filter_expression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')
    assert _digest(path) == before
    assert not Path(str(path) + ".wal").exists()
    with pypersonalize.open(path, quiet=True) as pp:        # a writer logs the list it served
        pp.get_recommendations(recommender="picks", user_id="u1", seed=1)
        assert pp.sql("SELECT count(*) FROM pypersonalize.recommendation_log").fetchall() == [(1,)]


def test_two_readers_share_a_file_and_a_writer_gets_a_clear_lock_error(served, tmp_path):
    path = _copy(served, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, pypersonalize\n"
        f"pp = pypersonalize.open({str(path)!r}, read_only=True)\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pypersonalize.open(path, read_only=True) as pp:
            assert len(pp.get_recommendations(recommender="top", user_id="u1", num_results=3)["itemList"]) == 3
        with pytest.raises(pypersonalize.ResourceInUse) as err:
            pypersonalize.open(path)
        message = str(err.value)
        assert f"PID {holder.pid}" in message and "--read-only" in message
    finally:
        holder.communicate("\n", timeout=30)


def test_new_project_files_use_the_old_storage_format(tmp_path):
    """A file can be attached at a storage version no lower than its own: ours at 1.4 works,
    a file DuckDB 2 writes by default does not (the control)."""
    import duckdb

    from pypersonalize.connection import STORAGE_VERSION
    ours, plain = tmp_path / "ours.duckdb", tmp_path / "plain.duckdb"
    pypersonalize.open(ours).close()
    duckdb.connect(str(plain)).execute("CREATE TABLE t (a INTEGER)").close()
    con = duckdb.connect()
    con.execute(f"ATTACH '{ours}' AS ours (STORAGE_VERSION '{STORAGE_VERSION}')")
    with pytest.raises(duckdb.Error, match="cannot be lowered"):
        con.execute(f"ATTACH '{plain}' AS plain (STORAGE_VERSION '{STORAGE_VERSION}')")


# -- item 12 (filters): literals with ';' and line breaks, CurrentItem where there is none --


@pytest.mark.parametrize("literal", ["a;\nDROP TABLE x;", "Com;edy\n", ";\n;\n", "x';\nSELECT 1;--"])
def test_filter_literals_with_semicolons_and_line_breaks(served, tmp_path, literal):
    path = _copy(served, tmp_path)
    with pypersonalize.open(path, quiet=True) as pp:
        pp.sql("UPDATE movies.items SET GENRES = list_append(GENRES, $v) WHERE ITEM_ID IN ('m1', 'm2')",
               {"v": literal})
        expression = f'INCLUDE ItemID WHERE Items.GENRES IN ("{literal.replace(chr(34), "")}")'
        pp.create_filter(name="odd", dataset_group="movies", filter_expression=expression)
        python = [i["itemId"] for i in pp.get_recommendations(recommender="byw", user_id="u1", item_id="m3",
                                                               filter="odd")["itemList"]]
        sql = [r[0] for r in pp.sql("SELECT item_id FROM pp_recommend_filtered('byw', 'odd', user_id := 'u1', "
                                    "item_id := 'm3', n := 25)").fetchall()]
        assert python == sql and set(python) <= {"m1", "m2"}
    _force_rebuild_on_open(path)
    with pypersonalize.open(path, quiet=True) as pp:
        assert pp.describe_filter("odd")["filter"]["status"] == "ACTIVE"


def test_a_current_item_filter_needs_a_related_items_endpoint(served, tmp_path):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        pp.create_filter(name="same-genre", dataset_group="movies",
                         filter_expression="INCLUDE ItemID WHERE Items.GENRES IN CurrentItem.GENRES")
        for recommender in ("picks", "top"):
            with pytest.raises(pypersonalize.InvalidInput, match="CurrentItem, which works only for related"):
                pp.get_recommendations(recommender=recommender, user_id="u1", filter="same-genre")
        genres = dict(pp.sql("SELECT ITEM_ID, GENRES FROM movies.items").fetchall())
        related = pp.get_recommendations(recommender="byw", user_id="u1", item_id="m3", filter="same-genre")
        assert related["itemList"]
        assert all(set(genres[i["itemId"]]) & set(genres["m3"]) for i in related["itemList"])


def test_the_readme_lists_every_setting_that_is_not_built_yet():
    from tests.conftest import ROOT
    readme = (ROOT / "README.md").read_text()
    for table in (SOLUTION_CONFIG, CAMPAIGN_CONFIG, RECOMMENDER_CONFIG):
        for key in _later(table):
            assert f"`{key}`" in readme, key


# -- findings of the adversarial review --------------------------------------------------


def test_a_malformed_filter_record_neither_locks_the_file_nor_blocks_deletes(served, tmp_path):
    path = _copy(served, tmp_path)
    with pypersonalize.open(path, quiet=True) as pp:
        pp.create_filter(name="nowatched", dataset_group="movies",
                         filter_expression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')
        pp.sql("UPDATE pypersonalize.objects SET config = '{}' WHERE name = 'comedy'")
    _force_rebuild_on_open(path)
    with pypersonalize.open(path, quiet=True) as pp:
        assert pp.describe_filter("comedy")["filter"]["status"] == "CREATE FAILED"
        assert {f["name"] for f in pp.list_filters()["Filters"]} == {"comedy", "nowatched"}
        pp.delete_filter("nowatched")           # a healthy filter is not blocked by the broken one
        pp.create_filter(name="again", dataset_group="movies",
                         filter_expression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')
        pp.delete_filter("comedy")
        assert [f["name"] for f in pp.list_filters()["Filters"]] == ["again"]


def test_two_filters_broken_behind_our_back_can_each_be_deleted(served, tmp_path):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        pp.create_filter(name="drama", dataset_group="movies",
                         filter_expression='INCLUDE ItemID WHERE Items.GENRES IN ("Drama")')
        pp.sql("DROP TABLE movies.items CASCADE")
        pp.delete_filter("comedy")
        pp.delete_filter("drama")
        pp.delete_dataset("Items", dataset_group="movies")
        assert pp.list_filters()["Filters"] == []


@pytest.mark.parametrize("path", ["", "   ", "md:foo", "sqlite:x.db", "s3://bucket/p.duckdb"])
def test_paths_that_are_not_local_files_are_refused(path):
    with pytest.raises(pypersonalize.InvalidInput):
        pypersonalize.open(path)


def test_thread_cursors_are_released_when_their_threads_end():
    import gc
    pp = pypersonalize.open(":memory:")
    pp.create_dataset_group(name="g")
    for _ in range(50):
        t = threading.Thread(target=pp.list_dataset_groups)
        t.start()
        t.join()
    gc.collect()
    assert len(pp._connections._cursors) == 0


def test_integer_hyperparameters_are_not_truncated():
    with pytest.raises(pypersonalize.InvalidInput, match="min_cointeraction_count"):
        RECIPES["aws-sims"].resolve_hyperparameters({"min_cointeraction_count": 2.7})
    assert RECIPES["aws-sims"].resolve_hyperparameters({"min_cointeraction_count": 3.0})["min_cointeraction_count"] == 3


@pytest.mark.parametrize("event,match", [
    ({"eventValue": 10**400}, "eventValue must be a finite number"),
    ({"sentAt": 10**400}, "sentAt is out of range"),
    ({"impression": ["m1|m2", "m3"]}, "without '|'"),
    ({"properties": {"eventValue": 10**400}}, "finite"),
])
def test_put_events_refuses_values_it_cannot_store_faithfully(served, tmp_path, event, match):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        before = _interactions(pp)
        with pytest.raises(pypersonalize.InvalidInput, match=match):
            pp.put_events("movies", "u1", "s1", [{"eventType": "Watch", "itemId": "m1",
                                                   "sentAt": 1735700000, **event}])
        assert _interactions(pp) == before


def test_settings_of_the_wrong_shape_or_size_are_refused(served, tmp_path):
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        with pytest.raises(pypersonalize.InvalidInput, match="algorithmHyperParameters must be an object"):
            pp.create_solution(name="s", dataset_group="movies", recipe="aws-sims",
                               solution_config={"algorithmHyperParameters": None})
        with pytest.raises(pypersonalize.InvalidInput, match="up to 36500"):
            pp.create_recommender(name="big", dataset_group="movies", use_case="Most popular",
                                  recommender_config={"retrainingIntervalDays": 1e9})
        assert len(pp.list_recommenders()["recommenders"]) == 3


def test_events_config_and_a_plain_value_threshold_are_refused_together(served, tmp_path):
    """The metrics and the model would read different thresholds: one of the two, not both."""
    events = {"eventParametersList": [{"eventType": "Watch", "eventValueThreshold": 0.5, "weight": 1.0}]}
    with pypersonalize.open(_copy(served, tmp_path), quiet=True) as pp:
        with pytest.raises(pypersonalize.InvalidInput, match="eventValueThreshold or solution_config.eventsConfig"):
            pp.create_solution(name="s", dataset_group="movies", recipe="aws-user-personalization-v2",
                               solution_config={"eventsConfig": events, "eventValueThreshold": "0.2"})
        pp.create_solution(name="s", dataset_group="movies", recipe="aws-user-personalization-v2",
                           event_value_threshold=0.2)
        with pytest.raises(pypersonalize.InvalidInput, match="cannot be added to it"):
            pp.update_solution("s", solution_update_config={"eventsConfig": events})
        assert [s["name"] for s in pp.list_solutions()["solutions"]] == ["s"]
        assert "eventsConfig" not in pp.describe_solution("s")["solution"]["solutionConfig"]
