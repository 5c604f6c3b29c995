"""PutEvents' whole event: eventId dedup, anonymous sessions, schemas without EVENT_TYPE,
string and datetime sentAt, limits, metricAttribution (event_log.py, events.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

import pypersonalize
from pypersonalize.errors import InvalidInput
from tests.conftest import build_sample_group

T0 = 1_735_700_000


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("events") / "p.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_solution(name="up", dataset_group="movies", recipe="aws-user-personalization")
        version = pp.create_solution_version("up")["solutionVersionArn"]
        pp.create_campaign(name="c", solution_version=version, campaign_config={
            "itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"}})
        tracking = pp.create_event_tracker("site", "movies")["trackingId"]
    pp = pypersonalize.open(path, quiet=True)
    yield {"pp": pp, "path": path, "tid": tracking}
    pp.close()


def _count(pp, where: str, params=None) -> int:
    return pp.con.execute(f"SELECT count(*) FROM movies.interactions WHERE {where}", params).fetchone()[0]


def _event(item: str, ts: int = T0, **extra) -> dict:
    return {"eventType": "Watch", "itemId": item, "sentAt": ts, **extra}


def test_a_repeated_event_id_is_logged_but_never_trained_on(shop):
    pp, tid = shop["pp"], shop["tid"]
    before = _count(pp, "USER_ID = 'dedup-user'")
    first = pp.put_events(None, "dedup-user", "s", [_event("m1", eventId="e-1"), _event("m2", eventId="e-1")],
                          tracking_id=tid)
    again = pp.put_events(None, "dedup-user", "s", [_event("m3", eventId="e-1"), _event("m4", eventId="e-2")],
                          tracking_id=tid)
    assert (first["eventsRecorded"], first["duplicates"]) == (1, 1)
    assert (again["eventsRecorded"], again["duplicates"]) == (1, 1)
    # only the first e-1 and e-2 reached the interactions, the items they named
    got = pp.con.execute("SELECT ITEM_ID FROM movies.interactions WHERE USER_ID = 'dedup-user' ORDER BY ITEM_ID"
                         ).fetchall()
    assert _count(pp, "USER_ID = 'dedup-user'") == before + 2 and got == [("m1",), ("m4",)]
    log = pp.con.execute("SELECT event_id, item_id, duplicate FROM pypersonalize.event_log "
                         "WHERE user_id = 'dedup-user' ORDER BY received_at, item_id").fetchall()
    assert sorted(log) == sorted([("e-1", "m1", False), ("e-1", "m2", True), ("e-1", "m3", True),
                                  ("e-2", "m4", False)])


def test_dedup_survives_reopening_the_file(shop, tmp_path):
    pp = shop["pp"]
    pp.put_events(None, "reopen-user", "s", [_event("m1", eventId="keep-1")], tracking_id=shop["tid"])
    fresh = tmp_path / "copy.duckdb"
    pp.con.execute("CHECKPOINT")
    pp.close()
    import shutil
    shutil.copy(shop["path"], fresh)
    shop["pp"] = pypersonalize.open(shop["path"], quiet=True)
    with pypersonalize.open(fresh, quiet=True) as other:      # another process's memory: none
        out = other.put_events(None, "reopen-user", "s", [_event("m9", eventId="keep-1")], tracking_id=shop["tid"])
        assert out["duplicates"] == 1
        assert other.con.execute("SELECT count(*) FROM movies.interactions WHERE USER_ID = 'reopen-user'"
                                 ).fetchone()[0] == 1


def test_generated_event_ids_are_distinct_and_returned(shop):
    out = shop["pp"].put_events(None, "gen-user", "s", [_event("m1"), _event("m2")], tracking_id=shop["tid"])
    assert len(set(out["eventIds"])) == 2 and out["duplicates"] == 0
    con = shop["pp"].con
    assert con.execute("SELECT count(*) FROM movies.interactions WHERE USER_ID = 'gen-user'").fetchone()[0] == 2
    # Events without an eventId skip the dedup log (it only serves ids a caller may resend).
    assert con.execute("SELECT count(*) FROM pypersonalize.event_log WHERE user_id = 'gen-user'").fetchone()[0] == 0


def _recs(pp, user: str) -> list[str]:
    return [i["itemId"] for i in pp.get_recommendations(campaign="c", user_id=user, num_results=25)["itemList"]]


def test_an_anonymous_session_is_served_and_then_taken_over_by_its_user(shop):
    pp, tid = shop["pp"], shop["tid"]
    cold = _recs(pp, "sess-anon")
    watched = [_event(i, T0 + k) for k, i in enumerate(["m1", "m2", "m3"])]
    pp.put_events(None, None, "sess-anon", watched, tracking_id=tid)
    # the same events put for a named user: what serving must answer for the session
    pp.put_events(None, "twin-user", "twin-s", [dict(e) for e in watched], tracking_id=tid)
    # until the user is known, the session is the user (Personalize: pass the sessionId as userId)
    assert _count(pp, "USER_ID = 'sess-anon'") == 3
    assert _recs(pp, "sess-anon") == _recs(pp, "twin-user") != cold
    # the user logs in: one event with both ids moves the session's events to the user
    pp.put_events(None, "new-login-user", "sess-anon", [_event("m5", T0 + 10)], tracking_id=tid)
    pp.put_events(None, "twin-user", "twin-s", [_event("m5", T0 + 10)], tracking_id=tid)
    assert _count(pp, "USER_ID = 'sess-anon'") == 0
    assert _count(pp, "USER_ID = 'new-login-user'") == 4
    assert pp.con.execute("SELECT count(*) FROM pypersonalize.event_log WHERE session_id = 'sess-anon' "
                          "AND user_id = 'new-login-user'").fetchone()[0] == 4
    assert _recs(pp, "new-login-user") == _recs(pp, "twin-user")
    assert _recs(pp, "sess-anon") == cold
    # a later anonymous event of that session goes to its user at once
    pp.put_events(None, None, "sess-anon", [_event("m6", T0 + 20)], tracking_id=tid)
    assert _count(pp, "USER_ID = 'new-login-user'") == 5 and _count(pp, "USER_ID = 'sess-anon'") == 0
    # the id map holds the user: training sees the events
    assert pp.con.execute("SELECT count(*) FROM movies.user_ids WHERE id = 'new-login-user'").fetchone()[0] == 1


def test_anonymous_takeover_is_durable_and_other_sessions_are_untouched(shop):
    pp, tid = shop["pp"], shop["tid"]
    pp.put_events(None, None, "sess-a", [_event("m1")], tracking_id=tid)
    pp.put_events(None, None, "sess-b", [_event("m2")], tracking_id=tid)
    pp.put_events(None, "owner-a", "sess-a", [_event("m3")], tracking_id=tid)
    assert _count(pp, "USER_ID = 'sess-b'") == 1
    assert _count(pp, "USER_ID = 'owner-a'") == 2


def test_string_and_datetime_sent_at(shop):
    pp = shop["pp"]
    pp.put_events(None, "time-user", "s", [
        _event("m1", "2025-01-01T00:00:00Z"), _event("m2", datetime(2025, 1, 1)),
        _event("m3", datetime(2025, 1, 1, 1, tzinfo=timezone.utc)), _event("m4", "1735689600")],
        tracking_id=shop["tid"])
    got = dict(pp.con.execute("SELECT ITEM_ID, \"TIMESTAMP\" FROM movies.interactions "
                              "WHERE USER_ID = 'time-user'").fetchall())
    assert got == {"m1": 1735689600, "m2": 1735689600, "m3": 1735693200, "m4": 1735689600}


@pytest.mark.parametrize("event, message", [
    (_event("m1", recommendationId="r" * 41), "recommendationId"),
    (_event("m1", impression=[f"m{k}" for k in range(26)]), "impression"),
    (_event("m1", impression=[]), "impression"),
    (_event("m1", properties=json.dumps({"eventValue": 1, "pad": "x" * 1100})), "properties"),
    (_event("m1", eventId="e" * 257), "eventId"),
    (_event("m1", eventId=""), "eventId"),
    (_event("m" * 257), "itemId"),
    (_event("m1", metricAttribution={}), "metricAttribution"),
    (_event("m1", metricAttribution={"eventAttributionSource": "s" * 1025}), "eventAttributionSource"),
    (_event("m1", sentAt="next tuesday-ish"), "sentAt"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_personalizes_limits_are_refused_and_nothing_is_written(shop, event, message):
    pp = shop["pp"]
    before = pp.con.execute("SELECT (SELECT count(*) FROM movies.interactions), "
                            "(SELECT count(*) FROM pypersonalize.event_log)").fetchone()
    with pytest.raises(InvalidInput, match=message):
        pp.put_events(None, "limit-user", "s", [_event("m2"), event], tracking_id=shop["tid"])
    assert pp.con.execute("SELECT (SELECT count(*) FROM movies.interactions), "
                          "(SELECT count(*) FROM pypersonalize.event_log)").fetchone() == before


def test_long_user_and_session_ids_are_refused(shop):
    for user, session in (("u" * 257, "s"), ("u", "s" * 257)):
        with pytest.raises(InvalidInput, match="at most 256"):
            shop["pp"].put_events(None, user, session, [_event("m1")], tracking_id=shop["tid"])


def test_metric_attribution_source_is_logged(shop):
    shop["pp"].put_events(None, "attr-user", "s", [_event("m1", metricAttribution={"eventAttributionSource": "email"})],
                          tracking_id=shop["tid"])
    assert shop["pp"].con.execute("SELECT attribution_source FROM pypersonalize.event_log WHERE user_id = 'attr-user'"
                                  ).fetchall() == [("email",)]


def test_a_schema_without_event_type_takes_events(tmp_path):
    schema = {"type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
              "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                         {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}
    csv = tmp_path / "i.csv"
    csv.write_text("USER_ID,ITEM_ID,TIMESTAMP\n" + "".join(f"u{k % 7},i{k % 11},{T0 + k}\n" for k in range(60)))
    with pypersonalize.open(tmp_path / "p.duckdb", quiet=True) as pp:
        pp.create_dataset_group(name="plain")
        pp.create_schema(name="plain-i", schema=json.dumps(schema))
        pp.create_dataset(name="plain-i", dataset_group="plain", dataset_type="Interactions", schema="plain-i")
        pp.create_dataset_import_job(dataset="Interactions", dataset_group="plain", data_source=csv)
        tid = pp.create_event_tracker("t", "plain")["trackingId"]
        events = pypersonalize.client("personalize-events", project=pp)
        events.put_events(trackingId=tid, userId="u1", sessionId="s",
                          eventList=[{"eventType": "click", "itemId": "i3", "sentAt": T0 + 100, "eventId": "e1"}])
        assert pp.con.execute("SELECT count(*) FROM plain.interactions").fetchone()[0] == 61
        # the eventType is kept in the log, the interactions have no column for it
        assert pp.con.execute("SELECT event_type FROM pypersonalize.event_log").fetchall() == [("click",)]
        with pytest.raises(InvalidInput, match="not a field"):
            pp.put_events("plain", "u1", "s", [{"eventType": "x", "itemId": "i1", "sentAt": T0,
                                                "properties": {"rating": 3}}])
