"""The contract of USER_SEGMENTATION recipes, checked on every one the registry holds.

The campaign contract (test_recipes.py) does not apply: these recipes serve no campaign.
Here each is trained on the contract data (two taste clusters) and must: keep its model
rows in its registered tables, keyed by version (and lose them with its solution); make
segments best first with ties by user id, no user twice, at most n, only allowed users;
answer a batch segment job in Personalize's shape; find, for an item liked by one cluster,
that cluster's users first.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pypersonalize import InvalidInput
from pypersonalize.recipes import RECIPES, model_tables
from tests.contract import checks
from tests.contract.checks import Env

SEGMENT_NAMES = [n for n, r in RECIPES.items() if r.segments]
QUERY = {"aws-item-affinity": {"itemId": "i02"},
         "aws-item-attribute-affinity": {"itemAttributes": 'ITEMS.GENRES = "Comedy"'}}


def query_of(name: str) -> dict:
    """The recipe's record for an item of the even users' cluster (i00..i19)."""
    return QUERY.get(name, {"itemId": "i02"})


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = Env(tmp_path_factory.mktemp("segments") / "segments.duckdb", checks.make_data())
    yield env
    env.close()


@pytest.fixture(scope="module")
def versions(env):
    out = {}
    for name in SEGMENT_NAMES:
        solution = name.removeprefix("aws-")
        env.pp.create_solution(name=solution, dataset_group=checks.GROUP, recipe=name)
        out[name] = env.pp.create_solution_version(solution=solution)["solutionVersionArn"]
    return out


def test_there_are_segment_recipes():
    assert {"aws-item-affinity", "aws-item-attribute-affinity"} <= set(SEGMENT_NAMES)
    for name in SEGMENT_NAMES:
        assert hasattr(RECIPES[name].scorer, "segment") and RECIPES[name].model_tables


@pytest.mark.parametrize("name", SEGMENT_NAMES)
def test_model_rows_are_keyed_by_version_and_go_with_the_solution(env, versions, name):
    recipe, pp = RECIPES[name], env.pp
    registry = model_tables()
    for table in recipe.model_tables:
        assert table in registry
        assert pp.sql(f"SELECT count(*) FROM pypersonalize.{table} WHERE version_arn = $v",
                      params={"v": versions[name]}).fetchall()[0][0] > 0
    pp.create_solution(name=f"gone-{recipe.folder}-{len(name)}", dataset_group=checks.GROUP, recipe=name)
    gone = pp.create_solution_version(solution=f"gone-{recipe.folder}-{len(name)}")["solutionVersionArn"]
    pp.delete_solution(f"gone-{recipe.folder}-{len(name)}")
    for table in registry:
        assert pp.sql(f"SELECT count(*) FROM pypersonalize.{table} WHERE version_arn = $v",
                      params={"v": gone}).fetchall()[0][0] == 0
    assert pp.sql(f"SELECT count(*) FROM pypersonalize.{recipe.model_tables[0]} WHERE version_arn = $v",
                  params={"v": versions[name]}).fetchall()[0][0] > 0


@pytest.mark.parametrize("name", SEGMENT_NAMES)
def test_segments_are_ordered_unique_limited_and_filtered(env, versions, name):
    scorer = RECIPES[name].scorer
    model = scorer.load(env.pp.con, versions[name])
    rows = model.item_rows(["i02", "i05"])
    full = scorer.affinity(model, rows)
    for n in (1, 7, len(model.users), len(model.users) + 5):
        users, scores = scorer.segment(model, rows, n)
        assert len(users) == min(n, len(model.users)) and len(set(users.tolist())) == len(users)
        assert np.all(np.diff(scores) <= 0)
        np.testing.assert_allclose(scores, full[users])
        # ties by user id: within equal scores, ids ascend
        names = model.users[users]
        for a, b, sa, sb in zip(names, names[1:], scores, scores[1:]):
            assert sa > sb or a < b
        # nobody left out scores higher than the last one kept
        rest = np.setdiff1d(np.arange(len(model.users)), users)
        if len(rest):
            assert full[rest].max() <= scores[-1]
    allowed = np.zeros(len(model.users), dtype=bool)
    allowed[::3] = True
    users, _ = scorer.segment(model, rows, 10, allowed)
    assert allowed[users].all() and len(users) == 10
    assert len(scorer.segment(model, rows, 10, np.zeros(len(model.users), dtype=bool))[0]) == 0


@pytest.mark.parametrize("name", SEGMENT_NAMES)
def test_a_batch_segment_job_answers_in_personalizes_shape(env, versions, name, tmp_path):
    """An item of the even users' cluster finds that cluster's users; an attribute query
    finds the users whose affinities summed over the matching items (pandas) are highest."""
    record = query_of(name)
    source = tmp_path / "q.jsonl"
    source.write_text(json.dumps(record) + "\n")
    env.pp.create_batch_segment_job(f"shape-{name}", versions[name], source, tmp_path / "out/", num_results=10)
    (line,) = (tmp_path / "out" / "q.jsonl.out").read_text().splitlines()
    got = json.loads(line)
    users = got["output"]["recommendedUsers"]
    assert got["error"] is None and len(users) == 10 and len(set(users)) == 10
    if "itemId" in record:
        assert set(got) == {"input", "output", "error"} and got["input"] == record
        assert all(int(u[1:]) % 2 == 0 for u in users), users          # the even users' cluster
        return
    assert set(got) == {"itemAttributes", "output", "error"} and got["itemAttributes"] == record["itemAttributes"]
    items = env.data.items
    matching = items[items.GENRES.str.split("|").apply(lambda g: "g0" in g or "Comedy" in g)].ITEM_ID
    scorer = RECIPES[name].scorer
    model = scorer.load(env.pp.con, versions[name])
    total = sum(scorer.affinity(model, model.item_rows([i])) for i in matching)
    order = np.lexsort((np.arange(len(total)), -total))[:10]
    assert users == list(model.users[order])


@pytest.mark.parametrize("name", SEGMENT_NAMES)
def test_no_campaign_and_no_batch_inference(env, versions, name, tmp_path):
    with pytest.raises(InvalidInput, match="USER_SEGMENTATION"):
        env.pp.create_campaign(name=f"c-{len(name)}", solution_version=versions[name])
    source = tmp_path / "u.jsonl"
    source.write_text('{"userId": "u01"}\n')
    with pytest.raises(InvalidInput, match="create_batch_segment_job"):
        env.pp.create_batch_inference_job(f"bi-{len(name)}", versions[name], source, tmp_path / "o/")
