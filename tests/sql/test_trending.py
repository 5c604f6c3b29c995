"""Trending-Now: planted trends rank first, the trend follows events put after training, and
Python, plain SQL and a pandas computation of the definition agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pypersonalize

HOUR = 3600
LATEST = 1_800_000_000
SCHEMA = {"type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
          "version": "1.0", "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                                       {"name": "EVENT_TYPE", "type": "string"},
                                       {"name": "TIMESTAMP", "type": "long"}]}


def planted(seed: int = 3) -> pd.DataFrame:
    """Steady background traffic over a day, and three items whose events rise in the last hour."""
    rng = np.random.default_rng(seed)
    n = 6000
    events = pd.DataFrame({"USER_ID": [f"u{k}" for k in rng.integers(0, 300, n)],
                           "ITEM_ID": [f"i{k:02d}" for k in rng.integers(0, 40, n)],
                           "EVENT_TYPE": np.where(rng.random(n) < 0.8, "watch", "click"),
                           "TIMESTAMP": LATEST - rng.integers(0, 24 * HOUR, n)})
    rising = pd.DataFrame({"USER_ID": [f"r{k}" for k in range(90)],
                           "ITEM_ID": ["hot-a"] * 45 + ["hot-b"] * 30 + ["hot-c"] * 15,
                           "EVENT_TYPE": "watch", "TIMESTAMP": LATEST - rng.integers(0, HOUR, 90)})
    return pd.concat([events, rising], ignore_index=True)


def expected_trend(events: pd.DataFrame, interval: int, event_type: str | None = None) -> list[tuple[str, float]]:
    """The definition, independently: growth = events in (latest - i, latest] minus events in
    (latest - 2i, latest - i]; growing items by growth then id; score = growth / total growth."""
    if event_type is not None:
        events = events[events["EVENT_TYPE"] == event_type]
    latest = events["TIMESTAMP"].max()
    recent = events[events["TIMESTAMP"] > latest - interval].groupby("ITEM_ID").size()
    before = events[(events["TIMESTAMP"] > latest - 2 * interval)
                    & (events["TIMESTAMP"] <= latest - interval)].groupby("ITEM_ID").size()
    gain = recent.sub(before, fill_value=0)
    gain = gain[gain > 0]
    ranked = sorted(gain.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(item, g / gain.sum()) for item, g in ranked]


@pytest.fixture
def trending(tmp_path):
    events = planted()
    with pypersonalize.open(tmp_path / "t.duckdb", quiet=True) as pp:
        pp.create_dataset_group(name="g")
        pp.create_schema(name="s", schema=SCHEMA)
        pp.create_dataset(name="d", dataset_group="g", dataset_type="Interactions", schema="s")
        pp.create_dataset_import_job(dataset="Interactions", dataset_group="g", data_source=events)
        pp.create_solution(name="trend", dataset_group="g", recipe="aws-trending-now",
                           solution_config={"featureTransformationParameters":
                                            {"trend_discovery_frequency": "1 hour"}})
        pp.create_campaign(name="trend", solution_version=pp.create_solution_version("trend")["solutionVersionArn"])
        yield pp, events


def python_list(pp, n=60, **request):
    return [(r["itemId"], r["score"]) for r in
            pp.get_recommendations(campaign="trend", num_results=n, **request)["itemList"]]


def sql_list(pp, n=60, user_id=None):
    return [(i, s) for _r, i, s in pp.con.execute("SELECT * FROM pp_recommend('trend', user_id := $u, n := $n)",
                                                  {"u": user_id, "n": n}).fetchall()]


def test_planted_trends_rank_first_and_match_the_definition(trending):
    pp, events = trending
    want = expected_trend(events, HOUR)
    got = python_list(pp)
    assert [i for i, _ in got[:3]] == ["hot-a", "hot-b", "hot-c"]
    assert [i for i, _ in got[:len(want)]] == [i for i, _ in want]
    np.testing.assert_allclose([s for _, s in got[:len(want)]], [s for _, s in want], rtol=1e-12)
    assert got == sql_list(pp)
    # the same list for everybody, known or not
    assert python_list(pp, user_id="u1") == python_list(pp, user_id="nobody") == got


def test_an_event_put_after_training_moves_an_item_at_once(trending):
    pp, events = trending
    before = [i for i, _ in python_list(pp)]
    late = [{"eventType": "watch", "itemId": "hot-c", "sentAt": LATEST - 60 - k} for k in range(10)]
    for k in range(4):
        pp.put_events("g", f"fan{k}", "s", late)
    put = pd.DataFrame({"USER_ID": [f"fan{k}" for k in range(4) for _ in late], "ITEM_ID": "hot-c",
                        "EVENT_TYPE": "watch", "TIMESTAMP": [e["sentAt"] for _ in range(4) for e in late]})
    want = expected_trend(pd.concat([events, put], ignore_index=True), HOUR)
    after = python_list(pp)
    assert before.index("hot-c") > 0 and after[0][0] == "hot-c"
    assert [i for i, _ in after[:len(want)]] == [i for i, _ in want]
    assert after == sql_list(pp)


def test_event_type_and_frequency_change_the_trend(trending):
    pp, events = trending
    pp.create_solution(name="clicks", dataset_group="g", recipe="aws-trending-now", event_type="click",
                       solution_config={"featureTransformationParameters": {"trend_discovery_frequency": "3 hours"}})
    pp.create_campaign(name="clicks", solution_version=pp.create_solution_version("clicks")["solutionVersionArn"])
    want = expected_trend(events, 3 * HOUR, "click")
    got = [(r["itemId"], r["score"]) for r in
           pp.get_recommendations(campaign="clicks", num_results=60)["itemList"]][:len(want)]
    assert [i for i, _ in got] == [i for i, _ in want] and "hot-a" not in [i for i, _ in got]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-12)
    with pytest.raises(pypersonalize.InvalidInput, match="trend_discovery_frequency"):
        pp.create_solution(name="bad", dataset_group="g", recipe="aws-trending-now",
                           hyperparameters={"trend_discovery_frequency": "5 minutes"})


def test_the_trending_now_use_case(project):
    """VIDEO_ON_DEMAND's "Trending now" recommender: Trending-Now on all events, no input needed."""
    from tests.conftest import build_sample_group
    build_sample_group(project, "VIDEO_ON_DEMAND", "movies")
    project.create_recommender(name="trending", dataset_group="movies", use_case="Trending now")
    events = project.sql("SELECT USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP FROM movies.interactions").df()
    want = expected_trend(events, 2 * HOUR)
    got = [(r["itemId"], r["score"]) for r in
           project.get_recommendations(recommender="trending", num_results=len(want))["itemList"]]
    assert want and [i for i, _ in got] == [i for i, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-12)
    sql = project.con.execute("SELECT item_id, score FROM pp_recommend('trending', n := $n)",
                              {"n": len(want)}).fetchall()
    assert [tuple(r) for r in sql] == got
