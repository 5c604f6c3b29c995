"""``pypersonalize serve`` as a process: the CLI works through it (--endpoint-url), and a
server killed with SIGKILL under load loses no event it acknowledged."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import pypersonalize
from tests.conftest import build_sample_group

ROOT = Path(__file__).resolve().parent.parent.parent
CLI = [sys.executable, "-c", "from pypersonalize.cli import main; main()"]
T0 = 1_735_700_000


@pytest.fixture(scope="module")
def project_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("served") / "p.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_solution(name="pop", dataset_group="movies", recipe="aws-popularity-count")
        version = pp.create_solution_version("pop")["solutionVersionArn"]
        pp.create_campaign(name="c", solution_version=version)
        tracking = pp.create_event_tracker("site", "movies")["trackingId"]
    return {"path": path, "tracking": tracking}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    child = subprocess.Popen([*CLI, "--db", str(path), "--quiet", "serve", "--port", str(port)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if child.poll() is not None:
            raise AssertionError(f"the server exited: {child.stderr.read()}")
        try:
            con = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            con.request("GET", "/ping")
            if con.getresponse().status == 200:
                return child, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    child.kill()
    raise AssertionError("the server did not start in 60 s")


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _cli(url: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "--endpoint-url", url, "--format", "json", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_cli_works_through_a_running_server(project_file):
    child, url = _start(project_file["path"])
    try:
        # the server owns the file: opening it directly fails, the endpoint works
        direct = subprocess.run([*CLI, "--db", str(project_file["path"]), "dataset-group", "list"], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert direct.returncode != 0
        listed = _cli(url, "dataset-group", "list")
        assert listed.returncode == 0, listed.stderr
        assert [g["name"] for g in json.loads(listed.stdout)] == ["movies"]
        counted = _cli(url, "sql", "SELECT count(*) AS n FROM movies.interactions")
        assert counted.returncode == 0, counted.stderr
        with pypersonalize.client("personalize-runtime", endpoint_url=url) as rt:
            arn = "arn:aws:personalize:local:000000000000:campaign/c"
            top = rt.get_recommendations(campaignArn=arn, userId="u1", numResults=3)["itemList"]
        recommended = _cli(url, "recommend", "--campaign", "c", "--user-id", "u1", "--num-results", "3")
        assert recommended.returncode == 0, recommended.stderr
        assert [i["itemId"] for i in json.loads(recommended.stdout)["itemList"]] == [i["itemId"] for i in top]
        missing = _cli(url, "solution", "describe", "nope")
        assert missing.returncode == 1 and "nope" in missing.stderr and "Traceback" not in missing.stderr
        both = subprocess.run([*CLI, "--db", "x.duckdb", "--endpoint-url", url, "dataset-group", "list"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert both.returncode == 2 and "not both" in both.stderr
    finally:
        _stop(child)
    assert child.returncode == 0, child.stderr.read()
    # the file was closed cleanly: it opens, and holds the count the CLI saw
    with pypersonalize.open(project_file["path"], quiet=True) as pp:
        n = pp.con.execute("SELECT count(*) FROM movies.interactions").fetchone()[0]
    assert json.loads(counted.stdout) == [{"n": n}]


def _load(url: str, tracking: str, worker: int, acked: list, stop: threading.Event) -> None:
    host, port = url.removeprefix("http://").split(":")
    con = http.client.HTTPConnection(host, int(port), timeout=10)
    seq = 0
    while not stop.is_set():
        seq += 1
        event_id = f"k{worker}-{seq}"
        body = json.dumps({"trackingId": tracking, "userId": f"kill-u{worker}", "sessionId": f"s{worker}",
                           "eventList": [{"eventId": event_id, "eventType": "Watch", "itemId": f"m{seq % 700 + 1}",
                                          "sentAt": T0 + seq}]})
        try:
            con.request("POST", "/events", body=body, headers={"Content-Type": "application/json"})
            response = con.getresponse()
            response.read()
        except OSError:
            return                   # the server died: what was acknowledged is in ``acked``
        if response.status == 200:
            acked.append((worker, seq, event_id))


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")
def test_a_server_killed_under_load_loses_no_acknowledged_event(project_file):
    tracking = project_file["tracking"]
    child, url = _start(project_file["path"])
    acked: list = []
    stop = threading.Event()
    workers = [threading.Thread(target=_load, args=(url, tracking, w, acked, stop)) for w in range(4)]
    for t in workers:
        t.start()
    time.sleep(1.5)
    child.send_signal(signal.SIGKILL)
    child.wait()
    stop.set()
    for t in workers:
        t.join(30)
    assert len(acked) > 50, "the load made too few requests to test anything"
    with pypersonalize.open(project_file["path"], quiet=True) as pp:
        rows = pp.con.execute(
            "SELECT USER_ID, TIMESTAMP, count(*) FROM movies.interactions WHERE USER_ID LIKE 'kill-u%' "
            "GROUP BY ALL").fetchall()
        logged = dict(pp.con.execute("SELECT event_id, count(*) FROM pypersonalize.event_log "
                                     "WHERE event_id LIKE 'k%' GROUP BY ALL").fetchall())
    stored = {(user, ts): n for user, ts, n in rows}
    for worker, seq, event_id in acked:
        assert stored.get((f"kill-u{worker}", T0 + seq)) == 1, f"acknowledged event {event_id} stored " \
                                                              f"{stored.get((f'kill-u{worker}', T0 + seq), 0)} times"
        assert logged.get(event_id) == 1
    assert all(n == 1 for n in stored.values())      # nothing in flight was stored twice
    # a restarted server knows every acknowledged eventId: sending them again stores nothing
    child, url = _start(project_file["path"])
    try:
        events = pypersonalize.client("personalize-events", endpoint_url=url)
        for worker, seq, event_id in acked[:20]:
            events.put_events(trackingId=tracking, userId=f"kill-u{worker}", sessionId=f"s{worker}",
                              eventList=[{"eventId": event_id, "eventType": "Watch", "itemId": "m1",
                                          "sentAt": T0 + seq}])
    finally:
        _stop(child)
    with pypersonalize.open(project_file["path"], quiet=True) as pp:
        again = pp.con.execute("SELECT count(*) FROM movies.interactions WHERE USER_ID LIKE 'kill-u%'").fetchone()[0]
    assert again == sum(stored.values())
