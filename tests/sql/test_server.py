"""``pypersonalize serve`` with real boto3 clients: the whole path through HTTP, answers equal
to the Python API's, errors as the exception classes Personalize raises (server.py, wire.py)."""

from __future__ import annotations

import http.client
import json
import shutil
import time

import pytest

import pypersonalize
from pypersonalize import server as server_module
from pypersonalize.server import serve
from tests.conftest import DOMAIN_DIRS, METRICS_SWITCH

boto3 = pytest.importorskip("boto3", reason="boto3 (the test extra) drives the server as AWS's SDK does")
from botocore.config import Config  # noqa: E402 - after the skip

pytestmark = pytest.mark.offline_metrics       # GetSolutionMetrics has metrics to compare
T0 = 1_735_700_000
UP = "arn:aws:personalize:::recipe/aws-user-personalization"


def _clients(url: str, key: str = "local") -> dict:
    config = Config(retries={"max_attempts": 1}, read_timeout=120)
    return {s: boto3.client(s, endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                            aws_secret_access_key="local", config=config)
            for s in ("personalize", "personalize-runtime", "personalize-events")}


def _wait(describe, key: str, timeout: float = 120.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        found = describe()[key]
        if found["status"] in ("ACTIVE", "CREATE FAILED") or time.monotonic() > end:
            return found
        time.sleep(0.2)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Everything created through boto3: group, schemas, datasets, imports from s3://, a
    User-Personalization version, campaign, event tracker and filter."""
    root = tmp_path_factory.mktemp("serve")
    bucket = root / "s3" / "demo-bucket"
    bucket.mkdir(parents=True)
    folder = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
    for name in ("interactions", "items"):
        shutil.copy(folder / f"{name}.csv", bucket / f"{name}.csv")
    pp = pypersonalize.open(root / "p.duckdb", quiet=True)
    srv = serve(pp, port=0, s3_root=root / "s3", quiet=True)
    c = _clients(srv.url)
    ctl = c["personalize"]
    group = ctl.create_dataset_group(name="movies")["datasetGroupArn"]
    datasets = {}
    for name, dtype in (("interactions", "Interactions"), ("items", "Items")):
        schema = ctl.create_schema(name=f"movies-{name}",
                                   schema=(folder / f"{name}.schema.json").read_text())["schemaArn"]
        datasets[dtype] = ctl.create_dataset(name=f"movies-{name}", schemaArn=schema, datasetGroupArn=group,
                                             datasetType=dtype)["datasetArn"]
        job = ctl.create_dataset_import_job(jobName=f"import-{name}", datasetArn=datasets[dtype],
                                            dataSource={"dataLocation": f"s3://demo-bucket/{name}.csv"},
                                            roleArn="arn:aws:iam::123456789012:role/local")["datasetImportJobArn"]
        assert _wait(lambda job=job: ctl.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob")[
            "status"] == "ACTIVE"
    solution = ctl.create_solution(name="up", datasetGroupArn=group, recipeArn=UP)["solutionArn"]
    version = ctl.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    assert _wait(lambda: ctl.describe_solution_version(solutionVersionArn=version),
                 "solutionVersion")["status"] == "ACTIVE"
    campaign = ctl.create_campaign(name="c", solutionVersionArn=version, campaignConfig={
        "itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"}})["campaignArn"]
    tracker = ctl.create_event_tracker(name="site", datasetGroupArn=group)
    flt = ctl.create_filter(name="no-horror", datasetGroupArn=group,
                            filterExpression='EXCLUDE ItemID WHERE Items.GENRES IN ("Horror")')["filterArn"]
    yield {"pp": pp, "server": srv, "c": c, "group": group, "version": version, "campaign": campaign,
           "tracking": tracker["trackingId"], "filter": flt, "datasets": datasets}
    srv.shutdown()
    srv.server_close()
    pp.close()


def _items(response: dict) -> list[tuple[str, float]]:
    return [(i["itemId"], i.get("score")) for i in response["itemList"]]


def test_recommendations_over_http_equal_the_python_api(site):
    pp, rt = site["pp"], site["c"]["personalize-runtime"]
    users = [r[0] for r in pp.con.execute("SELECT DISTINCT USER_ID FROM movies.interactions ORDER BY 1 LIMIT 5"
                                          ).fetchall()]
    for user in users:
        wire = rt.get_recommendations(campaignArn=site["campaign"], userId=user, numResults=10)
        local = pp.get_recommendations(campaign=site["campaign"], user_id=user, num_results=10)
        assert _items(wire) == [(i["itemId"], i.get("score")) for i in local["itemList"]]
        assert wire["recommendationId"] and wire["ResponseMetadata"]["HTTPStatusCode"] == 200
    filtered = rt.get_recommendations(campaignArn=site["campaign"], userId=users[0], numResults=25,
                                      filterArn=site["filter"])
    horror = {r[0] for r in pp.con.execute("SELECT ITEM_ID FROM movies.items WHERE list_contains(GENRES, 'Horror')"
                                           ).fetchall()}
    assert horror and not {i for i, _ in _items(filtered)} & horror
    assert _items(filtered) == [(i["itemId"], i.get("score")) for i in pp.get_recommendations(
        campaign=site["campaign"], user_id=users[0], num_results=25, filter=site["filter"])["itemList"]]


def test_personalized_ranking_and_metrics_over_http_equal_the_python_api(site, monkeypatch):
    pp, rt, ctl = site["pp"], site["c"]["personalize-runtime"], site["c"]["personalize"]
    monkeypatch.setenv(METRICS_SWITCH, "0")          # the ranking model's metrics are not compared
    ranking_version = pp.create_solution_version(pp.create_solution(
        name="rank", dataset_group="movies", recipe="aws-personalized-ranking")["solutionArn"])["solutionVersionArn"]
    ranking = ctl.create_campaign(name="rank", solutionVersionArn=ranking_version)["campaignArn"]
    items = ["m1", "m2", "m3", "m10", "m20", "m30"]
    wire = rt.get_personalized_ranking(campaignArn=ranking, userId="u1", inputList=items)
    local = pp.get_personalized_ranking(campaign=ranking, user_id="u1", input_list=items)
    assert [(i["itemId"], i["score"]) for i in wire["personalizedRanking"]] == \
        [(i["itemId"], i["score"]) for i in local["personalizedRanking"]]
    metrics = ctl.get_solution_metrics(solutionVersionArn=site["version"])["metrics"]
    assert metrics == pp.get_solution_metrics(site["version"])["metrics"]
    assert 0 < metrics["normalized_discounted_cumulative_gain_at_10"] <= 1, \
        pp.describe_solution_version(site["version"])["solutionVersion"].get("evaluation")


def test_events_through_boto3_are_stored_once_and_served(site):
    pp, ev, rt = site["pp"], site["c"]["personalize-events"], site["c"]["personalize-runtime"]
    before = pp.get_recommendations(campaign=site["campaign"], user_id="http-new-user", num_results=10)
    events = [{"eventId": f"h-{n}", "eventType": "Watch", "itemId": item, "sentAt": T0 + n}
              for n, item in enumerate(["m5", "m6", "m7"])]
    answer = ev.put_events(trackingId=site["tracking"], userId="http-new-user", sessionId="s1", eventList=events)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    ev.put_events(trackingId=site["tracking"], userId="http-new-user", sessionId="s1", eventList=events[:1])
    rows = pp.con.execute("SELECT ITEM_ID, TIMESTAMP FROM movies.interactions WHERE USER_ID = 'http-new-user' "
                          "ORDER BY TIMESTAMP").fetchall()
    assert rows == [("m5", T0), ("m6", T0 + 1), ("m7", T0 + 2)]     # the repeated h-0 is not stored again
    after = rt.get_recommendations(campaignArn=site["campaign"], userId="http-new-user", numResults=10)
    assert _items(after) != [(i["itemId"], i.get("score")) for i in before["itemList"]]
    assert _items(after) == [(i["itemId"], i.get("score")) for i in pp.get_recommendations(
        campaign=site["campaign"], user_id="http-new-user", num_results=10)["itemList"]]


def test_put_items_through_boto3_reaches_the_items_table(site):
    pp, ev = site["pp"], site["c"]["personalize-events"]
    if not hasattr(pp, "put_items"):
        pytest.skip("put_items is not built yet")
    ev.put_items(datasetArn=site["datasets"]["Items"], items=[
        {"itemId": "m-new", "properties": json.dumps({"genres": "Horror", "creationTimestamp": T0})}])
    assert pp.con.execute("SELECT GENRES FROM movies.items WHERE ITEM_ID = 'm-new'").fetchall() == [(["Horror"],)]


def test_errors_arrive_as_the_exception_classes_personalize_raises(site):
    ctl, rt, ev = site["c"]["personalize"], site["c"]["personalize-runtime"], site["c"]["personalize-events"]
    missing = site["campaign"].replace("campaign/c", "campaign/nope")
    with pytest.raises(rt.exceptions.ResourceNotFoundException) as err:
        rt.get_recommendations(campaignArn=missing, userId="u1")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ctl.exceptions.InvalidInputException):
        ctl.create_filter(name="bad", datasetGroupArn=site["group"], filterExpression="EXCLUDE ItemID WHERE")
    with pytest.raises(rt.exceptions.InvalidInputException):
        rt.get_recommendations(campaignArn=site["campaign"], userId="u1", numResults=501)
    event = {"eventType": "Watch", "itemId": "m1", "sentAt": T0}
    with pytest.raises(ev.exceptions.InvalidInputException):
        ev.put_events(trackingId=site["tracking"], userId="u1", sessionId="s", eventList=[event] * 11)
    with pytest.raises(ctl.exceptions.ResourceNotFoundException):
        ctl.describe_solution(solutionArn=site["group"].replace("dataset-group/movies", "solution/none"))
    with pytest.raises(ctl.exceptions.ResourceAlreadyExistsException):
        ctl.create_dataset_group(name="movies")
    assert [f["name"] for f in ctl.list_filters(datasetGroupArn=site["group"])["Filters"]] == ["no-horror"]


def test_pypersonalize_client_over_http_answers_as_in_process(site):
    remote = pypersonalize.client("personalize-runtime", endpoint_url=site["server"].url)
    local = pypersonalize.client("personalize-runtime", project=site["pp"])
    ask = {"campaignArn": site["campaign"], "userId": "u2", "numResults": 7}
    assert _items(remote.get_recommendations(**ask)) == _items(local.get_recommendations(**ask))
    with pytest.raises(remote.exceptions.ResourceNotFoundException):
        remote.get_recommendations(campaignArn=site["campaign"] + "-gone", userId="u2")
    control = pypersonalize.client("personalize", endpoint_url=site["server"].url)
    described = control.describe_campaign(campaignArn=site["campaign"])["campaign"]
    assert described["creationDateTime"].tzinfo is not None        # timestamps come back as datetimes
    pages = list(control.get_paginator("list_solutions").paginate(PaginationConfig={"PageSize": 1}))
    assert [len(p["solutions"]) for p in pages] == [1] * len(pages) and len(pages) >= 1


def _raw(url: str, path: str, body: bytes, headers: dict) -> tuple[int, dict, dict]:
    host, port = url.removeprefix("http://").split(":")
    con = http.client.HTTPConnection(host, int(port), timeout=30)
    con.request("POST", path, body=body, headers=headers)
    response = con.getresponse()
    payload = response.read()
    con.close()
    return response.status, dict(response.getheaders()), json.loads(payload or b"{}")


def test_hostile_requests_get_aws_shaped_errors(site):
    url = site["server"].url
    status, headers, body = _raw(url, "/", b"{not json", {"X-Amz-Target": "AmazonPersonalize.ListSolutions",
                                                          "Content-Type": "application/x-amz-json-1.1"})
    assert (status, body["__type"]) == (400, "SerializationException")
    status, _, body = _raw(url, "/", b"{}", {"X-Amz-Target": "AmazonPersonalize.DropEverything"})
    assert (status, body["__type"]) == (404, "UnknownOperationException")
    status, _, body = _raw(url, "/recommendations", b"[1, 2]", {"Content-Type": "application/json"})
    assert (status, body["__type"]) == (400, "SerializationException")
    status, headers, body = _raw(url, "/recommendations", json.dumps({"userId": "u1"}).encode(), {})
    assert status == 400 and headers["x-amzn-ErrorType"] == "InvalidInputException"
    # a body over the limit is refused unread
    status, _, body = _raw(url, "/events", b"x" * (site["server"].max_body + 1), {})
    assert (status, body["__type"]) == (413, "RequestEntityTooLargeException")
    # unrelated files are never quoted: a path in a request is not read back
    status, _, body = _raw(url, "/", json.dumps({"name": "s", "schema": "/etc/passwd"}).encode(),
                           {"X-Amz-Target": "AmazonPersonalize.CreateSchema"})
    assert status == 400 and "root:" not in body["message"]


def test_an_access_key_allow_list_refuses_other_keys(site):
    srv = serve(site["pp"], port=0, access_keys={"AKIDALLOWED"}, quiet=True)
    try:
        allowed = _clients(srv.url, key="AKIDALLOWED")["personalize"]
        assert allowed.list_dataset_groups()["datasetGroups"]
        other = _clients(srv.url, key="AKIDOTHER")["personalize"]
        with pytest.raises(other.exceptions.ClientError) as err:
            other.list_dataset_groups()
        assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_long_create_returns_at_once_and_describe_shows_its_progress(site, monkeypatch):
    monkeypatch.setattr(server_module, "SYNC_SECONDS", 0.0)
    ctl, rt = site["c"]["personalize"], site["c"]["personalize-runtime"]
    solution = ctl.describe_solution(solutionArn=site["version"].rsplit("/", 1)[0])["solution"]["solutionArn"]
    before = rt.get_recommendations(campaignArn=site["campaign"], userId="u3", numResults=5)
    version = ctl.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    assert version == f"{solution}/2"
    first = ctl.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
    assert first["status"] in ("CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE")
    # the campaign keeps serving its version while the new one trains
    assert _items(rt.get_recommendations(campaignArn=site["campaign"], userId="u3", numResults=5)) == _items(before)
    assert _wait(lambda: ctl.describe_solution_version(solutionVersionArn=version),
                 "solutionVersion")["status"] == "ACTIVE"
    # a long call that fails before it records anything says so in describe_*
    bad = ctl.create_solution_version(solutionArn=solution, trainingMode="SIDEWAYS")["solutionVersionArn"]
    found = _wait(lambda: ctl.describe_solution_version(solutionVersionArn=bad), "solutionVersion")
    assert found["status"] == "CREATE FAILED" and "SIDEWAYS" in found["failureReason"]
