"""PutItems / PutUsers: upserts checked as an import checks, one transaction per call, and
seen by filters on the next request. Expectations come from the shipped CSVs read by pandas."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import pypersonalize
from tests.conftest import DOMAIN_DIRS, build_sample_group, table_digest

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = tmp_path_factory.mktemp("puts") / "puts.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_recommender(name="top", dataset_group="movies", use_case="Most popular",
                              recommender_config={"enableMetadataWithRecommendations": True})
        pp.create_filter(name="comedy", dataset_group="movies",
                         filter_expression='INCLUDE ItemID WHERE Items.GENRES IN ("Comedy")')
        pp.create_filter(name="same-plan", dataset_group="movies",
                         filter_expression="INCLUDE ItemID WHERE Items.CONTENT_CLASSIFICATION IN ($plan)")
    return path


@pytest.fixture
def pp(served, tmp_path):
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(Path(served).read_bytes())
    with pypersonalize.open(copy, quiet=True) as project:
        yield project


def _genres(pp) -> dict[str, list[str]]:
    return {i: g for i, g in pp.sql("SELECT ITEM_ID, GENRES FROM movies.items").fetchall()}


def test_put_items_adds_and_replaces_rows_as_pandas_expects(pp):
    items = pd.read_csv(VOD / "items.csv", dtype=str, keep_default_na=False)
    pp.put_items("movies-items", [
        {"itemId": "m1", "properties": json.dumps({"genres": "Horror|Comedy", "creationTimestamp": 1700000000})},
        {"itemId": "m-new", "properties": {"GENRES": "Drama", "creation_timestamp": "1700000001",
                                           "duration": 12.5}},
    ])
    got = pp.sql("SELECT ITEM_ID, GENRES, CREATION_TIMESTAMP, DURATION, PRODUCT_DESCRIPTION "
                 "FROM movies.items ORDER BY ITEM_ID").fetchall()
    want = {r.ITEM_ID: (r.ITEM_ID, r.GENRES.split("|"), int(r.CREATION_TIMESTAMP),
                        float(r.DURATION) if r.DURATION else None, r.PRODUCT_DESCRIPTION or None)
            for r in items.itertuples()}
    # a replaced row keeps none of its old values: fields not given are empty
    want["m1"] = ("m1", ["Horror", "Comedy"], 1700000000, None, None)
    want["m-new"] = ("m-new", ["Drama"], 1700000001, 12.5, None)
    assert got == sorted(want.values())
    assert pp.sql("SELECT count(*) FROM movies.item_ids WHERE id = 'm-new'").fetchall() == [(1,)]


def test_last_record_of_an_id_wins(pp):
    pp.put_items("movies-items", [
        {"itemId": "m2", "properties": '{"genres": "Action", "creationTimestamp": 1}'},
        {"itemId": "m2", "properties": '{"genres": "Western", "creationTimestamp": 2}'},
    ])
    assert pp.sql("SELECT GENRES, CREATION_TIMESTAMP FROM movies.items WHERE ITEM_ID = 'm2'").fetchall() \
        == [(["Western"], 2)]


def test_filters_see_new_item_metadata_on_the_next_request(pp):
    # the whole ranking (the sample catalogue is under 500 items), then the filter's first 50
    plain = [i["itemId"] for i in pp.get_recommendations(recommender="top", user_id="u1",
                                                         num_results=500)["itemList"]]
    before = [i["itemId"] for i in pp.get_recommendations(recommender="top", user_id="u1", num_results=50,
                                                          filter="comedy")["itemList"]]
    genres = _genres(pp)
    assert before == [i for i in plain if "Comedy" in genres[i]][:50]
    dropped = before[0]
    added = next(i for i in plain[:20] if "Comedy" not in genres[i])
    pp.put_items("movies-items", [
        {"itemId": dropped, "properties": json.dumps({"genres": "Horror", "creationTimestamp": 1})},
        {"itemId": added, "properties": json.dumps({"genres": "Comedy", "creationTimestamp": 1})},
    ])
    genres = _genres(pp)
    after = [i["itemId"] for i in pp.get_recommendations(recommender="top", user_id="u1", num_results=50,
                                                         filter="comedy")["itemList"]]
    assert dropped not in after and added in after
    assert after == [i for i in plain if "Comedy" in genres[i]][:50]


def test_metadata_columns_show_the_new_value(pp):
    top = pp.get_recommendations(recommender="top", user_id="u1", num_results=1)["itemList"][0]["itemId"]
    pp.put_items("movies-items", [{"itemId": top, "properties": '{"genres": "Noir", "creationTimestamp": 5}'}])
    got = pp.get_recommendations(recommender="top", user_id="u1", num_results=1,
                                 metadata_columns={"ITEMS": ["GENRES"]})["itemList"][0]
    assert got["itemId"] == top and got["metadata"] == {"GENRES": "Noir"}


def test_put_users_upserts_and_types_values(pp):
    pp.put_users("movies-users", [{"userId": "u1", "properties": '{"subscriptionModel": "premium", "age": 30}'},
                                  {"userId": "u-new", "properties": {"SUBSCRIPTION_MODEL": "free"}}])
    rows = dict((u, (p, a)) for u, p, a in pp.sql(
        "SELECT USER_ID, SUBSCRIPTION_MODEL, AGE FROM movies.users WHERE USER_ID IN ('u1', 'u-new')").fetchall())
    assert rows == {"u1": (["premium"], 30), "u-new": (["free"], None)}
    users = pd.read_csv(VOD / "users.csv")
    assert pp.sql("SELECT count(*) FROM movies.users").fetchall()[0][0] == len(users) + 1


@pytest.mark.parametrize("call,records,error,match", [
    ("put_items", [{"itemId": "ok", "properties": '{"genres": "A", "creationTimestamp": 1}'},
                   {"itemId": "bad", "properties": '{"genres": "A", "creationTimestamp": "soon"}'}],
     pypersonalize.DataImportError, r"item 2.*CREATION_TIMESTAMP"),
    ("put_items", [{"itemId": "x", "properties": '{"colour": "red"}'}], pypersonalize.InvalidInput,
     r"item 1: property 'colour' is not a field of the Items schema; its properties are genres \(GENRES\)"),
    ("put_items", [{"itemId": "x", "properties": '{"itemId": "y"}'}], pypersonalize.InvalidInput, "reserved"),
    ("put_items", [{"itemId": "x", "properties": '{"genres": "A", "genres": "B"}'}],
     pypersonalize.InvalidInput, "sets GENRES twice"),
    ("put_items", [{"itemId": "x", "properties": '{"genres": NaN}'}], pypersonalize.InvalidInput,
     "not a JSON number"),
    ("put_items", [{"itemId": "x", "properties": "[1]"}], pypersonalize.InvalidInput, "got an array"),
    ("put_items", [{"itemId": "x", "properties": '{"genres": {"a": 1}}'}], pypersonalize.InvalidInput,
     "not an object"),
    ("put_items", [{"itemId": "x", "properties": json.dumps({"productDescription": "w" * 32001})}],
     pypersonalize.InvalidInput, "32000"),
    ("put_items", [{"itemId": "x", "properties": "{}"}] * 11, pypersonalize.InvalidInput, "1 to 10 items"),
    ("put_items", [], pypersonalize.InvalidInput, "1 to 10 items"),
    ("put_items", [{"itemId": "", "properties": "{}"}], pypersonalize.InvalidInput, "must not be empty"),
    ("put_items", [{"itemId": "x" * 257}], pypersonalize.InvalidInput, "256"),
    ("put_items", [{"itemId": "x", "price": 3}], pypersonalize.InvalidInput, "unknown key"),
    ("put_users", [{"userId": "u1", "properties": '{"subscriptionModel": "p", "age": "old"}'}],
     pypersonalize.DataImportError, r"user 1.*AGE"),
    ("put_users", [{"userId": "u1", "properties": json.dumps({"subscriptionModel": "p" * 24001})}],
     pypersonalize.InvalidInput, "24000"),
])
def test_a_bad_record_writes_nothing(pp, call, records, error, match):
    before = {t: table_digest(pp, f"movies.{t}") for t in ("items", "users", "item_ids", "user_ids")}
    with pytest.raises(error, match=match):
        getattr(pp, call)("movies-items" if call == "put_items" else "movies-users", records)
    assert {t: table_digest(pp, f"movies.{t}") for t in before} == before


def test_each_call_writes_its_own_dataset_type(pp):
    with pytest.raises(pypersonalize.InvalidInput, match="use put_users"):
        pp.put_items("movies-users", [{"userId": "u1"}])
    with pytest.raises(pypersonalize.InvalidInput, match="use put_events"):
        pp.put_users("movies-interactions", [{"userId": "u1"}])
    with pytest.raises(pypersonalize.ResourceNotFound):
        pp.put_items("no-such-dataset", [{"itemId": "x"}])


def test_put_items_through_the_boto3_shaped_client(pp):
    events = pypersonalize.client("personalize-events", project=pp)
    arn = pp.describe_dataset("movies-items")["dataset"]["datasetArn"]
    events.put_items(datasetArn=arn, items=[{"itemId": "m3", "properties": '{"genres": "Opera", '
                                                                        '"creationTimestamp": 9}'}])
    assert _genres(pp)["m3"] == ["Opera"]
    with pytest.raises(events.exceptions.InvalidInputException):
        events.put_items(datasetArn=arn, items=[{"itemId": "m3", "properties": "{" * 10}])
