"""A recipe that only this test registers: the contract is enough to add one.

"Least popular first" (RecipeType.USER_PERSONALIZATION): every item of the catalogue (Items
and training events) scored 1 / (1 + its distinct users), the same list for everybody. Its
module is this file (train, ToyScorer), its SQL folder is written into tmp_path
(00_tables.sql, a training template, candidates.sql) and the one hook into the library is
``pypersonalize.recipes.register``. It must train, serve from Python, the CLI and plain SQL
with the numbers computed here with pandas, and pass the checks every registered recipe
passes (tests/contract/checks.py). The registry is restored after each test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pypersonalize
from pypersonalize import InvalidInput, sqlkit
from pypersonalize.recipes import (
    RECIPES,
    Ranked,
    Recipe,
    RecipeType,
    TrainContext,
    model_tables,
    register,
    unregister,
)
from pypersonalize.recipes.popularity import write_popular_items
from pypersonalize.sqlkit import render
from tests.contract import checks
from tests.contract.checks import ALL, Env

TOY = "toy-least-popular"
FOLDER = "toy"

TABLES_SQL = """\
-- The toy recipe's model table: every catalogue item's score and rank, per version.
CREATE TABLE IF NOT EXISTS pypersonalize.toy_scores (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    score       DOUBLE NOT NULL,
    rank        INTEGER NOT NULL
);
"""

TRAIN_SQL = """\
-- Least popular first: score = 1 / (1 + distinct users of the item in the training events),
-- over the Items dataset and every item with events; ties by item id.
-- vars: schema_name, has_event_type, has_event_value, has_items
-- params: $version, $event_type, $threshold
{% from "recipes/_events.sql" import events %}
INSERT INTO pypersonalize.toy_scores
WITH events AS (
    {{ events(schema_name, has_event_type, has_event_value) | indent(4) }}
), catalogue AS (
    SELECT ITEM_ID AS item FROM events
{% if has_items %}
    UNION SELECT ITEM_ID FROM {{ schema_name | ident }}.items
{% endif %}
), counts AS (
    SELECT c.item, count(DISTINCT e.USER_ID) AS users
    FROM catalogue c LEFT JOIN events e ON e.ITEM_ID = c.item
    GROUP BY c.item
)
SELECT $version, item, 1.0 / (1 + users) AS score,
       CAST(row_number() OVER (ORDER BY users, item) AS INTEGER) AS rank
FROM counts
"""

CANDIDATES_SQL = """\
-- The toy's candidates in the plain-SQL pipeline: its scores by rank, for its endpoints only.
{% macro candidates(checked, recipes, endpoint, user_id, item_id, context) -%}
SELECT t.item, t.score, t.rank AS pos
FROM pypersonalize.toy_scores t, {{ checked }} c
WHERE c.recipe IN {{ recipes }} AND t.version_arn = c.version_arn
{%- endmacro %}
"""


def toy_train(ctx: TrainContext) -> dict:
    sql = render(f"recipes/{FOLDER}/10_scores.sql", schema_name=ctx.schema_name,
                 has_event_type=ctx.has_event_type, has_event_value=ctx.has_event_value,
                 has_items="Items" in ctx.schemas)
    ctx.con.execute(sql, {"version": ctx.version_arn, **ctx.event_params()})
    rows = ctx.con.execute("SELECT count(*) FROM pypersonalize.toy_scores WHERE version_arn = $v",
                           {"v": ctx.version_arn}).fetchall()[0][0]
    return {"toyScores": rows, "popularItems": write_popular_items(ctx)}


class ToyScorer:
    """The version's list, the same for every request (all of it: at least ``limit``)."""

    def load(self, con, version_arn: str, vocab):
        rows = con.execute("SELECT item, score FROM pypersonalize.toy_scores WHERE version_arn = $v "
                           "ORDER BY rank", {"v": version_arn}).fetchall()
        return vocab.codes([item for item, _s in rows]), np.array([s for _i, s in rows], dtype=np.float64)

    def recommend(self, model, requests, limit):
        codes, scores = model
        return [Ranked(codes, scores) for _ in requests]


def write_folder(root: Path) -> Path:
    folder = root / FOLDER
    folder.mkdir()
    (folder / "00_tables.sql").write_text(TABLES_SQL)
    (folder / "10_scores.sql").write_text(TRAIN_SQL)
    (folder / "candidates.sql").write_text(CANDIDATES_SQL)
    return folder


def toy_recipe(folder: Path) -> Recipe:
    return Recipe(name=TOY, recipe_type=RecipeType.USER_PERSONALIZATION,
                  description="Least popular first (a test's toy).", folder=FOLDER, train=toy_train,
                  scorer=ToyScorer(), inputs=("user",), updatable=True, sql_dir=folder)


def restore_registry(recipes: dict, folders: dict) -> None:
    """Unregister what the test registered; the registry and SQL folders are as before."""
    for name in [n for n in RECIPES if n not in recipes]:
        unregister(name)
    assert RECIPES == recipes and sqlkit._EXTRA_FOLDERS == folders


@pytest.fixture
def toy(tmp_path):
    saved, folders = dict(RECIPES), dict(sqlkit._EXTRA_FOLDERS)
    try:
        yield register(toy_recipe(write_folder(tmp_path)))
    finally:
        restore_registry(saved, folders)
        assert TOY not in RECIPES and "toy_scores" not in model_tables()


def expected_toy(data: checks.Data) -> list[tuple[str, float]]:
    """Least popular first, from pandas: catalogue = Items and items with events."""
    users = data.interactions.groupby("ITEM_ID").USER_ID.nunique()
    catalogue = sorted(set(data.items.ITEM_ID) | set(data.interactions.ITEM_ID))
    frame = pd.DataFrame({"item": catalogue, "users": [int(users.get(i, 0)) for i in catalogue]})
    frame = frame.sort_values(["users", "item"], kind="stable")
    return [(i, 1.0 / (1 + u)) for i, u in zip(frame["item"], frame["users"])]


def test_a_toy_recipe_is_trainable_servable_and_keeps_the_contract(toy, tmp_path):
    assert RECIPES[TOY] is toy and "toy_scores" in model_tables() and toy.model_tables == ("toy_scores",)
    assert toy.has_sql_candidates and not toy.explores
    env = Env(tmp_path / "toy.duckdb", checks.make_data())      # opened after register: sees the toy
    try:
        pp, data = env.pp, env.data
        assert TOY in {r["name"] for r in pp.list_recipes()["recipes"]}
        described = pp.describe_recipe(TOY)["recipe"]
        assert described["recipeType"] == "USER_PERSONALIZATION"
        assert described["sqlFiles"] == [f"recipes/{FOLDER}/{f}" for f in
                                          ("00_tables.sql", "10_scores.sql", "candidates.sql")]
        dep = env.deploy(toy)
        stats = pp.describe_solution_version(dep.version)["solutionVersion"]["modelStats"]
        assert stats == {"toyScores": 40, "popularItems": len(data.interacted())}

        # the numbers: Python and plain SQL give the pandas list (less the current item)
        expected = expected_toy(data)
        assert expected[0][0] in ("i38", "i39") and expected[0][1] == 1.0
        for request in checks.requests_for(toy):
            want = [(i, s) for i, s in expected if i != request.get("item_id")]
            checks.assert_same_ranking(want, checks.python_list(pp, request, ALL, campaign=dep.campaign),
                                       f"Python {request}")
            checks.assert_same_ranking(want, checks.sql_list(pp.con, dep.campaign, request, ALL), f"SQL {request}")
            assert [i for i, _s in checks.python_list(pp, request, 4, campaign=dep.campaign)] == \
                [i for i, _s in want[:4]]

        # the contract every registered recipe keeps
        catalogue = set(data.items.ITEM_ID) | data.interacted()
        requests = checks.requests_for(toy)
        checks.check_shape(pp, dep, requests, catalogue)
        checks.check_scores_never_increase(pp, dep, requests)
        checks.check_ranking(pp, dep, data)                       # refused: it does not rank lists
        checks.check_required_inputs(pp, dep)
        checks.check_current_item_left_out(pp, dep, requests, catalogue)
        checks.check_python_equals_sql(pp, dep, requests)
        checks.check_model_tables(pp, dep, data)
        # its candidates stay out of other recipes' answers
        for name in ("aws-popularity-count", "aws-sims"):
            other = env.deploy(RECIPES[name])
            checks.check_python_equals_sql(pp, other, checks.requests_for(other.recipe))
            checks.check_shape(pp, other, checks.requests_for(other.recipe)[:2], data.interacted())
        first = checks.answers(pp, dep, requests)
        assert checks.answers(pp, dep, requests) == first
        env.reopen()
        assert checks.answers(env.pp, dep, requests) == first
        # the CLI in this process (a new one would not have the toy registered)
        copy = checks.copy_closed(env, "toy-cli.duckdb")
        checks.check_cli_and_plain_sql(env.pp, copy, dep, requests, via_first="runner")
        pp = env.pp
        checks.check_delete(pp, toy, checks.GROUP, "toy-del", keep=dep)
        upd = checks.build_group(pp, data, name="shop2")
        checks.check_update(pp, checks.deploy(pp, toy, group=upd, name="toy-upd"), upd, new_item="toy-new")
        # everything of the toy's is in its own table
        assert pp.con.execute("SELECT count(DISTINCT version_arn) FROM pypersonalize.toy_scores").fetchall() == [(3,)]
        assert pp.con.execute("SELECT count(*) FROM pypersonalize.related_items WHERE version_arn = $v",
                              {"v": dep.version}).fetchall() == [(0,)]
    finally:
        env.close()


def test_a_project_opened_before_register_does_not_serve_the_toy(tmp_path):
    saved, folders = dict(RECIPES), dict(sqlkit._EXTRA_FOLDERS)
    path = tmp_path / "before.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        checks.build_group(pp, checks.make_data())
        try:
            register(toy_recipe(write_folder(tmp_path)))
            # its model table was never created in this file: training fails, and says so
            pp.create_solution(name="toy", dataset_group=checks.GROUP, recipe=TOY)
            with pytest.raises(pypersonalize.PypersonalizeError, match="toy_scores"):
                pp.create_solution_version(solution="toy")
            # a project opened afterwards has it
            pp.close()
            with pypersonalize.open(path, quiet=True) as fresh:
                dep = checks.deploy(fresh, RECIPES[TOY], name="toy2")
                assert checks.sql_list(fresh.con, dep.campaign, {"user_id": "u01"}, 3) == \
                    checks.python_list(fresh, {"user_id": "u01"}, 3, campaign=dep.campaign)
        finally:
            restore_registry(saved, folders)


def test_other_campaigns_of_a_file_survive_the_toy_being_unregistered(tmp_path):
    """A file that holds a campaign of a recipe this process does not know (registered by
    another program, or no longer) still serves its other campaigns, from Python and SQL."""
    saved, folders = dict(RECIPES), dict(sqlkit._EXTRA_FOLDERS)
    path = tmp_path / "mixed.duckdb"
    data = checks.make_data()
    try:
        register(toy_recipe(write_folder(tmp_path)))
        with pypersonalize.open(path, quiet=True) as pp:
            checks.build_group(pp, data)
            checks.deploy(pp, RECIPES[TOY])
            popular = checks.deploy(pp, RECIPES["aws-popularity-count"])
            before = checks.python_list(pp, {"user_id": "u01"}, 5, campaign=popular.campaign)
    finally:
        restore_registry(saved, folders)
    with pypersonalize.open(path, quiet=True) as pp:
        assert checks.sql_list(pp.con, popular.campaign, {"user_id": "u01"}, 5) == before
        with pytest.raises(InvalidInput):
            pp.get_recommendations(campaign=f"{TOY}-live", user_id="u01")
        assert checks.python_list(pp, {"user_id": "u01"}, 5, campaign=popular.campaign) == before


def test_registering_a_folder_again_serves_its_new_templates(tmp_path):
    """A recipe registered again (a notebook re-running its cell, a second test) from a
    folder with other SQL trains with the new SQL, not templates cached from the first."""
    saved, folders = dict(RECIPES), dict(sqlkit._EXTRA_FOLDERS)
    try:
        (tmp_path / "a").mkdir()
        register(toy_recipe(write_folder(tmp_path / "a")))
        assert "1.0 / (1 + users)" in render(f"recipes/{FOLDER}/10_scores.sql", schema_name="g",
                                             has_event_type=True, has_event_value=False, has_items=True)
        (tmp_path / "b").mkdir()
        second = write_folder(tmp_path / "b")
        (second / "10_scores.sql").write_text(TRAIN_SQL.replace("1.0 / (1 + users)", "2.0 / (2 + users)"))
        register(toy_recipe(second))
        assert "2.0 / (2 + users)" in render(f"recipes/{FOLDER}/10_scores.sql", schema_name="g",
                                             has_event_type=True, has_event_value=False, has_items=True)
    finally:
        restore_registry(saved, folders)

