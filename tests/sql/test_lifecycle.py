"""Dataset groups, schemas, datasets and jobs: names, ARNs, dependencies, reopening."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

import pypersonalize
from tests.conftest import DOMAIN_DIRS, build_sample_group

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]


def test_arns_follow_personalize_and_use_the_configured_region_and_account(tmp_path):
    path = tmp_path / "p.duckdb"
    with pypersonalize.open(path, region="eu-west-1", account_id="123456789012", quiet=True) as pp:
        arn = pp.create_dataset_group(name="shop")["datasetGroupArn"]
        assert arn == "arn:aws:personalize:eu-west-1:123456789012:dataset-group/shop"
        pp.create_schema(name="s", schema=VOD / "users.schema.json")
        pp.create_dataset(name="shop-users", dataset_group=arn, dataset_type="USERS", schema="s")
        ds = pp.describe_dataset("shop-users")["dataset"]
        assert ds["datasetArn"] == "arn:aws:personalize:eu-west-1:123456789012:dataset/shop/USERS"
        assert ds["datasetGroupArn"] == arn and ds["datasetType"] == "USERS"
    # Reopening keeps the settings; a conflicting region is refused.
    with pypersonalize.open(path, quiet=True) as pp:
        assert pp.describe_dataset_group(arn)["datasetGroup"]["name"] == "shop"
    with pytest.raises(pypersonalize.InvalidInput, match="eu-west-1"):
        pypersonalize.open(path, region="us-east-1")


def test_dataset_group_crud_and_response_shapes(project):
    out = project.create_dataset_group(name="movies", domain="video_on_demand")
    assert out == {"datasetGroupArn": out["datasetGroupArn"], "domain": "VIDEO_ON_DEMAND"}
    project.create_dataset_group(name="custom")
    groups = project.list_dataset_groups()["datasetGroups"]
    assert [g["name"] for g in groups] == ["movies", "custom"]
    assert "domain" not in groups[1] and groups[0]["status"] == "ACTIVE"
    desc = project.describe_dataset_group("movies")["datasetGroup"]
    assert set(desc) == {"name", "datasetGroupArn", "status", "domain", "creationDateTime",
                         "lastUpdatedDateTime"}
    project.delete_dataset_group("custom")
    assert [g["name"] for g in project.list_dataset_groups()["datasetGroups"]] == ["movies"]
    with pytest.raises(pypersonalize.ResourceNotFound, match="custom"):
        project.describe_dataset_group("custom")


@pytest.mark.parametrize("name,error", [
    ("", pypersonalize.InvalidInput), ("-lead", pypersonalize.InvalidInput),
    ("has space", pypersonalize.InvalidInput), ("x" * 64, pypersonalize.InvalidInput),
    ('q"uote', pypersonalize.InvalidInput), ("main", pypersonalize.InvalidInput),
    ("pypersonalize", pypersonalize.InvalidInput),
])
def test_bad_dataset_group_names_are_refused(project, name, error):
    with pytest.raises(error):
        project.create_dataset_group(name=name)


def test_names_that_differ_only_in_case_collide(project):
    project.create_dataset_group(name="Shop")
    with pytest.raises(pypersonalize.ResourceAlreadyExists, match="case"):
        project.create_dataset_group(name="shop")
    with pytest.raises(pypersonalize.ResourceAlreadyExists):
        project.create_dataset_group(name="Shop")


def test_unknown_domain_is_refused(project):
    with pytest.raises(pypersonalize.InvalidInput, match="RETAIL"):
        project.create_dataset_group(name="x", domain="RETAIL")


def test_delete_refuses_while_dependents_exist(vod):
    with pytest.raises(pypersonalize.ResourceInUse, match="movies-interactions"):
        vod.delete_dataset_group("movies")
    with pytest.raises(pypersonalize.ResourceInUse, match="movies-items"):
        vod.delete_schema("movies-items")
    jobs = vod.list_dataset_import_jobs(dataset="Items", dataset_group="movies")["datasetImportJobs"]
    assert len(jobs) == 1
    for dtype in ("Interactions", "Items", "Users"):
        vod.delete_dataset(dtype, dataset_group="movies")
    assert vod.list_dataset_import_jobs(dataset_group="movies")["datasetImportJobs"] == []
    vod.delete_schema("movies-items")
    vod.delete_dataset_group("movies")
    tables = vod.sql("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'movies'").fetchall()
    assert tables == [(0,)]


def test_dataset_rules(project):
    project.create_dataset_group(name="movies", domain="VIDEO_ON_DEMAND")
    project.create_dataset_group(name="plain")
    project.create_schema(name="vod-users", schema=VOD / "users.schema.json", domain="VIDEO_ON_DEMAND")
    project.create_schema(name="plain-users", schema=VOD / "users.schema.json")
    with pytest.raises(pypersonalize.InvalidInput, match="VIDEO_ON_DEMAND"):
        project.create_dataset(name="d", dataset_group="plain", dataset_type="Users", schema="vod-users")
    with pytest.raises(pypersonalize.InvalidInput, match="Users, not Items"):
        project.create_dataset(name="d", dataset_group="movies", dataset_type="Items", schema="vod-users")
    project.create_dataset(name="d", dataset_group="movies", dataset_type="users", schema="vod-users")
    with pytest.raises(pypersonalize.ResourceAlreadyExists, match="Users"):
        project.create_dataset(name="d2", dataset_group="movies", dataset_type="Users", schema="vod-users")
    with pytest.raises(pypersonalize.InvalidInput, match="dataset type"):
        project.create_dataset(name="d3", dataset_group="movies", dataset_type="Actions", schema="vod-users")
    with pytest.raises(pypersonalize.ResourceAlreadyExists):
        project.create_schema(name="vod-users", schema=VOD / "users.schema.json")


def test_dataset_tables_are_typed_from_the_schema(vod):
    cols = dict(vod.sql("SELECT column_name, data_type FROM duckdb_columns() "
                        "WHERE schema_name = 'movies' AND table_name = 'items'").fetchall())
    assert cols == {"ITEM_ID": "VARCHAR", "GENRES": "VARCHAR[]", "GENRE_L2": "VARCHAR[]",
                    "CREATION_TIMESTAMP": "BIGINT", "CONTENT_CLASSIFICATION": "VARCHAR[]",
                    "DURATION": "DOUBLE", "PRODUCT_DESCRIPTION": "VARCHAR"}


def test_import_job_records(vod):
    jobs = vod.list_dataset_import_jobs(dataset_group="movies")["datasetImportJobs"]
    assert [j["status"] for j in jobs] == ["ACTIVE"] * 3
    inter = vod.describe_dataset_import_job(jobs[0]["jobName"])["datasetImportJob"]
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str)
    assert inter["rowCount"] == len(raw) and inter["importMode"] == "FULL"
    assert inter["dataSource"]["dataLocation"].endswith("interactions.csv")
    assert inter["datasetArn"].endswith("dataset/movies/INTERACTIONS")
    with pytest.raises(pypersonalize.ResourceAlreadyExists):
        vod.create_dataset_import_job(dataset="Users", dataset_group="movies",
                                      data_source=VOD / "users.csv", job_name=jobs[0]["jobName"])
    with pytest.raises(pypersonalize.InvalidInput, match="import_mode"):
        vod.create_dataset_import_job(dataset="Users", dataset_group="movies",
                                      data_source=VOD / "users.csv", import_mode="APPEND")


def test_missing_source_is_a_recorded_failure(vod):
    with pytest.raises(pypersonalize.DataImportError, match="no such file"):
        vod.create_dataset_import_job(dataset="Users", dataset_group="movies",
                                      data_source="nowhere/users.csv")
    jobs = vod.list_dataset_import_jobs(dataset="Users", dataset_group="movies")["datasetImportJobs"]
    assert jobs[-1]["status"] == "CREATE FAILED"


def test_data_requirements_report_matches_pandas(vod):
    raw = pd.read_csv(VOD / "interactions.csv")
    report = vod.validate_dataset_group("movies")
    per_user = raw.groupby("USER_ID").size()
    assert report["interactions"]["count"] == len(raw)
    assert report["interactions"]["users"] == raw["USER_ID"].nunique()
    assert report["interactions"]["usersWithTwoOrMore"] == int((per_user >= 2).sum())
    assert report["interactions"]["eventTypes"] == raw["EVENT_TYPE"].value_counts().to_dict()
    assert report["meetsMinimum"] is True and report["problems"] == []
    watch = raw[(raw["EVENT_TYPE"] == "Watch") & (raw["EVENT_VALUE"] >= 0.9)]
    filtered = vod.validate_dataset_group("movies", event_type="Watch", event_value_threshold=0.9)
    assert filtered["interactions"]["count"] == len(watch)
    items = pd.read_csv(VOD / "items.csv")
    counts = raw.groupby("ITEM_ID").size()
    per_item = items["ITEM_ID"].map(counts).fillna(0)
    assert report["items"]["withoutInteractions"] == int((per_item == 0).sum())
    assert report["items"]["coldItems"] == int((per_item < 5).sum())


def test_data_requirements_flag_too_little_data(project):
    build_sample_group(project, "VIDEO_ON_DEMAND", "tiny", types=("Interactions",), import_data=False)
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str, keep_default_na=False)
    # 30 users with one interaction each: under both minimums.
    sample = raw.drop_duplicates("USER_ID").head(30)
    project.create_dataset_import_job(dataset="Interactions", dataset_group="tiny", data_source=sample)
    report = project.validate_dataset_group("tiny")
    assert report["meetsMinimum"] is False
    assert any("1000" in p for p in report["problems"])
    assert any("25" in p for p in report["problems"])
    assert any("Watch" in n for n in report["notes"])


def test_plain_duckdb_client_sees_ordinary_tables(vod):
    path = vod.path
    counts = vod.sql("SELECT count(*) FROM movies.interactions").fetchall()[0][0]
    vod.close()
    script = (
        "import sys, json, duckdb\n"
        f"con = duckdb.connect({path!r}, read_only=True)\n"
        "tables = con.sql(\"SELECT table_schema, table_name, table_type FROM information_schema.tables "
        "WHERE table_schema = 'movies' ORDER BY 2\").fetchall()\n"
        "n = con.sql('SELECT count(*) FROM movies.interactions').fetchall()[0][0]\n"
        "comedy = con.sql(\"SELECT count(*) FROM movies.items WHERE list_contains(GENRES, 'Comedy')\").fetchall()[0][0]\n"
        "print(json.dumps({'tables': tables, 'n': n, 'comedy': comedy,\n"
        "                  'imported': any(m.startswith('pypersonalize') for m in sys.modules)}))\n"
    )
    out = json.loads(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                    text=True).stdout)
    assert out["imported"] is False
    assert out["n"] == counts and out["comedy"] > 0
    names = {t[1]: t[2] for t in out["tables"]}
    assert names["interactions"] == names["items"] == names["users"] == "BASE TABLE"


def test_progress_is_silent_when_not_a_terminal(tmp_path, capfd):
    with pypersonalize.open(tmp_path / "p.duckdb") as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "m", types=("Users",))
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_references_by_arn_name_and_type(vod):
    by_type = vod.describe_dataset("items", dataset_group="movies")["dataset"]
    by_name = vod.describe_dataset("movies-items")["dataset"]
    by_arn = vod.describe_dataset(by_type["datasetArn"])["dataset"]
    assert by_type == by_name == by_arn
    with pytest.raises(pypersonalize.ResourceNotFound, match="known"):
        vod.describe_dataset("nope")


def test_too_many_event_types_for_the_optional_fields_limit(project):
    build_sample_group(project, "VIDEO_ON_DEMAND", "many", types=("Interactions",), import_data=False)
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str, keep_default_na=False).head(2000).copy()
    # 2 optional fields (EVENT_TYPE, EVENT_VALUE; IMPRESSION does not count) + 9 types > 10
    raw["EVENT_TYPE"] = [f"type{i % 9}" for i in range(len(raw))]
    project.create_dataset_import_job(dataset="Interactions", dataset_group="many", data_source=raw)
    report = project.validate_dataset_group("many")
    assert any("limit of 10" in p for p in report["problems"])
    raw["EVENT_TYPE"] = [f"type{i % 8}" for i in range(len(raw))]   # 2 + 8 = 10: fine
    project.create_dataset_import_job(dataset="Interactions", dataset_group="many", data_source=raw)
    assert not any("limit of 10" in p for p in project.validate_dataset_group("many")["problems"])


def test_group_named_like_the_file_is_refused_and_a_renamed_file_still_works(tmp_path):
    with pypersonalize.open(tmp_path / "movies.duckdb", quiet=True) as pp:
        with pytest.raises(pypersonalize.InvalidInput, match="ambiguous"):
            pp.create_dataset_group(name="movies")
    first = tmp_path / "first.duckdb"
    with pypersonalize.open(first, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "films", types=("Interactions",))
        pp.create_recommender(name="top", dataset_group="films", use_case="Most popular")
        expected = pp.get_recommendations(recommender="top", user_id="u1")["itemList"]
    renamed = tmp_path / "films.duckdb"
    first.rename(renamed)
    with pypersonalize.open(renamed, quiet=True) as pp:   # catalog and schema share a name now
        assert pp.get_recommendations(recommender="top", user_id="u1")["itemList"] == expected
        pp.create_dataset_import_job(dataset="Interactions", dataset_group="films",
                                     data_source=VOD / "interactions.csv", import_mode="INCREMENTAL")
        assert pp.validate_dataset_group("films")["interactions"]["count"] == 2 * 45313
