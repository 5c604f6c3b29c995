"""The in-process boto3-shaped clients: boto3's names and errors over the Python API's answers."""

from __future__ import annotations

import pytest

import pypersonalize
from pypersonalize.clients import ParamValidationError
from tests.conftest import build_sample_group

botocore = pytest.importorskip("botocore", reason="botocore (the test extra) is not installed")


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("client") / "p.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_solution(name="up", dataset_group="movies", recipe="aws-user-personalization")
        version = pp.create_solution_version("up")["solutionVersionArn"]
        campaign = pp.create_campaign(name="c", solution_version=version, campaign_config={
            "itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"}})["campaignArn"]
        for k in range(3):
            pp.create_solution(name=f"extra{k}", dataset_group="movies", recipe="aws-popularity-count")
        pp.create_filter(name="comedies", dataset_group="movies",
                         filter_expression='INCLUDE ItemID WHERE Items.GENRES IN ($G)')
    pp = pypersonalize.open(path, quiet=True)
    yield {"pp": pp, "version": version, "campaign": campaign,
           "filter": pp.describe_filter("comedies")["filter"]["filterArn"]}
    pp.close()


@pytest.fixture
def runtime(shop):
    return pypersonalize.client("personalize-runtime", project=shop["pp"], region_name="us-east-1")


@pytest.fixture
def control(shop):
    return pypersonalize.client("personalize", project=shop["pp"])


def test_get_recommendations_answers_as_the_python_api(shop, runtime):
    pp = shop["pp"]
    for user in ("u1", "u7", "nobody"):
        got = runtime.get_recommendations(campaignArn=shop["campaign"], userId=user, numResults=7,
                                          filterArn=shop["filter"], filterValues={"G": '"Comedy"'})
        want = pp.get_recommendations(campaign="c", user_id=user, num_results=7, filter="comedies",
                                      filter_values={"G": '"Comedy"'})
        assert got["itemList"] == want["itemList"] and len(got["itemList"]) == 7
        assert set(got) == {"itemList", "recommendationId", "ResponseMetadata"}
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_personalized_ranking_answers_as_the_python_api(shop, runtime):
    items = ["m1", "m2", "m3", "m50", "m114"]
    got = runtime.get_personalized_ranking(campaignArn=shop["campaign"], userId="u1", inputList=items)
    want = shop["pp"].get_personalized_ranking("c", "u1", items)
    assert got["personalizedRanking"] == want["personalizedRanking"]
    assert sorted(i["itemId"] for i in got["personalizedRanking"]) == sorted(items)


def _botocore_errors(service: str, op: str, params: dict) -> bool:
    """Whether botocore's own client-side validator rejects ``params``."""
    import botocore.session
    from botocore.validate import ParamValidator
    model = botocore.session.get_session().get_service_model(service).operation_model(op)
    return ParamValidator().validate(params, model.input_shape).has_errors()


@pytest.mark.parametrize("params", [
    {"campaign": "c"},                                   # a snake_case name: unknown
    {"campaignArn": 7},                                  # wrong type
    {"campaignArn": "c", "numResults": "5"},
    {"campaignArn": "c", "context": ["a"]},
    {"campaignArn": "c", "numResults": -1},              # under the minimum
], ids=str)
def test_client_side_checks_agree_with_botocore(runtime, params):
    assert _botocore_errors("personalize-runtime", "GetRecommendations", params)
    with pytest.raises(ParamValidationError, match="Parameter validation failed"):
        runtime.get_recommendations(**params)


def test_missing_required_parameters_are_named(runtime, shop):
    params = {"campaignArn": shop["campaign"], "userId": "u1"}
    assert _botocore_errors("personalize-runtime", "GetPersonalizedRanking", params)
    with pytest.raises(ParamValidationError, match='Missing required parameter in input: "inputList"'):
        runtime.get_personalized_ranking(**params)
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        runtime.get_recommendations(shop["campaign"])


def test_service_errors_raise_personalizes_exception_classes(runtime, shop):
    with pytest.raises(runtime.exceptions.ResourceNotFoundException) as missing:
        runtime.get_recommendations(campaignArn=shop["campaign"] + "-gone", userId="u1")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert isinstance(missing.value, pypersonalize.ResourceNotFound)            # the Python API's class too
    assert "GetRecommendations operation" in str(missing.value)
    for bad in (501, True):            # True passes botocore's client-side check, not the service's
        with pytest.raises(runtime.exceptions.InvalidInputException):
            runtime.get_recommendations(campaignArn=shop["campaign"], userId="u1", numResults=bad)
    with pytest.raises(runtime.exceptions.InvalidInputException, match="less than or equal to 256"):
        runtime.get_recommendations(campaignArn=shop["campaign"], userId="u" * 257)
    assert issubclass(runtime.exceptions.InvalidInputException, runtime.exceptions.ClientError)


def test_control_plane_reads_and_pages(control, shop):
    pp = shop["pp"]
    assert control.describe_solution_version(solutionVersionArn=shop["version"])["solutionVersion"] == \
        pp.describe_solution_version(shop["version"])["solutionVersion"]
    metrics = control.get_solution_metrics(solutionVersionArn=shop["version"])
    assert metrics["metrics"] == pp.get_solution_metrics(shop["version"])["metrics"]
    everything = [s["solutionArn"] for s in pp.list_solutions()["solutions"]]
    assert len(everything) == 4
    pages, token = [], None
    while True:
        page = control.list_solutions(maxResults=3, **({"nextToken": token} if token else {}))
        pages.append([s["solutionArn"] for s in page["solutions"]])
        token = page.get("nextToken")
        if token is None:
            break
    assert pages == [everything[:3], everything[3:]]
    with pytest.raises(control.exceptions.InvalidNextTokenException):
        control.list_solutions(nextToken="not-a-token")


def test_operations_not_mapped_yet_are_refused(control, shop):
    with pytest.raises(control.exceptions.InvalidInputException, match="DescribeAlgorithm is not supported yet"):
        control.describe_algorithm(algorithmArn="arn:aws:personalize:::algorithm/aws-sims")
    group = shop["pp"].describe_dataset_group("movies")["datasetGroup"]["datasetGroupArn"]
    with pytest.raises(control.exceptions.InvalidInputException, match="publishAttributionMetricsToS3=True is not"):
        control.create_dataset_import_job(jobName="j", datasetArn=group.replace("dataset-group", "dataset") +
                                          "/INTERACTIONS", dataSource={"dataLocation": "x.csv"},
                                          roleArn="r", publishAttributionMetricsToS3=True)
    assert control.list_event_trackers()["eventTrackers"] == []


def test_tags_and_aws_only_parameters_are_recorded(control, shop):
    group = shop["pp"].describe_dataset_group("movies")["datasetGroup"]["datasetGroupArn"]
    tags = [{"tagKey": "team", "tagValue": "growth"}]
    arn = control.create_event_tracker(name="tagged", datasetGroupArn=group, tags=tags)["eventTrackerArn"]
    try:
        rec = shop["pp"].catalog.get("event-tracker", arn)
        assert rec.config["tags"] == tags
    finally:
        control.delete_event_tracker(eventTrackerArn=arn)
    with pytest.raises(ParamValidationError, match="tagValue"):
        control.create_event_tracker(name="t2", datasetGroupArn=group, tags=[{"tagKey": "a"}])
    with pytest.raises(AttributeError, match="no operation 'create_tracker'"):
        getattr(control, "create_tracker")  # noqa: B009 - the attribute lookup is the test
    assert "get_solution_metrics" in dir(control)


def test_client_arguments_are_checked(shop, tmp_path):
    with pytest.raises(pypersonalize.InvalidInput, match="unknown service"):
        pypersonalize.client("s3", project=shop["pp"])
    with pytest.raises(pypersonalize.InvalidInput, match="endpoint_url talks to a running"):
        pypersonalize.client("personalize", db=tmp_path / "x.duckdb", endpoint_url="http://127.0.0.1:8080")
    with pytest.raises(pypersonalize.InvalidInput, match="endpoint_url must be http"):
        pypersonalize.client("personalize", endpoint_url="ftp://127.0.0.1")
    nobody = pypersonalize.client("personalize", endpoint_url="http://127.0.0.1:9")     # nothing listens
    with pytest.raises(pypersonalize.InvalidInput, match="no pypersonalize server answers"):
        nobody.list_dataset_groups()
    with pytest.raises(TypeError, match="regionname"):
        pypersonalize.client("personalize", project=shop["pp"], regionname="us-east-1")
    with pypersonalize.client("personalize", db=tmp_path / "new.duckdb") as fresh:
        assert fresh.list_dataset_groups()["datasetGroups"] == []


def test_event_tracker_and_put_events_through_the_clients(tmp_path):
    """CreateEventTracker's trackingId takes PutEvents to its group; the events reach the
    recommendations at once; one tracker per group; the group cannot go before its tracker."""
    path = tmp_path / "p.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_solution(name="up", dataset_group="movies", recipe="aws-user-personalization")
        version = pp.create_solution_version("up")["solutionVersionArn"]
        pp.create_campaign(name="c", solution_version=version, campaign_config={
            "itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"}})
    personalize = pypersonalize.client("personalize", db=path)
    pp = personalize._pp
    events = pypersonalize.client("personalize-events", project=pp)
    group = pp.describe_dataset_group("movies")["datasetGroup"]["datasetGroupArn"]
    made = personalize.create_event_tracker(name="site", datasetGroupArn=group)
    assert set(made) == {"eventTrackerArn", "trackingId", "ResponseMetadata"}
    described = personalize.describe_event_tracker(eventTrackerArn=made["eventTrackerArn"])["eventTracker"]
    assert described["trackingId"] == made["trackingId"] and described["datasetGroupArn"] == group
    assert described["status"] == "ACTIVE"
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException, match="has one"):
        personalize.create_event_tracker(name="second", datasetGroupArn=group)
    before = pp.get_recommendations(campaign="c", user_id="newcomer", num_results=10)["itemList"]
    sent = [{"eventType": "Watch", "itemId": i, "sentAt": 1_735_700_000 + k} for k, i in enumerate(("m570", "m367"))]
    answer = events.put_events(trackingId=made["trackingId"], userId="newcomer", sessionId="s1", eventList=sent)
    assert set(answer) == {"ResponseMetadata"}
    stored = pp.sql("SELECT ITEM_ID FROM movies.interactions WHERE USER_ID = 'newcomer' ORDER BY ALL").fetchall()
    assert stored == [("m367",), ("m570",)]
    after = pp.get_recommendations(campaign="c", user_id="newcomer", num_results=10)["itemList"]
    assert after != before
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_events(trackingId="not-a-tracker", userId="u1", sessionId="s1", eventList=sent)
    with pytest.raises(ParamValidationError, match="eventList"):
        events.put_events(trackingId=made["trackingId"], userId="u1", sessionId="s1", eventList=[])
    with pytest.raises(events.exceptions.InvalidInputException, match="less than or equal to 10"):
        events.put_events(trackingId=made["trackingId"], userId="u1", sessionId="s1", eventList=sent * 6)
    with pytest.raises(pypersonalize.InvalidInput, match="event tracker of dataset group"):
        pp.create_dataset_group(name="other")
        pp.put_events("other", "u1", "s1", sent, tracking_id=made["trackingId"])
    with pytest.raises(pypersonalize.ResourceInUse, match="event-tracker site"):
        pp.delete_dataset_group("movies")
    personalize.delete_event_tracker(eventTrackerArn=made["eventTrackerArn"])
    assert personalize.list_event_trackers(datasetGroupArn=group)["eventTrackers"] == []
    personalize.close()


def test_a_getting_started_flow_through_the_clients(tmp_path, monkeypatch):
    """Schemas, datasets, S3 imports (under a local root), a solution, a version, a campaign and
    a filter, all in boto3's names; the answers equal the Python API's. roleArn is recorded."""
    import json
    import shutil

    from tests.conftest import DOMAIN_DIRS
    folder = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
    bucket = tmp_path / "s3" / "my-bucket"
    bucket.mkdir(parents=True)
    for name in ("interactions", "items"):
        shutil.copy(folder / f"{name}.csv", bucket / f"{name}.csv")
    monkeypatch.setenv("PYPERSONALIZE_S3_ROOT", str(tmp_path / "s3"))
    role = "arn:aws:iam::123456789012:role/PersonalizeRole"
    with pypersonalize.client("personalize", db=tmp_path / "p.duckdb") as personalize:
        runtime = pypersonalize.client("personalize-runtime", project=personalize._pp)
        group = personalize.create_dataset_group(name="gs", domain="VIDEO_ON_DEMAND")["datasetGroupArn"]
        for dtype in ("Interactions", "Items"):
            schema = personalize.create_schema(name=f"gs-{dtype.lower()}", domain="VIDEO_ON_DEMAND", schema=(
                folder / f"{dtype.lower()}.schema.json").read_text())["schemaArn"]
            dataset = personalize.create_dataset(name=f"gs-{dtype.lower()}", schemaArn=schema,
                                                 datasetGroupArn=group, datasetType=dtype)["datasetArn"]
            job = personalize.create_dataset_import_job(
                jobName=f"import-{dtype.lower()}", datasetArn=dataset, roleArn=role,
                dataSource={"dataLocation": f"s3://my-bucket/{dtype.lower()}.csv"})["datasetImportJobArn"]
            described = personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]
            assert described["status"] == "ACTIVE"
        pp = personalize._pp
        assert pp.catalog.select("dataset-import-job", arn=job)[0].config["awsOnly"] == {"roleArn": role}
        with pytest.raises(personalize.exceptions.InvalidInputException, match="not an S3 bucket/key"):
            personalize.create_dataset_import_job(jobName="x", datasetArn=dataset,
                                                  dataSource={"dataLocation": "s3://my-bucket/../etc/passwd"})
        solution = personalize.create_solution(
            name="gs-up", datasetGroupArn=group, recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
            performAutoTraining=False)["solutionArn"]
        version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        assert personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]["status"] == "ACTIVE"
        campaign = personalize.create_campaign(name="gs", solutionVersionArn=version, minProvisionedTPS=1,
                                               campaignConfig={"itemExplorationConfig": {
                                                   "explorationWeight": "0", "explorationItemAgeCutOff": "30"}})
        filt = personalize.create_filter(name="no-watched", datasetGroupArn=group,
                                         filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")')
        got = runtime.get_recommendations(campaignArn=campaign["campaignArn"], userId="u3", numResults=10,
                                          filterArn=filt["filterArn"])["itemList"]
        want = pp.get_recommendations(campaign="gs", user_id="u3", num_results=10, filter="no-watched")["itemList"]
        assert got == want and len(got) == 10
        watched = {r[0] for r in pp.sql("SELECT ITEM_ID FROM gs.interactions WHERE USER_ID = 'u3' "
                                        "AND EVENT_TYPE = 'Watch'").fetchall()}
        assert watched and not watched & {i["itemId"] for i in got}
        # Personalize's default: a solution trains itself again every 7 days
        auto = personalize.create_solution(name="gs-auto", datasetGroupArn=group,
                                           recipeArn="arn:aws:personalize:::recipe/aws-popularity-count")
        assert personalize.describe_solution(solutionArn=auto["solutionArn"])["solution"]["performAutoTraining"]
        personalize.delete_solution(solutionArn=auto["solutionArn"])
        assert [s["name"] for s in personalize.list_solutions(datasetGroupArn=group)["solutions"]] == ["gs-up"]
        with pytest.raises(personalize.exceptions.ResourceInUseException):
            personalize.delete_dataset_group(datasetGroupArn=group)
        assert json.dumps(personalize.list_campaigns()["campaigns"][0], default=str)


def test_paginators_walk_every_list_as_boto3s_do(control, shop):
    everything = [s["solutionArn"] for s in shop["pp"].list_solutions()["solutions"]]
    assert control.can_paginate("list_solutions") and not control.can_paginate("describe_solution")
    pages = list(control.get_paginator("list_solutions").paginate(PaginationConfig={"PageSize": 3}))
    assert [[s["solutionArn"] for s in p["solutions"]] for p in pages] == [everything[:3], everything[3:]]
    capped = list(control.get_paginator("list_solutions").paginate(PaginationConfig={"MaxItems": 2}))
    assert [s["solutionArn"] for p in capped for s in p["solutions"]] == everything[:2]
    group = shop["pp"].describe_dataset_group("movies")["datasetGroup"]["datasetGroupArn"]
    filtered = control.get_paginator("list_solutions").paginate(datasetGroupArn=group)
    assert [s["solutionArn"] for p in filtered for s in p["solutions"]] == everything
    with pytest.raises(pypersonalize.InvalidInput, match="cannot be paginated"):
        control.get_paginator("describe_solution")
    with pytest.raises(ParamValidationError, match="PaginationConfig"):
        list(control.get_paginator("list_solutions").paginate(PaginationConfig={"Size": 3}))
