"""Imports: every source format gives the same table; FULL/INCREMENTAL semantics; lists."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import pypersonalize
from pypersonalize import sample_data
from tests.conftest import DOMAIN_DIRS, build_sample_group, table_digest

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
ECOM = DOMAIN_DIRS["ECOMMERCE"]


def _fresh_copy(pp, group, dtype):
    """A second dataset group with the same schema, for comparing imports side by side."""
    lower = dtype.lower()
    pp.create_dataset_group(name=group, domain="ECOMMERCE")
    pp.create_dataset(name=f"{group}-{lower}", dataset_group=group, dataset_type=dtype,
                      schema=f"g-{lower}")


@pytest.mark.parametrize("dtype", ["Interactions", "Items", "Users"])
def test_every_source_format_gives_identical_tables(project, tmp_path, dtype):
    build_sample_group(project, "ECOMMERCE", "g", types=(dtype,))
    lower = dtype.lower()
    reference = table_digest(project, f"g.{lower}")
    frame = sample_data.ecommerce()[lower]
    parquet = tmp_path / f"{lower}.parquet"
    frame.to_parquet(parquet)
    jsonl = tmp_path / f"{lower}.jsonl"
    frame.to_json(jsonl, orient="records", lines=True)
    project.con.register("frame_view", frame)
    project.sql(f"CREATE TABLE staging_{lower} AS SELECT * FROM frame_view")
    project.con.unregister("frame_view")
    sources = {"parquet": parquet, "jsonl": jsonl, "frame": frame,
               "table": f"staging_{lower}", "query": f"SELECT * FROM staging_{lower}"}
    for i, (kind, source) in enumerate(sources.items()):
        group = f"copy{i}"
        _fresh_copy(project, group, dtype)
        project.create_dataset_import_job(dataset=dtype, dataset_group=group, data_source=source)
        assert table_digest(project, f"{group}.{lower}") == reference, kind
    assert reference[0] == len(frame)


def test_csv_import_matches_an_independent_pandas_read(vod):
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str, keep_default_na=False)
    rows = vod.sql("SELECT USER_ID, ITEM_ID, EVENT_TYPE, EVENT_VALUE, TIMESTAMP, IMPRESSION "
                   "FROM movies.interactions").fetchall()
    got = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE",
                                      "TIMESTAMP", "IMPRESSION"], dtype=object)
    assert len(got) == len(raw)
    assert (got["USER_ID"].tolist() == raw["USER_ID"].tolist())
    assert got["TIMESTAMP"].tolist() == [int(t) for t in raw["TIMESTAMP"]]
    expected_values = [None if v == "" else float(v) for v in raw["EVENT_VALUE"]]
    for g, e in zip(got["EVENT_VALUE"].tolist(), expected_values):
        assert (g is None and e is None) or abs(g - e) < 1e-6
    expected_imp = [None if v == "" else v.split("|") for v in raw["IMPRESSION"]]
    got_imp = [None if v is None else list(v) for v in got["IMPRESSION"].tolist()]
    assert got_imp == expected_imp


def test_multi_value_fields_are_queryable_and_recoverable(vod):
    raw = pd.read_csv(VOD / "items.csv", dtype=str, keep_default_na=False)
    comedy_pd = sum("Comedy" in g.split("|") for g in raw["GENRES"])
    comedy_sql = vod.sql("SELECT count(*) FROM movies.items "
                         "WHERE list_contains(GENRES, 'Comedy')").fetchall()[0][0]
    assert comedy_sql == comedy_pd > 0
    back = dict(vod.sql("SELECT ITEM_ID, array_to_string(GENRES, '|') FROM movies.items").fetchall())
    assert back == dict(zip(raw["ITEM_ID"], raw["GENRES"]))
    unnested = vod.sql("SELECT count(*) FROM (SELECT unnest(GENRES) FROM movies.items)").fetchall()[0][0]
    assert unnested == sum(len(g.split("|")) for g in raw["GENRES"])


def test_full_import_replaces_and_incremental_appends(vod, tmp_path):
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str, keep_default_na=False)
    first, second = raw.iloc[:3000], raw.iloc[3000:5000]
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    first.to_csv(a, index=False)
    second.to_csv(b, index=False)
    vod.create_dataset_import_job(dataset="Interactions", dataset_group="movies", data_source=a)
    assert vod.sql("SELECT count(*) FROM movies.interactions").fetchall()[0][0] == 3000
    vod.create_dataset_import_job(dataset="Interactions", dataset_group="movies", data_source=b,
                                  import_mode="INCREMENTAL")
    assert vod.sql("SELECT count(*) FROM movies.interactions").fetchall()[0][0] == 5000
    vod.create_dataset_import_job(dataset="Interactions", dataset_group="movies", data_source=b,
                                  import_mode="FULL")
    got = vod.sql("SELECT USER_ID, ITEM_ID, TIMESTAMP FROM movies.interactions ORDER BY ALL").fetchall()
    want = sorted(zip(second["USER_ID"], second["ITEM_ID"], map(int, second["TIMESTAMP"])))
    assert got == want


def test_incremental_items_upsert_by_id(vod, tmp_path):
    raw = pd.read_csv(VOD / "items.csv", dtype=str, keep_default_na=False)
    changed = raw.iloc[[0, 5]].copy()
    changed["GENRES"] = "Documentary|Horror"
    changed["DURATION"] = "12.5"
    new = raw.iloc[[1]].copy()
    new["ITEM_ID"] = "m-new"
    update = pd.concat([changed, new])
    path = tmp_path / "update.csv"
    update.to_csv(path, index=False)
    vod.create_dataset_import_job(dataset="Items", dataset_group="movies", data_source=path,
                                  import_mode="INCREMENTAL")
    expected = pd.concat([raw, update]).drop_duplicates("ITEM_ID", keep="last")
    got = vod.sql("SELECT ITEM_ID, array_to_string(GENRES, '|') AS GENRES, DURATION "
                  "FROM movies.items ORDER BY ITEM_ID").df()
    assert len(got) == len(expected) == len(raw) + 1
    exp = expected.sort_values("ITEM_ID")
    assert got["ITEM_ID"].tolist() == exp["ITEM_ID"].tolist()
    assert got["GENRES"].tolist() == exp["GENRES"].tolist()
    row = got.set_index("ITEM_ID").loc[raw["ITEM_ID"][0]]
    assert row["GENRES"] == "Documentary|Horror" and row["DURATION"] == pytest.approx(12.5)


def test_id_maps_are_dense_and_stable(vod, tmp_path):
    users = vod.sql("SELECT id, idx FROM movies.user_ids ORDER BY idx").fetchall()
    n = vod.sql("SELECT count(DISTINCT USER_ID) FROM (SELECT USER_ID FROM movies.interactions "
                "UNION ALL SELECT USER_ID FROM movies.users)").fetchall()[0][0]
    assert [i for _, i in users] == list(range(n))
    items = dict(vod.sql("SELECT id, idx FROM movies.item_ids").fetchall())
    assert sorted(items.values()) == list(range(len(items)))
    # A FULL re-import of a subset keeps every id's number and adds new ones at the end.
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str, keep_default_na=False).iloc[:100].copy()
    raw.loc[0, "ITEM_ID"] = "m-brand-new"
    path = tmp_path / "sub.csv"
    raw.to_csv(path, index=False)
    vod.create_dataset_import_job(dataset="Interactions", dataset_group="movies", data_source=path)
    after = dict(vod.sql("SELECT id, idx FROM movies.item_ids").fetchall())
    assert {k: after[k] for k in items} == items
    assert after["m-brand-new"] == len(items)


def test_a_bad_second_file_of_a_glob_rejects_the_whole_job(vod, tmp_path):
    before = table_digest(vod, "movies.interactions")
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str, keep_default_na=False).iloc[:50]
    raw.to_csv(tmp_path / "part-1.csv", index=False)
    bad = raw.copy()
    bad.loc[7, "TIMESTAMP"] = "yesterday"
    bad.to_csv(tmp_path / "part-2.csv", index=False)
    with pytest.raises(pypersonalize.DataImportError) as err:
        vod.create_dataset_import_job(dataset="Interactions", dataset_group="movies",
                                      data_source=str(tmp_path / "part-*.csv"))
    assert err.value.source.endswith("part-2.csv") and err.value.row == 9
    assert err.value.column == "TIMESTAMP"
    assert table_digest(vod, "movies.interactions") == before
    job = vod.describe_dataset_import_job(err.value.job_arn)["datasetImportJob"]
    assert job["status"] == "CREATE FAILED" and "yesterday" in job["failureReason"]


def test_folder_source_reads_every_csv(vod, tmp_path):
    raw = pd.read_csv(VOD / "interactions.csv", dtype=str, keep_default_na=False)
    for i in range(3):
        raw.iloc[i * 100:(i + 1) * 100].to_csv(tmp_path / f"{i}.csv", index=False)
    (tmp_path / "notes.txt.bak").write_text("ignored")
    vod.create_dataset_import_job(dataset="Interactions", dataset_group="movies",
                                  data_source={"dataLocation": str(tmp_path)})
    assert vod.sql("SELECT count(*) FROM movies.interactions").fetchall()[0][0] == 300


def test_schema_evolution_adds_nullable_columns(vod, tmp_path):
    old = json.loads((VOD / "users.schema.json").read_text())
    new = json.loads(json.dumps(old))
    new["fields"].append({"name": "COUNTRY", "type": ["null", "string"], "categorical": True})
    vod.create_schema(name="users-v2", schema=new, domain="VIDEO_ON_DEMAND")
    before = vod.sql("SELECT * FROM movies.users ORDER BY USER_ID").fetchall()
    vod.update_dataset("Users", dataset_group="movies", schema="users-v2")
    after = vod.sql("SELECT * FROM movies.users ORDER BY USER_ID").fetchall()
    assert [r[:-1] for r in after] == before and all(r[-1] is None for r in after)
    desc = vod.describe_dataset("Users", dataset_group="movies")["dataset"]
    assert desc["schemaArn"].endswith("schema/users-v2")
    frame = pd.DataFrame({"USER_ID": ["u1"], "SUBSCRIPTION_MODEL": ["premium"], "AGE": [30],
                          "COUNTRY": ["JP|US"]})
    vod.create_dataset_import_job(dataset="Users", dataset_group="movies", data_source=frame,
                                  import_mode="INCREMENTAL")
    assert vod.sql("SELECT COUNTRY FROM movies.users WHERE USER_ID = 'u1'").fetchall() == [(["JP", "US"],)]
    # A schema that changes an existing field is refused and changes nothing.
    bad = json.loads(json.dumps(new))
    bad["fields"][2]["type"] = ["null", "long"]
    vod.create_schema(name="users-bad", schema=bad, domain="VIDEO_ON_DEMAND")
    snapshot = table_digest(vod, "movies.users")
    with pytest.raises(pypersonalize.SchemaError, match='"AGE"'):
        vod.update_dataset("Users", dataset_group="movies", schema="users-bad")
    assert table_digest(vod, "movies.users") == snapshot


def test_interactions_schema_cannot_be_replaced(vod):
    schema = json.loads((VOD / "interactions.schema.json").read_text())
    vod.create_schema(name="int-v2", schema=schema, domain="VIDEO_ON_DEMAND")
    with pytest.raises(pypersonalize.SchemaError, match="Items and Users"):
        vod.update_dataset("Interactions", dataset_group="movies", schema="int-v2")


def test_textual_values_longer_than_the_limit_are_truncated(project, tmp_path):
    build_sample_group(project, "VIDEO_ON_DEMAND", "g", types=("Items",), import_data=False)
    frame = sample_data.video_on_demand()["items"].head(3).copy()
    frame.loc[0, "PRODUCT_DESCRIPTION"] = "x" * 25000
    project.create_dataset_import_job(dataset="Items", dataset_group="g", data_source=frame)
    lengths = project.sql("SELECT length(PRODUCT_DESCRIPTION) FROM g.items ORDER BY ITEM_ID").fetchall()
    assert lengths[0][0] == 20000
