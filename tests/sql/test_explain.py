"""get_recommendations(explain=True): every item says why it is there, in numbers that are
checked here against independent computations (numpy from the model tables, pandas counts)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import pypersonalize
from pypersonalize.cli import main
from pypersonalize.errors import InvalidInput
from pypersonalize.recipes.personal_model import read_model
from pypersonalize.recipes.sims import RelatedScorer
from tests.conftest import DOMAIN_DIRS, build_sample_group

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("explain") / "explain.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_recommender(name="top", dataset_group="movies", use_case="Most popular")
        for name, recipe, hp in (("sims", "aws-sims", {"min_cointeraction_count": "2"}),
                                 ("up", "aws-user-personalization", {}), ("trend", "aws-trending-now", {})):
            pp.create_solution(name=name, dataset_group="movies", recipe=recipe, hyperparameters=hp)
            v = pp.create_solution_version(name)["solutionVersionArn"]
            pp.create_campaign(name=name, solution_version=v)
    return path


def _events() -> pd.DataFrame:
    return pd.read_csv(VOD / "interactions.csv", dtype={"USER_ID": str, "ITEM_ID": str})


def _independent_contributions(con, version, user, target, events):
    """Each history item's part of ``target``'s pre-softmax score, from the model tables."""
    pm = read_model(con, version)
    m = pm.model
    index = {i: k for k, i in enumerate(pm.items)}
    hist = events[events.USER_ID == user].sort_values("TIMESTAMP", kind="stable")
    weights = np.array([pm.event_weights.get(t, 1.0) for t in hist.EVENT_TYPE])
    rows = np.array([index.get(i, -1) for i in hist.ITEM_ID])
    pos = len(rows) - 1 - np.arange(len(rows))
    B = m.transitions.toarray()
    s = np.zeros(len(pm.items))
    seq = {}
    for r, w, p in zip(rows, weights, pos):
        if r >= 0 and p < m.bptt:
            s += w * m.decay ** p * B[r]
            seq[r] = seq.get(r, 0.0) + w * m.decay ** p * B[r, index[target]]
    x = {}
    for r, w in zip(rows, weights):
        if r >= 0:
            x[r] = max(x.get(r, -np.inf), w)
    u = sum(w * m.factors[r] for r, w in x.items())
    l_row = m.out @ u
    S, L = np.abs(s).max() or 1.0, np.abs(l_row).max() or 1.0
    t = index[target]
    return {pm.items[r]: seq.get(r, 0.0) / S + m.history_weight * w * (m.factors[r] @ m.out[t]) / L
            for r, w in x.items()}


@pytest.mark.parametrize("user", ["u1", "u7", "u42"])
def test_user_personalization_contributions(served, user):
    events = _events()
    with pypersonalize.open(served, quiet=True) as pp:
        out = pp.get_recommendations(campaign="up", user_id=user, num_results=10, explain=True)
        ep = pp.engine.endpoint("campaign", "up")
        store, model = pp.engine._parts(ep)
        raw, _ = ep.recipe.scorer.raw_scores(model.model, [pypersonalize.recipes.Request(
            store.history(user), None, None, store)])
        index = {i: k for k, i in enumerate(model.model.items)}
        for item in out["itemList"]:
            e = item["explanation"]
            if "Exploration" in item.get("reason", ()):
                assert e["kind"] == "exploration"
                continue
            assert e["kind"] == "history"
            assert abs(sum(c["value"] for c in e["contributions"]) + e["rest"] - e["preSoftmax"]) < 1e-9
            assert abs(e["preSoftmax"] - raw[0, index[item["itemId"]]]) < 1e-9
            truth = _independent_contributions(pp.con, ep.version_arn, user, item["itemId"], events)
            best = sorted(truth.items(), key=lambda kv: (-kv[1], kv[0]))[:len(e["contributions"])]
            assert [c["itemId"] for c in e["contributions"]] == [k for k, _ in best]
            for c, (_k, v) in zip(e["contributions"], best):
                assert abs(c["value"] - v) < 1e-9
            assert e["text"].startswith("because of your events on " + e["contributions"][0]["itemId"])


def test_sims_co_occurrence_is_the_true_count(served):
    events = _events()
    users = events.groupby("ITEM_ID").USER_ID.agg(set)
    with pypersonalize.open(served, quiet=True) as pp:
        out = pp.get_recommendations(campaign="sims", item_id="m52", num_results=15, explain=True)
    own = [i for i in out["itemList"] if i["explanation"]["kind"] == "co-occurrence"]
    assert own
    for item in own:
        e = item["explanation"]
        assert e["coOccurrence"] == len(users["m52"] & users[item["itemId"]])
        assert e["usersWithItem"] == len(users["m52"]) and e["usersWithRecommended"] == len(users[item["itemId"]])
        assert e["score"] == item["score"]


def test_trending_interval_counts(served):
    events = _events()
    with pypersonalize.open(served, quiet=True) as pp:
        out = pp.get_recommendations(campaign="trend", user_id="u1", num_results=5, explain=True)
    latest, i = events.TIMESTAMP.max(), 7200
    for item in out["itemList"]:
        e = item["explanation"]
        mine = events[events.ITEM_ID == item["itemId"]].TIMESTAMP
        assert e["lastInterval"] == int((mine > latest - i).sum())
        assert e["intervalBefore"] == int(((mine > latest - 2 * i) & (mine <= latest - i)).sum())


def test_popularity_distinct_users(served):
    users = _events().groupby("ITEM_ID").USER_ID.nunique()
    with pypersonalize.open(served, quiet=True) as pp:
        out = pp.get_recommendations(recommender="top", user_id="u1", num_results=10, explain=True)
    for item in out["itemList"]:
        assert item["explanation"]["users"] == users[item["itemId"]]


def test_explain_false_adds_nothing_and_same_items(served):
    with pypersonalize.open(served, quiet=True) as pp:
        a = pp.get_recommendations(campaign="up", user_id="u1", num_results=10, seed=3)
        b = pp.get_recommendations(campaign="up", user_id="u1", num_results=10, explain=True, seed=3)
    assert all("explanation" not in i for i in a["itemList"])
    assert [(i["itemId"], i["score"]) for i in a["itemList"]] == [(i["itemId"], i["score"]) for i in b["itemList"]]


def test_recipe_without_explain_is_refused(served, monkeypatch):
    monkeypatch.delattr(RelatedScorer, "explain")
    with pypersonalize.open(served, quiet=True) as pp:
        with pytest.raises(InvalidInput, match="not supported yet for aws-sims"):
            pp.get_recommendations(campaign="sims", item_id="m52", explain=True)
        with pytest.raises(InvalidInput, match="explain must be true or false"):
            pp.get_recommendations(campaign="up", user_id="u1", explain="yes")


def test_cli_explain(served):
    out = CliRunner().invoke(main, ["--db", str(served), "--format", "json", "recommend", "--campaign", "up",
                                    "--user-id", "u1", "-n", "3", "--explain"])
    assert out.exit_code == 0, out.output
    assert all("explanation" in i for i in json.loads(out.output)["itemList"])
    table = CliRunner().invoke(main, ["--db", str(served), "recommend", "--campaign", "up", "--user-id", "u1",
                                      "-n", "3", "--explain"])
    assert table.exit_code == 0 and "because of your events" in table.output
