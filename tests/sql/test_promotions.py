"""Promotions: a share of the slots for the best items of another filter, placed at random."""

from __future__ import annotations

import math

import pytest

import pypersonalize
from tests.conftest import build_sample_group


@pytest.fixture(scope="module")
def pp(tmp_path_factory):
    project = pypersonalize.open(tmp_path_factory.mktemp("promo") / "p.duckdb", quiet=True)
    build_sample_group(project, "VIDEO_ON_DEMAND", "movies")
    project.create_recommender(name="top", dataset_group="movies", use_case="Most popular")
    project.create_filter(name="new", dataset_group="movies",
                          filter_expression="INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP > $T")
    project.create_filter(name="comedy", dataset_group="movies",
                          filter_expression='INCLUDE ItemID WHERE Items.GENRES IN ("Comedy")')
    yield project
    project.close()


def _promo(pct=30, t='"1733000000"'):
    return [{"name": "fresh", "percentPromotedItems": pct, "filterArn": "new", "filterValues": {"T": t}}]


def _ranked(pp, where):
    full = [i for (i,) in pp.sql("SELECT item_id FROM pp_recommend('top', user_id := 'u1', n := 100000) "
                                  "ORDER BY rank").fetchall()]
    ok = {i for (i,) in pp.sql(f"SELECT ITEM_ID FROM movies.items WHERE {where}").fetchall()}
    return [i for i in full if i in ok]


@pytest.mark.parametrize("n,pct", [(10, 30), (10, 1), (25, 50), (7, 100), (500, 10)])
def test_promoted_share_order_and_the_rest(pp, n, pct):
    out = pp.get_recommendations(recommender="top", user_id="u1", num_results=n, filter="comedy",
                                 promotions=_promo(pct), seed=3)["itemList"]
    new = _ranked(pp, "CREATION_TIMESTAMP > 1733000000")
    comedy = _ranked(pp, "list_contains(GENRES, 'Comedy')")
    k = min(math.ceil(n * pct / 100), len(new))
    promoted = [r["itemId"] for r in out if r.get("promotionName") == "fresh"]
    others = [r["itemId"] for r in out if "promotionName" not in r]
    assert promoted == new[:k]                                  # best promoted, in their order
    assert others == [i for i in comedy if i not in promoted][:n - k]
    assert len(out) == min(n, k + len([i for i in comedy if i not in promoted]))


def test_placement_is_random_but_reproducible(pp):
    def positions(seed):
        out = pp.get_recommendations(recommender="top", user_id="u1", num_results=20,
                                     promotions=_promo(25), seed=seed)["itemList"]
        return tuple(i for i, r in enumerate(out) if "promotionName" in r)
    assert positions(7) == positions(7)
    assert len({positions(s) for s in range(12)}) > 3


def test_too_few_promotable_items_fill_with_the_rest(pp):
    out = pp.get_recommendations(recommender="top", user_id="u1", num_results=20,
                                 promotions=_promo(50, '"1735600000"'), seed=1)["itemList"]
    promoted = [r for r in out if "promotionName" in r]
    assert len(out) == 20 and len(promoted) == len(_ranked(pp, "CREATION_TIMESTAMP > 1735600000")) < 10


@pytest.mark.parametrize("promotions,words", [
    ([{"name": "a", "percentPromotedItems": 10, "filterArn": "new"}] * 2, "exactly one"),
    ([{"name": "a", "percentPromotedItems": 0, "filterArn": "new"}], "percentPromotedItems"),
    ([{"name": "a", "percentPromotedItems": 101, "filterArn": "new"}], "percentPromotedItems"),
    ([{"name": "a", "percentPromotedItems": 10}], "filterArn"),
    ([{"name": "-bad", "percentPromotedItems": 10, "filterArn": "new"}], "promotion name"),
    ([{"name": "a", "percentPromotedItems": 10, "filterArn": "new"}], r"\$T"),
])
def test_bad_promotions(pp, promotions, words):
    with pytest.raises(pypersonalize.InvalidInput, match=words):
        pp.get_recommendations(recommender="top", user_id="u1", promotions=promotions)
