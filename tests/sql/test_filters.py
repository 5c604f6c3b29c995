"""Filters compiled to SQL agree with an independent Python evaluation of the same rules."""

from __future__ import annotations

import operator
import random

import pandas as pd
import pytest

import pypersonalize
from pypersonalize.filter_parser import parse_filter
from pypersonalize.filters import compile_filter
from pypersonalize.sqlkit import used_params
from tests.conftest import ROOT

DOCS = [line for line in (ROOT / "tests/data/filters/personalize_docs.txt").read_text().splitlines()
        if line and not line.startswith("#")]
ITEM_DOCS = [t for t in DOCS if "UserID" not in t and "ActionID" not in t]

ITEMS_SCHEMA = {"type": "record", "name": "Items", "fields": [
    {"name": "ITEM_ID", "type": "string"},
    {"name": "CATEGORY", "type": ["null", "string"], "categorical": True},
    {"name": "CATEGORY_L1", "type": ["null", "string"], "categorical": True},
    {"name": "CATEGORY_L2", "type": ["null", "string"], "categorical": True},
    {"name": "DESCRIPTION", "type": ["null", "string"]},
    {"name": "GENRE", "type": ["null", "string"], "categorical": True},
    {"name": "OWNER", "type": ["null", "string"]},
    {"name": "AVAILABLE", "type": ["null", "string"]},
    {"name": "PRICE", "type": ["null", "float"]},
    {"name": "CREATION_TIMESTAMP", "type": "long"}]}
INTERACTIONS_SCHEMA = {"type": "record", "name": "Interactions", "fields": [
    {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
    {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}]}
USERS_SCHEMA = {"type": "record", "name": "Users", "fields": [
    {"name": "USER_ID", "type": "string"}, {"name": "AGE", "type": ["null", "int"]},
    {"name": "MEMBERSHIP_STATUS", "type": ["null", "string"], "categorical": True}]}

VALUES = {"GENRE": '"comedy","drama"', "CATEGORY": '"shoe"', "PRICE": '"50"',
          "DATE": '"1700000500"', "AGE": '"30"', "EVENT_TYPE": '"click"', "MEMBERSHIP": '"gold"'}
USER_DOCS = [t for t in DOCS if "UserID" in t]


def make_data(seed=5):
    rng = random.Random(seed)
    items = []
    for i in range(40):
        pick = lambda pool, k=1: "|".join(rng.sample(pool, k)) if rng.random() > 0.15 else None  # noqa: E731
        items.append({"ITEM_ID": f"i{i}", "CATEGORY": pick(["shoe", "watch", "clothing", "bag"], rng.randint(1, 2)),
                      "CATEGORY_L1": pick(["shoe", "sport"]), "CATEGORY_L2": pick(["boot", "sandal", "sneaker"]),
                      "DESCRIPTION": rng.choice(["boot", "luxury", "plain", None]),
                      "GENRE": pick(["comedy", "drama", "horror", "Comedy"], rng.randint(1, 3)),
                      "OWNER": rng.choice(["in-house", "partner", None]),
                      "AVAILABLE": rng.choice(["True", "False", None]),
                      "PRICE": rng.choice([None, 9.5, 25.0, 50.0, 50.01, 120.0]),
                      "CREATION_TIMESTAMP": 1700000000 + rng.randrange(1000)})
    events = []
    for u in range(8):
        for _ in range(rng.randint(0, 40)):
            events.append({"USER_ID": f"u{u}", "ITEM_ID": f"i{rng.randrange(40)}",
                           "EVENT_TYPE": rng.choice(["click", "Click", "stream", "purchased", "favorite"]),
                           "TIMESTAMP": 1700001000 + rng.randrange(10000)})
    users = [{"USER_ID": f"u{u}", "AGE": rng.choice([None, 17, 30, 45]),
              "MEMBERSHIP_STATUS": rng.choice([None, "gold", "silver", "gold|silver"])} for u in range(8)]
    return pd.DataFrame(items), pd.DataFrame(events), pd.DataFrame(users).astype({"AGE": "Int64"})


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    items, events, users = make_data()
    pp = pypersonalize.open(tmp_path_factory.mktemp("f") / "f.duckdb", quiet=True)
    pp.create_dataset_group(name="shop")
    for dtype, schema, frame in (("Items", ITEMS_SCHEMA, items), ("Interactions", INTERACTIONS_SCHEMA, events),
                                 ("Users", USERS_SCHEMA, users)):
        pp.create_schema(name=f"s-{dtype}", schema=schema)
        pp.create_dataset(name=f"d-{dtype}", dataset_group="shop", dataset_type=dtype, schema=f"s-{dtype}")
        pp.create_dataset_import_job(dataset=dtype, dataset_group="shop", data_source=frame)
    yield pp, items, events, users
    pp.close()


# -- an independent evaluation of Personalize's filter semantics -------------------------

OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
       ">=": operator.ge}


def _vals(v):
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA:
        return []
    return str(v).split("|")


def _literals(cond, values):
    out = []
    for v in cond.values:
        if v.kind == "param":
            out += [x.strip('"') for x in values[v.value].split('","')]
        else:
            out.append(v.value)
    return out


def _holds(cond, row, values, current=None, ci=False):
    field = row.get(cond.field.name)
    if cond.op in ("IN", "NOT IN"):
        if cond.other is not None:
            wanted = set(_vals(current.get(cond.other.name))) if current is not None else set()
        elif any(v.kind == "star" for v in cond.values):
            return cond.op == "IN"
        else:
            wanted = set(_literals(cond, values))
        have = set(_vals(field))
        if ci:
            have, wanted = {h.lower() for h in have}, {w.lower() for w in wanted}
        return bool(have & wanted) == (cond.op == "IN")
    if field is None or pd.isna(field):
        return False
    if cond.other is not None:
        other = None if current is None else current.get(cond.other.name)
        return other is not None and not pd.isna(other) and OPS[cond.op](float(field), float(other))
    return OPS[cond.op](float(field), float(_literals(cond, values)[0]))


def expected_items(text, items, events, users, user, current_item, values):
    parsed = parse_filter(text)
    all_items = set(items.ITEM_ID)
    by_id = items.set_index("ITEM_ID").to_dict("index")
    current = None if current_item not in by_id else by_id[current_item]
    user_row = users.set_index("USER_ID").to_dict("index").get(user)
    mine = events[events.USER_ID == user].copy()
    mine["et"] = mine.EVENT_TYPE.str.lower()
    mine = mine.sort_values("TIMESTAMP", ascending=False).groupby("et").head(100)
    includes, excludes, any_include = set(), set(), False
    for e in parsed.expressions:
        if any(v.kind == "param" and v.value not in values for c in e.conditions for v in c.values):
            if e.action == "EXCLUDE":
                continue
        if e.if_conditions and (user_row is None or not all(
                _holds(c, user_row, values) for c in e.if_conditions)):
            continue
        if e.dataset == "Items":
            members = {i for i in all_items if any(all(_holds(c, by_id[i], values, current) for c in clause)
                                                   for clause in e.clauses)}
        else:
            members = {r.ITEM_ID for r in mine.itertuples() if any(
                all(_holds(c, r._asdict(), values, ci=c.field.name == "EVENT_TYPE") for c in clause)
                for clause in e.clauses)}
        if e.action == "INCLUDE":
            any_include = True
            includes |= members
        else:
            excludes |= members
    return (includes if any_include else all_items) - excludes


def sql_items(pp, text, user, current_item, values):
    group = pp.catalog.get("dataset-group", "shop")
    predicate, params = compile_filter(parse_filter(text), pp._schemas_of(group), "shop", values, "c.ITEM_ID")
    sql = f"SELECT c.ITEM_ID FROM shop.items c WHERE {predicate}"
    rows = pp.con.execute(sql, used_params(sql, {"user_id": user, "item_id": current_item, **params})).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize("text", ITEM_DOCS)
@pytest.mark.parametrize("user,current", [("u1", "i3"), ("u2", "i7"), ("u5", "i0"), ("nobody", "nope")])
def test_documented_filters_match_the_python_evaluation(shop, text, user, current):
    pp, items, events, users = shop
    values = {k: v for k, v in VALUES.items() if f"${k}" in text}
    want = expected_items(text, items, events, users, user, current, values)
    assert sql_items(pp, text, user, current, values) == want


def test_some_documented_filters_really_filter(shop):
    pp, items, events, users = shop
    sizes = {t: len(sql_items(pp, t, "u1", "i3", {k: v for k, v in VALUES.items() if f"${k}" in t}))
             for t in ITEM_DOCS}
    assert sum(1 for n in sizes.values() if 0 < n < 40) >= 15


def test_exclude_without_values_is_skipped_include_without_values_fails(shop):
    pp = shop[0]
    assert len(sql_items(pp, "EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)", "u1", None, {})) == 40
    with pytest.raises(pypersonalize.InvalidInput, match=r"\$GENRE"):
        sql_items(pp, "INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)", "u1", None, {})


@pytest.mark.parametrize("text,words", [
    ('INCLUDE ItemID WHERE Items.NOPE IN ("a")', "no field NOPE"),
    ('INCLUDE ItemID WHERE Items.PRICE IN ("a")', "IN and NOT IN match strings"),
    ('INCLUDE ItemID WHERE Items.GENRE > 3', "compares numbers"),
    ('INCLUDE ItemID WHERE Items.GENRE IN ("a") AND Interactions.EVENT_TYPE IN ("b")', "one dataset"),
    ('INCLUDE ItemID WHERE Items.GENRE IN ("*")', "Interactions.EVENT_TYPE"),
    ('INCLUDE ItemID WHERE Items.A IN ("a")', "no field A"),
])
def test_bad_filters_are_refused_at_creation(shop, text, words):
    with pytest.raises(pypersonalize.InvalidInput, match=words):
        shop[0].create_filter(name="bad", dataset_group="shop", filter_expression=text)


def test_a_filtered_request_returns_n_items_when_n_pass(shop):
    pp = shop[0]
    pp.create_solution(name="pop", dataset_group="shop", recipe="aws-popularity-count")
    # The data has fewer than 1000 interactions; train on a bigger copy of it.
    big = pd.concat([shop[2].assign(USER_ID=shop[2].USER_ID + f"-{k}") for k in range(12)])
    pp.create_dataset_import_job(dataset="Interactions", dataset_group="shop", data_source=big,
                                 import_mode="INCREMENTAL")
    version = pp.create_solution_version("pop")["solutionVersionArn"]
    pp.create_campaign(name="pop-live", solution_version=version)
    pp.create_filter(name="cheap", dataset_group="shop", filter_expression="INCLUDE ItemID WHERE Items.PRICE <= $PRICE")
    cheap = set(shop[1][shop[1].PRICE <= 50].ITEM_ID)
    plain = [r["itemId"] for r in pp.get_recommendations(campaign="pop-live", user_id="u1", num_results=40)["itemList"]]
    got = pp.get_recommendations(campaign="pop-live", user_id="u1", num_results=5, filter="cheap",
                                 filter_values={"PRICE": '"50"'})["itemList"]
    assert [r["itemId"] for r in got] == [i for i in plain if i in cheap][:5]
    assert pp.list_filters(dataset_group="shop")["Filters"][0]["name"] == "cheap"


@pytest.fixture(scope="module")
def shop_campaign(shop):
    pp = shop[0]
    if not pp.list_campaigns()["campaigns"]:
        big = pd.concat([shop[2].assign(USER_ID=shop[2].USER_ID + f"-{k}") for k in range(12)])
        pp.create_dataset_import_job(dataset="Interactions", dataset_group="shop", data_source=big,
                                     import_mode="INCREMENTAL")
        pp.create_solution(name="pop", dataset_group="shop", recipe="aws-popularity-count")
        pp.create_campaign(name="pop-live", solution_version=pp.create_solution_version("pop")["solutionVersionArn"])
    return pp


@pytest.mark.parametrize("k,text", list(enumerate(ITEM_DOCS)))
def test_sql_macro_gives_the_same_filtered_answer(shop_campaign, k, text):
    pp = shop_campaign
    name = f"doc{k}"
    if not pp.catalog.select("filter", name=name):
        pp.create_filter(name=name, dataset_group="shop", filter_expression=text)
    values = {key: v for key, v in VALUES.items() if f"${key}" in text}
    if "CurrentItem" in text:     # Personalize: only related-items endpoints have a current item
        with pytest.raises(pypersonalize.InvalidInput, match="CurrentItem"):
            pp.get_recommendations(campaign="pop-live", user_id="u1", item_id="i3", filter=name,
                                   filter_values=values or None)
        return
    for user, item in (("u1", "i3"), ("u5-3", "i0"), ("nobody", None)):
        py = pp.get_recommendations(campaign="pop-live", user_id=user, item_id=item, num_results=12,
                                    filter=name, filter_values=values or None)["itemList"]
        sql = pp.con.execute("SELECT item_id, score FROM pp_recommend_filtered($c, $f, user_id := $u, "
                             "item_id := $i, n := 12, filter_values := MAP($keys::VARCHAR[], $vals::VARCHAR[]))",
                             {"c": "pop-live", "f": name, "u": user, "i": item,
                              "keys": list(values), "vals": list(values.values())}).fetchall()
        assert [(r["itemId"], r["score"]) for r in py] == sql


def test_sql_macro_rules(shop_campaign):
    pp = shop_campaign
    if not pp.catalog.select("filter", name="genre-param"):
        pp.create_filter(name="genre-param", dataset_group="shop",
                         filter_expression="INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)")
    import duckdb
    with pytest.raises(duckdb.Error, match=r"\$GENRE missing"):
        pp.sql("SELECT * FROM pp_recommend_filtered('pop-live', 'genre-param', user_id := 'u1')").fetchall()
    with pytest.raises(duckdb.Error, match="no filter named"):
        pp.sql("SELECT * FROM pp_recommend_filtered('pop-live', 'nope', user_id := 'u1')").fetchall()
    pp.delete_filter("genre-param")
    with pytest.raises(duckdb.Error, match="no filter named"):
        pp.sql("SELECT * FROM pp_recommend_filtered('pop-live', 'genre-param', user_id := 'u1')").fetchall()


def test_batch_macro_takes_values_per_request(shop_campaign):
    pp = shop_campaign
    if not pp.catalog.select("filter", name="genre-batch"):
        pp.create_filter(name="genre-batch", dataset_group="shop",
                         filter_expression="INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) | "
                                           "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($SEEN)")
    requests = [("u1", None, {"GENRE": '"comedy"'}), ("u2", "i3", {"GENRE": '"drama","horror"', "SEEN": '"click"'}),
                ("u3", None, {"GENRE": '"Comedy"', "SEEN": '"*"'})]
    pp.sql("CREATE OR REPLACE TEMP TABLE batch_requests (user_id VARCHAR, item_id VARCHAR, "
           "filter_values MAP(VARCHAR, VARCHAR))")
    for user, item, values in requests:
        pp.con.execute("INSERT INTO batch_requests VALUES ($u, $i, MAP($k::VARCHAR[], $v::VARCHAR[]))",
                       {"u": user, "i": item, "k": list(values), "v": list(values.values())})
    batch = pp.sql("SELECT user_id, item_id, rank, recommended_item_id, score FROM "
                   "pp_recommend_filtered_batch('pop-live', 'genre-batch', 'batch_requests', n := 6)").fetchall()
    expected = []
    for user, item, values in requests:
        out = pp.get_recommendations(campaign="pop-live", user_id=user, item_id=item, num_results=6,
                                     filter="genre-batch", filter_values=values)["itemList"]
        expected += [(user, item, k + 1, r["itemId"], r["score"]) for k, r in enumerate(out)]
    assert sorted(batch, key=repr) == sorted(expected, key=repr) and len(expected) > 6


def expected_users(text, events, users, values):
    parsed = parse_filter(text)
    everyone = set(users.USER_ID)
    rows = users.set_index("USER_ID").to_dict("index")
    recent = events.assign(et=events.EVENT_TYPE.str.lower()).sort_values("TIMESTAMP", ascending=False)
    recent = recent.groupby(["USER_ID", "et"]).head(100)
    includes, excludes, any_include = set(), set(), False
    for e in parsed.expressions:
        if any(v.kind == "param" and v.value not in values for c in e.conditions for v in c.values):
            if e.action == "EXCLUDE":
                continue
        if e.dataset == "Users":
            members = {u for u in everyone if any(all(_holds(c, rows[u], values) for c in clause)
                                                  for clause in e.clauses)}
        else:
            members = {r.USER_ID for r in recent.itertuples() if any(
                all(_holds(c, r._asdict(), values, ci=c.field.name == "EVENT_TYPE") for c in clause)
                for clause in e.clauses)}
        if e.action == "INCLUDE":
            any_include = True
            includes |= members
        else:
            excludes |= members
    return (includes if any_include else everyone) - excludes


@pytest.mark.parametrize("text", USER_DOCS + ['EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("*")',
                                              'INCLUDE UserID WHERE Users.AGE >= 30 OR Users.MEMBERSHIP_STATUS IN ("silver")'])
def test_user_filters_for_segments_match_the_python_evaluation(shop, text):
    pp, items, events, users = shop
    values = {k: v for k, v in VALUES.items() if f"${k}" in text}
    group = pp.catalog.get("dataset-group", "shop")
    predicate, params = compile_filter(parse_filter(text), pp._schemas_of(group), "shop", values, "c.USER_ID")
    sql = f"SELECT c.USER_ID FROM shop.users c WHERE {predicate}"
    got = {r[0] for r in pp.con.execute(sql, used_params(sql, params)).fetchall()}
    assert got == expected_users(text, events, users, values)


def test_user_filters_are_not_item_filters(shop):
    pp = shop[0]
    if not pp.catalog.select("filter", name="gold-users"):
        pp.create_filter(name="gold-users", dataset_group="shop",
                         filter_expression='INCLUDE UserID WHERE Users.MEMBERSHIP_STATUS IN ("gold")')
    gold = {u for (u,) in pp.sql("SELECT USER_ID FROM shop.users WHERE "
                                 "\"pp_filter__gold-users\"(USER_ID, NULL, NULL, NULL)").fetchall()}
    assert gold == set(shop[3][shop[3].MEMBERSHIP_STATUS.fillna("").str.contains("gold")].USER_ID)
    with pytest.raises(pypersonalize.InvalidInput, match="same kind"):
        pp.create_filter(name="mixed", dataset_group="shop", filter_expression=
                         'INCLUDE UserID WHERE Users.AGE > 3 | EXCLUDE ItemID WHERE Items.GENRE IN ("x")')
    with pytest.raises(pypersonalize.InvalidInput, match="UserID filters read"):
        pp.create_filter(name="bad", dataset_group="shop", filter_expression='INCLUDE UserID WHERE Items.GENRE IN ("x")')


def test_interactions_window_and_events_after_training(tmp_path):
    from tests.conftest import build_sample_group
    with pypersonalize.open(tmp_path / "w.duckdb", quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies", types=("Interactions", "Items"))
        pp.create_recommender(name="top", dataset_group="movies", use_case="Most popular")
        pp.create_filter(name="unwatched", dataset_group="movies",
                         filter_expression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')
        pp.create_filter(name="unwatched-last-2", dataset_group="movies", interactions_window=2,
                         filter_expression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')
        first = pp.get_recommendations(recommender="top", user_id="u1", num_results=3, filter="unwatched")["itemList"][0]["itemId"]
        # An event recorded after training changes the filtered answer at once.
        event = pd.DataFrame({"USER_ID": ["u1"], "ITEM_ID": [first], "EVENT_TYPE": ["Watch"], "EVENT_VALUE": [1.0],
                              "TIMESTAMP": [1735700000], "IMPRESSION": [None]})
        pp.create_dataset_import_job(dataset="Interactions", dataset_group="movies", data_source=event,
                                     import_mode="INCREMENTAL")
        after = [r["itemId"] for r in pp.get_recommendations(recommender="top", user_id="u1", num_results=3,
                                                              filter="unwatched")["itemList"]]
        assert first not in after
        # With a window of 2, only the user's 2 latest Watch events count.
        watched = pp.sql("SELECT ITEM_ID FROM movies.interactions WHERE USER_ID = 'u1' AND EVENT_TYPE = 'Watch' "
                         "ORDER BY TIMESTAMP DESC").fetchall()
        assert len(watched) > 2
        out = [r["itemId"] for r in pp.get_recommendations(recommender="top", user_id="u1", num_results=500,
                                                            filter="unwatched-last-2")["itemList"]]
        assert not {w for (w,) in watched[:2]} & set(out)
        assert {w for (w,) in watched[2:]} & set(out)
        assert pp.describe_filter("unwatched-last-2")["filter"]["interactionsWindow"] == 2


def test_sql_macro_checks_every_include_value_up_front(shop_campaign):
    pp = shop_campaign
    if not pp.catalog.select("filter", name="two-includes"):
        pp.create_filter(name="two-includes", dataset_group="shop", filter_expression=
                         'INCLUDE ItemID WHERE Items.GENRE NOT IN ("zzz") | INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)')
    import duckdb
    with pytest.raises(duckdb.Error, match=r"\$CATEGORY missing"):
        pp.sql("SELECT * FROM pp_recommend_filtered('pop-live', 'two-includes', user_id := 'u1')").fetchall()
    ok = pp.sql("""SELECT count(*) FROM pp_recommend_filtered('pop-live', 'two-includes', user_id := 'u1',
                   filter_values := MAP {'CATEGORY': '"shoe"'})""").fetchall()[0][0]
    assert ok > 0
