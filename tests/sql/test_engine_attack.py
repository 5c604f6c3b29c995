# ruff: noqa: F811 - the served/pp fixtures come from test_engine.py and are taken as arguments
"""Attacks on the in-memory serving engine: sequences of public calls after which Python's
answers differ from plain SQL (pp_recommend) or from a freshly reopened project, and hostile
request/event inputs that escape as non-pypersonalize exceptions or poison the memory.

Every test here failed against the engine as first reviewed (each docstring says what went wrong).
"""

from __future__ import annotations

import shutil
import threading

import duckdb
import pytest

import pypersonalize
from tests.sql.test_engine import assert_same, pp, python_list, served, sql_list  # noqa: F401 - fixtures
from tests.sql.test_user_personalization import cluster_events, make_group, train

T0 = 1800000000


def top_user(pp):
    return pp.sql("SELECT USER_ID FROM movies.interactions GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
                  ).fetchall()[0][0]


# -- 1. stale answers -------------------------------------------------------------------


def test_event_weights_stale_after_a_reload_reorders_event_types(pp):
    """PersonalScorer._type_weights caches the per-type-code weights keyed only by the
    number of event types. put_events appends a new type at the END of the store's
    type_names (['Click', 'Watch', 'AAA']); any later data change reloads the histories,
    whose type_names are sorted (['AAA', 'Click', 'Watch']): same length, so the cached
    weights are reused with the wrong mapping (Click events weighted as 'AAA', Watch as
    Click). Python's UP scores then differ from pp_recommend and from a reopened file."""
    user = top_user(pp)
    python_list(pp, campaign="up", user_id=user)
    pp.put_events("movies", "someone-else", "s", [{"eventType": "AAA", "itemId": "m1", "sentAt": T0}])
    assert_same(python_list(pp, campaign="up", user_id=user), sql_list(pp, "up", user))   # still fine
    # any data change behind the histories: here an Items row through pp.sql
    pp.sql("INSERT INTO movies.items (ITEM_ID, GENRES, CREATION_TIMESTAMP) VALUES ('new-item', ['Drama'], 1700000000)")
    assert_same(python_list(pp, campaign="up", user_id=user), sql_list(pp, "up", user))


def test_a_request_between_pp_sql_stamp_and_its_write_keeps_stale_histories(pp, monkeypatch):
    """Project.sql bumps the data stamp BEFORE it runs the statement. A request on another
    thread in between re-reads the histories (still without the new row) under the new
    stamp; nothing bumps it again, so the row never reaches memory: Python keeps
    recommending what SQL (and a reopen) excludes. The interleaving is forced here by
    running the other thread's request right after the bump."""
    user = top_user(pp)
    top = python_list(pp, campaign="up", user_id=user)[0][0]
    state = pp._engine
    bump = state.data_changed

    def bump_then_other_thread_reads(group=None):
        bump(group)
        other = threading.Thread(target=lambda: pp.get_recommendations(campaign="up", user_id=user))
        other.start()
        other.join()

    monkeypatch.setattr(state, "data_changed", bump_then_other_thread_reads)
    pp.sql(f"INSERT INTO movies.interactions (USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP) "
           f"VALUES ('{user}', '{top}', 'Watch', {T0})")
    monkeypatch.setattr(state, "data_changed", bump)
    assert_same(python_list(pp, campaign="up", user_id=user), sql_list(pp, "up", user))


def test_a_non_string_item_id_event_is_refused(project):
    """put_events used to accept itemId=7 (an int): the file stored '7', but memory coded the
    raw int, a different item than the model's '7', so the event counted in SQL and not in
    Python. Personalize's itemId is a string: refused; a string '7' then agrees everywhere."""
    events = cluster_events()
    events["ITEM_ID"] = events["ITEM_ID"].str[1:]            # numeric item ids: '0' .. '19'
    make_group(project, "g", events)
    train(project, "g", "up")
    project.get_recommendations(campaign="up-live", user_id="u0")          # histories in memory
    with pytest.raises(pypersonalize.InvalidInput, match="itemId must be a string"):
        project.put_events("g", "fresh", "s", [{"eventType": "Click", "itemId": 7, "sentAt": T0}])
    project.put_events("g", "fresh", "s", [{"eventType": "Click", "itemId": "7", "sentAt": T0}])
    assert project.sql("SELECT ITEM_ID FROM g.interactions WHERE USER_ID = 'fresh'").fetchall() == [("7",)]
    py = [(r["itemId"], r["score"]) for r in
          project.get_recommendations(campaign="up-live", user_id="fresh", num_results=10)["itemList"]]
    sql = [(i, s) for _r, i, s in project.con.execute(
        "SELECT * FROM pp_recommend('up-live', user_id := 'fresh', n := 10)").fetchall()]
    assert_same(py, sql)


# -- 2. hostile inputs ------------------------------------------------------------------


def test_a_non_string_event_type_is_refused_and_filters_keep_working(pp):
    """put_events used to accept eventType=7 (stored as '7') while the histories kept the
    int, and every later request with an Interactions EVENT_TYPE filter, for any user,
    raised AttributeError. Refused now; the filter keeps answering as plain SQL does."""
    pp.create_filter(name="nowatch", dataset_group="movies",
                     filter_expression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')
    user = top_user(pp)
    python_list(pp, campaign="up", user_id=user, filter="nowatch")          # works, histories loaded
    with pytest.raises(pypersonalize.InvalidInput, match="eventType must be a string"):
        pp.put_events("movies", "hostile", "s", [{"eventType": 7, "itemId": "m1", "sentAt": T0}])
    got = [i for i, _ in python_list(pp, campaign="up", user_id=user, filter="nowatch")]
    sql = [i for (i,) in pp.con.execute("SELECT item_id FROM pp_recommend_filtered('up', 'nowatch', "
                                        "user_id := $u, n := 20)", {"u": user}).fetchall()]
    assert got == sql


@pytest.mark.parametrize("kind", ["campaign list", "dataset group list", "item list", "filter value key",
                                  "filter_values list", "promotion filterValues", "surrogate event",
                                  "surrogate filter value"])
def test_hostile_inputs_raise_pypersonalize_errors(pp, kind):
    """Wrong types and unencodable strings must be refused with a PypersonalizeError; each of
    these escapes as TypeError / ValueError / duckdb.InvalidInputException instead."""
    pp.create_filter(name="genre", dataset_group="movies",
                     filter_expression="INCLUDE ItemID WHERE Items.GENRES IN ($G)")
    user = top_user(pp)
    python_list(pp, campaign="pop", user_id=user)                          # histories loaded
    watch = {"eventType": "Watch", "itemId": "m1", "sentAt": T0}
    promo = {"name": "p", "percentPromotedItems": 50, "filter": "genre"}
    calls = {
        "campaign list": lambda: pp.get_recommendations(campaign=["up"], user_id=user),
        "dataset group list": lambda: pp.put_events(["movies"], user, "s", [watch]),
        "item list": lambda: pp.put_events("movies", user, "s", [{**watch, "itemId": ["m1"]}]),
        "filter value key": lambda: pp.get_recommendations(campaign="up", user_id=user, filter="genre",
                                                           filter_values={"G": '"Drama"', 5: '"x"'}),
        "filter_values list": lambda: pp.get_recommendations(campaign="up", user_id=user, filter="genre",
                                                             filter_values=["G"]),
        "promotion filterValues": lambda: pp.get_recommendations(
            campaign="up", user_id=user, num_results=4, promotions=[{**promo, "filterValues": "G"}]),
        "surrogate event": lambda: pp.put_events("movies", user, "s", [{**watch, "itemId": "\ud800"}]),
        "surrogate filter value": lambda: pp.get_recommendations(campaign="up", user_id=user, filter="genre",
                                                                 filter_values={"G": '"\ud800"'}),
    }
    try:
        calls[kind]()
    except pypersonalize.PypersonalizeError:
        pass
    except (TypeError, ValueError, duckdb.Error) as exc:
        pytest.fail(f"{kind}: {type(exc).__module__}.{type(exc).__name__}: {exc}")
    else:
        # accepted: then the file and memory must agree ("item list" is stored as 'm1')
        assert kind == "item list"


def test_item_id_list_is_refused_whatever_memory_holds(served, tmp_path):
    """itemId=["m1"] used to be stored as 'm1' while the histories were not loaded and to
    raise TypeError once they were: the same call's outcome depended on cache state. An
    itemId must be a string, loaded or not."""
    path = tmp_path / "c.duckdb"
    shutil.copy(served, path)
    event = [{"eventType": "Watch", "itemId": ["m1"], "sentAt": T0}]
    with pypersonalize.open(path, quiet=True) as pp:
        with pytest.raises(pypersonalize.InvalidInput, match="itemId must be a string"):
            pp.put_events("movies", "lst", "s", event)
        pp.get_recommendations(campaign="pop", user_id="lst")               # histories loaded
        with pytest.raises(pypersonalize.InvalidInput, match="itemId must be a string"):
            pp.put_events("movies", "lst", "s", event)


def test_implicit_impression_lists_grow_memory_with_every_request(project):
    """Every get_recommendations to a User-Personalization campaign of a group with
    RECOMMENDATION_ID stores its list in HistoryStore._logged, keyed by a fresh
    recommendation id, and nothing ever drops it (only a reload of the histories): a
    client sending requests (even for made-up user ids) grows the process without bound."""
    df = cluster_events()
    df["RECOMMENDATION_ID"] = None
    make_group(project, "g", df, extra_fields=[{"name": "RECOMMENDATION_ID", "type": ["null", "string"]}])
    train(project, "g", "up")
    for k in range(3000):
        project.get_recommendations(campaign="up-live", user_id=f"anyone-{k}", num_results=25)
    store = project._engine.store(project.con, "g")
    assert len(store._logged) <= 1000, f"{len(store._logged)} lists held in memory after 3000 requests"
