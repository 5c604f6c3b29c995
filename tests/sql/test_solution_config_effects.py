"""solution_config's steering keys change the model: eventsConfig, optimizationObjective,
trainingDataConfig (solutions and recommenders).

Data is generated here with numpy/pandas so that the right answers are known: which events
an eventsConfig keeps (counted with pandas), which items only the dropped events reach, a
PRICE column independent of popularity, the percent rank of PRICE computed with pandas.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pypersonalize
from tests.conftest import DOMAIN_DIRS

T0 = 1_700_000_000
NS = "com.amazonaws.personalize.schema"
NO_EXPLORATION = {"itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"}}
ALL_USERS = {"max_user_history_length_percentile": "1.0"}     # no user left out: counts stay checkable
GENRES = 6
INTER_FIELDS = [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                {"name": "EVENT_TYPE", "type": "string"}, {"name": "EVENT_VALUE", "type": ["null", "float"]},
                {"name": "TIMESTAMP", "type": "long"}]
ITEM_FIELDS = [{"name": "ITEM_ID", "type": "string"}, {"name": "GENRE", "type": "string", "categorical": True},
               {"name": "COLOR", "type": "string", "categorical": True}, {"name": "PRICE", "type": "float"}]


def _schema(name, fields):
    return {"type": "record", "name": name, "namespace": NS, "fields": fields, "version": "1.0"}


def shop_data(n_users: int = 240, n_items: int = 120, per_user: int = 24, seed: int = 0):
    """(interactions, items). Item k has genre k % 6 and a Zipf popularity within it; user u
    clicks genre u % 6 and purchases genre (u + 1) % 6 (a quarter of the events; EVENT_VALUE
    0.5..1, but the clearance items q0..q5 are always bought below 0.5); every user also
    views three of the items v0..v9, which nothing else reaches. PRICE is uniform and
    independent of everything else."""
    rng = np.random.default_rng(seed)
    names = np.array([f"i{k}" for k in range(n_items)])
    genre = np.arange(n_items) % GENRES
    pop = np.zeros(n_items)
    for g in range(GENRES):
        mine = np.flatnonzero(genre == g)
        pop[mine] = 1.0 / (1.0 + np.arange(len(mine))) ** 0.8
    clearance = [f"q{k}" for k in range(6)]
    views = [f"v{k}" for k in range(10)]
    rows = []
    for u in range(n_users):
        ts = T0 + u * 10_000
        g = u % GENRES
        for k in range(per_user):
            ts += 60
            if k % 4 == 3:
                if rng.random() < 0.15:
                    rows.append((f"u{u}", clearance[int(rng.integers(6))], "purchase", float(rng.uniform(0.05, 0.45)), ts))
                    continue
                mine = np.flatnonzero(genre == (g + 1) % GENRES)
                item = names[rng.choice(mine, p=pop[mine] / pop[mine].sum())]
                rows.append((f"u{u}", item, "purchase", float(round(rng.uniform(0.5, 1.0), 3)), ts))
            else:
                mine = np.flatnonzero(genre == g)
                item = names[rng.choice(mine, p=pop[mine] / pop[mine].sum())]
                rows.append((f"u{u}", item, "click", None, ts))
        for v in rng.choice(len(views), 3, replace=False):
            ts += 60
            rows.append((f"u{u}", views[v], "view", None, ts))
    events = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"])
    all_items = list(names) + clearance + views
    items = pd.DataFrame({"ITEM_ID": all_items,
                          "GENRE": [f"g{genre[k]}" for k in range(n_items)] + ["clearance"] * 6 + ["video"] * 10,
                          "COLOR": rng.choice(["red", "green", "blue"], len(all_items)),
                          "PRICE": np.round(rng.uniform(1.0, 100.0, len(all_items)), 2)})
    return events, items


def make_group(pp, name, events, items, item_fields=ITEM_FIELDS):
    pp.create_dataset_group(name=name)
    for dtype, fields, frame in (("Interactions", INTER_FIELDS, events), ("Items", item_fields, items)):
        pp.create_schema(name=f"{name}-{dtype}", schema=_schema(dtype, fields))
        pp.create_dataset(name=f"{name}-{dtype}", dataset_group=name, dataset_type=dtype, schema=f"{name}-{dtype}")
        pp.create_dataset_import_job(dataset=dtype, dataset_group=name,
                                     data_source=frame[[f["name"] for f in fields]])
    return name


def train(pp, group, name, recipe="aws-user-personalization-v2", **config):
    config.setdefault("featureTransformationParameters", ALL_USERS)
    pp.create_solution(name=name, dataset_group=group, recipe=recipe, solution_config=config)
    return pp.create_solution_version(name)["solutionVersionArn"]


def model_rows(pp, table, version):
    """A model table's rows of one version, without the version column, in a fixed order."""
    frame = pp.con.execute(f"SELECT * EXCLUDE (version_arn) FROM pypersonalize.{table} WHERE version_arn = $v "
                           "ORDER BY ALL", {"v": version}).df()
    return frame.reset_index(drop=True)


MODEL_TABLES = ("personal_params", "model_items", "item_transitions", "item_factors", "event_weights",
                "item_tokens", "context_lift", "popular_items", "item_objective")


EXACT = ("personal_params", "model_items", "item_transitions", "item_factors", "event_weights")


def same_model(pp, a, b, tables=MODEL_TABLES):
    """The model tables of versions ``a`` and ``b`` hold the same rows: those numpy computes
    bit for bit, those DuckDB sums in parallel (token weights, lifts) to 1e-12."""
    for table in tables:
        pd.testing.assert_frame_equal(model_rows(pp, table, a), model_rows(pp, table, b), obj=table,
                                      check_exact=table in EXACT, rtol=1e-12)


def events_config(*entries):
    return {"eventParametersList": [dict(zip(("eventType", "weight", "eventValueThreshold"), e)) if len(e) == 3
                                    else dict(zip(("eventType", "weight"), e)) for e in entries]}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    events, items = shop_data()
    path = tmp_path_factory.mktemp("shop") / "project.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        make_group(pp, "shop", events, items)
        versions = {
            "plain": train(pp, "shop", "plain"),
            "ec": train(pp, "shop", "ec", eventsConfig=events_config(("click", 0.2), ("purchase", 0.6, 0.5))),
            "ratio1": train(pp, "shop", "ratio1", eventsConfig=events_config(("click", 0.1), ("purchase", 0.3))),
            "ratio2": train(pp, "shop", "ratio2", eventsConfig=events_config(("click", 0.2), ("purchase", 0.6))),
            "buy": train(pp, "shop", "buy", eventsConfig=events_config(("click", 0.1), ("purchase", 1.0))),
            "look": train(pp, "shop", "look", eventsConfig=events_config(("click", 1.0), ("purchase", 0.1))),
        }
        for key, version in versions.items():
            pp.create_campaign(name=key, solution_version=version, campaign_config=NO_EXPLORATION)
    with pypersonalize.open(path, quiet=True) as pp:
        yield pp, events, items, versions


# -- eventsConfig ------------------------------------------------------------------------


def test_events_config_trains_on_listed_types_above_their_thresholds(shop):
    pp, events, _items, v = shop
    kept = events[(events.EVENT_TYPE == "click")
                  | ((events.EVENT_TYPE == "purchase") & (events.EVENT_VALUE >= 0.5))]
    counts = model_rows(pp, "model_items", v["ec"]).set_index("item")["interactions"]
    expected = kept.ITEM_ID.value_counts().reindex(counts.index, fill_value=0)
    assert (counts == expected).all()
    # the items that only dropped events reach (views, clearance purchases) lose their model rows
    with_rows = lambda version: set(model_rows(pp, "item_factors", version)["item"])  # noqa: E731
    dropped = set(events.ITEM_ID) - set(kept.ITEM_ID)
    assert dropped == {f"v{k}" for k in range(10)} | {f"q{k}" for k in range(6)}
    assert with_rows(v["plain"]) - with_rows(v["ec"]) == dropped
    assert with_rows(v["ec"]) == set(kept.ITEM_ID)
    # the popular fill counts the same events: share of users
    popular = model_rows(pp, "popular_items", v["ec"]).set_index("item")["score"]
    share = kept.groupby("ITEM_ID").USER_ID.nunique() / kept.USER_ID.nunique()
    assert np.allclose(popular.sort_index(), share.reindex(popular.index).sort_index())


def test_events_config_weights_replace_the_learned_type_weights(shop):
    pp, _events, _items, v = shop
    weights = lambda version: dict(model_rows(pp, "event_weights", version).values.tolist())  # noqa: E731
    assert weights(v["ec"]) == {"click": 0.5, "purchase": 1.5}         # weight / mean listed weight
    learned = weights(v["plain"])
    assert set(learned) == {"click", "purchase", "view"} and learned["purchase"] > learned["click"] == 1.0
    params = model_rows(pp, "personal_params", v["ec"]).iloc[0]
    assert params.other_event_weight == 0.0 and model_rows(pp, "personal_params", v["plain"]).iloc[0].other_event_weight == 1.0


def test_only_the_ratio_of_event_weights_matters(shop):
    pp, _events, _items, v = shop
    same_model(pp, v["ratio1"], v["ratio2"])
    users = [f"u{k}" for k in range(30)]
    a = pp.score_users(v["ratio1"], users)
    b = pp.score_users(v["ratio2"], users)
    assert a[0] == b[0] and np.allclose(a[1], b[1], rtol=1e-12, atol=1e-15)
    # and the weights do matter: another ratio trains another model
    assert not model_rows(pp, "item_factors", v["ratio1"]).equals(model_rows(pp, "item_factors", v["buy"]))


def _genre_share(pp, campaign, users, shift):
    """Share of the top-10 items in genre (u + shift) % 6, over ``users``."""
    hits = total = 0
    for u in users:
        want = f"i{(int(u[1:]) + shift) % GENRES}"
        for rec in pp.get_recommendations(campaign=campaign, user_id=u, num_results=10)["itemList"]:
            k = rec["itemId"]
            total += 1
            hits += k.startswith("i") and int(k[1:]) % GENRES == int(want[1:])
    return hits / total


def test_event_weights_change_recommendations(shop):
    pp, _events, _items, _v = shop
    users = [f"u{k}" for k in range(60)]
    buy, look = _genre_share(pp, "buy", users, 1), _genre_share(pp, "look", users, 1)
    # purchases (genre u + 1) weighted 10x against clicks recommend more of the purchased genre
    assert buy > look + 0.2, (buy, look)
    assert _genre_share(pp, "look", users, 0) > _genre_share(pp, "buy", users, 0)


def test_serving_leaves_unlisted_event_types_out_of_the_history(shop, tmp_path):
    pp, _events, _items, v = shop
    # the views come between the second and third click: left in, they would move the clicks'
    # recency positions unevenly
    clicks = [{"eventType": "click", "itemId": f"i{6 * k}", "sentAt": T0 + 10_000_000 + 10 * k} for k in range(3)]
    viewed = [{"eventType": "view", "itemId": f"v{k}", "sentAt": T0 + 10_000_011 + k} for k in range(4)]
    target = tmp_path / "copy.duckdb"
    pp.sql("CHECKPOINT")
    target.write_bytes(Path(pp.path).read_bytes())
    with pypersonalize.open(target, quiet=True) as copy:
        copy.put_events("shop", "new-a", "s", clicks)
        copy.put_events("shop", "new-b", "s", clicks[:2] + viewed + clicks[2:])
        _items_ec, ec = copy.score_users(v["ec"], ["new-a", "new-b"])
        _items_plain, plain = copy.score_users(v["plain"], ["new-a", "new-b"])
        assert np.allclose(ec[0], ec[1], rtol=0, atol=1e-12)           # views: not part of the history
        assert not np.allclose(plain[0], plain[1])                     # without an eventsConfig they count
        # the plain-SQL macro reads the history the same way
        sql = copy.con.execute("SELECT item_id, score FROM pp_personal_scores('ec', 'new-b', NULL)").df()
        got = sql.set_index("item_id")["score"].reindex(_items_ec).to_numpy()
        assert np.allclose(got, ec[1], rtol=1e-9, atol=1e-12)


# -- optimizationObjective ---------------------------------------------------------------

HOLDOUT = 3
LEVELS = ("OFF", "LOW", "MEDIUM", "HIGH")
FACTOR = {"OFF": 1.0, "LOW": 10 ** 0.5, "MEDIUM": 10.0, "HIGH": 100.0}    # README: highest vs lowest PRICE


@pytest.fixture(scope="module")
def priced(tmp_path_factory):
    """Clicks only; the first 80 users' last three events held out as truth."""
    events, items = shop_data(seed=1)
    events = events[events.EVENT_TYPE == "click"].reset_index(drop=True)
    last = events.groupby("USER_ID").cumcount(ascending=False) < HOLDOUT
    test_users = [f"u{k}" for k in range(80)]
    truth = events[last & events.USER_ID.isin(test_users)]
    train_events = events.drop(truth.index)
    path = tmp_path_factory.mktemp("priced") / "project.duckdb"
    versions = {}
    with pypersonalize.open(path, quiet=True) as pp:
        make_group(pp, "priced", train_events, items)
        for level in LEVELS:
            for recipe in ("aws-user-personalization", "aws-personalized-ranking"):
                name = f"{'personalization' if recipe.endswith('personalization') else 'ranking'}-{level.lower()}"
                config = {} if level == "OFF" else \
                    {"optimizationObjective": {"itemAttribute": "PRICE", "objectiveSensitivity": level}}
                versions[name] = train(pp, "priced", name, recipe=recipe, **config)
                pp.create_campaign(name=name, solution_version=versions[name],
                                   campaign_config=NO_EXPLORATION if recipe.endswith("personalization") else None)
    with pypersonalize.open(path, quiet=True) as pp:
        yield pp, items, truth, test_users, versions


def _ndcg(recommended, relevant):
    dcg = sum(1 / math.log2(k + 2) for k, i in enumerate(recommended) if i in relevant)
    ideal = sum(1 / math.log2(k + 2) for k in range(min(len(relevant), len(recommended))))
    return dcg / ideal


def _measure(pp, campaign, items, truth, users):
    price = items.set_index("ITEM_ID")["PRICE"]
    prices, ndcgs = [], []
    for u in users:
        listed = pp.get_recommendations(campaign=campaign, user_id=u, num_results=10)["itemList"]
        ids = [r["itemId"] for r in listed]
        scores = [r["score"] for r in listed]
        assert all(a >= b for a, b in zip(scores, scores[1:]))
        prices.append(price[ids].mean())
        ndcgs.append(_ndcg(ids, set(truth[truth.USER_ID == u].ITEM_ID)))
    return float(np.mean(prices)), float(np.mean(ndcgs))


def test_objective_raises_the_attribute_and_bounds_the_relevance_loss(priced):
    pp, items, truth, users, _v = priced
    measured = {level: _measure(pp, f"personalization-{level.lower()}", items, truth, users) for level in LEVELS}
    print("objective PRICE / NDCG@10:", json.dumps(measured))
    prices = [measured[level][0] for level in LEVELS]
    ndcg = [measured[level][1] for level in LEVELS]
    assert prices == sorted(prices) and len(set(prices)) == 4, measured
    assert prices[-1] > prices[0] + 10.0, measured                 # PRICE is uniform on 1..100
    assert ndcg[0] > 0.1, measured
    assert ndcg[-1] >= 0.6 * ndcg[0], measured                     # HIGH keeps most of the relevance
    assert ndcg[1] >= 0.9 * ndcg[0], measured


def test_objective_multiplies_probabilities_by_the_documented_factor(priced):
    """log p_level - log p_off = ln(FACTOR) * percent rank of PRICE + a per-user constant, the
    percent rank computed here with pandas over the Items dataset."""
    pp, items, _truth, users, v = priced
    pct = (items.set_index("ITEM_ID")["PRICE"].rank(method="min") - 1) / (len(items) - 1)
    names, off = pp.score_users(v["personalization-off"], users[:20])
    for level in ("LOW", "MEDIUM", "HIGH"):
        names2, got = pp.score_users(v[f"personalization-{level.lower()}"], users[:20])
        assert names2 == names
        expected = np.log(off) + math.log(FACTOR[level]) * pct[names].to_numpy()
        expected = np.exp(expected - expected.max(axis=1, keepdims=True))
        expected /= expected.sum(axis=1, keepdims=True)
        assert np.allclose(got, expected, rtol=1e-8, atol=1e-15)
        # the objective changes serving only: the trained model is the same
        same_model(pp, v["personalization-off"], v[f"personalization-{level.lower()}"],
                   ("item_transitions", "item_factors", "model_items", "item_tokens"))
    stored = model_rows(pp, "item_objective", v["personalization-high"]).set_index("item")["value"]
    assert np.allclose(stored.sort_index(), pct[stored.index].sort_index())


def test_plain_sql_scores_equal_the_in_process_scores_with_an_objective(priced):
    pp, _items, _truth, users, v = priced
    names, probs = pp.score_users(v["personalization-high"], users[:5])
    for k, u in enumerate(users[:5]):
        sql = pp.con.execute("SELECT item_id, score FROM pp_personal_scores('personalization-high', $u, NULL)",
                             {"u": u}).df().set_index("item_id")["score"].reindex(names).to_numpy()
        assert np.allclose(sql, probs[k], rtol=1e-9, atol=1e-14)
    plain = pp.con.execute("SELECT item_id FROM pp_recommend('personalization-high', user_id := $u, n := 10) "
                           "ORDER BY rank", {"u": users[0]}).fetchall()
    listed = pp.get_recommendations(campaign="personalization-high", user_id=users[0], num_results=10)
    assert [r[0] for r in plain] == [r["itemId"] for r in listed["itemList"]]


def test_personalized_ranking_follows_the_objective(priced):
    pp, items, _truth, users, v = priced
    price = items.set_index("ITEM_ID")["PRICE"]
    pct = (price.rank(method="min") - 1) / (len(price) - 1)
    candidates = [f"i{k}" for k in range(0, 120, 3)]           # 40 items, every genre
    tops = {}
    for level in ("OFF", "HIGH"):
        tops[level] = []
        for u in users[:30]:
            ranked = pp.get_personalized_ranking(campaign=f"ranking-{level.lower()}", user_id=u,
                                                 input_list=candidates)["personalizedRanking"]
            tops[level].append(price[[r["itemId"] for r in ranked[:5]]].mean())
            if level == "HIGH" and u == users[0]:
                names, off = pp.score_users(v["ranking-off"], [u])
                off = pd.Series(off[0], index=names)[candidates]
                key = np.log(off) + math.log(FACTOR["HIGH"]) * pct[candidates]
                expected = sorted(candidates, key=lambda i: (-round(key[i], 9), candidates.index(i)))
                assert [r["itemId"] for r in ranked] == expected
                assert abs(sum(r["score"] for r in ranked) - 1.0) < 1e-9
    print("ranking top-5 PRICE OFF / HIGH:", np.mean(tops["OFF"]), np.mean(tops["HIGH"]))
    assert np.mean(tops["HIGH"]) > np.mean(tops["OFF"]) + 10.0


# -- trainingDataConfig ------------------------------------------------------------------


@pytest.fixture(scope="module")
def columns(tmp_path_factory):
    events, items = shop_data(seed=2)
    path = tmp_path_factory.mktemp("columns") / "project.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        make_group(pp, "full", events, items)
        make_group(pp, "nocolor", events, items, [f for f in ITEM_FIELDS if f["name"] != "COLOR"])
        versions = {
            "full": train(pp, "full", "full", recipe="aws-user-personalization"),
            "excluded": train(pp, "full", "excluded", recipe="aws-user-personalization",
                              trainingDataConfig={"excludedDatasetColumns": {"ITEMS": ["COLOR"]}}),
            "included": train(pp, "full", "included", recipe="aws-user-personalization",
                              trainingDataConfig={"includedDatasetColumns": {"ITEMS": ["GENRE"]}}),
            "nocolor": train(pp, "nocolor", "nocolor", recipe="aws-user-personalization"),
            "by-value": train(pp, "full", "by-value", recipe="aws-user-personalization",
                              algorithmHyperParameters={"event_value_exponent": "1.0"}),
            "value-out": train(pp, "full", "value-out", recipe="aws-user-personalization",
                               algorithmHyperParameters={"event_value_exponent": "1.0"},
                               trainingDataConfig={"excludedDatasetColumns": {"INTERACTIONS": ["EVENT_VALUE"]}}),
        }
        for key, version in versions.items():
            pp.create_campaign(name=key, solution_version=version, campaign_config=NO_EXPLORATION)
        pp.create_filter(name="red", dataset_group="full", filter_expression='INCLUDE ItemID WHERE Items.COLOR IN ("red")')
    with pypersonalize.open(path, quiet=True) as pp:
        yield pp, items, versions


@pytest.mark.parametrize("key", ["excluded", "included"])
def test_a_left_out_items_column_trains_the_model_of_a_dataset_without_it(columns, key):
    pp, _items, v = columns
    same_model(pp, v[key], v["nocolor"])
    assert not model_rows(pp, "item_tokens", v["full"]).equals(model_rows(pp, "item_tokens", v["nocolor"]))
    assert model_rows(pp, "item_tokens", v["full"])["token"].str.startswith("COLOR=").any()
    for u in ("u1", "u7", "u30"):
        got = pp.get_recommendations(campaign=key, user_id=u, num_results=10)["itemList"]
        assert got == pp.get_recommendations(campaign="nocolor", user_id=u, num_results=10)["itemList"]


def test_a_left_out_event_value_weighs_no_event(columns):
    """event_value_exponent weighs events by EVENT_VALUE; with the column left out the model is
    the one trained without that weighting."""
    pp, _items, v = columns
    same_model(pp, v["value-out"], v["full"])
    assert not model_rows(pp, "item_factors", v["by-value"]).equals(model_rows(pp, "item_factors", v["full"]))


def test_a_filter_on_a_left_out_column_still_works(columns):
    pp, items, _v = columns
    red = set(items[items.COLOR == "red"].ITEM_ID)
    for u in ("u1", "u2"):
        listed = pp.get_recommendations(campaign="excluded", user_id=u, num_results=10, filter="red")["itemList"]
        assert len(listed) == 10 and {r["itemId"] for r in listed} <= red


def test_a_recommenders_training_data_config_leaves_columns_out(tmp_path):
    """A Top-picks recommender on the VIDEO_ON_DEMAND sample with the optional Items text and
    classification left out equals one on a group whose Items dataset lacks them."""
    folder = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
    left_out = ["PRODUCT_DESCRIPTION", "CONTENT_CLASSIFICATION"]
    items_schema = json.loads((folder / "items.schema.json").read_text())
    narrow = dict(items_schema, fields=[f for f in items_schema["fields"] if f["name"] not in left_out])
    items = pd.read_csv(folder / "items.csv").drop(columns=left_out)
    with pypersonalize.open(tmp_path / "vod.duckdb", quiet=True) as pp:
        for group, schema, source in (("wide", folder / "items.schema.json", folder / "items.csv"),
                                      ("narrow", narrow, items)):
            pp.create_dataset_group(name=group, domain="VIDEO_ON_DEMAND")
            for dtype, dschema, data in (("Interactions", folder / "interactions.schema.json",
                                          folder / "interactions.csv"), ("Items", schema, source)):
                pp.create_schema(name=f"{group}-{dtype}", schema=dschema, domain="VIDEO_ON_DEMAND")
                pp.create_dataset(name=f"{group}-{dtype}", dataset_group=group, dataset_type=dtype,
                                  schema=f"{group}-{dtype}")
                pp.create_dataset_import_job(dataset=dtype, dataset_group=group, data_source=data)
        config = {"excludedDatasetColumns": {"ITEMS": left_out}}
        pp.create_recommender(name="wide-out", dataset_group="wide", use_case="Top picks for you",
                              recommender_config={"trainingDataConfig": config, **NO_EXPLORATION})
        pp.create_recommender(name="wide", dataset_group="wide", use_case="Top picks for you",
                              recommender_config=NO_EXPLORATION)
        pp.create_recommender(name="narrow", dataset_group="narrow", use_case="Top picks for you",
                              recommender_config=NO_EXPLORATION)
        version = {r: pp.describe_recommender(r)["recommender"]["modelVersionArn"] for r in ("wide-out", "wide", "narrow")}
        same_model(pp, version["wide-out"], version["narrow"],
                   ("item_transitions", "item_factors", "item_tokens", "event_weights", "personal_params"))
        tokens = model_rows(pp, "item_tokens", version["wide"])["token"]
        assert tokens.str.startswith("PRODUCT_DESCRIPTION~").any()
        assert not model_rows(pp, "item_tokens", version["wide-out"])["token"].str.startswith(
            ("PRODUCT_DESCRIPTION~", "CONTENT_CLASSIFICATION=")).any()
