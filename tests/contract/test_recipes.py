"""The recipe contract, checked on every recipe of the registry.

Parametrized over ``pypersonalize.recipes.RECIPES`` as it is when the tests are collected,
so a recipe added to the registry gets every check without a line here. One small
generated dataset (60 users, 40 items, 1,500 Watch/Click events, an Items dataset with
GENRES and CREATION_TIMESTAMP) in one project file per module; each recipe is trained once
for the read-only checks, and again for the UPDATE and deletion checks.
"""

from __future__ import annotations

import duckdb
import pytest

from pypersonalize import InvalidInput
from pypersonalize.recipes import RECIPES, get_recipe
from pypersonalize.usecases import USE_CASES
from tests.contract import checks
from tests.contract.checks import ALL, DOMAIN, UNKNOWN_ITEM, UNKNOWN_USER, Env

NAMES = [n for n, r in RECIPES.items() if not r.segments]     # campaigns; segments: test_segment_recipes.py

# Library bugs found by these checks: (test, recipe) -> reason; the test is expected to fail.
KNOWN_BUGS: dict = {}


def recipes(check: str):
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[(check, name)]))
            if (check, name) in KNOWN_BUGS else name for name in NAMES]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = Env(tmp_path_factory.mktemp("contract") / "contract.duckdb", checks.make_data())
    yield env
    env.close()


@pytest.fixture(scope="module")
def update_group(env):
    """A second group with the same data: UPDATE checks import new events into it."""
    return checks.build_group(env.pp, env.data, name="shop2")


# Recipes that relate the Items dataset's items by their metadata: a request about an item of
# the Items dataset may also list the items nobody interacted with (i38, i39).
ITEMS_CATALOGUE: set[str] = {"aws-semantic-similarity", "aws-similar-items"}


def catalogue(env, name: str | None = None, request: dict | None = None) -> set[str]:
    items = set(env.data.items.ITEM_ID)
    if name in ITEMS_CATALOGUE and request is not None and request.get("item_id") in items:
        return items
    return env.data.interacted()       # campaigns train on every event type


def by_catalogue(env, name: str, requests: list[dict]) -> list[tuple[set[str], list[dict]]]:
    """The requests grouped by the catalogue their lists are drawn from."""
    groups: dict[frozenset, list[dict]] = {}
    for request in requests:
        groups.setdefault(frozenset(catalogue(env, name, request)), []).append(request)
    return [(set(k), v) for k, v in groups.items()]


def test_the_data_is_what_the_checks_assume(env):
    df = env.data.interactions
    assert len(df) == 1500 and df.USER_ID.nunique() == 60 and set(df.EVENT_TYPE) == {"Watch", "Click"}
    assert len(env.data.items) == 40 and {"i38", "i39"} - env.data.interacted() == {"i38", "i39"}
    assert (df.EVENT_TYPE == "Watch").sum() >= 1000        # "Because you watched X" trains on Watch only
    assert env.pp.validate_dataset_group(checks.GROUP)["meetsMinimum"]
    assert env.pp.validate_dataset_group(checks.GROUP, event_type="Watch")["meetsMinimum"]


def test_every_recipe_is_checked():
    assert len(NAMES) == len(set(NAMES)) >= 7
    for name in NAMES:
        assert get_recipe(name) is RECIPES[name]


@pytest.mark.parametrize("name", recipes("shape"))
def test_output_shape(env, name):
    dep = env.deploy(RECIPES[name])
    for known, requests in by_catalogue(env, name, checks.requests_for(dep.recipe)):
        checks.check_shape(env.pp, dep, requests, known)


@pytest.mark.parametrize("name", recipes("scores"))
def test_scores_never_increase_down_the_list(env, name):
    dep = env.deploy(RECIPES[name])
    if checks.is_ranking(dep.recipe):
        pytest.skip("no get_recommendations list (see test_personalized_ranking)")
    checks.check_scores_never_increase(env.pp, dep, checks.requests_for(dep.recipe))


@pytest.mark.parametrize("name", recipes("ranking"))
def test_personalized_ranking(env, name):
    dep = env.deploy(RECIPES[name])
    checks.check_ranking(env.pp, dep, env.data)


@pytest.mark.parametrize("name", recipes("ranking_sql"))
def test_plain_sql_refuses_what_python_refuses(env, name):
    """A Personalized-Ranking campaign gives no recommendations from SQL either."""
    dep = env.deploy(RECIPES[name])
    if not checks.is_ranking(dep.recipe):
        assert checks.sql_rows(env.pp.con, dep.campaign, checks.requests_for(dep.recipe)[0], 5)
        return
    with pytest.raises(InvalidInput):
        env.pp.get_recommendations(campaign=dep.campaign, user_id="u01")
    with pytest.raises(duckdb.Error):
        checks.sql_rows(env.pp.con, dep.campaign, {"user_id": "u01"}, 5)


@pytest.mark.parametrize("name", recipes("inputs"))
def test_required_inputs(env, name):
    checks.check_required_inputs(env.pp, env.deploy(RECIPES[name]))


@pytest.mark.parametrize("name", recipes("exclusions"))
def test_excluded_items_are_left_out(env, name):
    """Through the domain recommender of the recipe that excludes events, where there is
    one; and on the campaign, the current item is never in its own list."""
    dep = env.deploy(RECIPES[name])
    for known, requests in by_catalogue(env, name, checks.requests_for(dep.recipe)):
        checks.check_current_item_left_out(env.pp, dep, requests, known)
    cases = [u for u in USE_CASES.values() if u.recipe == name and u.domain == DOMAIN and u.exclude_event_type]
    if not cases and checks.is_ranking(dep.recipe):
        pytest.skip("no list to exclude from and no domain recommender")
    for uc in cases:
        recommender = f"rec-{uc.name}"
        env.pp.create_recommender(name=recommender, dataset_group=checks.GROUP, use_case=uc.name,
                                  recommender_config=checks.NO_EXPLORATION if dep.recipe.explores else None)
        items = catalogue(env, name, {"item_id": "i03"}) if uc.event_type is None else None
        checks.check_recommender_exclusions(env.pp, recommender, uc, env.data, trained_on=items)


@pytest.mark.parametrize("name", recipes("deterministic"))
def test_deterministic(env, name):
    dep = env.deploy(RECIPES[name])
    requests = checks.requests_for(dep.recipe)
    first = checks.answers(env.pp, dep, requests)
    assert checks.answers(env.pp, dep, requests) == first
    env.reopen()                         # a fresh Project (and serving engine) on the same file
    assert checks.answers(env.pp, dep, requests) == first


@pytest.mark.parametrize("name", recipes("python_sql"))
def test_python_equals_sql(env, name):
    dep = env.deploy(RECIPES[name])
    checks.check_python_equals_sql(env.pp, dep, checks.requests_for(dep.recipe))


@pytest.mark.parametrize("name", recipes("cli"))
def test_python_equals_cli_and_a_plain_duckdb_client(env, name):
    dep = env.deploy(RECIPES[name])
    copy = checks.copy_closed(env, f"cli-{dep.solution}.duckdb")
    checks.check_cli_and_plain_sql(env.pp, copy, dep, checks.requests_for(dep.recipe), via_first="subprocess")


@pytest.mark.parametrize("name", recipes("update"))
def test_update_training(env, update_group, name):
    recipe = RECIPES[name]
    dep = checks.deploy(env.pp, recipe, group=update_group, name=f"upd-{env.deploy(recipe).solution}")
    checks.check_update(env.pp, dep, update_group, new_item=f"new-{dep.solution}")


@pytest.mark.parametrize("name", recipes("delete"))
def test_deleting_a_solution_leaves_no_model_rows(env, name):
    keep = env.deploy(RECIPES[name])
    checks.check_delete(env.pp, RECIPES[name], checks.GROUP, f"del-{keep.solution}", keep=keep)


@pytest.mark.parametrize("name", recipes("tables"))
def test_model_tables(env, name):
    checks.check_model_tables(env.pp, env.deploy(RECIPES[name]), env.data)


# -- recipe-specific facts, computed independently -------------------------------------


def test_popularity_count_is_distinct_users_per_item(env):
    dep = env.deploy(RECIPES["aws-popularity-count"])
    expected = env.data.popularity()
    for request in checks.requests_for(dep.recipe):
        item = request.get("item_id")
        want = [(i, s) for i, s in expected if i != item]
        checks.assert_same_ranking(want, checks.python_list(env.pp, request, ALL, campaign=dep.campaign),
                                   f"{request}")
        assert [i for i, _s in checks.python_list(env.pp, request, 7, campaign=dep.campaign)] == \
            [i for i, _s in want[:7]]
    # the "Most popular" recommender counts Watch events only
    env.pp.create_recommender(name="most-popular", dataset_group=checks.GROUP, use_case="aws-vod-most-popular")
    watch = env.data.popularity("Watch")
    assert watch != expected
    got = checks.python_list(env.pp, {"user_id": "u01"}, ALL, recommender="most-popular")
    checks.assert_same_ranking(watch, got, "Most popular")
    assert [i for i, _s in got] == [i for i, _s in watch]


# Recipes with candidates of their own for a user and an item they know nothing about
# (Trending-Now: the same trend for everybody): for the others such a request gets
# exactly the popular items.
COLD_CANDIDATES: set[str] = {"aws-trending-now"}


@pytest.mark.parametrize("name", recipes("cold"))
def test_cold_requests_get_the_popular_items(env, name):
    dep = env.deploy(RECIPES[name])
    if checks.is_ranking(dep.recipe) or name in COLD_CANDIDATES:
        pytest.skip("no popular fallback to check")
    request = {"user_id": UNKNOWN_USER, "item_id": UNKNOWN_ITEM}
    expected = env.data.popularity()
    checks.assert_same_ranking(expected, checks.python_list(env.pp, request, ALL, campaign=dep.campaign), "Python")
    checks.assert_same_ranking(expected, checks.sql_list(env.pp.con, dep.campaign, request, ALL), "SQL")
