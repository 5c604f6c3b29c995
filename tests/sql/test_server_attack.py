"""``pypersonalize serve`` and PutEvents/PutItems/PutUsers under hostile input: malformed HTTP,
odd JSON, spoofed targets, the RPC path, S3 paths leaving the root, racing writers. Every
error must be AWS-shaped JSON with a sensible status, never a traceback; the server must keep
serving; a refused call must leave the project file as it was."""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time

import duckdb
import pytest

import pypersonalize
from pypersonalize import event_log, metadata_puts
from pypersonalize import server as server_module
from pypersonalize.errors import PypersonalizeError
from pypersonalize.server import serve
from tests.conftest import build_sample_group, table_digest

T0 = 1_700_000_000
SECRET = "TOPSECRET-do-not-echo"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("attack")
    bucket = root / "s3" / "bkt"
    bucket.mkdir(parents=True)
    (bucket / "x.csv").write_text("a\n1\n")
    (root / "outside.txt").write_text(SECRET + "\n")
    pp = pypersonalize.open(root / "p.duckdb", quiet=True)
    build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
    tracking = pp.create_event_tracker(name="t", dataset_group="movies")["trackingId"]
    srv = serve(pp, port=0, s3_root=root / "s3", quiet=True)
    yield {"pp": pp, "server": srv, "root": root, "tracking": tracking,
           "group": pp.describe_dataset_group("movies")["datasetGroup"]["datasetGroupArn"],
           "items": pp.describe_dataset("movies-items")["dataset"]["datasetArn"],
           "users": pp.describe_dataset("movies-users")["dataset"]["datasetArn"]}
    srv.shutdown()
    srv.server_close()
    pp.close()


# -- helpers ---------------------------------------------------------------------------

def _address(srv) -> tuple[str, int]:
    return srv.server_address[0], srv.server_address[1]


def _raw(srv, data: bytes, timeout: float = 1.5) -> bytes:
    """Bytes sent on a fresh socket; everything read until EOF (or ``timeout`` of silence)."""
    s = socket.create_connection(_address(srv), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                return out
            if not chunk:
                return out
            out += chunk
    finally:
        s.close()


def _post(srv, path: str, body, headers: dict | None = None) -> tuple[int, dict, bytes]:
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    con = http.client.HTTPConnection(*_address(srv), timeout=30)
    try:
        con.request("POST", path, body=body, headers=headers or {"Content-Type": "application/json"})
        response = con.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        con.close()


def _control(srv, op: str, body) -> tuple[int, dict]:
    status, _, payload = _post(srv, "/", body, {"X-Amz-Target": f"AmazonPersonalize.{op}",
                                                "Content-Type": "application/x-amz-json-1.1"})
    return status, json.loads(payload)


def _alive(srv) -> None:
    con = http.client.HTTPConnection(*_address(srv), timeout=10)
    con.request("GET", "/ping")
    response = con.getresponse()
    assert (response.status, response.read()) == (200, b'{"status":"ok"}')
    con.close()


def _aws_error(status: int, payload: bytes, code: str | None = None, statuses=(400,)) -> dict:
    """An AWS-shaped error body: JSON with __type and message, no traceback."""
    assert status in statuses, (status, payload[:300])
    assert b"Traceback" not in payload and b'File "' not in payload
    body = json.loads(payload)
    assert set(body) == {"__type", "message"}
    if code is not None:
        assert body["__type"] == code, body
    return body


def _status_line(response: bytes) -> int:
    head = response.split(b"\r\n", 1)[0]
    assert head.startswith(b"HTTP/1."), response[:200]
    return int(head.split()[1])


def _split(response: bytes) -> tuple[int, dict, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.decode("latin-1").partition(":") for ln in lines[1:])}
    return _status_line(response), headers, body


def _state(pp) -> tuple:
    """What a refused call must leave as it was: the interactions and the event log (which
    only grow: their row counts), the items and users tables and the id maps (whole)."""
    counts = tuple(pp.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                   for t in ("movies.interactions", "pypersonalize.event_log"))
    return counts + tuple(table_digest(pp, t) for t in ("movies.items", "movies.item_ids", "movies.users",
                                                       "movies.user_ids"))


def _event(**over) -> dict:
    return {"eventType": "Watch", "itemId": "m1", "sentAt": T0, **over}


def _put_events(site, user="attacker", events=None, **over) -> tuple[int, bytes]:
    body = {"trackingId": site["tracking"], "userId": user, "sessionId": "s1",
            "eventList": events if events is not None else [_event()], **over}
    status, _, payload = _post(site["server"], "/events", body)
    return status, payload


def _put_items(site, items, dataset=None) -> tuple[int, bytes]:
    status, _, payload = _post(site["server"], "/items", {"datasetArn": dataset or site["items"], "items": items})
    return status, payload


def _item(item_id="x1", **props) -> dict:
    return {"itemId": item_id, "properties": json.dumps({"genres": "Comedy", "creationTimestamp": T0, **props})}


def _rpc(srv, body) -> tuple[int, bytes]:
    status, _, payload = _post(srv, "/_pypersonalize/rpc", body)
    return status, payload


# -- malformed HTTP ----------------------------------------------------------------------

MALFORMED = {
    "bad-request-line": (b"GARBAGE\r\n\r\n", 400),
    "bad-version": (b"GET /ping HTTP/9.9\r\n\r\n", 505),
    "put-method": (b"PUT / HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 501),
    "header-line-over-64k": (b"POST /events HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    "over-100-headers": (b"POST /events HTTP/1.1\r\n" + b"".join(b"X%d: a\r\n" % i for i in range(150)) + b"\r\n",
                         431),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_http_is_refused_and_the_server_goes_on(site, case):
    data, code = MALFORMED[case]
    out = _raw(site["server"], data)
    assert str(code).encode() in out and b"Traceback" not in out
    _alive(site["server"])


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_http_gets_an_aws_shaped_json_error(site, case):
    data, code = MALFORMED[case]
    status, headers, body = _split(_raw(site["server"], data))
    assert status == code
    assert headers.get("content-type", "").startswith(("application/json", "application/x-amz-json"))
    assert "__type" in json.loads(body)


@pytest.mark.parametrize("length, status, code", [
    ("-1", 400, "SerializationException"),
    ("+2", 400, "SerializationException"),
    ("0x2", 400, "SerializationException"),
    ("99999999999999999999", 413, "RequestEntityTooLargeException"),
])
def test_odd_content_lengths_are_refused(site, length, status, code):
    out = _raw(site["server"], f"POST /events HTTP/1.1\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{{}}"
               .encode())
    got, _, body = _split(out)
    _aws_error(got, body, code, statuses=(status,))
    _alive(site["server"])


@pytest.mark.parametrize("length", ["\u00b2", "9" * 5000])
def test_a_content_length_that_is_no_ascii_number_is_a_400(site, length):
    out = _raw(site["server"], f"POST /events HTTP/1.1\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{{}}"
               .encode("latin-1"))
    status, _, body = _split(out)
    _aws_error(status, body, statuses=(400, 413))


def test_pipelined_requests_are_answered_in_order(site):
    body = b"{}"
    one = (b"POST / HTTP/1.1\r\nX-Amz-Target: AmazonPersonalize.ListDatasetGroups\r\n"
           b"Content-Length: 2\r\n\r\n" + body)
    out = _raw(site["server"], b"GET /ping HTTP/1.1\r\n\r\n" + one + b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", out)]
    assert statuses == [200, 200, 404]
    assert b'"datasetGroups"' in out


def test_expect_100_continue_is_honoured(site):
    out = _raw(site["server"], b"POST / HTTP/1.1\r\nX-Amz-Target: AmazonPersonalize.ListDatasetGroups\r\n"
                               b"Expect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ")


def test_a_truncated_body_is_a_serialization_error(site):
    s = socket.create_connection(_address(site["server"]), timeout=10)
    s.sendall(b"POST /events HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"trackingId\": ")
    s.shutdown(socket.SHUT_WR)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    status, _, body = _split(out)
    _aws_error(status, body, "SerializationException")
    _alive(site["server"])


def test_slow_clients_do_not_stop_others(site):
    socks = []
    try:
        for _ in range(15):       # slowloris: a body promised and never sent, headers never ended
            s = socket.create_connection(_address(site["server"]))
            s.sendall(b"POST /events HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{\"a")
            socks.append(s)
            s = socket.create_connection(_address(site["server"]))
            s.sendall(b"POST /events HTTP/1.1\r\nX-Partial: a")
            socks.append(s)
        start = time.monotonic()
        _alive(site["server"])
        status, _ = _control(site["server"], "ListDatasetGroups", {})
        assert status == 200 and time.monotonic() - start < 5
    finally:
        for s in socks:
            s.close()


def test_a_chunked_body_gets_411_and_is_not_read_as_a_request(site):
    out = _raw(site["server"], b"POST /events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"2\r\n{}\r\n0\r\n\r\n")
    assert _status_line(out) == 411
    assert out.count(b"HTTP/1.") == 1 and b"Bad request syntax" not in out


def test_content_length_with_transfer_encoding_is_refused(site):
    out = _raw(site["server"], b"POST / HTTP/1.1\r\nX-Amz-Target: AmazonPersonalize.ListDatasetGroups\r\n"
                               b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{}")
    assert _status_line(out) == 400


def test_two_different_content_lengths_are_refused(site):
    out = _raw(site["server"], b"POST / HTTP/1.1\r\nX-Amz-Target: AmazonPersonalize.ListDatasetGroups\r\n"
                               b"Content-Length: 2\r\nContent-Length: 40\r\nConnection: close\r\n\r\n{}")
    assert _status_line(out) == 400


# -- the JSON body ------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"\xff\xfe\xfd\xfc", b"{not json", b"[1, 2]", b'"x"', b"null", b"5"])
def test_a_body_that_is_no_json_object_is_a_serialization_error(site, body):
    status, _, payload = _post(site["server"], "/events", body)
    _aws_error(status, payload, "SerializationException")


def test_deeply_nested_json_is_a_serialization_error(site):
    status, _, payload = _post(site["server"], "/events", b"[" * 100_000 + b"]" * 100_000)
    _aws_error(status, payload, "SerializationException")


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"9" * 4000, b"true", b"[1]"])
def test_non_finite_and_huge_numbers_in_the_body_are_refused(site, value):
    before = _state(site["pp"])
    body = (b'{"trackingId": "%s", "userId": "nan-user", "sessionId": "s", "eventList": '
            b'[{"eventType": "Watch", "itemId": "m1", "sentAt": %s}]}' % (site["tracking"].encode(), value))
    status, _, payload = _post(site["server"], "/events", body)
    _aws_error(status, payload, "InvalidInputException")
    body = (b'{"trackingId": "%s", "userId": "nan-user", "sessionId": "s", "eventList": '
            b'[{"eventType": "Watch", "itemId": "m1", "sentAt": %d, "eventValue": %s}]}'
            % (site["tracking"].encode(), T0, value))
    status, _, payload = _post(site["server"], "/events", body)
    _aws_error(status, payload, "InvalidInputException")
    assert _state(site["pp"]) == before


def test_an_integer_past_the_digit_limit_is_a_serialization_error(site):
    status, _, payload = _post(site["server"], "/events", b'{"sentAt": ' + b"9" * 5000 + b"}")
    _aws_error(status, payload, "SerializationException")


WRONG = [5, 1.5, True, None, [], {}, [None], "", "\ud800", "x" * 300]


@pytest.mark.parametrize("member", ["trackingId", "userId", "sessionId", "eventList"])
@pytest.mark.parametrize("value", WRONG, ids=repr)
def test_wrong_types_for_put_events_members_are_refused(site, member, value):
    before = _state(site["pp"])
    status, payload = _put_events(site, **{member: value})
    _aws_error(status, payload, statuses=(400, 404))
    assert _state(site["pp"]) == before


@pytest.mark.parametrize("key", ["eventId", "eventType", "eventValue", "itemId", "sentAt", "properties",
                                 "recommendationId", "impression", "metricAttribution"])
@pytest.mark.parametrize("value", [5, True, None, [5], {"a": 1}, "", "\ud800", "x" * 1100, float("nan")], ids=repr)
def test_wrong_types_for_every_event_key_are_refused(site, key, value):
    if (key, value) in (("eventValue", 5), ("sentAt", 5)):
        pytest.skip("a valid value")
    before = _state(site["pp"])
    status, _, payload = _post(site["server"], "/events", json.dumps({
        "trackingId": site["tracking"], "userId": "typed", "sessionId": "s",
        "eventList": [_event(**{key: value})]}, allow_nan=True).encode())
    _aws_error(status, payload, "InvalidInputException")
    assert _state(site["pp"]) == before


@pytest.mark.parametrize("value", [5, None, {}, "x", [5], [{"itemId": 5, "properties": "{}"}],
                                   [{"itemId": "x1", "properties": {"genres": "C"}}],
                                   [{"itemId": "x1", "properties": 5}], [{"itemId": "x1", "other": "{}"}]], ids=repr)
def test_wrong_types_for_put_items_members_are_refused(site, value):
    before = _state(site["pp"])
    status, payload = _put_items(site, value)
    _aws_error(status, payload, "InvalidInputException")
    status, _, payload = _post(site["server"], "/items", {"datasetArn": value, "items": [_item()]})
    _aws_error(status, payload, statuses=(400, 404))
    assert _state(site["pp"]) == before


# -- routing and X-Amz-Target ------------------------------------------------------------

@pytest.mark.parametrize("path, target", [
    ("/recommendations", "AmazonPersonalize.DeleteDatasetGroup"),
    ("/events", "AmazonPersonalize.DeleteDatasetGroup"),
    ("/", "AmazonPersonalize.GetRecommendations"),
    ("/", "AmazonPersonalize.PutEvents"),
    ("/", "amazonpersonalize.deletedatasetgroup"),
    ("/", "AmazonPersonalize."),
    ("/", "AmazonPersonalize.DeleteDatasetGroup "),
    ("/?x=1", "AmazonPersonalize.DeleteDatasetGroup"),
    ("/x", "AmazonPersonalize.DeleteDatasetGroup"),
    ("/", "AmazonPersonalize.__init__"),
    ("/", ""),
    ("/_pypersonalize/rpc/", None),
    ("/../events", None),
])
def test_spoofed_targets_and_paths_reach_no_operation(site, path, target):
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    status, _, payload = _post(site["server"], path, {"datasetGroupArn": site["group"]}, headers)
    _aws_error(status, payload, "UnknownOperationException", statuses=(404,))
    assert site["pp"].describe_dataset_group("movies")["datasetGroup"]["status"] == "ACTIVE"


def test_get_of_an_operation_is_404_json(site):
    con = http.client.HTTPConnection(*_address(site["server"]), timeout=10)
    con.request("GET", "/recommendations")
    response = con.getresponse()
    _aws_error(response.status, response.read(), "UnknownOperationException", statuses=(404,))
    con.close()


# -- the RPC path ----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["_transaction", "__class__", "__init__", "__del__", "close", "con", "catalog",
                                    "engine", "path", "read_only", "progress", "no_such", 5, None, ["sql"], {"a": 1}])
def test_rpc_refuses_private_and_internal_names(site, method):
    status, payload = _rpc(site["server"], {"method": method, "args": [], "kwargs": {}})
    assert status == 200
    assert json.loads(payload)["error"]["code"] == "InvalidInputException"
    assert site["pp"].sql("SELECT count(*) FROM movies.items").fetchall()[0][0] > 0     # still open
    _alive(site["server"])


@pytest.mark.parametrize("request_", [
    {"method": "list_dataset_groups", "args": [1, 2, 3]},
    {"method": "list_dataset_groups", "kwargs": {"zzz": 1}},
    {"method": "list_dataset_groups", "kwargs": {"self": 1}},
    {"method": "sql", "args": "SELECT 1"},
    {"method": "sql", "kwargs": ["x"]},
    {"method": "describe_dataset_group", "args": [["movies"]]},
    {"method": "describe_dataset_group", "args": [{"a": 1}]},
    {"method": "describe_dataset_group", "args": ["\ud800"]},
    {"method": "sql", "args": ["SELEC nonsense"]},
    {"method": "put_items", "args": ["movies-items", [{"itemId": "r1", "properties": {"genres": {"x": 1}}}]]},
    {}, [], "x", 5, None,
], ids=repr)
def test_rpc_odd_arguments_are_errors(site, request_):
    before = _state(site["pp"])
    status, payload = _rpc(site["server"], request_)
    assert status in (200, 400) and "Traceback" not in payload.decode()
    found = json.loads(payload)          # refused in the answer, or (bad text) before the call
    assert (found["error"]["code"] if status == 200 else found["__type"]) == "InvalidInputException"
    assert _state(site["pp"]) == before


@pytest.mark.parametrize("body", [b"{x}", b"\xff\xfe"])
def test_rpc_body_that_is_no_json_is_a_serialization_error(site, body):
    status, payload = _rpc(site["server"], body)
    _aws_error(status, payload, "SerializationException")


@pytest.mark.parametrize("query", ["SELECT 'NaN'::DOUBLE AS x", "SELECT 'abc'::BLOB AS x"])
def test_rpc_results_json_cannot_carry_are_not_a_500(site, query):
    status, payload = _rpc(site["server"], {"method": "sql", "args": [query]})
    assert status < 500, payload


def test_rpc_needs_an_allowed_access_key(site):
    srv = serve(site["pp"], port=0, access_keys={"AKIDALLOWED"}, quiet=True)
    try:
        status, payload = _rpc(srv, {"method": "list_dataset_groups"})
        _aws_error(status, payload, "UnrecognizedClientException", statuses=(403,))
        status, _, payload = _post(srv, "/_pypersonalize/rpc", {"method": "list_dataset_groups"},
                                   {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDOTHER/x"})
        _aws_error(status, payload, "UnrecognizedClientException", statuses=(403,))
        status, _, payload = _post(srv, "/_pypersonalize/rpc", {"method": "list_dataset_groups"},
                                   {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDALLOWED/x"})
        assert status == 200 and "result" in json.loads(payload)
    finally:
        srv.shutdown()
        srv.server_close()


# -- S3 paths -------------------------------------------------------------------------------------

@pytest.mark.parametrize("location", [
    "s3://bkt/../../outside.txt", "s3://bkt/../x.csv", "s3://../outside.txt", "s3:///etc/passwd",
    "s3://bkt//etc/passwd", "s3://bkt/./x.csv", "s3://bkt/x.csv/..", "s3://bkt/{x,../../outside.txt}",
])
def test_s3_keys_cannot_leave_the_root(site, location):
    jobs = len(site["pp"].list_dataset_import_jobs()["datasetImportJobs"])
    status, body = _control(site["server"], "CreateDatasetImportJob", {
        "jobName": "escape", "datasetArn": site["items"], "dataSource": {"dataLocation": location}})
    assert (status, body["__type"]) == (400, "InvalidInputException")
    assert SECRET not in body["message"] and "root:" not in body["message"]
    assert len(site["pp"].list_dataset_import_jobs()["datasetImportJobs"]) == jobs     # refused before any job
    _alive(site["server"])


@pytest.mark.parametrize("n, location", list(enumerate([
    "s3://bkt/x.csv\x00", "s3://bkt/%2e%2e/%2e%2e/outside.txt", "s3://bkt/..\\..\\outside.txt",
    "s3://bkt/x.csv?../../outside.txt", "s3://bkt/x.csv#/../../../outside.txt",
])))
def test_s3_keys_that_only_look_like_escapes_stay_inside_the_root(site, n, location):
    status, body = _control(site["server"], "CreateDatasetImportJob", {
        "jobName": f"literal-{n}", "datasetArn": site["items"], "dataSource": {"dataLocation": location}})
    assert (status, body["__type"]) == (400, "InvalidInputException")
    assert SECRET not in body["message"]
    _alive(site["server"])


def test_s3_errors_name_the_s3_location_not_the_servers_folder(site):
    status, body = _control(site["server"], "CreateDatasetImportJob", {
        "jobName": "missing-file", "datasetArn": site["items"], "dataSource": {"dataLocation": "s3://bkt/nope.csv"}})
    assert status == 400
    assert str(site["root"]) not in body["message"] and "s3://bkt/nope.csv" in body["message"]


def test_describe_import_job_echoes_the_s3_location(site):
    _control(site["server"], "CreateDatasetImportJob", {
        "jobName": "bad-header", "datasetArn": site["items"], "dataSource": {"dataLocation": "s3://bkt/x.csv"}})
    status, body = _control(site["server"], "DescribeDatasetImportJob", {
        "datasetImportJobArn": site["pp"].catalog.arn("dataset-import-job", "bad-header")})
    assert status == 200
    assert body["datasetImportJob"]["dataSource"]["dataLocation"] == "s3://bkt/x.csv"
    assert str(site["root"]) not in json.dumps(body)


# -- long calls (the background worker) ---------------------------------------------------------

def test_a_long_call_with_a_lone_surrogate_name_is_refused_and_the_worker_survives(site, monkeypatch):
    monkeypatch.setattr(server_module, "SYNC_SECONDS", 0.5)
    srv = serve(site["pp"], port=0, s3_root=site["root"] / "s3", quiet=True)
    try:
        status, body = _control(srv, "CreateDatasetImportJob", {
            "jobName": "bad\ud800", "datasetArn": site["items"], "dataSource": {"dataLocation": "s3://bkt/x.csv"}})
        assert (status, body.get("__type")) == (400, "InvalidInputException"), body
        # the next long call still runs: x.csv has the wrong header, refused within SYNC_SECONDS
        status, body = _control(srv, "CreateDatasetImportJob", {
            "jobName": "after-surrogate", "datasetArn": site["items"],
            "dataSource": {"dataLocation": "s3://bkt/x.csv"}})
        assert (status, body.get("__type")) == (400, "InvalidInputException")
        assert srv.worker._thread.is_alive()
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_lone_surrogate_parent_of_a_long_call_is_invalid_input(site):
    status, _, payload = _post(site["server"], "/", json.dumps({"solutionArn": "\ud800"}).encode(),
                               {"X-Amz-Target": "AmazonPersonalize.CreateSolutionVersion"})
    _aws_error(status, payload, "InvalidInputException")


@pytest.mark.parametrize("op, body", [
    ("CreateSolutionVersion", {"solutionArn": 5}),
    ("CreateSolutionVersion", {"solutionArn": ["a"]}),
    ("CreateSolutionVersion", {"solutionArn": "x" * 10_000}),
    ("CreateRecommender", {"name": ["a"], "datasetGroupArn": "x", "recipeArn": "y"}),
    ("CreateRecommender", {"name": "../../x", "datasetGroupArn": "x", "recipeArn": "y"}),
    ("DescribeSolutionVersion", {"solutionVersionArn": ["a"]}),
    ("DescribeSolutionVersion", {"solutionVersionArn": "pending/x"}),
])
def test_long_calls_with_odd_members_are_refused_at_once(site, op, body):
    status, _, payload = _post(site["server"], "/", json.dumps(body).encode(),
                               {"X-Amz-Target": f"AmazonPersonalize.{op}"})
    _aws_error(status, payload)
    assert not site["server"].worker.pending


# -- PutEvents --------------------------------------------------------------------------------

def test_concurrent_put_events_with_one_event_id_store_it_once(site):
    answers = []

    def send(n: int) -> None:
        answers.append(_put_events(site, user="racer", events=[_event(eventId="same-id", sentAt=T0 + n)],
                                   sessionId=f"s{n % 3}")[0])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 16
    assert site["pp"].sql("SELECT count(*) FROM movies.interactions WHERE USER_ID = 'racer'").fetchall() == [(1,)]


def test_an_event_id_repeated_in_one_call_is_stored_once(site):
    status, _ = _put_events(site, user="repeater", events=[_event(eventId="twice"),
                                                          _event(eventId="twice", itemId="m2", sentAt=T0 + 1)])
    assert status == 200
    assert site["pp"].sql("SELECT ITEM_ID FROM movies.interactions WHERE USER_ID = 'repeater'").fetchall() == [("m1",)]


@pytest.mark.parametrize("bad", [
    {"itemId": "m\x00"}, {"eventType": "W\x00"}, {"sentAt": -5}, {"eventValue": 1e300},
    {"properties": '{"eventValue": NaN}'}, {"properties": "{x"}, {"properties": '{"userId": "other"}'},
    {"properties": '{"TIMESTAMP": 5}'}, {"impression": ["a|b"]}, {"zzz": 1},
])
def test_one_bad_event_of_ten_writes_nothing(site, bad):
    pp = site["pp"]
    before = _state(pp)
    events = [_event(eventId=f"batch-{n}", sentAt=T0 + n) for n in range(9)] + [_event(**bad)]
    status, payload = _put_events(site, user="batcher", events=events)
    _aws_error(status, payload, "InvalidInputException")
    assert _state(pp) == before
    _alive(site["server"])


def test_a_null_byte_in_the_user_id_writes_nothing(site):
    before = _state(site["pp"])
    status, payload = _put_events(site, user="u\x00x")
    _aws_error(status, payload, "InvalidInputException")
    assert _state(site["pp"]) == before


def _fail_after(monkeypatch, module, name: str):
    """``module.name`` does its work, then the transaction fails (a full disk); the original back."""
    original = getattr(module, name)

    def then_fail(*args, **kwargs):
        original(*args, **kwargs)
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(module, name, then_fail)
    return original


def test_a_write_failing_half_way_leaves_nothing_and_a_retry_is_stored_once(site, monkeypatch):
    pp = site["pp"]
    before = _state(pp)
    original = _fail_after(monkeypatch, event_log, "record")     # the interaction and its log row written
    event = _event(eventId="half-way", itemId="m3")
    status, payload = _put_events(site, user="half-way-user", events=[event])
    _aws_error(status, payload, statuses=(500,))
    assert _state(pp) == before
    monkeypatch.setattr(event_log, "record", original)
    assert _put_events(site, user="half-way-user", events=[event])[0] == 200
    assert _put_events(site, user="half-way-user", events=[event])[0] == 200
    assert pp.sql("SELECT ITEM_ID FROM movies.interactions WHERE USER_ID = 'half-way-user'").fetchall() == [("m3",)]
    _alive(site["server"])


def test_a_property_repeated_in_put_events_properties_is_refused(site):
    before = _state(site["pp"])
    status, payload = _put_events(site, user="dup-props", events=[
        {"eventType": "Watch", "sentAt": T0, "properties": '{"itemId": "m1", "itemId": "m2"}'}])
    _aws_error(status, payload, "InvalidInputException")
    assert _state(site["pp"]) == before


# -- PutItems / PutUsers ---------------------------------------------------------------------

@pytest.mark.parametrize("properties", [
    '{"genres": "A", "GENRES": "B", "creationTimestamp": 1}',
    '{"genres": "A", "gen_res": "B", "creationTimestamp": 1}',
    '{"genres": "A", "genres": "B", "creationTimestamp": 1}',
    '{"genres": "A", "creationTimestamp": 1, "CREATION_TIMESTAMP": 2}',
    '{"itemId": "other", "genres": "A", "creationTimestamp": 1}',
    '{"ITEM_ID": "other", "genres": "A", "creationTimestamp": 1}',
    '{"genres\\u0000": "A", "creationTimestamp": 1}',
    '{"genre\\u017f": "A", "creationTimestamp": 1}',
    '{"genres": "Com\\u0000edy", "creationTimestamp": 1}',
    '{"genres": "a\\nb", "creationTimestamp": 1}',
    '{"genres": ' + "[" * 20_00 + "]" * 20_00 + ', "creationTimestamp": 1}',
    '{"genres": ' + "[" * 15_000 + "]" * 15_000 + "}",
    '{"genres": {"a": 1}, "creationTimestamp": 1}',
    '{"genres": ["a", 1], "creationTimestamp": 1}',
    '{"genres": ["a|b"], "creationTimestamp": 1}',
    '{"genres": "\\ud800", "creationTimestamp": 1}',
    '{"\\ud800": "A"}',
    '{"genres": "A", "creationTimestamp": ' + "9" * 3000 + "}",
    '{"genres": "A", "creationTimestamp": 1' + "0" * 300 + "}",
    '{"genres": "A", "creationTimestamp": 1, "duration": NaN}',
    '{"genres": "A", "creationTimestamp": 1, "duration": -Infinity}',
    '{"genres": "A", "creationTimestamp": 1, "duration": 1e300}',
    '{"genres": "A", "creationTimestamp": 1, "duration": "inf"}',
    '{"genres": "A", "creationTimestamp": true}',
    '{"genres": "A", "creationTimestamp": 1, "productDescription": "' + "a" * 32_000 + '"}',
    "[1]", "   ", '"text"', "null",
], ids=lambda p: p[:50])
def test_bad_item_properties_are_refused_and_write_nothing(site, properties):
    before = _state(site["pp"])
    items = [_item(f"ok-{n}") for n in range(9)] + [{"itemId": "bad-1", "properties": properties}]
    status, payload = _put_items(site, items)
    _aws_error(status, payload, "InvalidInputException")
    assert _state(site["pp"]) == before


@pytest.mark.parametrize("item_id", ["x\x00", "a|b", "x" * 257, "", "\ud800", "a\nb"], ids=repr)
def test_bad_item_ids_are_refused(site, item_id):
    before = _state(site["pp"])
    status, payload = _put_items(site, [_item(item_id)])
    _aws_error(status, payload, "InvalidInputException")
    assert _state(site["pp"]) == before


def test_a_null_byte_and_long_text_in_a_textual_field_round_trip(site):
    text = "a\x00b" + "\u00e9" * 15_000       # under TEXTUAL_MAX (20,000), past which text is cut
    properties = json.dumps({"genres": "C", "creationTimestamp": T0, "productDescription": text}, ensure_ascii=False)
    status, _ = _put_items(site, [{"itemId": "nul-text", "properties": properties}])
    assert status == 200
    assert site["pp"].sql("SELECT PRODUCT_DESCRIPTION FROM movies.items WHERE ITEM_ID = 'nul-text'"
                          ).fetchall() == [(text,)]


def test_a_write_failing_half_way_leaves_the_items_as_they_were(site, monkeypatch):
    pp = site["pp"]
    before = _state(pp)
    _fail_after(monkeypatch, metadata_puts, "ensure_ids")       # the rows replaced and the ids added
    status, payload = _put_items(site, [_item("m1", genres="Replaced"), _item("brand-new")])
    _aws_error(status, payload, statuses=(400, 500))
    assert _state(pp) == before
    _alive(site["server"])


def test_concurrent_put_items_of_one_id_leave_one_row(site):
    answers = []

    def send(n: int) -> None:
        answers.append(_put_items(site, [_item("raced", genres=f"G{n}")])[0])

    threads = [threading.Thread(target=send, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 12
    rows = site["pp"].sql("SELECT GENRES FROM movies.items WHERE ITEM_ID = 'raced'").fetchall()
    assert len(rows) == 1 and rows[0][0][0] in {f"G{n}" for n in range(12)}
    assert site["pp"].sql("SELECT count(*) FROM movies.item_ids WHERE id = 'raced'").fetchall() == [(1,)]


@pytest.mark.parametrize("records, dataset", [
    ([{"userId": "u1", "properties": '{"age": 99999999999, "subscriptionModel": "x"}'}], "users"),
    ([{"userId": "u1", "properties": '{"subscriptionModel": "x"}'}], "items"),
    ([{"userId": "u1", "properties": '{"subscriptionModel": "x", "SUBSCRIPTION_MODEL": "y"}'}], "users"),
    ([{"userId": "u1", "properties": '{"userId": "u2", "subscriptionModel": "x"}'}], "users"),
])
def test_bad_users_are_refused(site, records, dataset):
    before = _state(site["pp"])
    status, _, payload = _post(site["server"], "/users", {"datasetArn": site[dataset], "users": records})
    _aws_error(status, payload, "InvalidInputException")
    assert _state(site["pp"]) == before


@pytest.mark.parametrize("properties", [
    {1: "a"}, {"genres": {"a": 1}}, {"genres": ("a",)}, {"genres": b"bytes", "creationTimestamp": 1},
    {"genres": "C", "GENRES": "D", "creationTimestamp": 1}, {"genres": "C", "creationTimestamp": float("inf")},
    {"genres": "C", "creationTimestamp": 1, "productDescription": "x" * 40_000},
    {"genres": "C", "creationTimestamp": 2 ** 2000},
], ids=repr)
def test_python_dict_properties_are_checked_as_text_is(site, properties):
    before = _state(site["pp"])
    with pytest.raises(PypersonalizeError):
        site["pp"].put_items("movies-items", [{"itemId": "dict-1", "properties": properties}])
    assert _state(site["pp"]) == before


def test_the_server_still_answers_after_everything(site):
    _alive(site["server"])
    status, body = _control(site["server"], "ListDatasetGroups", {})
    assert status == 200 and [g["name"] for g in body["datasetGroups"]] == ["movies"]
