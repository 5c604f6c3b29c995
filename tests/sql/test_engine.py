"""The serving engine: memory kept current, shared per file, bounded, thread-safe, and always
answering what the persistent SQL macros answer."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

import pypersonalize
from pypersonalize import engine
from tests.conftest import build_sample_group

T0 = 1800000000


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A file with User-Personalization, SIMS and popularity campaigns on the sample data."""
    path = tmp_path_factory.mktemp("engine") / "e.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        for name, recipe in (("up", "aws-user-personalization"), ("sims", "aws-sims"),
                             ("pop", "aws-popularity-count")):
            pp.create_solution(name=name, dataset_group="movies", recipe=recipe)
            version = pp.create_solution_version(name)["solutionVersionArn"]
            config = {"itemExplorationConfig": {"explorationWeight": "0"}} if name == "up" else None
            pp.create_campaign(name=name, solution_version=version, campaign_config=config)
        pp.create_recommender(name="byw", dataset_group="movies", use_case="Because you watched X")
    return path


@pytest.fixture
def pp(served, tmp_path):
    path = tmp_path / "copy.duckdb"
    shutil.copy(served, path)
    with pypersonalize.open(path, quiet=True) as project:
        yield project


def python_list(pp, **request):
    return [(r["itemId"], r["score"]) for r in pp.get_recommendations(num_results=20, **request)["itemList"]]


def sql_list(pp, endpoint, user_id=None, item_id=None):
    return [(i, s) for _r, i, s in pp.con.execute(
        "SELECT * FROM pp_recommend($e, user_id := $u, item_id := $i, n := 20)",
        {"e": endpoint, "u": user_id, "i": item_id}).fetchall()]


def assert_same(py, sql):
    assert [i for i, _ in py] == [i for i, _ in sql]
    np.testing.assert_allclose([s for _, s in py], [s for _, s in sql], rtol=1e-9)


def users_of(pp, k=5):
    return [u for (u,) in pp.sql("SELECT USER_ID FROM movies.interactions GROUP BY 1 ORDER BY count(*) DESC, 1 "
                                 f"LIMIT {k}").fetchall()]


def test_an_event_counts_at_once_in_python_and_sql(pp):
    user = users_of(pp, 1)[0]
    before = python_list(pp, campaign="up", user_id=user)
    for k, (item, _s) in enumerate(before[:3]):
        pp.put_events("movies", user, "s", [{"eventType": "Watch", "itemId": item, "sentAt": T0 + k}])
    after = python_list(pp, campaign="up", user_id=user)
    assert after != before
    assert_same(after, sql_list(pp, "up", user))
    # the recommender leaves out what the user watched: the three titles just put
    assert not {i for i, _ in before[:3]} & {i for i, _ in python_list(pp, recommender="byw", user_id=user,
                                                                       item_id=before[5][0])}


def test_a_new_user_and_a_new_item_from_events(pp):
    pp.put_events("movies", "brand-new", "s", [{"eventType": "Watch", "itemId": "m1", "sentAt": T0},
                                               {"eventType": "Watch", "itemId": "never-seen", "sentAt": T0 + 1}])
    py = python_list(pp, campaign="up", user_id="brand-new")
    assert len(py) == 20
    assert_same(py, sql_list(pp, "up", "brand-new"))


def test_raw_sql_writes_make_the_engine_reread(pp):
    user = users_of(pp, 1)[0]
    python_list(pp, campaign="up", user_id=user)          # histories now in memory
    top = python_list(pp, campaign="up", user_id=user)[0][0]
    pp.sql(f"INSERT INTO movies.interactions (USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP) "
           f"VALUES ('{user}', '{top}', 'Watch', {T0})")
    assert_same(python_list(pp, campaign="up", user_id=user), sql_list(pp, "up", user))
    assert top not in [i for i, _ in python_list(pp, recommender="byw", user_id=user, item_id="m1")]


def test_writes_from_another_thread_count_at_once(pp):
    """DuckDB lets a process attach a file once, so one Project (one engine state) serves a
    file per process; its threads each write through their own cursor."""
    user = users_of(pp, 1)[0]
    before = python_list(pp, campaign="up", user_id=user)
    moved = {}

    def elsewhere():
        pp.put_events("movies", user, "s", [{"eventType": "Watch", "itemId": "m1", "sentAt": T0}])
        moved["version"] = pp.create_solution_version("up")["solutionVersionArn"]
        pp.update_campaign("up", solution_version=moved["version"])

    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join()
    assert pp.engine.endpoint("campaign", "up").version_arn == moved["version"]
    after = python_list(pp, campaign="up", user_id=user)
    assert after != before
    assert_same(after, sql_list(pp, "up", user))


def test_an_import_replaces_what_memory_holds(pp, tmp_path):
    user = users_of(pp, 1)[0]
    python_list(pp, campaign="up", user_id=user)
    rows = pp.sql("SELECT * FROM movies.interactions WHERE USER_ID <> $u", params={"u": user}).df()
    pp.create_dataset_import_job(dataset="Interactions", dataset_group="movies", data_source=rows)
    store = pp._engine.store(pp.con, "movies")
    assert not store.history(user).has_events and store.events == len(rows)
    assert_same(python_list(pp, campaign="pop", user_id=user), sql_list(pp, "pop", user))


def test_models_are_bounded_and_reloaded(pp, monkeypatch):
    monkeypatch.setattr(engine, "MAX_MODELS", 1)
    user = users_of(pp, 1)[0]
    for _round in range(2):
        for name in ("up", "pop", "sims"):
            request = {"item_id": "m1"} if name == "sims" else {"user_id": user}
            assert_same(python_list(pp, campaign=name, **request), sql_list(pp, name, **request))
            assert len(pp._engine.models) == 1


def test_threads_get_the_single_threaded_answers(pp):
    users = users_of(pp, 40)
    expected = {u: python_list(pp, campaign="up", user_id=u) for u in users}
    errors, wrong = [], []

    def work(k):
        try:
            for u in users[k::4] * 3:
                if python_list(pp, campaign="up", user_id=u) != expected[u]:
                    wrong.append(u)
        except Exception as exc:       # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k % 4,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not wrong


def test_batch_equals_one_request_per_user(pp):
    users = users_of(pp, 30) + ["nobody-at-all"]
    for endpoint in ("up", "pop"):
        frame = pp.recommend_batch(campaign=endpoint, user_ids=users, num_results=10)
        for u in users:
            got = frame[frame["user_id"] == u]
            assert list(got["rank"]) == list(range(1, len(got) + 1))
            one = pp.get_recommendations(campaign=endpoint, user_id=u, num_results=10)["itemList"]
            assert list(got["item_id"]) == [r["itemId"] for r in one]
            np.testing.assert_allclose(got["score"], [r["score"] for r in one], rtol=1e-9)
    with pytest.raises(pypersonalize.InvalidInput, match="needs item_id"):
        pp.recommend_batch(campaign="sims", user_ids=users)
    everyone = pp.recommend_batch(campaign="pop", num_results=3)
    assert everyone["user_id"].nunique() == pp.sql("SELECT count(DISTINCT USER_ID) FROM movies.interactions"
                                                   ).fetchall()[0][0]


def test_a_read_only_project_serves_from_memory(served):
    with pypersonalize.open(served, quiet=True, read_only=True) as ro:
        user = users_of(ro, 1)[0]
        assert_same(python_list(ro, campaign="up", user_id=user), sql_list(ro, "up", user))


def test_an_old_file_without_endpoint_recipes_is_upgraded(pp):
    path = pp.path
    pp.close()
    import duckdb
    con = duckdb.connect(path)
    con.execute("ALTER TABLE pypersonalize.endpoints DROP COLUMN recipe")
    con.execute("UPDATE pypersonalize.settings SET value = 'old' WHERE key = 'sql_fingerprint'")
    con.close()
    with pypersonalize.open(path, quiet=True) as again:
        recipes = dict(again.sql("SELECT name, recipe FROM pypersonalize.endpoints").fetchall())
        assert recipes == {"up": "aws-user-personalization", "sims": "aws-sims",
                           "pop": "aws-popularity-count", "byw": "aws-sims"}
        user = users_of(again, 1)[0]
        assert_same(python_list(again, campaign="up", user_id=user), sql_list(again, "up", user))


def test_put_events_keeps_the_id_maps_whole(pp):
    """Known ids skip the id-map look-up (the histories know them); new ones are numbered."""
    def maps():
        return {t: dict(pp.sql(f"SELECT id, idx FROM movies.{t}").fetchall()) for t in ("user_ids", "item_ids")}

    python_list(pp, campaign="pop", user_id="u1")          # histories in memory
    before = maps()
    user, item = users_of(pp, 1)[0], "m1"
    pp.put_events("movies", user, "s", [{"eventType": "Watch", "itemId": item, "sentAt": T0}])
    assert maps() == before
    pp.put_events("movies", "fresh-user", "s", [{"eventType": "Watch", "itemId": "fresh-item", "sentAt": T0}])
    after = maps()
    assert after["user_ids"]["fresh-user"] == max(before["user_ids"].values()) + 1
    assert after["item_ids"]["fresh-item"] == max(before["item_ids"].values()) + 1
    pp.put_events("movies", "fresh-user", "s", [{"eventType": "Click", "itemId": "fresh-item", "sentAt": T0 + 1}])
    assert maps() == after
    # training sees the new user's events through the maps
    version = pp.create_solution_version("pop")["solutionVersionArn"]
    counts = dict(pp.sql("SELECT item, score FROM pypersonalize.popular_items WHERE version_arn = $v",
                         params={"v": version}).fetchall())
    assert "fresh-item" in counts
