"""Item metadata in recommendations (Personalize's metadataColumns), against pandas' reading
of the sample Items file."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

import pypersonalize
from pypersonalize.cli import main
from pypersonalize.errors import InvalidInput
from tests.conftest import DOMAIN_DIRS, build_sample_group

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
COLUMNS = ["GENRES", "GENRE_L2", "DURATION", "CREATION_TIMESTAMP", "CONTENT_CLASSIFICATION"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("meta") / "meta.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_recommender(name="top", dataset_group="movies", use_case="Most popular",
                              recommender_config={"enableMetadataWithRecommendations": True})
        pp.create_recommender(name="plain", dataset_group="movies", use_case="Most popular")
        pp.create_solution(name="sims", dataset_group="movies", recipe="aws-sims",
                           hyperparameters={"min_cointeraction_count": "2"})
        v = pp.create_solution_version("sims")["solutionVersionArn"]
        pp.create_campaign(name="related", solution_version=v,
                           campaign_config={"enableMetadataWithRecommendations": True})
        pp.create_solution(name="up", dataset_group="movies", recipe="aws-user-personalization")
        v = pp.create_solution_version("up")["solutionVersionArn"]
        pp.create_campaign(name="up", solution_version=v,
                           campaign_config={"enableMetadataWithRecommendations": True})
    return path


def _expected(item_id: str, columns) -> dict:
    raw = pd.read_csv(VOD / "items.csv", dtype=str, keep_default_na=False).set_index("ITEM_ID")
    if item_id not in raw.index:
        return {}
    row = raw.loc[item_id]
    out = {}
    for c in columns:
        value = row[c]
        if value == "":
            continue        # NULL: left out of the map
        if c == "DURATION":
            value = repr(float(value))
        out[c] = value
    return out


def test_metadata_matches_the_items_file(served):
    with pypersonalize.open(served, quiet=True) as pp:
        plain = pp.get_recommendations(recommender="top", user_id="u1", num_results=50)
        out = pp.get_recommendations(recommender="top", user_id="u1", num_results=50,
                                     metadata_columns={"ITEMS": COLUMNS})
    assert [(i["itemId"], i["score"]) for i in out["itemList"]] == \
        [(i["itemId"], i["score"]) for i in plain["itemList"]]
    assert all("metadata" not in i for i in plain["itemList"])
    for item in out["itemList"]:
        assert item["metadata"] == _expected(item["itemId"], COLUMNS)
    assert any("|" in i["metadata"].get("GENRES", "") for i in out["itemList"])


def test_related_items_and_column_names_case(served):
    with pypersonalize.open(served, quiet=True) as pp:
        out = pp.get_recommendations(campaign="related", item_id="m52", num_results=10,
                                     metadata_columns={"ITEMS": ["genres"]})
    for item in out["itemList"]:       # keys are the Items dataset's spelling of the column
        assert item["metadata"] == _expected(item["itemId"], ["GENRES"])


def test_item_without_items_row_gets_empty_map(served):
    with pypersonalize.open(served, quiet=True) as pp:
        ep = pp.engine.endpoint("recommender", "top")
        items = [{"itemId": "no-such-item", "score": 0.1}, {"itemId": "m1", "score": 0.05}]
        pp.engine.add_metadata(ep, items, ["GENRES"])
    assert items[0]["metadata"] == {} and items[1]["metadata"] == _expected("m1", ["GENRES"])


@pytest.mark.parametrize("kwargs,message", [
    ({"recommender": "plain", "metadata_columns": {"ITEMS": ["GENRES"]}}, "enableMetadataWithRecommendations"),
    ({"recommender": "top", "metadata_columns": {"ITEMS": ["NOPE"]}}, "not a column of the Items"),
    ({"recommender": "top", "metadata_columns": {"ITEMS": ["ITEM_ID"]}}, "not a column of the Items"),
    ({"recommender": "top", "metadata_columns": {"USERS": ["AGE"]}}, '{"ITEMS"'),
    ({"recommender": "top", "metadata_columns": {"ITEMS": []}}, "1 to 10"),
    ({"recommender": "top", "metadata_columns": {"ITEMS": ["GENRES"] * 11}}, "1 to 10"),
    ({"recommender": "top", "metadata_columns": {"ITEMS": "GENRES"}}, "1 to 10"),
    ({"recommender": "top", "metadata_columns": ["GENRES"]}, '{"ITEMS"'),
    ({"recommender": "top", "metadata_columns": {"ITEMS": ["GENRES"]}, "num_results": 51}, "at most 50"),
    ({"recommender": "top", "metadata_columns": {"ITEMS": ['GENRES"; DROP TABLE x; --']}}, "not a column"),
])
def test_bad_requests(served, kwargs, message):
    with pypersonalize.open(served, quiet=True) as pp:
        with pytest.raises(InvalidInput, match=message):
            pp.get_recommendations(user_id="u1", **kwargs)


def test_config_flag_must_be_boolean(tmp_path):
    with pypersonalize.open(tmp_path / "f.duckdb", quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        with pytest.raises(InvalidInput, match="true or false"):
            pp.create_recommender(name="top", dataset_group="movies", use_case="Most popular",
                                  recommender_config={"enableMetadataWithRecommendations": "yes"})


def test_update_campaign_turns_metadata_on(served):
    with pypersonalize.open(served, quiet=True) as pp:
        arn = pp.describe_campaign("related")["campaign"]["campaignArn"]
        pp.update_campaign(arn, campaign_config={"enableMetadataWithRecommendations": False})
        with pytest.raises(InvalidInput, match="enableMetadataWithRecommendations"):
            pp.get_recommendations(campaign="related", item_id="m52", metadata_columns={"ITEMS": ["GENRES"]})
        pp.update_campaign(arn, campaign_config={"enableMetadataWithRecommendations": True})
        out = pp.get_recommendations(campaign="related", item_id="m52", num_results=3,
                                     metadata_columns={"ITEMS": ["GENRES"]})
    assert all("metadata" in i for i in out["itemList"])


def test_cli_metadata_column(served):
    args = ["--db", str(served), "--format", "json", "recommend", "--recommender", "top", "--user-id", "u1",
            "-n", "5", "--metadata-column", "GENRES", "--metadata-column", "DURATION"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    for item in json.loads(out.output)["itemList"]:
        assert item["metadata"] == _expected(item["itemId"], ["GENRES", "DURATION"])
    bad = CliRunner().invoke(main, args[:-4] + ["--metadata-column", "NOPE"])
    assert bad.exit_code == 1 and "not a column" in bad.output


def test_plain_sql_join_gives_the_same(served):
    with pypersonalize.open(served, quiet=True) as pp:
        py = pp.get_recommendations(recommender="top", user_id="u1", num_results=10,
                                    metadata_columns={"ITEMS": ["GENRES"]})
        rows = pp.sql("SELECT r.item_id, array_to_string(i.GENRES, '|') FROM pp_recommend('top', user_id := 'u1', "
                      "n := 10) r LEFT JOIN movies.items i ON i.ITEM_ID = r.item_id ORDER BY r.rank").fetchall()
    assert [(i["itemId"], i["metadata"].get("GENRES")) for i in py["itemList"]] == rows


def test_personalized_ranking_metadata(served):
    ids = ["m1", "m52", "m114", "no-such-item"]
    with pypersonalize.open(served, quiet=True) as pp:
        plain = pp.get_personalized_ranking("up", "u1", ids)
        out = pp.get_personalized_ranking("up", "u1", ids, metadata_columns={"ITEMS": ["GENRES", "DURATION"]})
        with pytest.raises(InvalidInput, match="input_list is at most 50"):
            pp.get_personalized_ranking("up", "u1", [f"m{i}" for i in range(1, 52)],
                                        metadata_columns={"ITEMS": ["GENRES"]})
    assert [i["itemId"] for i in out["personalizedRanking"]] == [i["itemId"] for i in plain["personalizedRanking"]]
    for item in out["personalizedRanking"]:
        assert item["metadata"] == _expected(item["itemId"], ["GENRES", "DURATION"])
