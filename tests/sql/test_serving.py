"""Campaigns, domain recommenders and recommendations: Python, CLI and plain SQL agree."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

import pypersonalize
from pypersonalize.cli import main
from tests.conftest import DOMAIN_DIRS, build_sample_group

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
ECOM = DOMAIN_DIRS["ECOMMERCE"]


@pytest.fixture
def served(tmp_path):
    path = tmp_path / "served.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_recommender(name="top", dataset_group="movies", use_case="Most popular")
        pp.create_recommender(name="byw", dataset_group="movies", use_case="Because you watched X")
        pp.create_solution(name="sims", dataset_group="movies", recipe="aws-sims",
                           hyperparameters={"min_cointeraction_count": "2"})
        v = pp.create_solution_version("sims")["solutionVersionArn"]
        pp.create_campaign(name="related", solution_version=v)
    return path


def _watched(user):
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str)
    return set(raw[(raw.USER_ID == user) & (raw.EVENT_TYPE == "Watch")].ITEM_ID)


REQUESTS = [("byw", "u1", "m114", 10), ("top", "u7", None, 15), ("related", None, "m52", 20),
            ("related", "u3", "no-such-item", 5)]


@pytest.mark.parametrize("endpoint,user,item,n", REQUESTS)
def test_python_cli_and_plain_sql_agree(served, endpoint, user, item, n):
    kind = "campaign" if endpoint == "related" else "recommender"
    with pypersonalize.open(served, quiet=True) as pp:
        py = pp.get_recommendations(**{kind: endpoint}, user_id=user, item_id=item, num_results=n)
    py_items = [(r["itemId"], r["score"]) for r in py["itemList"]]
    assert len(py_items) == n and py["recommendationId"].startswith("RID-")

    args = ["--db", str(served), "--format", "json", "recommend", f"--{kind}", endpoint, "-n", str(n)]
    args += ["--user-id", user] if user else []
    args += ["--item-id", item] if item else []
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    cli_items = [(r["itemId"], r["score"]) for r in json.loads(out.output)["itemList"]]

    script = (
        "import sys, json, duckdb\n"
        f"con = duckdb.connect({str(served)!r}, read_only=True)\n"
        "rows = con.execute('SELECT item_id, score FROM pp_recommend($e, user_id := $u, "
        "item_id := $i, n := $n) ORDER BY rank', "
        f"{{'e': {endpoint!r}, 'u': {user!r}, 'i': {item!r}, 'n': {n}}}).fetchall()\n"
        "print(json.dumps({'rows': rows, 'pp': any(m.startswith('pypersonalize') for m in sys.modules)}))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    plain = json.loads(done.stdout)
    assert plain["pp"] is False
    sql_items = [tuple(r) for r in plain["rows"]]
    assert py_items == cli_items == sql_items


def test_because_you_watched_leaves_out_watched_items_and_the_item(served):
    with pypersonalize.open(served, quiet=True) as pp:
        recs = pp.get_recommendations(recommender="byw", user_id="u1", item_id="m114", num_results=50)
        ids = [r["itemId"] for r in recs["itemList"]]
        related = [r for (r,) in pp.sql("SELECT related FROM pypersonalize.related_items r "
                                         "JOIN pypersonalize.endpoints e ON e.version_arn = r.version_arn "
                                         "WHERE e.name = 'byw' AND r.item = 'm114' ORDER BY rank").fetchall()]
    watched = _watched("u1")
    assert watched and not (set(ids) & watched) and "m114" not in ids
    expected_head = [r for r in related if r not in watched][:50]
    assert ids[:len(expected_head)] == expected_head


def test_most_popular_is_watch_popularity(served):
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str)
    watch = raw[raw.EVENT_TYPE == "Watch"]
    counts = watch.groupby("ITEM_ID").USER_ID.nunique()
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    with pypersonalize.open(served, quiet=True) as pp:
        recs = pp.get_recommendations(recommender="top", user_id="anyone", num_results=20)["itemList"]
    assert [r["itemId"] for r in recs] == [k for k, _ in expected]
    total = watch.USER_ID.nunique()
    assert [r["score"] for r in recs] == pytest.approx([v / total for _, v in expected], abs=1e-12)


def test_required_inputs_are_enforced_in_python_and_sql(served):
    with pypersonalize.open(served, quiet=True) as pp:
        with pytest.raises(pypersonalize.InvalidInput, match="needs item_id"):
            pp.get_recommendations(recommender="byw", user_id="u1")
        with pytest.raises(pypersonalize.InvalidInput, match="needs user_id"):
            pp.get_recommendations(recommender="top")
        with pytest.raises(pypersonalize.InvalidInput, match="exactly one"):
            pp.get_recommendations(user_id="u1")
        for bad in (0, 501, "10", True):
            with pytest.raises(pypersonalize.InvalidInput, match="num_results"):
                pp.get_recommendations(recommender="top", user_id="u1", num_results=bad)
        assert len(pp.get_recommendations(recommender="top", user_id="u1", num_results=500)["itemList"]) == 500
        import duckdb
        with pytest.raises(duckdb.Error, match="needs item_id"):
            pp.sql("SELECT * FROM pp_recommend('byw', user_id := 'u1')").fetchall()
        with pytest.raises(duckdb.Error, match="no campaign or recommender"):
            pp.sql("SELECT * FROM pp_recommend('nope', user_id := 'u1')").fetchall()


def test_batch_macro_equals_single_requests(served):
    with pypersonalize.open(served, quiet=True) as pp:
        pp.sql("CREATE TABLE requests AS SELECT * FROM (VALUES ('u1', 'm114'), ('u2', 'm52'), "
               "('u3', 'nope')) t(user_id, item_id)")
        batch = pp.sql("SELECT user_id, item_id, rank, recommended_item_id, score "
                       "FROM pp_recommend_batch('byw', 'requests', n := 7)").fetchall()
        single = []
        for u, i in (("u1", "m114"), ("u2", "m52"), ("u3", "nope")):
            single += [(u, i, r, item, s) for r, item, s in pp.sql(
                f"SELECT * FROM pp_recommend('byw', user_id := '{u}', item_id := '{i}', n := 7)").fetchall()]
    assert sorted(batch) == sorted(single) and len(batch) == 21


def test_campaign_update_switches_versions_atomically(served, tmp_path):
    with pypersonalize.open(served, quiet=True) as pp:
        before = pp.get_recommendations(campaign="related", item_id="m52", num_results=10)["itemList"]
        # New behaviour: a burst of users who watch m52 together with m7.
        extra = pd.DataFrame({"USER_ID": [f"new{i}" for i in range(60) for _ in range(2)],
                              "ITEM_ID": ["m52", "m7"] * 60, "EVENT_TYPE": "Watch",
                              "EVENT_VALUE": 1.0, "TIMESTAMP": 1735700000, "IMPRESSION": None})
        pp.create_dataset_import_job(dataset="Interactions", dataset_group="movies", data_source=extra,
                                     import_mode="INCREMENTAL")
        v2 = pp.create_solution_version("sims")["solutionVersionArn"]
        # Until the campaign is updated it keeps serving version 1.
        assert pp.get_recommendations(campaign="related", item_id="m52", num_results=10)["itemList"] == before
        pp.update_campaign("related", solution_version=v2)
        after = pp.get_recommendations(campaign="related", item_id="m52", num_results=10)["itemList"]
        assert after != before and after[0]["itemId"] == "m7"
        assert pp.describe_campaign("related")["campaign"]["solutionVersionArn"] == v2
        with pytest.raises(pypersonalize.ResourceInUse, match="related"):
            pp.delete_solution("sims")
        other = pp.describe_recommender("byw")["recommender"]["modelVersionArn"]
        with pytest.raises(pypersonalize.InvalidInput, match="not a version"):
            pp.update_campaign("related", solution_version=other)


def test_recommender_goes_stale_and_refresh_retrains(served):
    with pypersonalize.open(served, quiet=True) as pp:
        assert pp.describe_recommender("top")["recommender"]["stale"] is False
        assert pp.refresh_recommenders()["refreshed"] == []
        extra = pd.DataFrame({"USER_ID": [f"z{i}" for i in range(900)], "ITEM_ID": "m9",
                              "EVENT_TYPE": "Watch", "EVENT_VALUE": 1.0, "TIMESTAMP": 1735700000,
                              "IMPRESSION": None})
        pp.create_dataset_import_job(dataset="Interactions", dataset_group="movies", data_source=extra,
                                     import_mode="INCREMENTAL")
        desc = pp.describe_recommender("top")["recommender"]
        assert desc["stale"] is True and "data changed since training" in desc["staleReasons"]
        old_version = desc["modelVersionArn"]
        result = pp.refresh_recommenders()
        assert {r["name"] for r in result["refreshed"]} == {"top", "byw"}
        desc = pp.describe_recommender("top")["recommender"]
        assert desc["stale"] is False and desc["modelVersionArn"] != old_version
        top = pp.get_recommendations(recommender="top", user_id="u1", num_results=1)["itemList"]
        assert top[0]["itemId"] == "m9"       # 900 new watchers make it the most popular
        # The old model's rows are gone; the new ones serve.
        left = pp.sql("SELECT count(*) FROM pypersonalize.popular_items WHERE version_arn = $v",
                      params={"v": old_version}).fetchall()[0][0]
        assert left == 0
        assert pp.describe_solution_version(old_version)["solutionVersion"]["status"] == "INACTIVE"
        assert pp.refresh_recommenders()["upToDate"] == ["top", "byw"]


def test_retraining_interval(project):
    build_sample_group(project, "VIDEO_ON_DEMAND", "m", types=("Interactions",))
    project.create_recommender(name="r", dataset_group="m", use_case="aws-vod-most-popular",
                               recommender_config={"retrainingIntervalDays": 1e-9,
                                                   "minRecommendationRequestsPerSecond": 3})
    desc = project.describe_recommender("r")["recommender"]
    assert desc["stale"] is True and any("days ago" in r for r in desc["staleReasons"])
    assert desc["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 3


def test_use_case_must_match_the_domain(project):
    build_sample_group(project, "VIDEO_ON_DEMAND", "m", types=("Interactions",))
    with pytest.raises(pypersonalize.InvalidInput, match="ECOMMERCE"):
        project.create_recommender(name="r", dataset_group="m", use_case="Best sellers")
    with pytest.raises(pypersonalize.InvalidInput, match="available"):
        project.create_recommender(name="r", dataset_group="m", use_case="Watched together")
    with pytest.raises(pypersonalize.InvalidInput, match="needs the Items dataset"):
        project.create_recommender(name="r", dataset_group="m", use_case="More like X")


def test_ecommerce_use_cases(project):
    build_sample_group(project, "ECOMMERCE", "shop")
    for name, use_case in (("best", "Best sellers"), ("viewed", "Most viewed"),
                           ("cwv", "Customers who viewed X also viewed"),
                           ("fbt", "Frequently bought together")):
        project.create_recommender(name=name, dataset_group="shop", use_case=use_case)
    raw = pd.read_csv(ECOM / "interactions.csv", dtype={"USER_ID": str, "ITEM_ID": str})
    buys = raw[raw.EVENT_TYPE == "Purchase"]
    best = buys.groupby("ITEM_ID").USER_ID.nunique()
    expected = [k for k, _ in sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
    got = project.get_recommendations(recommender="best", user_id="c1", num_results=10)["itemList"]
    assert [r["itemId"] for r in got] == expected
    # Customers who viewed X: the user's purchases are left out.
    user = buys.USER_ID.iloc[0]
    bought = set(buys[buys.USER_ID == user].ITEM_ID)
    item = raw[raw.EVENT_TYPE == "View"].ITEM_ID.value_counts().index[0]
    cwv = project.get_recommendations(recommender="cwv", user_id=user, item_id=item, num_results=100)
    assert not {r["itemId"] for r in cwv["itemList"]} & bought
    # Frequently bought together needs no user, and its related items were bought in the
    # same 30-minute purchase session as the item at least twice.
    buys = buys.sort_values(["USER_ID", "TIMESTAMP", "ITEM_ID"])
    gap = buys.groupby("USER_ID").TIMESTAMP.diff()
    buys = buys.assign(session=(gap.isna() | (gap > 1800)).cumsum())
    baskets = buys.groupby("session").ITEM_ID.apply(set)
    pairs = project.sql("SELECT r.item, r.related FROM pypersonalize.related_items r "
                        "JOIN pypersonalize.endpoints e ON e.version_arn = r.version_arn "
                        "WHERE e.name = 'fbt'").fetchall()
    together = {}
    for b in baskets:
        for x in b:
            for y in b:
                if x != y:
                    together[(x, y)] = together.get((x, y), 0) + 1
    assert pairs and set(pairs) == {p for p, c in together.items() if c >= 2}
    top_item = pairs[0][0]
    fbt = project.get_recommendations(recommender="fbt", item_id=top_item, num_results=5)
    assert len(fbt["itemList"]) == 5


def test_training_refuses_too_little_data_and_keeps_the_previous_version(project):
    build_sample_group(project, "VIDEO_ON_DEMAND", "m", types=("Interactions",))
    project.create_solution(name="p", dataset_group="m", recipe="aws-popularity-count", event_type="Watch")
    v1 = project.create_solution_version("p")["solutionVersionArn"]
    project.create_campaign(name="c", solution_version=v1)
    before = project.get_recommendations(campaign="c", user_id="u1", num_results=5)
    few = pd.read_csv(VOD / "interactions.csv", dtype=str, keep_default_na=False).head(200)
    project.create_dataset_import_job(dataset="Interactions", dataset_group="m", data_source=few)
    with pytest.raises(pypersonalize.InvalidInput, match="not enough data"):
        project.create_solution_version("p")
    versions = project.list_solution_versions(solution="p")["solutionVersions"]
    assert [v["status"] for v in versions] == ["ACTIVE", "CREATE FAILED"]
    assert "1000" in versions[1]["failureReason"]
    assert project.get_recommendations(campaign="c", user_id="u1", num_results=5)["itemList"] == before["itemList"]


def test_solution_rules(project):
    build_sample_group(project, "VIDEO_ON_DEMAND", "m", types=("Interactions",))
    with pytest.raises(pypersonalize.InvalidInput, match="no hyperparameter"):
        project.create_solution(name="s", dataset_group="m", recipe="aws-sims", hyperparameters={"bogus": 1})
    with pytest.raises(pypersonalize.InvalidInput, match="outside"):
        project.create_solution(name="s", dataset_group="m", recipe="aws-sims",
                                hyperparameters={"popularity_discount_factor": "1.5"})
    with pytest.raises(pypersonalize.InvalidInput, match="unknown recipe"):
        project.create_solution(name="s", dataset_group="m", recipe="aws-magic")
    arn = project.create_solution(
        name="s", dataset_group="m", recipe="arn:aws:personalize:::recipe/aws-sims",
        solution_config={"algorithmHyperParameters": {"min_cointeraction_count": "5"},
                         "eventValueThreshold": "0.5"}, event_type="Watch")["solutionArn"]
    desc = project.describe_solution(arn)["solution"]
    assert desc["solutionConfig"]["algorithmHyperParameters"]["min_cointeraction_count"] == "5"
    assert desc["solutionConfig"]["eventValueThreshold"] == "0.5" and desc["eventType"] == "Watch"
    with pytest.raises(pypersonalize.InvalidInput, match="UPDATE"):
        project.create_solution_version("s", training_mode="UPDATE")
    with pytest.raises(pypersonalize.ResourceInUse, match="solution s"):
        project.delete_dataset_group("m")


def test_models_survive_reopening(served):
    with pypersonalize.open(served, quiet=True) as pp:
        first = pp.get_recommendations(recommender="byw", user_id="u1", item_id="m114")
    with pypersonalize.open(served, quiet=True) as pp:
        again = pp.get_recommendations(recommender="byw", user_id="u1", item_id="m114")
    assert first["itemList"] == again["itemList"]
