"""User-Personalization, the HRNN family and Personalized-Ranking against independent numbers.

Small synthetic datasets built with pandas; the reference scores are a naive per-user loop
over the version's model tables, written here from the model's definition (seqmodel.py's
docstring), not from the product's numpy or SQL.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pypersonalize
from tests.conftest import DOMAIN_DIRS, build_sample_group

T0 = 1_700_000_000
NO_EXPLORATION = {"itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"}}


# -- helpers --------------------------------------------------------------------------


def _schema(name: str, fields: list[dict]) -> dict:
    return {"type": "record", "name": name, "namespace": "com.amazonaws.personalize.schema",
            "fields": fields, "version": "1.0"}


BASE_FIELDS = [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}]


def make_group(pp, name: str, interactions: pd.DataFrame, extra_fields=(), items: pd.DataFrame | None = None,
               item_fields=()) -> str:
    """A custom dataset group from DataFrames (Interactions and optionally Items)."""
    pp.create_dataset_group(name=name)
    pp.create_schema(name=f"{name}-inter", schema=_schema("Interactions", BASE_FIELDS + list(extra_fields)))
    pp.create_dataset(name=f"{name}-inter", dataset_group=name, dataset_type="Interactions",
                      schema=f"{name}-inter")
    pp.create_dataset_import_job(dataset=f"{name}-inter", data_source=interactions)
    if items is not None:
        fields = [{"name": "ITEM_ID", "type": "string"}] + list(item_fields)
        pp.create_schema(name=f"{name}-items", schema=_schema("Items", fields))
        pp.create_dataset(name=f"{name}-items", dataset_group=name, dataset_type="Items",
                          schema=f"{name}-items")
        pp.create_dataset_import_job(dataset=f"{name}-items", data_source=items)
    return name


def cluster_events(n_users: int = 60, per_user: int = 20, n_items: int = 20, seed: int = 0,
                   ties: bool = False) -> pd.DataFrame:
    """Even users walk cluster A (a0..), odd users cluster B (b0..), in short forward steps;
    every fourth event is a Watch, the others Clicks."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        cl = "a" if u % 2 == 0 else "b"
        pos = int(rng.integers(n_items))
        for k in range(per_user):
            ts = T0 + u * 1000 + (k // 2 if ties else k) * 10
            rows.append((f"u{u}", f"{cl}{pos}", "Watch" if k % 4 == 3 else "Click", ts))
            pos = (pos + int(rng.integers(1, 3))) % n_items
    return pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"])


def train(pp, group: str, name: str, recipe: str = "aws-user-personalization", hyperparameters=None,
          campaign_config=NO_EXPLORATION) -> str:
    pp.create_solution(name=name, dataset_group=group, recipe=recipe, hyperparameters=hyperparameters or {})
    version = pp.create_solution_version(solution=name)["solutionVersionArn"]
    pp.create_campaign(name=f"{name}-live", solution_version=version, campaign_config=campaign_config)
    return version


def model_tables(pp, version: str) -> dict:
    q = lambda sql: pp.con.execute(sql, {"v": version}).df()  # noqa: E731
    params = q("SELECT * FROM pypersonalize.personal_params WHERE version_arn = $v").iloc[0]
    factors = q("SELECT item, dim, value, value_out FROM pypersonalize.item_factors WHERE version_arn = $v")
    trans = q("SELECT item, next_item, weight FROM pypersonalize.item_transitions WHERE version_arn = $v")
    ew = q("SELECT event_type, weight FROM pypersonalize.event_weights WHERE version_arn = $v")
    items = sorted(factors["item"].unique())
    idx = {it: i for i, it in enumerate(items)}
    rank = int(factors["dim"].max()) + 1
    p, p_out = np.zeros((len(items), rank)), np.zeros((len(items), rank))
    for it, d, v, v_out in factors.itertuples(index=False):
        p[idx[it], d] = v
        p_out[idx[it], d] = v_out
    b = np.zeros((len(items), len(items)))
    for it, nxt, w in trans.itertuples(index=False):
        b[idx[it], idx[nxt]] += w
    return {"items": items, "index": idx, "P": p, "P_out": p_out, "B": b, "bptt": int(params["bptt"]),
            "decay": float(params["decay"]), "history_weight": float(params["history_weight"]),
            "temperature": float(params["temperature"]), "impression_weight": float(params["impression_weight"]),
            "event_weights": dict(zip(ew["event_type"], ew["weight"]))}


def reference_raw(m: dict, history: list[tuple[str, str]]) -> np.ndarray:
    """Raw blended scores for one user; ``history`` = [(item, event_type)] oldest first."""
    n = len(m["items"])
    window, x = np.zeros(n), np.zeros(n)
    for k, (item, etype) in enumerate(reversed(history)):
        w = m["event_weights"].get(etype, 1.0)
        if item not in m["index"]:
            continue                                   # takes a window slot, scores nothing
        i = m["index"][item]
        if k < m["bptt"]:
            window[i] += w * m["decay"] ** k
        x[i] = max(x[i], w)
    seq = window @ m["B"]
    hist = (x @ m["P"]) @ m["P_out"].T

    def scaled(s):
        top = np.abs(s).max()
        return s / top if top > 0 else np.zeros_like(s)

    return scaled(seq) + m["history_weight"] * scaled(hist)


def softmax(raw: np.ndarray, t: float) -> np.ndarray:
    z = np.exp((raw - raw.max()) / t)
    return z / z.sum()


def sql_scores(pp, endpoint: str, user: str, context: dict | None = None) -> pd.DataFrame:
    if context is None:
        return pp.con.execute("SELECT * FROM pp_personal_scores($e, $u, NULL)", {"e": endpoint, "u": user}).df()
    return pp.con.execute("SELECT * FROM pp_personal_scores($e, $u, MAP($k::VARCHAR[], $vals::VARCHAR[]))",
                          {"e": endpoint, "u": user, "k": list(context),
                           "vals": list(context.values())}).df()


def ids(recs: dict) -> list[str]:
    return [r["itemId"] for r in recs["itemList"]]


def n_versions(pp) -> int:
    return len(pp.list_solution_versions()["solutionVersions"])


# -- 1. the numbers -------------------------------------------------------------------


def test_scores_equal_an_independent_per_user_computation(project):
    df = cluster_events(ties=True)
    df = df.sample(frac=1.0, random_state=3).reset_index(drop=True)      # arrival order != time order
    make_group(project, "g", df)
    version = train(project, "g", "up", hyperparameters={"bptt": "6", "recency_decay": "0.8"})
    m = model_tables(project, version)
    assert m["bptt"] == 6 and m["decay"] == pytest.approx(0.8)
    assert set(m["event_weights"]) == {"Click", "Watch"} and m["event_weights"]["Watch"] > 1.0
    # one more event for u0 after training, of an item the model has never seen
    project.put_events("g", "u0", "s1", [{"eventType": "Click", "itemId": "brand-new", "sentAt": T0 + 10**6}])
    users = ["u0", "u1", "u4"]
    py_items, py_probs = project.score_users(version, users)
    for row, user in enumerate(users):
        mine = df[df.USER_ID == user].sort_values("TIMESTAMP", kind="stable")
        history = list(zip(mine.ITEM_ID, mine.EVENT_TYPE))
        if user == "u0":
            history.append(("brand-new", "Click"))
        raw = reference_raw(m, history)
        probs = softmax(raw, m["temperature"])
        if user == "u1":        # ties in TIMESTAMP matter: the other order gives other numbers
            by_item = mine.sort_values(["TIMESTAMP", "ITEM_ID"], ascending=[True, False])
            assert not np.allclose(reference_raw(m, list(zip(by_item.ITEM_ID, by_item.EVENT_TYPE))), raw)
        assert probs.sum() == pytest.approx(1.0, abs=1e-12)

        s = sql_scores(project, "up-live", user).set_index("item_id").loc[m["items"]]
        assert len(s) == len(m["items"])
        np.testing.assert_allclose(s["raw"].to_numpy(), raw, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(s["score"].to_numpy(), probs, rtol=1e-9, atol=1e-15)
        assert s["score"].sum() == pytest.approx(1.0, abs=1e-12)

        py = pd.Series(py_probs[row], index=py_items).loc[m["items"]]
        np.testing.assert_allclose(py.to_numpy(), probs, rtol=1e-9, atol=1e-15)

    # The served list is the reference ranking (no exploration).
    mine = df[df.USER_ID == "u1"].sort_values("TIMESTAMP", kind="stable")
    raw = reference_raw(m, list(zip(mine.ITEM_ID, mine.EVENT_TYPE)))
    expected = [m["items"][i] for i in sorted(range(len(raw)), key=lambda i: (-raw[i], m["items"][i]))][:10]
    assert ids(project.get_recommendations(campaign="up-live", user_id="u1", num_results=10)) == expected
    # a user without history: no personal rows, popular items instead; score_users gives zeros
    assert sql_scores(project, "up-live", "nobody").empty
    _items, zero = project.score_users(version, ["nobody"])
    assert not zero.any()


def test_recency_mask_off_weighs_the_window_evenly(project):
    make_group(project, "g", cluster_events(n_users=52))
    version = train(project, "g", "flat", recipe="aws-hrnn",
                    hyperparameters={"apply_recency_bias": "false", "bptt": "4"})
    hp = project.describe_solution("flat")["solution"]["solutionConfig"]["algorithmHyperParameters"]
    assert hp["recency_mask"] == "false" and "apply_recency_bias" not in hp
    m = model_tables(project, version)
    assert m["decay"] == 1.0 and m["bptt"] == 4
    hist = project.con.execute("SELECT ITEM_ID, EVENT_TYPE FROM g.interactions WHERE USER_ID = 'u2' "
                               "ORDER BY TIMESTAMP, rowid").fetchall()
    raw = reference_raw(m, hist)
    s = sql_scores(project, "flat-live", "u2").set_index("item_id").loc[m["items"]]
    np.testing.assert_allclose(s["raw"].to_numpy(), raw, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("recipe", ["aws-user-personalization-v2", "aws-hrnn", "aws-hrnn-metadata",
                                    "aws-hrnn-coldstart"])
def test_every_personalized_recipe_serves_the_reference_numbers(project, recipe):
    df = cluster_events(n_users=52)
    make_group(project, "g", df)
    version = train(project, "g", "s", recipe=recipe, hyperparameters={"bptt": "5"})
    m = model_tables(project, version)
    mine = df[df.USER_ID == "u5"]
    raw = reference_raw(m, list(zip(mine.ITEM_ID, mine.EVENT_TYPE)))
    s = sql_scores(project, "s-live", "u5").set_index("item_id").loc[m["items"]]
    np.testing.assert_allclose(s["raw"].to_numpy(), raw, rtol=1e-9, atol=1e-12)
    expected = [m["items"][i] for i in sorted(range(len(raw)), key=lambda i: (-raw[i], m["items"][i]))][:5]
    assert ids(project.get_recommendations(campaign="s-live", user_id="u5", num_results=5)) == expected


def test_history_of_only_unknown_items_falls_back_to_popular(project):
    make_group(project, "g", cluster_events())
    version = train(project, "g", "up")
    project.put_events("g", "x1", "s", [{"eventType": "Click", "itemId": "not-in-model", "sentAt": T0}])
    _items, probs = project.score_users(version, ["x1"])
    assert not probs.any()                                     # numpy: no usable history
    popular = ids(project.get_recommendations(campaign="up-live", user_id="never-seen", num_results=5))
    assert ids(project.get_recommendations(campaign="up-live", user_id="x1", num_results=5)) == popular
    assert sql_scores(project, "up-live", "x1").empty          # SQL agrees with numpy


# -- 2. fold-in -----------------------------------------------------------------------


def test_put_events_fold_in_without_retraining(project):
    # enough users that the factor model (rank <= users) does not just echo each history
    make_group(project, "g", cluster_events(n_users=300, per_user=12, n_items=50))
    version = train(project, "g", "up")
    before_versions = n_versions(project)
    _items, before = project.score_users(version, ["u0"])
    events = [{"eventType": "Click", "itemId": f"b{i}", "sentAt": T0 + 10**6 + i} for i in (3, 4, 5)]
    for user in ("u0", "u2", "u4"):
        top = ids(project.get_recommendations(campaign="up-live", user_id=user, num_results=5))
        assert all(i.startswith("a") for i in top), top
        assert project.put_events("g", user, f"s-{user}", events)["eventsRecorded"] == 3
        top = ids(project.get_recommendations(campaign="up-live", user_id=user, num_results=5))
        assert sum(i.startswith("b") for i in top) >= 3, top
    _items, after = project.score_users(version, ["u0"])      # the model is cached, histories not
    assert not np.allclose(before, after)

    # a brand-new user with three B events is personalised (B items), not the popular list
    project.put_events("g", "newcomer", "s-2", events)
    new = project.get_recommendations(campaign="up-live", user_id="newcomer", num_results=5)["itemList"]
    assert all(r["itemId"].startswith("b") for r in new), new
    popular = ids(project.get_recommendations(campaign="up-live", user_id="never-seen", num_results=5))
    assert [r["itemId"] for r in new] != popular
    assert n_versions(project) == before_versions


# -- 3. Personalized-Ranking ------------------------------------------------------------


def test_personalized_ranking_against_reference(project):
    df = cluster_events()
    make_group(project, "g", df)
    version = train(project, "g", "rank", recipe="aws-personalized-ranking-v2", campaign_config=None)
    m = model_tables(project, version)
    mine = df[df.USER_ID == "u0"].sort_values("TIMESTAMP", kind="stable")
    raw = reference_raw(m, list(zip(mine.ITEM_ID, mine.EVENT_TYPE)))

    known = ["b1", "a3", "a17", "b9", "a0", "a8"]
    inputs = ["zz-1", "b1", "a3", "zz-0", "a17", "b9", "a0", "a8"]
    out = project.get_personalized_ranking("rank-live", "u0", inputs)["personalizedRanking"]
    got = [r["itemId"] for r in out]
    r = np.array([raw[m["index"][i]] for i in known])
    order = [known[i] for i in np.argsort(-r, kind="stable")]
    assert got == order + ["zz-1", "zz-0"]
    expected = softmax(r, m["temperature"])
    scores = {row["itemId"]: row["score"] for row in out}
    np.testing.assert_allclose([scores[i] for i in known], expected, rtol=1e-9)
    assert sum(scores[i] for i in known) == pytest.approx(1.0) and scores["zz-1"] == scores["zz-0"] == 0.0

    with pytest.raises(pypersonalize.InvalidInput):
        project.get_personalized_ranking("rank-live", "u0", [f"a{i % 20}-{i}" for i in range(501)])
    with pytest.raises(pypersonalize.InvalidInput):
        project.get_recommendations(campaign="rank-live", user_id="u0", num_results=5)
    # a user without history: known items by popularity (share of users), unknown last
    out = project.get_personalized_ranking("rank-live", "nobody", inputs)["personalizedRanking"]
    users = df.groupby("ITEM_ID").USER_ID.nunique()
    by_pop = sorted(known, key=lambda i: -users[i])
    assert [r["itemId"] for r in out] == by_pop + ["zz-1", "zz-0"]
    pop = users[by_pop].to_numpy(dtype=float)
    np.testing.assert_allclose([r["score"] for r in out[:len(known)]], pop / pop.sum(), rtol=1e-9)
    assert project.describe_solution("rank")["solution"]["recipeArn"].endswith("aws-personalized-ranking")


# -- 4. exploration ---------------------------------------------------------------------


@pytest.fixture
def explore_group(project):
    df = cluster_events()
    newest = int(df.TIMESTAMP.max())
    # cold items: c* recent (1 day old), o* old (100 days); 0-2 interactions each, by B users
    extra = []
    for j in range(6):
        for k in range(j % 3):
            extra.append((f"u{2 * k + 1}", f"c{j}", "Click", newest - 50 - j))
            extra.append((f"u{2 * k + 3}", f"o{j}", "Click", newest - 50 - j))
    df = pd.concat([df, pd.DataFrame(extra, columns=df.columns)], ignore_index=True)
    items = pd.DataFrame({"ITEM_ID": [f"{c}{i}" for c in "ab" for i in range(20)]
                          + [f"c{j}" for j in range(6)] + [f"o{j}" for j in range(6)]})
    items["CREATION_TIMESTAMP"] = [T0 - 400 * 86400] * 40 + [newest - 86400] * 6 + [newest - 100 * 86400] * 6
    # the old cold items share A's genre (relevant to an A user), the recent ones do not
    items["GENRE"] = ["drama"] * 20 + ["comedy"] * 20 + ["horror"] * 6 + ["drama"] * 6
    make_group(project, "g", df, items=items,
               item_fields=[{"name": "CREATION_TIMESTAMP", "type": "long"},
                            {"name": "GENRE", "type": "string", "categorical": True}])
    counts = df.ITEM_ID.value_counts()
    version = train(project, "g", "up", recipe="aws-user-personalization")
    return project, version, counts


def test_exploration(explore_group):
    pp, version, counts = explore_group
    pure = [r for (r,) in pp.con.execute("SELECT item_id FROM pp_recommend('up-live', user_id := 'u0', n := 10) "
                                         "ORDER BY rank").fetchall()]
    off = pp.get_recommendations(campaign="up-live", user_id="u0", num_results=10, seed=1)["itemList"]
    assert [r["itemId"] for r in off] == pure
    assert not any("Exploration" in (r.get("reason") or []) for r in off)

    pp.create_campaign(name="explore", solution_version=version,
                       campaign_config={"itemExplorationConfig": {"explorationWeight": "1.0",
                                                                  "explorationItemAgeCutOff": "30"}})
    first = pp.get_recommendations(campaign="explore", user_id="u0", num_results=10, seed=7)["itemList"]
    assert len(first) == 10
    explored = [r["itemId"] for r in first if r.get("reason") == ["Exploration"]]
    assert len(explored) == 5
    assert all(counts.get(i, 0) <= 15 for i in explored)
    assert all(i.startswith("c") for i in explored), explored        # no old item
    assert [r["itemId"] for r in first if r.get("reason") != ["Exploration"]] == pure[:5]
    again = pp.get_recommendations(campaign="explore", user_id="u0", num_results=10, seed=7)["itemList"]
    assert again == first

    pp.create_campaign(name="explore-old", solution_version=version,
                       campaign_config={"itemExplorationConfig": {"explorationWeight": "1.0",
                                                                  "explorationItemAgeCutOff": "1000"}})
    wide = pp.get_recommendations(campaign="explore-old", user_id="u0", num_results=10, seed=7)["itemList"]
    explored = [r["itemId"] for r in wide if r.get("reason") == ["Exploration"]]
    assert len(explored) == 5 and any(i.startswith("o") for i in explored), explored

    pp.create_campaign(name="explore-default", solution_version=version)      # explorationWeight 0.3
    default = pp.get_recommendations(campaign="explore-default", user_id="u0", num_results=10, seed=3)
    assert sum(r.get("reason") == ["Exploration"] for r in default["itemList"]) == round(10 * 0.3 / 2) == 2


def test_the_kept_cold_list_follows_the_campaign(explore_group):
    """The engine keeps an endpoint's cold items between requests: a new age cut-off or a
    new version on the campaign gives the new cold items at once, and items the user has
    just chosen drop out of exploration without a reload."""
    pp, version, counts = explore_group
    pp.create_campaign(name="explore", solution_version=version,
                       campaign_config={"itemExplorationConfig": {"explorationWeight": "1.0",
                                                                  "explorationItemAgeCutOff": "30"}})

    def explored(user="u0"):
        out = pp.get_recommendations(campaign="explore", user_id=user, num_results=10, seed=7)["itemList"]
        return [r["itemId"] for r in out if r.get("reason") == ["Exploration"]]

    young = explored()
    assert young and all(i.startswith("c") for i in young), young
    pp.update_campaign(campaign="explore",
                       campaign_config={"itemExplorationConfig": {"explorationWeight": "1.0",
                                                                  "explorationItemAgeCutOff": "1000"}})
    assert any(i.startswith("o") for i in explored()), explored()
    # u0 takes every young and old cold item but one: only that one is left to explore
    cold = [f"{c}{j}" for c in "co" for j in range(6)]
    left, taken = cold[-1], cold[:-1]
    for start in (0, 6):                     # put_events takes 10 events at most
        pp.put_events("g", "u0", "s-cold", [{"eventType": "Click", "itemId": i, "sentAt": T0 + 10**6 + k}
                                            for k, i in enumerate(taken[start:start + 6], start)])
    assert explored() == [left]
    # a newer version (trained with u0's new events) on the campaign: the list is made again
    v2 = pp.create_solution_version(solution="up")["solutionVersionArn"]
    pp.update_campaign(campaign="explore", solution_version=v2)
    assert explored() == [left]
    fresh = explored("u2")
    assert len(fresh) == 5 and all(i in cold for i in fresh), fresh


def test_coldstart_uses_its_cold_start_settings(explore_group):
    pp, _version, counts = explore_group

    def explored(name, hyperparameters):
        pp.create_solution(name=name, dataset_group="g", recipe="aws-hrnn-coldstart",
                           hyperparameters=hyperparameters)
        v = pp.create_solution_version(solution=name)["solutionVersionArn"]
        pp.create_campaign(name=f"{name}-live", solution_version=v,
                           campaign_config={"itemExplorationConfig": {"explorationWeight": "1.0"}})
        out = pp.get_recommendations(campaign=f"{name}-live", user_id="u0", num_results=10, seed=5)
        return [r["itemId"] for r in out["itemList"] if r.get("reason") == ["Exploration"]]

    # cold = at most 2 interactions, created within 5 days of the newest item: only c*
    recent = explored("cs5", {"cold_start_max_duration": 5.0, "cold_start_max_interactions": 2})
    assert recent and all(i.startswith("c") and counts.get(i, 0) <= 2 for i in recent), recent
    # within 200 days: the old o* items qualify too
    wide = explored("cs200", {"cold_start_max_duration": 200.0, "cold_start_max_interactions": 2})
    assert any(i.startswith("o") for i in wide), wide
    # counted back from now instead (the data is from 2023): nothing is young enough
    assert explored("csnow", {"cold_start_max_duration": 5.0, "cold_start_relative_from": "currentTime"}) == []


# -- 5. context -------------------------------------------------------------------------


def test_context_shifts_the_ranking(project):
    rng = np.random.default_rng(1)
    rows = []
    for u in range(60):
        for k in range(20):
            device = "Tablet" if rng.random() < 0.5 else "Phone"
            item = f"{'t' if device == 'Tablet' else 'p'}{int(rng.integers(10))}"
            rows.append((f"u{u}", item, "Click", T0 + u * 1000 + k * 10, device))
    df = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP", "DEVICE"])
    make_group(project, "g", df, extra_fields=[{"name": "DEVICE", "type": ["null", "string"],
                                                "categorical": True}])
    version = train(project, "g", "up")

    def mean_t_rank(context):
        got = ids(project.get_recommendations(campaign="up-live", user_id="u3", num_results=20, context=context))
        return np.mean([k for k, i in enumerate(got) if i.startswith("t")])

    assert mean_t_rank({"DEVICE": "Tablet"}) < mean_t_rank({"DEVICE": "Phone"})
    tablet = ids(project.get_recommendations(campaign="up-live", user_id="u3", num_results=10,
                                             context={"DEVICE": "Tablet"}))
    assert sum(i.startswith("t") for i in tablet) >= 8, tablet

    in_sql = [r for (r,) in project.con.execute(
        "SELECT item_id FROM pp_recommend('up-live', user_id := 'u3', n := 10, "
        "context := MAP {'DEVICE': 'Tablet'}) ORDER BY rank").fetchall()]
    assert in_sql == tablet
    plain = project.get_recommendations(campaign="up-live", user_id="u3", num_results=20)["itemList"]
    for ignored in ({"COLOR": "red"}, {"DEVICE": "Smartwatch"}):
        other = project.get_recommendations(campaign="up-live", user_id="u3", num_results=20, context=ignored)
        assert other["itemList"] == plain
    # numpy and SQL agree with context too
    items, probs = project.score_users(version, ["u3"], context={"DEVICE": "Tablet"})
    s = sql_scores(project, "up-live", "u3", {"DEVICE": "Tablet"}).set_index("item_id").loc[items]
    np.testing.assert_allclose(s["score"].to_numpy(), probs[0], rtol=1e-9)
    project.put_events("g", "u3", "s1", [{"eventType": "Click", "itemId": "t1", "sentAt": T0 + 10**6,
                                          "properties": {"device": "Tablet"}}])
    assert project.con.execute("SELECT DEVICE FROM g.interactions WHERE USER_ID = 'u3' "
                               "AND TIMESTAMP = $t", {"t": T0 + 10**6}).fetchall() == [(["Tablet"],)]   # categorical: a list


def test_context_lifts_against_an_independent_computation(project):
    """The stored lifts of a multi-valued categorical context field (values split on '|',
    NULLs skipped) and of a plain string field equal pandas' smoothed log ratios, with the
    >= 2 rule, over the solution's event type only."""
    rng = np.random.default_rng(7)
    n = 2400
    df = pd.DataFrame({
        "USER_ID": [f"u{u}" for u in rng.integers(60, size=n)],
        "ITEM_ID": [f"i{i}" for i in rng.zipf(1.6, size=n) % 25],
        "EVENT_TYPE": rng.choice(["Click", "Watch"], size=n),
        "TIMESTAMP": T0 + np.arange(n) * 7,
        "DEVICE": rng.choice(["Tablet|Night", "Phone", "Phone|Night", None], size=n),
        "REGION": rng.choice(["north", "south", None], size=n)})
    make_group(project, "g", df, extra_fields=[
        {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
        {"name": "REGION", "type": ["null", "string"]}])
    project.create_solution(name="up", dataset_group="g", recipe="aws-user-personalization",
                            event_type="Watch")
    version = project.create_solution_version(solution="up")["solutionVersionArn"]
    got = project.con.execute("SELECT field, value, item, lift FROM pypersonalize.context_lift "
                              "WHERE version_arn = $v", {"v": version}).df()

    ev = df[df["EVENT_TYPE"] == "Watch"]
    n_items, total = ev["ITEM_ID"].nunique(), len(ev)
    per_item = ev.groupby("ITEM_ID").size()
    pairs = pd.concat([
        ev.assign(value=ev["DEVICE"].str.split("|")).explode("value").assign(field="DEVICE"),
        ev.assign(value=ev["REGION"], field="REGION")]).dropna(subset=["value"])
    per_value = pairs.groupby(["field", "value"]).size()
    per_pair = pairs.groupby(["field", "value", "ITEM_ID"]).size()
    per_pair = per_pair[per_pair >= 2]
    expected = pd.DataFrame([(f, v, i, np.log((c + 1) / (per_value[(f, v)] + n_items))
                              - np.log((per_item[i] + 1) / (total + n_items)))
                             for (f, v, i), c in per_pair.items()], columns=["field", "value", "item", "lift"])
    key = ["field", "value", "item"]
    merged = expected.merge(got, on=key, how="outer", suffixes=("_pd", "_sql"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    assert set(expected["value"]) == {"Tablet", "Night", "Phone", "north", "south"}
    np.testing.assert_allclose(merged["lift_sql"], merged["lift_pd"], rtol=1e-12)


# -- 6. impressions ---------------------------------------------------------------------


def test_impressions_not_chosen_lower_the_score(project):
    df = cluster_events()
    df["IMPRESSION"] = None
    make_group(project, "g", df, extra_fields=[{"name": "IMPRESSION", "type": ["null", "string"]}])
    version = train(project, "g", "up")
    m = model_tables(project, version)
    assert m["impression_weight"] > 0
    chosen = ["a1", "a2", "a4"]
    plain = [{"eventType": "Click", "itemId": i, "sentAt": T0 + 10**6 + k} for k, i in enumerate(chosen)]
    shown = [{**e, "impression": ["a9", e["itemId"], "a2"]} for e in plain]
    project.put_events("g", "same-1", "s1", plain)
    project.put_events("g", "same-2", "s2", shown)
    one = sql_scores(project, "up-live", "same-1").set_index("item_id")
    two = sql_scores(project, "up-live", "same-2").set_index("item_id").loc[one.index]
    diff = (two["raw"] - one["raw"])
    # a9 was shown three times and never chosen; a2 was shown but also chosen: no penalty
    assert diff["a9"] == pytest.approx(-m["impression_weight"] * np.log(4), rel=1e-9)
    assert np.allclose(diff.drop("a9"), 0.0, atol=1e-12)
    items, probs = project.score_users(version, ["same-1", "same-2"])
    k = items.index("a9")
    assert probs[1, k] < probs[0, k]
    np.testing.assert_allclose(probs[1], two.loc[items, "score"].to_numpy(), rtol=1e-9)


def test_implicit_impressions_from_a_recommendation_id(project):
    """An event naming a recommendationId counts the rest of that list as shown, not chosen."""
    df = cluster_events()
    df["RECOMMENDATION_ID"] = None
    make_group(project, "g", df, extra_fields=[{"name": "RECOMMENDATION_ID", "type": ["null", "string"]}])
    version = train(project, "g", "up")
    m = model_tables(project, version)
    start = [{"eventType": "Click", "itemId": i, "sentAt": T0 + 10**6 + k} for k, i in enumerate(["a1", "a2"])]
    for user in ("twin-1", "twin-2"):
        project.put_events("g", user, "s", start)
    shown = project.get_recommendations(campaign="up-live", user_id="twin-2", num_results=5)
    listed = [r["itemId"] for r in shown["itemList"]]
    pick = {"eventType": "Click", "itemId": listed[0], "sentAt": T0 + 10**6 + 9}
    project.put_events("g", "twin-1", "s", [pick])
    project.put_events("g", "twin-2", "s", [{**pick, "recommendationId": shown["recommendationId"]}])
    one = sql_scores(project, "up-live", "twin-1").set_index("item_id")
    two = sql_scores(project, "up-live", "twin-2").set_index("item_id").loc[one.index]
    diff = two["raw"] - one["raw"]
    not_chosen = [i for i in listed[1:] if i in diff.index and i not in ("a1", "a2")]   # a1, a2: chosen before
    assert not_chosen
    np.testing.assert_allclose(diff[not_chosen], -m["impression_weight"] * np.log(2), rtol=1e-9)
    assert np.allclose(diff.drop(not_chosen), 0.0, atol=1e-12)       # the chosen item: no penalty
    items, probs = project.score_users(version, ["twin-2"])
    np.testing.assert_allclose(probs[0], two.loc[items, "score"].to_numpy(), rtol=1e-9)
    # a group without RECOMMENDATION_ID logs nothing
    assert project.con.execute("SELECT count(*) FROM pypersonalize.recommendation_log").fetchall()[0][0] == 1


# -- 7. put_events validation ------------------------------------------------------------


def test_bad_events_change_nothing(project):
    from tests.conftest import table_digest

    df = cluster_events(n_users=52)
    make_group(project, "g", df)
    before = table_digest(project, "g.interactions")
    assert before[0] == len(df)
    ok = {"eventType": "Click", "itemId": "a1", "sentAt": T0}
    bad_lists = [
        [ok, {"itemId": "a2", "sentAt": T0}],                                   # no eventType
        [ok, {**ok, "properties": {"colour": "red"}}],                          # no such field
        [ok] * 11,                                                              # too many
        [],                                                                     # too few
        [ok, {**ok, "sentAt": "yesterday"}],
        [ok, {**ok, "mood": "happy"}],
    ]
    for events in bad_lists:
        with pytest.raises(pypersonalize.InvalidInput):
            project.put_events("g", "u1", "s1", events)
        assert table_digest(project, "g.interactions") == before
    with pytest.raises(pypersonalize.InvalidInput):
        project.put_events("g", "", "s1", [ok])
    assert table_digest(project, "g.interactions") == before
    project.put_events("g", "u1", "s1", [ok] * 10)
    assert table_digest(project, "g.interactions")[0] == len(df) + 10


# -- 8. recipes -------------------------------------------------------------------------


def test_recipes_and_hyperparameters(project):
    names = {r["name"] for r in project.list_recipes()["recipes"]}
    assert {"aws-user-personalization", "aws-hrnn", "aws-hrnn-metadata", "aws-hrnn-coldstart",
            "aws-personalized-ranking"} <= names
    for v2, served_by in (("aws-user-personalization-v2", "aws-user-personalization"),
                          ("aws-personalized-ranking-v2", "aws-personalized-ranking")):
        described = project.describe_recipe(v2)["recipe"]
        assert v2 in names and described["name"] == v2 and served_by in described["description"]
        assert described["hyperparameters"] == project.describe_recipe(served_by)["recipe"]["hyperparameters"]
    make_group(project, "g", cluster_events(n_users=52))
    with pytest.raises(pypersonalize.InvalidInput, match="bptt"):
        project.create_solution(name="s1", dataset_group="g", recipe="aws-user-personalization",
                                hyperparameters={"bptt": "33"})
    with pytest.raises(pypersonalize.InvalidInput):
        project.create_solution(name="s2", dataset_group="g", recipe="aws-hrnn",
                                hyperparameters={"apply_recency_bias": "maybe"})
    project.create_solution(name="s3", dataset_group="g", recipe="aws-hrnn-coldstart",
                            hyperparameters={"apply_recency_bias": "false"})
    hp = project.describe_solution("s3")["solution"]["solutionConfig"]["algorithmHyperParameters"]
    assert hp["recency_mask"] == "false"


# -- 9. the domain use case --------------------------------------------------------------


def test_top_picks_for_you_leaves_out_watched_items(project):
    build_sample_group(project, "VIDEO_ON_DEMAND", "movies", types=("Interactions", "Items"))
    project.create_recommender(name="picks", dataset_group="movies", use_case="Top picks for you")
    raw = pd.read_csv(DOMAIN_DIRS["VIDEO_ON_DEMAND"] / "interactions.csv", dtype=str)
    for user in ("u1", "u7"):
        watched = set(raw[(raw.USER_ID == user) & (raw.EVENT_TYPE == "Watch")].ITEM_ID)
        assert watched
        got = ids(project.get_recommendations(recommender="picks", user_id=user, num_results=50, seed=0))
        assert len(got) == 50 and len(set(got)) == 50
        assert not set(got) & watched
        # a Watch put now leaves that item out at once (no retraining)
        project.put_events("movies", user, "s1", [{"eventType": "Watch", "itemId": got[0],
                                                   "sentAt": 1_800_000_000}])
        after = ids(project.get_recommendations(recommender="picks", user_id=user, num_results=50, seed=0))
        assert got[0] not in after and len(after) == 50


# -- metadata ---------------------------------------------------------------------------


def test_item_metadata_part_against_an_independent_computation(project):
    """raw(metadata_weight=1) - raw(metadata_weight=0) is the scaled cosine of the user's
    metadata profile with each item, recomputed here from the Items frame itself."""
    import re
    events = cluster_events(n_users=100, per_user=12, n_items=15)
    genres = {f"{c}{k}": ("Horror|Drama" if c == "a" and k % 3 == 0 else "Comedy" if c == "a" else "Drama")
              for c in "ab" for k in range(15)}
    genres["new1"] = "Horror"                   # in Items only: cold, never in training
    words = {i: f"A {'robot' if i.endswith('1') else 'garden'} story of item {i}" for i in genres}
    items = pd.DataFrame({"ITEM_ID": list(genres), "GENRES": list(genres.values()),
                          "DESCRIPTION": [words[i] for i in genres]})
    make_group(project, "g", events, items=items,
               item_fields=[{"name": "GENRES", "type": ["null", "string"], "categorical": True},
                            {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True}])
    train(project, "g", "m0", hyperparameters={"metadata_weight": 0.0})
    v1 = train(project, "g", "m1", hyperparameters={"metadata_weight": 1.0})
    # the user also watched the cold item: its metadata counts in the profile
    project.put_events("g", "u1", "s", [{"eventType": "Watch", "itemId": "new1", "sentAt": T0 + 10**6}])

    # independent tokens: categorical values and 3+ letter words, idf = ln(N/df) + 1, unit rows
    tokens = {i: {f"GENRES={g.lower()}" for g in genres[i].split("|")}
              | {f"DESCRIPTION~{w}" for w in re.findall(r"[a-z0-9]{3,}", words[i].lower())} for i in genres}
    vocab = sorted(set().union(*tokens.values()))
    df = {t: sum(t in s for s in tokens.values()) for t in vocab}
    vec = {}
    for i, s in tokens.items():
        v = np.array([(np.log(len(tokens) / df[t]) + 1) if t in s else 0.0 for t in vocab])
        vec[i] = v / np.linalg.norm(v)
    m = model_tables(project, v1)
    hist = project.con.execute("SELECT ITEM_ID, EVENT_TYPE FROM g.interactions WHERE USER_ID = 'u1' "
                               "ORDER BY TIMESTAMP, rowid").fetchall()
    weight = {it: max(m["event_weights"].get(et, 1.0) for i2, et in hist if i2 == it) for it, _ in hist}
    profile = sum(weight[i] * vec[i] for i in weight)
    meta = np.array([profile @ vec[i] for i in m["items"]])
    meta = meta / np.abs(meta).max()

    raw0 = sql_scores(project, "m0-live", "u1").set_index("item_id")["raw"]
    raw1 = sql_scores(project, "m1-live", "u1").set_index("item_id")["raw"]
    np.testing.assert_allclose((raw1 - raw0).loc[m["items"]].to_numpy(), meta, rtol=1e-9, atol=1e-12)
    items_np, probs = project.score_users(v1, ["u1"])
    sql = sql_scores(project, "m1-live", "u1").set_index("item_id")["score"]
    np.testing.assert_allclose(probs[0], sql.loc[items_np].to_numpy(), rtol=1e-9)
    assert "new1" not in m["index"]


def test_user_attributes_rank_new_users_and_shift_known_ones(project):
    """Users-dataset attributes: a new user with attributes but no events gets the naive-Bayes
    ranking log P(item) + lift(attribute), recomputed here with pandas; a known user's raw
    scores move by user_metadata_weight * lift."""
    events = cluster_events(n_users=100, per_user=12, n_items=15)       # even users: cluster a
    users = pd.DataFrame({"USER_ID": [f"u{u}" for u in range(100)] + ["newbie", "nobody-known"],
                          "TIER": ["gold" if u % 2 == 0 else "basic" for u in range(100)] + ["gold", None]})
    make_group(project, "g", events)
    project.create_schema(name="g-users", schema={
        "type": "record", "name": "Users", "namespace": "com.amazonaws.personalize.schema", "version": "1.0",
        "fields": [{"name": "USER_ID", "type": "string"},
                   {"name": "TIER", "type": ["null", "string"], "categorical": True}]})
    project.create_dataset(name="g-users", dataset_group="g", dataset_type="Users", schema="g-users")
    project.create_dataset_import_job(dataset="g-users", data_source=users)
    v0 = train(project, "g", "w0", hyperparameters={"user_metadata_weight": 0.0})
    train(project, "g", "w1", hyperparameters={"user_metadata_weight": 1.0})

    # independent lifts of TIER=gold, with the recipe's smoothing and its >= 2 rule
    tier = events["USER_ID"].map(dict(zip(users["USER_ID"], users["TIER"])))
    n_items, total = events["ITEM_ID"].nunique(), len(events)
    per_item = events.groupby("ITEM_ID").size()
    gold = events[tier == "gold"].groupby("ITEM_ID").size()
    lift = {i: np.log((gold[i] + 1) / ((tier == "gold").sum() + n_items)) - np.log((per_item[i] + 1) / (total + n_items))
            for i in gold.index if gold[i] >= 2}

    m = model_tables(project, v0)
    pop = project.con.execute("SELECT item, interactions FROM pypersonalize.model_items WHERE version_arn = $v",
                              {"v": v0}).df().set_index("item")["interactions"]
    prior = np.array([np.log((pop[i] + 1) / (pop.loc[m["items"]] + 1).sum()) for i in m["items"]])
    expected = softmax(prior + np.array([lift.get(i, 0.0) for i in m["items"]]), 1.0)
    got = sql_scores(project, "w0-live", "newbie").set_index("item_id")["score"].loc[m["items"]].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    items_np, probs = project.score_users(v0, ["newbie"])
    np.testing.assert_allclose(probs[0], pd.Series(got, index=m["items"]).loc[items_np].to_numpy(), rtol=1e-9)
    top = ids(project.get_recommendations(campaign="w0-live", user_id="newbie", num_results=5))
    assert all(i.startswith("a") for i in top), top                    # gold users walk cluster a

    # no attributes and no events: no personal rows, popular items instead
    assert len(sql_scores(project, "w0-live", "nobody-known")) == 0
    assert len(sql_scores(project, "w0-live", "stranger")) == 0

    # a known gold user: raw moves by exactly 1.0 * lift
    raw0 = sql_scores(project, "w0-live", "u2").set_index("item_id")["raw"].loc[m["items"]].to_numpy()
    raw1 = sql_scores(project, "w1-live", "u2").set_index("item_id")["raw"].loc[m["items"]].to_numpy()
    np.testing.assert_allclose(raw1 - raw0, [lift.get(i, 0.0) for i in m["items"]], rtol=1e-9, atol=1e-12)
