"""Similar-Items (aws-similar-items) against independent computations of its definition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pypersonalize
from pypersonalize.errors import InvalidInput
from tests.conftest import build_sample_group

INTERACTIONS = {"type": "record", "name": "Interactions", "fields": [
    {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}
ITEMS = {"type": "record", "name": "Items", "fields": [
    {"name": "ITEM_ID", "type": "string"},
    {"name": "GENRES", "type": ["null", "string"], "categorical": True},
    {"name": "PRICE", "type": ["null", "double"]},
    {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True}], "version": "1.0"}


def patterned_events(patterns: int = 20, copies: int = 5, items: int = 40, seed: int = 0) -> pd.DataFrame:
    """``patterns`` distinct item sets, each the history of ``copies`` users: the user x item
    matrix has rank <= patterns, below item_id_hidden_dim, so the SVD is exact."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(patterns):
        chosen = rng.choice(items, size=int(rng.integers(8, 16)), replace=False)
        for c in range(copies):
            for k, item in enumerate(chosen):
                rows.append((f"u{p}_{c}", f"i{item:02d}", 1_600_000_000 + 60 * (p * copies + c) + k))
    return pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])


def build(pp, events: pd.DataFrame, items: pd.DataFrame | None = None) -> None:
    pp.create_dataset_group(name="g")
    pp.create_schema(name="i", schema=INTERACTIONS)
    pp.create_dataset(name="i", dataset_group="g", dataset_type="Interactions", schema="i")
    pp.create_dataset_import_job(dataset="i", data_source=events)
    if items is not None:
        pp.create_schema(name="m", schema=ITEMS)
        pp.create_dataset(name="m", dataset_group="g", dataset_type="Items", schema="m")
        pp.create_dataset_import_job(dataset="m", data_source=items)


def train(pp, name: str = "s", **hyperparameters) -> str:
    pp.create_solution(name=name, dataset_group="g", recipe="aws-similar-items",
                       hyperparameters={k: str(v) for k, v in hyperparameters.items()} or None)
    return pp.create_solution_version(name)["solutionVersionArn"]


def related(pp, version: str) -> pd.DataFrame:
    return pp.con.execute("SELECT item, related, score, rank FROM pypersonalize.related_items "
                          "WHERE version_arn = $v ORDER BY item, rank", {"v": version}).df()


def reference(events: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Behaviour only (no Items): cos(i, j) of the user sets times (1 + n_j) ** (0.5 - alpha)."""
    pairs = events[["USER_ID", "ITEM_ID"]].drop_duplicates()
    n = pairs.groupby("ITEM_ID").size()
    both = pairs.merge(pairs, on="USER_ID")
    both = both[both.ITEM_ID_x != both.ITEM_ID_y]
    cooc = both.groupby(["ITEM_ID_x", "ITEM_ID_y"]).size().rename("cooc").reset_index()
    ni, nj = n.loc[cooc.ITEM_ID_x].to_numpy(), n.loc[cooc.ITEM_ID_y].to_numpy()
    cooc["score"] = cooc.cooc / np.sqrt(ni * nj) * (1.0 + nj) ** (0.5 - alpha)
    cooc = cooc.sort_values(["ITEM_ID_x", "score", "ITEM_ID_y"], ascending=[True, False, True])
    cooc["rank"] = cooc.groupby("ITEM_ID_x").cumcount() + 1
    return cooc.rename(columns={"ITEM_ID_x": "item", "ITEM_ID_y": "related"})[["item", "related", "score", "rank"]]


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_behaviour_is_the_popularity_discounted_cosine(project, alpha):
    events = patterned_events()
    build(project, events)
    got = related(project, train(project, popularity_discount_factor=alpha))
    want = reference(events, alpha)
    assert len(got) == len(want)
    merged = got.merge(want, on=["item", "related"], suffixes=("", "_want"))
    assert len(merged) == len(want)
    np.testing.assert_allclose(merged.score, merged.score_want, rtol=1e-9, atol=1e-12)
    # the order is the reference's wherever two scores are not within rounding of each other
    for item, rows in got.groupby("item"):
        assert (np.diff(rows.score.to_numpy()) <= 1e-9).all(), item


def test_popularity_discount_moves_popular_items(project):
    events = patterned_events()
    build(project, events)
    counts = events.groupby("ITEM_ID").USER_ID.nunique()
    lean_in = related(project, train(project, "a0", popularity_discount_factor=0.0))
    lean_out = related(project, train(project, "a1", popularity_discount_factor=1.0))
    top = lambda frame: frame[frame["rank"] <= 5].related.map(counts).mean()  # noqa: E731
    assert top(lean_in) > top(lean_out)


def catalogue(cold: dict[str, str]) -> pd.DataFrame:
    """Items i00..i39 with genres/words/prices by item group; each cold id copies a warm item."""
    rows = []
    for k in range(40):
        group = k % 4
        rows.append({"ITEM_ID": f"i{k:02d}", "GENRES": f"g{group}|x{k % 3}", "PRICE": float(k),
                     "DESCRIPTION": f"story of {'dragons knights castles'.split()[group % 3]} number{k}"})
    by_id = {r["ITEM_ID"]: r for r in rows}
    for new, like in cold.items():
        rows.append({**by_id[like], "ITEM_ID": new})
    return pd.DataFrame(rows)


def test_cold_items_relate_through_their_metadata(project):
    events = patterned_events()
    cold = {"new1": "i05", "new2": "i18"}
    build(project, events, catalogue(cold))
    version = train(project, metadata_weight=0.5)
    project.create_campaign(name="c", solution_version=version)
    for new, twin in cold.items():
        listed = [r["itemId"] for r in project.get_recommendations(campaign="c", item_id=new, num_results=5)["itemList"]]
        assert listed[0] == twin, (new, listed)
    # and a cold item is a related item of its warm twin
    listed = [r["itemId"] for r in project.get_recommendations(campaign="c", item_id="i05", num_results=5)["itemList"]]
    assert "new1" in listed


def test_without_items_a_never_seen_item_gets_popular_items(project):
    build(project, patterned_events())
    version = train(project)
    project.create_campaign(name="c", solution_version=version)
    got = [r["itemId"] for r in project.get_recommendations(campaign="c", item_id="nobody-knows", num_results=10)["itemList"]]
    popular = project.con.execute("SELECT item FROM pypersonalize.popular_items WHERE version_arn = $v "
                                  "ORDER BY rank LIMIT 10", {"v": version}).fetchall()
    assert got == [i for (i,) in popular]


def test_numerical_fields_become_decile_tokens(project):
    build(project, patterned_events(), catalogue({}))
    version = train(project)
    tokens = project.con.execute("SELECT item, token FROM pypersonalize.item_tokens WHERE version_arn = $v "
                                 "AND token LIKE 'PRICE#%'", {"v": version}).df()
    items = catalogue({}).sort_values(["PRICE", "ITEM_ID"]).reset_index(drop=True)
    size, extra = divmod(len(items), 10)
    bounds = np.cumsum([size + (b < extra) for b in range(10)])
    want = {item: f"PRICE#{int(np.searchsorted(bounds, k, side='right')) + 1}" for k, item in enumerate(items.ITEM_ID)}
    assert dict(zip(tokens.item, tokens.token)) == want


@pytest.mark.parametrize("setting", [{"item_id_hidden_dim": 30}, {"item_metadata_hidden_dim": 30},
                                     {"metadata_weight": 0.9}, {"max_related_items": 3}])
def test_every_hyperparameter_changes_the_lists(project, setting):
    events = patterned_events(patterns=60, copies=2, items=40, seed=3)      # rank 40 > 30
    build(project, events, catalogue({}))
    base = related(project, train(project, "base"))
    other = related(project, train(project, "other", **setting))
    assert not base[["item", "related"]].equals(other[["item", "related"]]) or \
        not np.allclose(base.score, other.score)


def test_hyperparameter_ranges_are_personalizes(project):
    build(project, patterned_events())
    for name, bad in (("item_id_hidden_dim", 29), ("item_metadata_hidden_dim", 201), ("popularity_discount_factor", 1.5)):
        with pytest.raises(InvalidInput, match=name):
            project.create_solution(name=f"bad-{name}", dataset_group="g", recipe="aws-similar-items",
                                    hyperparameters={name: str(bad)})


def test_more_like_x_leaves_out_watched_videos(tmp_path):
    with pypersonalize.open(tmp_path / "p.duckdb", quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_recommender(name="more", dataset_group="movies", use_case="More like X")
        watched = pp.sql("SELECT USER_ID, list(DISTINCT ITEM_ID) FROM movies.interactions "
                         "WHERE EVENT_TYPE = 'Watch' GROUP BY USER_ID ORDER BY count(*) DESC LIMIT 1").fetchall()
        user, items = watched[0]
        got = [r["itemId"] for r in pp.get_recommendations(recommender="more", user_id=user, item_id=items[0],
                                                            num_results=25)["itemList"]]
        assert len(got) == 25 and not set(got) & set(items)
        with pytest.raises(InvalidInput, match="user_id"):
            pp.get_recommendations(recommender="more", item_id=items[0])


def test_more_like_x_needs_items(tmp_path):
    with pypersonalize.open(tmp_path / "p.duckdb", quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies", types=("Interactions",))
        with pytest.raises(InvalidInput, match="Items dataset"):
            pp.create_recommender(name="more", dataset_group="movies", use_case="aws-vod-more-like-x")
        assert pp.list_recommenders()["recommenders"] == []


def test_list_recipes_holds_every_name(project):
    listed = project.list_recipes()["recipes"]
    names = {r["name"] for r in listed}
    assert {"aws-similar-items", "aws-semantic-similarity", "aws-trending-now", "aws-user-personalization-v2",
            "aws-personalized-ranking-v2"} <= names
    assert len(names) == len(listed)
    v2 = project.describe_recipe("arn:aws:personalize:::recipe/aws-user-personalization-v2")["recipe"]
    assert v2["name"] == "aws-user-personalization-v2" and v2["hyperparameters"]


def independent_tokens(row: pd.Series, deciles: dict) -> set[str]:
    """The tokens of sql/recipes/_item_tokens.sql, from the catalogue frame itself."""
    import re
    out = {f"GENRES={g.strip().lower()}" for g in row.GENRES.split("|") if g.strip()}
    out |= {f"DESCRIPTION~{w}" for w in re.findall(r"[a-z0-9]{3,}", row.DESCRIPTION.lower())}
    return out | {deciles[row.ITEM_ID]}


def test_explanations_name_the_shared_tokens_and_the_true_cooccurrence(project):
    events = patterned_events()
    cold = {"new1": "i05"}
    items = catalogue(cold)
    build(project, events, items)
    project.create_campaign(name="c", solution_version=train(project))
    tokens = project.con.execute("SELECT item, token FROM pypersonalize.item_tokens WHERE token LIKE 'PRICE#%'").df()
    deciles = dict(zip(tokens.item, tokens.token))
    by_id = {r.ITEM_ID: independent_tokens(r, deciles) for r in items.itertuples()}
    users = events.groupby("ITEM_ID").USER_ID.agg(set).to_dict()
    checked = 0
    for query in ("i05", "new1", "i18"):
        got = project.get_recommendations(campaign="c", item_id=query, num_results=10, explain=True)["itemList"]
        for entry in got:
            why = entry["explanation"]
            if why["kind"] == "popular":
                continue
            assert why["kind"] == "similar-items"
            shared = by_id[query] & by_id[entry["itemId"]]
            listed = [t["token"] for t in why["matchingTokens"]]
            assert set(listed) <= shared and len(listed) == min(5, len(shared))
            assert [t["value"] for t in why["matchingTokens"]] == sorted((t["value"] for t in why["matchingTokens"]),
                                                                        reverse=True)
            assert why["coOccurrence"] == len(users.get(query, set()) & users.get(entry["itemId"], set()))
            checked += 1
    assert checked >= 20
