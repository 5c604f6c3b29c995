"""MovieLens 100K, converted to Personalize CSV, imports with its published counts."""

from __future__ import annotations

import csv

import pytest

from tests.conftest import ML100K

pytestmark = pytest.mark.skipif(not (ML100K / "u.data").exists(),
                                reason=f"MovieLens 100K not found at {ML100K}")

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]


def to_personalize_csv(folder):
    """Write interactions.csv, items.csv, users.csv in Personalize's CSV format."""
    with open(folder / "interactions.csv", "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"])
        for line in open(ML100K / "u.data"):
            user, item, rating, ts = line.split()
            w.writerow([user, item, "rating", rating, ts])
    with open(folder / "items.csv", "w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(["ITEM_ID", "TITLE", "GENRES"])
        for line in open(ML100K / "u.item", encoding="latin-1"):
            parts = line.rstrip("\n").split("|")
            flags = parts[5:24]
            genres = "|".join(g for g, f in zip(GENRES, flags) if f == "1")
            w.writerow([parts[0], parts[1], genres])
    with open(folder / "users.csv", "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["USER_ID", "AGE", "GENDER", "OCCUPATION"])
        for line in open(ML100K / "u.user"):
            uid, age, gender, occupation, _zip = line.rstrip("\n").split("|")
            w.writerow([uid, age, gender, occupation])


SCHEMAS = {
    "Interactions": {"type": "record", "name": "Interactions", "fields": [
        {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"}, {"name": "EVENT_VALUE", "type": "float"},
        {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"},
    "Items": {"type": "record", "name": "Items", "fields": [
        {"name": "ITEM_ID", "type": "string"}, {"name": "TITLE", "type": "string"},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True}], "version": "1.0"},
    "Users": {"type": "record", "name": "Users", "fields": [
        {"name": "USER_ID", "type": "string"}, {"name": "AGE", "type": "int"},
        {"name": "GENDER", "type": "string", "categorical": True},
        {"name": "OCCUPATION", "type": "string", "categorical": True}], "version": "1.0"},
}


def test_movielens_100k_imports_with_its_known_counts(project, tmp_path):
    to_personalize_csv(tmp_path)
    project.create_dataset_group(name="ml")
    for dtype, schema in SCHEMAS.items():
        project.create_schema(name=f"ml-{dtype.lower()}", schema=schema)
        project.create_dataset(name=f"ml-{dtype.lower()}", dataset_group="ml", dataset_type=dtype,
                               schema=f"ml-{dtype.lower()}")
        project.create_dataset_import_job(dataset=dtype, dataset_group="ml",
                                          data_source=tmp_path / f"{dtype.lower()}.csv")
    n, users, items = project.sql("SELECT count(*), count(DISTINCT USER_ID), count(DISTINCT ITEM_ID) "
                                  "FROM ml.interactions").fetchall()[0]
    assert (n, users, items) == (100_000, 943, 1_682)
    assert project.sql("SELECT count(*) FROM ml.items").fetchall()[0][0] == 1_682
    assert project.sql("SELECT count(*) FROM ml.users").fetchall()[0][0] == 943
    # Known facts of the data: every user rated at least 20 movies; ratings are 1..5;
    # 'Star Wars (1977)' (item 50) is the most rated movie, with 583 ratings.
    assert project.sql("SELECT min(n) FROM (SELECT count(*) n FROM ml.interactions "
                       "GROUP BY USER_ID)").fetchall()[0][0] == 20
    assert project.sql("SELECT min(EVENT_VALUE), max(EVENT_VALUE) FROM ml.interactions").fetchall() == [(1.0, 5.0)]
    top = project.sql("SELECT i.TITLE, count(*) FROM ml.interactions r JOIN ml.items i USING (ITEM_ID) "
                      "GROUP BY 1 ORDER BY 2 DESC LIMIT 1").fetchall()
    assert top == [("Star Wars (1977)", 583)]
    assert project.sql("SELECT count(*) FROM ml.items WHERE list_contains(GENRES, 'Film-Noir')"
                       ).fetchall()[0][0] == 24
    assert project.sql("SELECT max(idx) + 1 FROM ml.user_ids").fetchall()[0][0] == 943
    report = project.validate_dataset_group("ml")
    assert report["meetsMinimum"] and report["interactions"]["usersWithTwoOrMore"] == 943


def test_sims_relates_star_wars_to_its_sequels(project, tmp_path):
    to_personalize_csv(tmp_path)
    project.create_dataset_group(name="ml")
    schema = SCHEMAS["Interactions"]
    project.create_schema(name="ml-i", schema=schema)
    project.create_dataset(name="ml-i", dataset_group="ml", dataset_type="Interactions", schema="ml-i")
    project.create_dataset_import_job(dataset="ml-i", data_source=tmp_path / "interactions.csv")
    project.create_solution(name="sims", dataset_group="ml", recipe="aws-sims")   # defaults
    version = project.create_solution_version("sims")["solutionVersionArn"]
    project.create_campaign(name="related", solution_version=version)
    titles = {}
    for line in open(ML100K / "u.item", encoding="latin-1"):
        parts = line.split("|")
        titles[parts[0]] = parts[1]
    assert titles["50"] == "Star Wars (1977)"
    recs = project.get_recommendations(campaign="related", item_id="50", num_results=10)["itemList"]
    top10 = {titles[r["itemId"]] for r in recs}
    sequels = {"Return of the Jedi (1983)", "Empire Strikes Back, The (1980)",
               "Raiders of the Lost Ark (1981)"}
    assert len(top10 & sequels) >= 2, top10
