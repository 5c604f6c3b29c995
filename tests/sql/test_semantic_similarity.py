"""Semantic-Similarity: items whose texts share rare words are each other's nearest, the
lists equal an independent pure-Python TF-IDF computation of the definition, rankingInfluence
moves fresher / more popular items up monotonically, plain SQL gives Python's lists, training
refuses a dataset group without the text it needs, and the schema's itemName rules."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import pypersonalize
from pypersonalize import InvalidInput
from pypersonalize.errors import SchemaError
from pypersonalize.schemas import parse_schema

T0 = 1_700_000_000
NS = "com.amazonaws.personalize.schema"
INTERACTIONS = {"type": "record", "name": "Interactions", "namespace": NS, "version": "1.0",
                "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                           {"name": "TIMESTAMP", "type": "long"}]}


def items_schema(title: bool = True, textual: bool = True, created: bool = True) -> dict:
    fields = [{"name": "ITEM_ID", "type": "string"},
              {"name": "TITLE", "type": ["null", "string"], **({"itemName": True} if title else {})},
              {"name": "DESCRIPTION", "type": ["null", "string"], **({"textual": True} if textual else {})}]
    if created:
        fields.append({"name": "CREATION_TIMESTAMP", "type": "long"})
    return {"type": "record", "name": "Items", "namespace": NS, "version": "1.0", "fields": fields}


THEMES = {"space": "rocket orbit astronaut galaxy", "sea": "ocean whale coral tide",
          "food": "recipe kitchen spice bread", "music": "guitar melody rhythm chord"}
COMMON = "the story of a great new adventure film"


def make_items(seed: int = 5) -> pd.DataFrame:
    """40 items in four themes (each description draws theme words and common words), plus
    two pairs sharing rare words only with each other (quokka/zyzzyva, xylem/fjord)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(40):
        theme = list(THEMES)[k % 4]
        words = THEMES[theme].split()
        desc = " ".join(rng.choice(words, 3).tolist() + rng.choice(COMMON.split(), 4).tolist())
        rows.append((f"m{k:02d}", f"{theme.title()} tale {k} (199{k % 10})", desc))
    rows += [("r1", "Quokka island", "a quokka zyzzyva story"), ("r2", "Zyzzyva quokka", "the zyzzyva dance"),
             ("r3", "Xylem", "xylem fjord great"), ("r4", "Fjord xylem days", "fjord")]
    frame = pd.DataFrame(rows, columns=["ITEM_ID", "TITLE", "DESCRIPTION"])
    frame["CREATION_TIMESTAMP"] = T0 - 86_400 * rng.permutation(len(frame))
    frame.loc[3, "DESCRIPTION"] = None                # a missing description: the title alone
    return frame


def make_events(items: pd.DataFrame, seed: int = 9) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = items.ITEM_ID.to_numpy()
    weights = rng.pareto(1.2, len(ids)) + 0.05
    picks = rng.choice(ids, 1600, p=weights / weights.sum())
    users = [f"u{k}" for k in rng.integers(0, 80, 1600)]
    return pd.DataFrame({"USER_ID": users, "ITEM_ID": picks, "TIMESTAMP": T0 + np.arange(1600)})


# -- the definition, computed independently (pure Python) -------------------------------


def words(text) -> list[str]:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    return [w for w in re.findall(r"[^\W_]+", text.lower()) if any(ch.isalpha() for ch in w)]


def reference_vectors(items: pd.DataFrame) -> dict[str, dict[str, float]]:
    counts = {}
    for item, title, desc in zip(items.ITEM_ID, items.TITLE, items.DESCRIPTION):
        c: Counter = Counter()
        for w in words(title):
            c[w] += 2.0
        for w in words(desc):
            c[w] += 1.0
        counts[item] = c
    n = len(counts)
    df = Counter(w for c in counts.values() for w in c)
    out = {}
    for item, c in counts.items():
        v = {w: (1 + math.log(k)) * (math.log((1 + n) / (1 + df[w])) + 1) for w, k in c.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        out[item] = {w: x / norm for w, x in v.items()}
    return out


def reference_factors(items: pd.DataFrame, events: pd.DataFrame) -> tuple[dict, dict]:
    ranks = items.CREATION_TIMESTAMP.rank(method="average")
    fresh = dict(zip(items.ITEM_ID, (ranks - 1) / (len(items) - 1)))
    users = events.groupby("ITEM_ID").USER_ID.nunique()
    top = users.max()
    pop = {i: math.log1p(users.get(i, 0)) / math.log1p(top) for i in items.ITEM_ID}
    return fresh, pop


def reference_list(vectors, fresh, pop, query: str, f: float = 0.0, p: float = 0.0) -> list[tuple[str, float]]:
    q = vectors[query]
    scored = []
    for item, v in vectors.items():
        if item == query:
            continue
        sim = sum(x * v.get(w, 0.0) for w, x in q.items())
        if sim > 1e-12:
            scored.append((item, (sim + f * fresh[item] + p * pop[item]) / (1 + f + p)))
    return sorted(scored, key=lambda kv: (-kv[1], kv[0]))


# -- the project ----------------------------------------------------------------------


def build(pp, items: pd.DataFrame, events: pd.DataFrame, group: str = "g", schema: dict | None = None) -> None:
    pp.create_dataset_group(name=group)
    pp.create_schema(name=f"{group}-i", schema=INTERACTIONS)
    pp.create_dataset(name=f"{group}-i", dataset_group=group, dataset_type="Interactions", schema=f"{group}-i")
    pp.create_dataset_import_job(dataset="Interactions", dataset_group=group, data_source=events)
    if schema is not False:
        pp.create_schema(name=f"{group}-items", schema=schema or items_schema())
        pp.create_dataset(name=f"{group}-items", dataset_group=group, dataset_type="Items",
                          schema=f"{group}-items")
        pp.create_dataset_import_job(dataset="Items", dataset_group=group, data_source=items)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    items = make_items()
    events = make_events(items)
    pp = pypersonalize.open(tmp_path_factory.mktemp("sem") / "s.duckdb", quiet=True)
    build(pp, items, events)
    pp.create_solution(name="sem", dataset_group="g", recipe="aws-semantic-similarity")
    version = pp.create_solution_version(solution="sem")["solutionVersionArn"]
    pp.create_campaign(name="sem-live", solution_version=version)
    yield pp, items, events, version
    pp.close()


def python_list(pp, campaign: str, item: str, n: int = 500) -> list[tuple[str, float]]:
    out = pp.get_recommendations(campaign=campaign, item_id=item, num_results=n)["itemList"]
    return [(r["itemId"], r["score"]) for r in out]


def sql_list(pp, campaign: str, item: str, n: int = 500) -> list[tuple[str, float]]:
    return [(i, s) for _r, i, s in pp.con.execute(
        "SELECT * FROM pp_recommend($e, item_id := $i, n := $n)", {"e": campaign, "i": item, "n": n}).fetchall()]


def own_part(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> list[tuple[str, float]]:
    return got[:len(expected)]


def assert_lists(got, expected):
    assert [i for i, _s in got] == [i for i, _s in expected]
    np.testing.assert_allclose([s for _i, s in got], [s for _i, s in expected], rtol=1e-9)


def test_rare_words_make_nearest_neighbours(env):
    pp, *_ = env
    for a, b in (("r1", "r2"), ("r2", "r1"), ("r3", "r4"), ("r4", "r3")):
        assert python_list(pp, "sem-live", a)[0][0] == b
    # and a themed item's nearest are of its theme
    top = [i for i, _s in python_list(pp, "sem-live", "m00", 5)]
    assert all(i.startswith("m") and int(i[1:]) % 4 == 0 for i in top), top


def test_lists_equal_the_definition_in_python_and_sql(env):
    pp, items, events, _v = env
    vectors = reference_vectors(items)
    fresh, pop = reference_factors(items, events)
    for query in ("m00", "m03", "m17", "r1", "r3"):
        expected = reference_list(vectors, fresh, pop, query)
        assert expected
        py = python_list(pp, "sem-live", query)
        assert_lists(own_part(py, expected), expected)
        assert_lists(sql_list(pp, "sem-live", query), py)


def test_the_stored_factors_are_the_definition(env):
    pp, items, events, version = env
    fresh, pop = reference_factors(items, events)
    rows = pp.con.execute("SELECT item, freshness, popularity FROM pypersonalize.semantic_item_factors "
                          "WHERE version_arn = $v", {"v": version}).fetchall()
    assert len(rows) == len(items)
    for item, f, p in rows:
        assert f == pytest.approx(fresh[item], abs=1e-12) and p == pytest.approx(pop[item], abs=1e-12)


@pytest.mark.parametrize("factor", ["FRESHNESS", "POPULARITY"])
def test_ranking_influence_moves_items_monotonically(env, factor):
    pp, items, events, version = env
    vectors = reference_vectors(items)
    fresh, pop = reference_factors(items, events)
    value = fresh if factor == "FRESHNESS" else pop
    query = "m00"
    orders = []
    for k, weight in enumerate((0.0, 0.2, 0.6, 1.0)):
        name = f"inf-{factor.lower()}-{k}"
        pp.create_campaign(name=name, solution_version=version,
                           campaign_config={"rankingInfluence": {factor: weight}})
        f, p = (weight, 0.0) if factor == "FRESHNESS" else (0.0, weight)
        expected = reference_list(vectors, fresh, pop, query, f, p)
        py = python_list(pp, name, query)
        assert_lists(own_part(py, expected), expected)
        assert_lists(sql_list(pp, name, query), py)
        orders.append([i for i, _s in expected])
    # raising the weight never moves a less fresh (popular) item above a fresher one it was below
    for before, after in zip(orders, orders[1:]):
        pos_b = {i: k for k, i in enumerate(before)}
        pos_a = {i: k for k, i in enumerate(after)}
        for i in before:
            for j in before:
                if value[i] > value[j] and pos_b[i] < pos_b[j]:
                    assert pos_a[i] < pos_a[j], (i, j)
    assert orders[0] != orders[-1]
    # the mean factor of the top 5 rises with the weight
    means = [np.mean([value[i] for i in order[:5]]) for order in orders]
    assert means[-1] > means[0]


def test_update_campaign_changes_the_influence(env):
    pp, items, events, version = env
    pp.create_campaign(name="inf-upd", solution_version=version)
    plain = python_list(pp, "inf-upd", "m01")
    pp.update_campaign("inf-upd", campaign_config={"rankingInfluence": {"FRESHNESS": 1.0, "POPULARITY": 0.5}})
    moved = python_list(pp, "inf-upd", "m01")
    expected = reference_list(reference_vectors(items), *reference_factors(items, events), "m01", 1.0, 0.5)
    assert moved != plain
    assert_lists(own_part(moved, expected), expected)
    assert_lists(sql_list(pp, "inf-upd", "m01"), moved)


def test_influence_is_refused_out_of_range_and_on_other_recipes(env):
    pp, _items, _events, version = env
    with pytest.raises(InvalidInput, match="within"):
        pp.create_campaign(name="bad", solution_version=version, campaign_config={"rankingInfluence": {"FRESHNESS": 2}})
    with pytest.raises(InvalidInput, match="no factor"):
        pp.create_campaign(name="bad", solution_version=version, campaign_config={"rankingInfluence": {"AGE": 1}})
    pp.create_solution(name="sims", dataset_group="g", recipe="aws-sims")
    sims = pp.create_solution_version(solution="sims")["solutionVersionArn"]
    with pytest.raises(InvalidInput, match="not supported"):
        pp.create_campaign(name="bad", solution_version=sims, campaign_config={"rankingInfluence": {"FRESHNESS": 1}})


def test_unknown_item_gets_the_popular_items(env):
    pp, _items, events, _v = env
    users = events.groupby("ITEM_ID").USER_ID.nunique()
    expected = sorted(users.items(), key=lambda kv: (-kv[1], kv[0]))
    got = [i for i, _s in python_list(pp, "sem-live", "no-such-item")]
    assert got == [i for i, _n in expected]
    assert [i for i, _s in sql_list(pp, "sem-live", "no-such-item")] == got


@pytest.mark.parametrize("schema, message", [
    (False, "needs an Items dataset"),
    (items_schema(title=False), "itemName"),
    (items_schema(textual=False), "textual"),
])
def test_training_refuses_a_group_without_the_text(tmp_path, schema, message):
    items = make_items()
    with pypersonalize.open(tmp_path / "r.duckdb", quiet=True) as pp:
        build(pp, items, make_events(items), schema=schema)
        pp.create_solution(name="sem", dataset_group="g", recipe="aws-semantic-similarity")
        with pytest.raises(InvalidInput, match=message):
            pp.create_solution_version(solution="sem")


def test_without_creation_timestamp_freshness_is_zero(tmp_path):
    items = make_items().drop(columns="CREATION_TIMESTAMP")
    with pypersonalize.open(tmp_path / "n.duckdb", quiet=True) as pp:
        build(pp, items, make_events(items), schema=items_schema(created=False))
        pp.create_solution(name="sem", dataset_group="g", recipe="aws-semantic-similarity")
        version = pp.create_solution_version(solution="sem")["solutionVersionArn"]
        assert pp.con.execute("SELECT max(freshness) FROM pypersonalize.semantic_item_factors "
                              "WHERE version_arn = $v", {"v": version}).fetchall() == [(0.0,)]


def test_max_related_items_caps_the_lists(tmp_path):
    items = make_items()
    with pypersonalize.open(tmp_path / "c.duckdb", quiet=True) as pp:
        build(pp, items, make_events(items))
        pp.create_solution(name="sem", dataset_group="g", recipe="aws-semantic-similarity",
                           solution_config={"featureTransformationParameters": {"max_related_items": "3"}})
        version = pp.create_solution_version(solution="sem")["solutionVersionArn"]
        counts = pp.con.execute("SELECT max(c) FROM (SELECT count(*) AS c FROM pypersonalize.semantic_related "
                                "WHERE version_arn = $v GROUP BY item)", {"v": version}).fetchall()
        assert counts == [(3,)]


# -- itemName in schemas ----------------------------------------------------------------


def test_item_name_is_parsed_and_kept(tmp_path):
    parsed = parse_schema(items_schema())
    assert [f.name for f in parsed.fields if f.item_name] == ["TITLE"]
    assert parsed.field("TITLE").to_avro()["itemName"] is True
    with pypersonalize.open(tmp_path / "k.duckdb", quiet=True) as pp:
        pp.create_schema(name="items", schema=items_schema())
        assert '"itemName": true' in pp.describe_schema("items")["schema"]["schema"]


def _with(field: dict, name: str = "Items", extra: tuple = ()) -> dict:
    base = [{"name": "ITEM_ID", "type": "string"}] if name == "Items" else \
        [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
         {"name": "TIMESTAMP", "type": "long"}] if name == "Interactions" else [{"name": "USER_ID", "type": "string"}]
    return {"type": "record", "name": name, "fields": base + [field, *extra], "version": "1.0"}


@pytest.mark.parametrize("schema, message", [
    (_with({"name": "TITLE", "type": "string", "itemName": True}, "Users"), "only in an Items schema"),
    (_with({"name": "TITLE", "type": "string", "itemName": True}, "Interactions"), "only in an Items schema"),
    (_with({"name": "TITLE", "type": "int", "itemName": True}), 'only a "string" field'),
    (_with({"name": "TITLE", "type": "string", "itemName": "yes"}), "true or false"),
    (_with({"name": "TITLE", "type": "string", "itemName": True, "textual": True}), "cannot also be textual"),
    (_with({"name": "TITLE", "type": "string", "itemName": True, "categorical": True}), "cannot also be categorical"),
    (_with({"name": "TITLE", "type": "string", "itemName": True},
           extra=({"name": "NAME2", "type": "string", "itemName": True},)), "only one field"),
    ({"type": "record", "name": "Items", "version": "1.0",
      "fields": [{"name": "ITEM_ID", "type": "string", "itemName": True}, {"name": "X", "type": "string"}]},
     "ITEM_ID cannot be the itemName"),
])
def test_item_name_refused_elsewhere(schema, message):
    with pytest.raises(SchemaError, match=message):
        parse_schema(schema)


def test_influence_given_as_strings_reads_as_numbers(env):
    """Personalize's SDKs send numbers, but the string form is accepted like other settings;
    Python and SQL read it alike."""
    pp, items, events, version = env
    pp.create_campaign(name="inf-str", solution_version=version,
                       campaign_config={"rankingInfluence": {"POPULARITY": "0.7", "FRESHNESS": "0.1"}})
    expected = reference_list(reference_vectors(items), *reference_factors(items, events), "m02", 0.1, 0.7)
    py = python_list(pp, "inf-str", "m02")
    assert_lists(own_part(py, expected), expected)
    assert_lists(sql_list(pp, "inf-str", "m02"), py)


def test_fields_named_like_the_recipes_internal_names(tmp_path):
    """The title field named BODY, the description TITLE, and more fields named like the
    columns and aliases of the recipe's SQL: the lists are those of the plain names."""
    items = make_items()
    events = make_events(items)
    odd = items.rename(columns={"TITLE": "BODY", "DESCRIPTION": "TITLE"})
    extra = ("ORD", "ITEM", "CREATED", "TOKEN", "WEIGHT", "RELATED", "SCORE", "FRESHNESS", "POPULARITY", "USERS")
    for name in extra:
        odd[name] = "x"
    schema = {"type": "record", "name": "Items", "namespace": NS, "version": "1.0", "fields": [
        {"name": "ITEM_ID", "type": "string"}, {"name": "BODY", "type": ["null", "string"], "itemName": True},
        {"name": "TITLE", "type": ["null", "string"], "textual": True},
        {"name": "CREATION_TIMESTAMP", "type": "long"}] + [{"name": n, "type": "string"} for n in extra]}
    with pypersonalize.open(tmp_path / "names.duckdb", quiet=True) as pp:
        build(pp, items, events, group="plain")
        build(pp, odd, events, group="odd", schema=schema)
        for group in ("plain", "odd"):
            pp.create_solution(name=group, dataset_group=group, recipe="aws-semantic-similarity")
            pp.create_campaign(name=group, solution_version=pp.create_solution_version(group)["solutionVersionArn"],
                               campaign_config={"rankingInfluence": {"FRESHNESS": 0.3, "POPULARITY": 0.2}})
        for query in ("m00", "m05", "r2"):
            assert python_list(pp, "odd", query) == python_list(pp, "plain", query)
            assert sql_list(pp, "odd", query) == sql_list(pp, "plain", query)
