"""CLI event trackers: create prints the trackingId, put-events --tracking-id appends to its group."""

from __future__ import annotations

import json

from click.testing import CliRunner

import pypersonalize
from pypersonalize.cli import main
from tests.conftest import build_sample_group


def test_event_tracker_commands(tmp_path):
    db = tmp_path / "p.duckdb"
    with pypersonalize.open(db, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, ["--db", str(db), "--quiet", *args], catch_exceptions=False)

    made = run("--format", "json", "event-tracker", "create", "site", "--dataset-group", "movies")
    assert made.exit_code == 0, made.output
    tracking = json.loads(made.output)["trackingId"]
    listed = run("--format", "json", "event-tracker", "list", "--dataset-group", "movies")
    assert [t["name"] for t in json.loads(listed.output)] == ["site"]
    described = json.loads(run("--format", "json", "event-tracker", "describe", "site").output)
    assert described["trackingId"] == tracking
    event = json.dumps({"eventType": "Watch", "itemId": "m7", "sentAt": 1_735_700_000})
    sent = run("put-events", "--tracking-id", tracking, "--user-id", "cli-user", "--session-id", "s", "--event", event)
    assert sent.exit_code == 0, sent.output
    bad = run("put-events", "--tracking-id", "nope", "--user-id", "cli-user", "--session-id", "s", "--event", event)
    assert bad.exit_code == 1 and "no event tracker has trackingId 'nope'" in bad.output
    neither = run("put-events", "--user-id", "cli-user", "--session-id", "s", "--event", event)
    assert neither.exit_code == 1 and "needs a dataset_group or an event tracker" in neither.output
    assert run("event-tracker", "delete", "site").exit_code == 0
    with pypersonalize.open(db, quiet=True, read_only=True) as pp:
        assert pp.sql("SELECT count(*) FROM movies.interactions WHERE USER_ID = 'cli-user'").fetchall() == [(1,)]
        assert pp.list_event_trackers()["eventTrackers"] == []
