"""Hostile and odd input to the in-process boto3-shaped clients (clients.py).

Every refused call must raise botocore's client-side :class:`ParamValidationError` (unknown
or missing parameters, wrong types, values under a minimum: cross-checked with botocore's
own ``ParamValidator``, so we never refuse on the client side what botocore lets through) or
one of ``client.exceptions.*Exception`` (what the service checks); never a bare TypeError,
KeyError, AttributeError or a DuckDB error. A refused call leaves the catalog, the list_*
answers and the data exactly as they were, and its message never quotes a file it was
pointed at. Positional arguments and names that are no operation raise TypeError and
AttributeError, as boto3's own clients do. The bugs this file found are
fixed; a new one is added as a test marked ``xfail(strict=True)`` until it is.
"""

from __future__ import annotations

import functools
import json
import shutil
import uuid

import pytest

import pypersonalize
from pypersonalize.clients import ClientError, ParamValidationError, snake
from pypersonalize.errors import PypersonalizeError
from tests.conftest import DOMAIN_DIRS, build_sample_group

botocore = pytest.importorskip("botocore", reason="botocore (the test extra) is not installed")

A = "arn:aws:personalize:local:000000000000"
RECIPE = "arn:aws:personalize:::recipe/"
GROUP, CAMPAIGN, RANKING = f"{A}:dataset-group/movies", f"{A}:campaign/c", f"{A}:campaign/rk"
FILTER, VERSION = f"{A}:filter/comedies", f"{A}:solution/pop/1"
DATASET = f"{A}:dataset/imp/INTERACTIONS"
SURROGATE = "\ud800"                      # a lone surrogate: no valid Unicode, DuckDB cannot store it
SECRET = "TOPSECRET_do_not_echo_4711"     # in files the calls are pointed at; never in a message
TID, IMP_TID, BARE_TID = "<movies trackingId>", "<imp trackingId>", "<bare trackingId>"   # read by the fixture
EVENT = {"eventType": "Watch", "itemId": "m1", "sentAt": 1_735_700_000}
SCHEMA = (DOMAIN_DIRS["VIDEO_ON_DEMAND"] / "interactions.schema.json").read_text()


# -- fixture and helpers ------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """movies (sample data; a popularity campaign c, a ranking campaign rk, a filter, an
    event tracker), bare (no dataset; a tracker) and imp (an empty Interactions dataset; a
    tracker); an S3 root holding bucket/interactions.csv, and secrets beside it."""
    root = tmp_path_factory.mktemp("clients-attack")
    path = root / "p.duckdb"
    (root / "s3" / "bucket").mkdir(parents=True)
    shutil.copy(DOMAIN_DIRS["VIDEO_ON_DEMAND"] / "interactions.csv", root / "s3" / "bucket" / "interactions.csv")
    (root / "secret.csv").write_text(f"{SECRET},{SECRET}\n1,2\n")
    (root / "secret.txt").write_text(f"password={SECRET}\n")
    (root / "secret.json").write_text(json.dumps({
        "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
        "fields": [{"name": SECRET, "type": "bogus"}], "version": "1.0"}))
    with pypersonalize.open(path, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_solution(name="pop", dataset_group="movies", recipe="aws-popularity-count")
        pp.create_campaign(name="c", solution_version=pp.create_solution_version("pop")["solutionVersionArn"])
        pp.create_solution(name="rank", dataset_group="movies", recipe="aws-personalized-ranking")
        pp.create_campaign(name="rk", solution_version=pp.create_solution_version("rank")["solutionVersionArn"])
        pp.create_filter(name="comedies", dataset_group="movies",
                         filter_expression="INCLUDE ItemID WHERE Items.GENRES IN ($G)")
        pp.create_dataset_group(name="bare")
        build_sample_group(pp, "VIDEO_ON_DEMAND", "imp", types=("Interactions",), import_data=False)
        tids = {key: pp.create_event_tracker(name=f"{group}-site", dataset_group=group)["trackingId"]
                for key, group in ((TID, "movies"), (BARE_TID, "bare"), (IMP_TID, "imp"))}
    pp = pypersonalize.open(path, quiet=True)
    yield {"pp": pp, "root": root, "tids": tids,
           "personalize": pypersonalize.client("personalize", project=pp, s3_root=root / "s3"),
           "personalize-runtime": pypersonalize.client("personalize-runtime", project=pp),
           "personalize-events": pypersonalize.client("personalize-events", project=pp)}
    pp.close()


@functools.cache
def _input_shape(service: str, op: str):
    import botocore.session
    return botocore.session.get_session().get_service_model(service).operation_model(op).input_shape


def _botocore_errors(service: str, op: str, params: dict) -> bool:
    """Whether botocore's own client-side validator rejects ``params``."""
    from botocore.validate import ParamValidator
    try:
        return ParamValidator().validate(params, _input_shape(service, op)).has_errors()
    except (RuntimeError, OverflowError, OSError):   # a timestamp past what botocore can convert
        return True


def _resolve(world, params: dict) -> dict:
    return {k: world["tids"][v] if isinstance(v, str) and v in world["tids"] else v for k, v in params.items()}


def refused(client, method: str, **params) -> Exception:
    """The error of a call that must be refused: ParamValidationError or client.exceptions.*."""
    try:
        getattr(client, method)(**params)
    except ParamValidationError as err:
        return err
    except ClientError as err:
        code = err.response["Error"]["Code"]
        assert type(err) is getattr(client.exceptions, code), f"{type(err)} is not client.exceptions.{code}"
        return err
    except Exception as err:  # noqa: BLE001 - a bare error is the failure this file looks for
        pytest.fail(f"bare {type(err).__module__}.{type(err).__name__}: {str(err)[:300]!r}")
    pytest.fail(f"{method}({', '.join(params)}) was accepted")


_LISTED: dict = {}      # list_* answers by the catalog state they were read from


def snapshot(world, *, fresh: bool = True) -> tuple:
    """Everything a refused call must leave as it was: the catalog's rows, the tables, the
    interactions' content, and what list_* answers (read again unless ``fresh=False`` and
    already read for this very catalog state: equal rows give equal answers)."""
    pp, control = world["pp"], world["personalize"]
    objects = tuple(pp.con.execute("SELECT kind, arn, status, config::VARCHAR, updated_at, failure_reason "
                                   "FROM pypersonalize.objects ORDER BY ALL").fetchall())
    tables = tuple(pp.con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                  "WHERE schema_name <> 'pypersonalize' ORDER BY ALL").fetchall())
    data = tuple(tuple(pp.con.execute(f"SELECT count(*), sum(hash(t)) FROM {g}.interactions t").fetchall())
                 for g in ("movies", "imp"))
    state = (objects, tables, data)
    if fresh or state not in _LISTED:
        listed = [sorted(x["name"] for x in control.list_dataset_groups()["datasetGroups"])]
        for op, key in (("list_schemas", "schemas"), ("list_datasets", "datasets"), ("list_solutions", "solutions"),
                        ("list_campaigns", "campaigns"), ("list_filters", "Filters"),
                        ("list_event_trackers", "eventTrackers"), ("list_recommenders", "recommenders")):
            listed.append(sorted(x["name"] for x in getattr(control, op)(maxResults=100)[key]))
        listed.append(sorted(j["jobName"] for j in control.list_dataset_import_jobs(maxResults=100)["datasetImportJobs"]))
        _LISTED[state] = listed
    return (*state, _LISTED[state])


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- the table: one bad call per row --------------------------------------------------------
# (service, operation, params, expected): "PVE" is ParamValidationError (and botocore must
# reject the params too); otherwise the name of the client.exceptions class.

RT, EV, PZ = "personalize-runtime", "personalize-events", "personalize"
CASES = [
    # GetRecommendations: None for optional members, wrong types, unknown and snake_case names
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": None}, "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "filterArn": None}, "PVE"),
    (RT, "GetRecommendations", {"campaignArn": None, "userId": "u1"}, "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "numResults": None}, "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "numResults": 5.0}, "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "numResults": -1}, "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "context": None}, "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "promotions": None}, "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "promotions": {"name": "p"}}, "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "user_id": "u1"}, "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "UserId": "u1"}, "PVE"),
    # GetRecommendations: what the service refuses
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "numResults": 0}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "numResults": 10**30},
     "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "numResults": True}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u" * 10_000}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": "c" * 10_000, "userId": "u1"}, "InvalidInputException"),
    (RT, "GetRecommendations", {"userId": "u1"}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": "", "userId": "u1"}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "recommenderArn": f"{A}:recommender/r", "userId": "u1"},
     "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN + "\x00", "userId": "u1"}, "ResourceNotFoundException"),
    (RT, "GetRecommendations", {"campaignArn": "c' OR 1=1 --", "userId": "u1"}, "ResourceNotFoundException"),
    (RT, "GetRecommendations", {"campaignArn": FILTER, "userId": "u1"}, "ResourceNotFoundException"),
    (RT, "GetRecommendations", {"recommenderArn": CAMPAIGN, "userId": "u1"}, "ResourceNotFoundException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "filterArn": CAMPAIGN},
     "ResourceNotFoundException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": SURROGATE}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": SURROGATE, "userId": "u1"}, "InvalidInputException"),
    # nested wrong types: botocore refuses them on the client side, and so do we
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "context": {"DEVICE": 3}},
     "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "context": {3: "x"}},
     "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "context": {"DEVICE": None}},
     "PVE"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "context": {f"K{i}": "x" for i in range(151)}},
     "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "filterArn": FILTER,
                                "filterValues": {"G": 3}}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "filterArn": FILTER,
                                "filterValues": {"G": ['"Comedy"']}}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "filterArn": FILTER,
                                "filterValues": {1: '"Comedy"'}}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "filterArn": FILTER,
                                "filterValues": {"G": '"Comedy") OR 1=1 --'}}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "filterArn": FILTER,
                                "filterValues": {"G": '"' + "x" * 10_000 + '"'}}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "filterArn": FILTER,
                                "filterValues": {f"k{i}": "x" for i in range(26)}}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "filterArn": FILTER},
     "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "filterValues": {"G": '"Comedy"'}},
     "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "promotions": ["x"]}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "promotions": [None]}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "promotions": [{}]}, "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "promotions": [{}, {}]},
     "InvalidInputException"),
    *[(RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "promotions": [
        {"name": "p", "filterArn": FILTER, "filterValues": {"G": '"Comedy"'}, **promo}]}, "InvalidInputException")
      for promo in ({"percentPromotedItems": "50"}, {"percentPromotedItems": 0}, {"percentPromotedItems": 101},
                    {"percentPromotedItems": True}, {"percentPromotedItems": 10.0},
                    {"percentPromotedItems": 10, "filterArn": 5}, {"percentPromotedItems": 10, "filterArn": None},
                    {"percentPromotedItems": 10, "filterValues": ["x"]},
                    {"percentPromotedItems": 10, "filterValues": {"G": 1}},
                    {"percentPromotedItems": 10, "name": SURROGATE})],
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "metadataColumns": {"Items": ["GENRES"]}},
     "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "metadataColumns": {"ITEMS": "GENRES"}},
     "InvalidInputException"),
    (RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "metadataColumns": {"ITEMS": ["GENRES"]}},
     "InvalidInputException"),
    # GetPersonalizedRanking
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "u1"}, "PVE"),
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "u1", "inputList": "m1"}, "PVE"),
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "u1", "inputList": {"m1": 1}}, "PVE"),
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": None, "inputList": ["m1"]}, "PVE"),
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "u1", "inputList": []}, "InvalidInputException"),
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "u1", "inputList": [1, 2]},
     "InvalidInputException"),
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "u1", "inputList": ["m1", None]},
     "InvalidInputException"),
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "u1", "inputList": [f"m{i}" for i in range(501)]},
     "InvalidInputException"),
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "u1", "inputList": ["m" + SURROGATE]},
     "InvalidInputException"),
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "", "inputList": ["m1"]},
     "InvalidInputException"),
    (RT, "GetPersonalizedRanking", {"campaignArn": CAMPAIGN, "userId": "u1", "inputList": ["m1"]},
     "InvalidInputException"),
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "u1", "inputList": ["m1"],
                                    "context": {"a": 1}}, "InvalidInputException"),
    (RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "u1", "inputList": ["m1"],
                                    "filterArn": FILTER, "filterValues": {"G": 1}}, "InvalidInputException"),
    # PutEvents: client-side, then every malformed event (nothing may be written)
    (EV, "PutEvents", {"trackingId": "", "userId": "u1", "sessionId": "s", "eventList": [EVENT]}, "PVE"),
    (EV, "PutEvents", {"trackingId": TID, "userId": "", "sessionId": "s", "eventList": [EVENT]}, "PVE"),
    (EV, "PutEvents", {"trackingId": TID, "userId": "u1", "sessionId": "", "eventList": [EVENT]}, "PVE"),
    (EV, "PutEvents", {"trackingId": TID, "userId": "u1", "sessionId": None, "eventList": [EVENT]}, "PVE"),
    (EV, "PutEvents", {"trackingId": TID, "userId": "u1", "sessionId": "s", "eventList": []}, "PVE"),
    (EV, "PutEvents", {"trackingId": TID, "userId": "u1", "sessionId": "s", "eventList": EVENT}, "PVE"),
    (EV, "PutEvents", {"trackingId": TID, "userId": "u1", "eventList": [EVENT]}, "PVE"),
    (EV, "PutEvents", {"trackingId": TID, "userId": "u1", "sessionId": "s", "eventList": [EVENT] * 11},
     "InvalidInputException"),
    (EV, "PutEvents", {"trackingId": "t" * 10_000, "userId": "u1", "sessionId": "s", "eventList": [EVENT]},
     "InvalidInputException"),
    *[(EV, "PutEvents", {"trackingId": TID, "userId": "u1", "sessionId": "s", "eventList": [EVENT, bad]},
       "InvalidInputException")
      for bad in ("x", None, 5, ["a"], {"eventType": "Watch"}, {"sentAt": 1_735_700_000},
                  {**EVENT, "sentAt": "yesterday"},
                  {**EVENT, "sentAt": float("nan")}, {**EVENT, "sentAt": 10**30}, {**EVENT, "sentAt": -5},
                  {**EVENT, "sentAt": 1_735_700_000_000}, {**EVENT, "sentAt": True},
                  {**EVENT, "eventType": 5}, {**EVENT, "eventType": ""}, {**EVENT, "eventType": None},
                  {**EVENT, "itemId": None}, {**EVENT, "itemId": ""}, {**EVENT, "itemId": "m\x001"},
                  {**EVENT, "itemId": "m" * 300}, {**EVENT, "itemId": SURROGATE}, {**EVENT, "itemId": 7},
                  {**EVENT, "eventValue": "3"}, {**EVENT, "eventValue": float("inf")},
                  {**EVENT, "properties": "{not json"}, {**EVENT, "properties": "[1, 2]"},
                  {**EVENT, "properties": '{"nope": "x"}'}, {**EVENT, "properties": '{"userId": "u2"}'},
                  {**EVENT, "bogus": 1}, {**EVENT, "impression": "m1|m2"}, {**EVENT, "impression": ["m1|m2"]},
                  {**EVENT, "impression": [1]}, {**EVENT, "recommendationId": 5})],
    (EV, "PutEvents", {"trackingId": TID, "userId": "u\x00", "sessionId": "s", "eventList": [EVENT]},
     "InvalidInputException"),
    (EV, "PutEvents", {"trackingId": TID, "userId": SURROGATE, "sessionId": "s", "eventList": [EVENT]},
     "InvalidInputException"),
    (EV, "PutEvents", {"trackingId": "movies", "userId": "u1", "sessionId": "s", "eventList": [EVENT]},
     "ResourceNotFoundException"),
    (EV, "PutEvents", {"trackingId": f"{A}:event-tracker/movies-site", "userId": "u1", "sessionId": "s",
                       "eventList": [EVENT]}, "ResourceNotFoundException"),
    (EV, "PutEvents", {"trackingId": SURROGATE, "userId": "u1", "sessionId": "s", "eventList": [EVENT]},
     "InvalidInputException"),
    (EV, "PutEvents", {"trackingId": BARE_TID, "userId": "u1", "sessionId": "s", "eventList": [EVENT]},
     "InvalidInputException"),                                   # a group without an Interactions dataset
    # CreateDatasetGroup
    (PZ, "CreateDatasetGroup", {}, "PVE"),
    (PZ, "CreateDatasetGroup", {"name": ""}, "PVE"),
    (PZ, "CreateDatasetGroup", {"name": 5}, "PVE"),
    (PZ, "CreateDatasetGroup", {"Name": "g1"}, "PVE"),
    (PZ, "CreateDatasetGroup", {"name": "g1", "domain": None}, "PVE"),
    (PZ, "CreateDatasetGroup", {"name": "g1", "kmsKeyArn": None}, "PVE"),
    (PZ, "CreateDatasetGroup", {"name": "n" * 10_000}, "InvalidInputException"),
    (PZ, "CreateDatasetGroup", {"name": "g1", "domain": "FOOD"}, "InvalidInputException"),
    (PZ, "CreateDatasetGroup", {"name": "g1", "tags": [{"tagKey": "k" * 129, "tagValue": "v"}]}, "InvalidInputException"),
    *[(PZ, "CreateDatasetGroup", {"name": name}, "InvalidInputException")
      for name in ("a\x00b", "über", "ユーザー", "a;DROP", "a b", "-a", "a.b", "a/b", "..", SURROGATE,
                   "main", "pypersonalize", "system", "temp", "memory")],
    (PZ, "CreateDatasetGroup", {"name": "movies"}, "ResourceAlreadyExistsException"),
    (PZ, "CreateDatasetGroup", {"name": "MOVIES"}, "ResourceAlreadyExistsException"),
    # CreateSchema: never valid JSON of a schema
    (PZ, "CreateSchema", {"name": "s1", "schema": json.loads(SCHEMA)}, "PVE"),
    (PZ, "CreateSchema", {"name": "s1"}, "PVE"),
    (PZ, "CreateSchema", {"name": "s1", "schema": " " * 20_001}, "InvalidInputException"),
    (PZ, "CreateSchema", {"name": "s1", "schema": SCHEMA, "domain": "X"}, "InvalidInputException"),
    (PZ, "CreateSchema", {"name": "movies-interactions", "schema": SCHEMA}, "ResourceAlreadyExistsException"),
    *[(PZ, "CreateSchema", {"name": "s1", "schema": text}, "InvalidInputException")
      for text in ("{not json", "", "   ", "[1, 2]", "null", "5", '"text"', "{}", '{"type": "record"}',
                   '{"type": "record", "name": "Interactions", "fields": []}',
                   '{"type": "record", "name": "Interactions", "fields": "x"}',
                   '{"type": "record", "name": "Interactions", "fields": [1, "a", null]}',
                   '{"type": "record", "name": "Interactions", "fields": [{"name": "USER_ID", "type": {"a": 1}}]}',
                   SCHEMA.replace("USER_ID", "USER\x00ID"), SCHEMA.replace("USER_ID", "USER" + SURROGATE + "ID"),
                   SCHEMA.replace('"string"', '"varchar"'), SCHEMA[: len(SCHEMA) // 2])],
    # CreateDataset
    (PZ, "CreateDataset", {"name": "d1", "datasetGroupArn": "bare", "datasetType": "Clicks",
                           "schemaArn": "movies-interactions"}, "InvalidInputException"),
    (PZ, "CreateDataset", {"name": "d1", "datasetGroupArn": "bare", "datasetType": "Interactions",
                           "schemaArn": f"{A}:schema/nope"}, "ResourceNotFoundException"),
    (PZ, "CreateDataset", {"name": "d1", "datasetGroupArn": "nope", "datasetType": "Interactions",
                           "schemaArn": "movies-interactions"}, "ResourceNotFoundException"),
    (PZ, "CreateDataset", {"name": "d1", "datasetGroupArn": "bare", "datasetType": "Items",
                           "schemaArn": "movies-interactions"}, "InvalidInputException"),
    # CreateSolution
    (PZ, "CreateSolution", {"name": "s1", "datasetGroupArn": GROUP, "performHPO": "true"}, "PVE"),
    (PZ, "CreateSolution", {"name": "s1", "recipeArn": RECIPE + "aws-popularity-count"}, "PVE"),
    (PZ, "CreateSolution", {"name": "s1", "datasetGroupArn": GROUP}, "InvalidInputException"),
    # an unknown recipe: InvalidInputException or ResourceNotFoundException, and no solution
    *[(PZ, "CreateSolution", {"name": "s1", "datasetGroupArn": GROUP, "recipeArn": recipe}, None)
      for recipe in (RECIPE + "aws-nope", "garbage", "", RECIPE + "aws-vod-top-picks",
                     RECIPE + "aws-sims\x00", RECIPE + "AWS-SIMS", RECIPE + "aws-popularity-count; DROP")],
    (PZ, "DescribeRecipe", {"recipeArn": RECIPE + "aws-nope"}, None),
    (PZ, "CreateSolution", {"name": "s1", "datasetGroupArn": GROUP + "x", "recipeArn": RECIPE + "aws-popularity-count"},
     "ResourceNotFoundException"),
    (PZ, "CreateSolution", {"name": "pop", "datasetGroupArn": GROUP, "recipeArn": RECIPE + "aws-popularity-count"},
     "ResourceAlreadyExistsException"),
    (PZ, "CreateSolution", {"name": "s1", "datasetGroupArn": GROUP, "recipeArn": RECIPE + "aws-popularity-count",
                            "solutionConfig": {"bogus": 1}}, "InvalidInputException"),
    (PZ, "CreateSolution", {"name": "s1", "datasetGroupArn": GROUP, "recipeArn": RECIPE + "aws-user-personalization",
                            "solutionConfig": {"algorithmHyperParameters": {"hidden_dimension": 5}}},
     "InvalidInputException"),
    (PZ, "CreateSolution", {"name": "s1", "datasetGroupArn": GROUP, "recipeArn": RECIPE + "aws-popularity-count",
                            "performIncrementalUpdate": True}, "InvalidInputException"),
    (PZ, "CreateSolution", {"name": "s1", "datasetGroupArn": "bare", "recipeArn": RECIPE + "aws-popularity-count"},
     "InvalidInputException"),
    # CreateSolutionVersion, CreateCampaign, UpdateCampaign
    (PZ, "CreateSolutionVersion", {"solutionArn": f"{A}:solution/nope"}, "ResourceNotFoundException"),
    (PZ, "CreateSolutionVersion", {"solutionArn": f"{A}:solution/pop", "trainingMode": "PARTIAL"},
     "InvalidInputException"),
    (PZ, "CreateSolutionVersion", {"solutionArn": f"{A}:solution/pop", "trainingMode": "UPDATE"},
     "InvalidInputException"),
    (PZ, "CreateCampaign", {"name": "c9", "solutionVersionArn": VERSION, "minProvisionedTPS": 0}, "PVE"),
    (PZ, "CreateCampaign", {"name": "c9", "solutionVersionArn": VERSION, "campaignConfig": None}, "PVE"),
    (PZ, "CreateCampaign", {"name": "c9", "solutionVersionArn": VERSION, "minProvisionedTPS": True},
     "InvalidInputException"),
    *[(PZ, "CreateCampaign", {"name": "c9", "solutionVersionArn": VERSION, "campaignConfig": config},
       "InvalidInputException")
      for config in ({"bogus": 1}, {"itemExplorationConfig": {"explorationWeight": "abc"}},
                     {"itemExplorationConfig": ["x"]}, {"enableMetadataWithRecommendations": "yes"})],
    (PZ, "CreateCampaign", {"name": "c9", "solutionVersionArn": VERSION + "9"}, "ResourceNotFoundException"),
    (PZ, "CreateCampaign", {"name": "c9", "solutionVersionArn": f"{A}:solution/pop"}, "ResourceNotFoundException"),
    (PZ, "CreateCampaign", {"name": "c", "solutionVersionArn": VERSION}, "ResourceAlreadyExistsException"),
    (PZ, "UpdateCampaign", {"campaignArn": CAMPAIGN, "campaignConfig": {"bogus": 1}}, "InvalidInputException"),
    (PZ, "UpdateCampaign", {"campaignArn": CAMPAIGN, "solutionVersionArn": f"{A}:solution/rank/1"},
     "InvalidInputException"),
    (PZ, "UpdateCampaign", {"campaignArn": f"{A}:campaign/nope"}, "ResourceNotFoundException"),
    # CreateFilter, CreateEventTracker
    *[(PZ, "CreateFilter", {"name": "f1", "datasetGroupArn": GROUP, "filterExpression": text}, "InvalidInputException")
      for text in ("garbage", 'EXCLUDE ItemID WHERE Items.GENRES IN ("x"); DROP TABLE movies.items; --',
                   'EXCLUDE ItemID WHERE Items.NOPE IN ("x")', "x" * 2501,
                   'EXCLUDE ItemID WHERE Items.GENRES IN ("x") OR 1=1',
                   "EXCLUDE ItemID WHERE Items.GENRES IN ($G) | EXCLUDE ItemID WHERE ' OR ''='")],
    (PZ, "CreateFilter", {"name": "f1", "datasetGroupArn": GROUP, "filterExpression": ""}, "PVE"),
    (PZ, "CreateFilter", {"name": "comedies", "datasetGroupArn": GROUP,
                          "filterExpression": 'EXCLUDE ItemID WHERE Items.GENRES IN ("x")'},
     "ResourceAlreadyExistsException"),
    (PZ, "CreateEventTracker", {"name": "t1", "datasetGroupArn": GROUP}, "ResourceAlreadyExistsException"),
    (PZ, "CreateEventTracker", {"name": "movies-site", "datasetGroupArn": "nope"}, "ResourceNotFoundException"),
    (PZ, "CreateEventTracker", {"name": "bad name!", "datasetGroupArn": GROUP}, "InvalidInputException"),
    (PZ, "CreateEventTracker", {"name": "t1", "datasetGroupArn": GROUP, "tags": [{"tagKey": "k", "tagValue": "v" * 257}]}, "InvalidInputException"),
    # Delete of things in use, of nothing, of the wrong kind
    (PZ, "DeleteDatasetGroup", {"datasetGroupArn": GROUP}, "ResourceInUseException"),
    (PZ, "DeleteDatasetGroup", {"datasetGroupArn": f"{A}:dataset-group/bare"}, "ResourceInUseException"),
    (PZ, "DeleteSchema", {"schemaArn": f"{A}:schema/movies-interactions"}, "ResourceInUseException"),
    (PZ, "DeleteDataset", {"datasetArn": f"{A}:dataset/movies/INTERACTIONS"}, "ResourceInUseException"),
    (PZ, "DeleteSolution", {"solutionArn": f"{A}:solution/pop"}, "ResourceInUseException"),
    (PZ, "DeleteCampaign", {"campaignArn": f"{A}:campaign/nope"}, "ResourceNotFoundException"),
    (PZ, "DeleteCampaign", {"campaignArn": FILTER}, "ResourceNotFoundException"),
    (PZ, "DeleteCampaign", {"campaignArn": ""}, "InvalidInputException"),
    (PZ, "DeleteCampaign", {}, "PVE"),
    (PZ, "DeleteCampaign", {"campaignArn": None}, "PVE"),
    (PZ, "DeleteFilter", {"filterArn": f"{A}:filter/nope"}, "ResourceNotFoundException"),
    (PZ, "DeleteRecommender", {"recommenderArn": f"{A}:recommender/nope"}, "ResourceNotFoundException"),
    (PZ, "DeleteEventTracker", {"eventTrackerArn": f"{A}:event-tracker/nope"}, "ResourceNotFoundException"),
    # Describe / Get / List of odd things
    (PZ, "DescribeCampaign", {"campaign_arn": CAMPAIGN}, "PVE"),
    (PZ, "DescribeDatasetGroup", {"datasetGroupArn": "x" * 10_000}, "InvalidInputException"),
    (PZ, "DescribeDatasetImportJob", {"datasetImportJobArn": "x"}, "ResourceNotFoundException"),
    (PZ, "DescribeBatchInferenceJob", {"batchInferenceJobArn": "x"}, "ResourceNotFoundException"),
    (PZ, "DescribeRecipe", {"recipeArn": RECIPE + "aws-sims\x00"}, None),
    (PZ, "DescribeRecipe", {"recipeArn": RECIPE + SURROGATE}, None),
    (PZ, "GetSolutionMetrics", {"solutionVersionArn": f"{A}:solution/pop"}, "ResourceNotFoundException"),
    (PZ, "ListSolutions", {"datasetGroupArn": "nope"}, "ResourceNotFoundException"),
    (PZ, "ListCampaigns", {"solutionArn": FILTER}, "ResourceNotFoundException"),
    (PZ, "ListRecipes", {"recipeProvider": "CUSTOM"}, "InvalidInputException"),
    (PZ, "ListRecipes", {"domain": "GAMES"}, "InvalidInputException"),
    (PZ, "DescribeAlgorithm", {"algorithmArn": "arn:aws:personalize:::algorithm/aws-sims"}, "InvalidInputException"),
]


def _case_id(case) -> str:
    service, op, params, _ = case
    text = ",".join(f"{k}={v!r:.40}" for k, v in params.items())
    return f"{op}[{text}]".encode("ascii", "backslashreplace").decode()


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_a_bad_call_raises_a_client_or_service_error_and_changes_nothing(world, case):
    service, op, params, expected = case
    params = _resolve(world, params)
    client = world[service]
    before = snapshot(world, fresh=False)
    err = refused(client, snake(op), **params)
    botocore_refuses = _botocore_errors(service, op, params)
    if isinstance(err, ParamValidationError):
        # never stricter than botocore on the client side
        assert botocore_refuses, f"botocore accepts what we refused: {err}"
        assert str(err).startswith("Parameter validation failed:")
    if botocore_refuses:
        # and never more lenient: what botocore refuses before sending, we refuse the same way
        assert isinstance(err, ParamValidationError), f"botocore refuses this client-side; we raised {err}"
    elif expected == "PVE":
        assert isinstance(err, ParamValidationError), f"expected a client-side ParamValidationError, got {err}"
    elif expected is not None:
        assert err.response["Error"]["Code"] == expected, str(err)
        assert f"when calling the {op} operation" in str(err)
        assert isinstance(err, PypersonalizeError)
    assert len(str(err)) < 2_000, "the message echoes a huge value back"
    assert snapshot(world) == before


def test_a_huge_promotion_name_is_not_echoed(world):
    err = refused(world["personalize-runtime"], "get_recommendations", campaignArn=CAMPAIGN, userId="u1", promotions=[
        {"name": "p" * 10_000, "percentPromotedItems": 10, "filterArn": FILTER, "filterValues": {"G": '"Comedy"'}}])
    assert err.response["Error"]["Code"] == "InvalidInputException"
    assert len(str(err)) < 2_000


@pytest.mark.parametrize("recipe", [RECIPE + "../aws-sims", f"{A}:campaign/aws-sims", "arn:aws:s3:::bucket/aws-sims"])
def test_a_recipe_arn_must_be_a_recipe_arn(world, recipe):
    control = world["personalize"]
    name = _unique("s")
    try:
        err = refused(control, "create_solution", name=name, datasetGroupArn=GROUP, recipeArn=recipe,
                      performAutoTraining=False)
        assert err.response["Error"]["Code"] in ("InvalidInputException", "ResourceNotFoundException")
    finally:
        for solution in control.list_solutions(datasetGroupArn=GROUP)["solutions"]:
            if solution["name"] == name:
                control.delete_solution(solutionArn=solution["solutionArn"])


# -- lone surrogates in the control plane: DuckDB errors escape ----------------------------

SURROGATE_CASES = [
    ("DescribeDatasetGroup", {"datasetGroupArn": SURROGATE}),
    ("DescribeCampaign", {"campaignArn": SURROGATE}),
    ("DescribeEventTracker", {"eventTrackerArn": SURROGATE}),
    ("GetSolutionMetrics", {"solutionVersionArn": "x" + SURROGATE}),
    ("ListSolutions", {"datasetGroupArn": SURROGATE}),
    ("ListDatasetImportJobs", {"datasetArn": SURROGATE}),
    ("DeleteDatasetGroup", {"datasetGroupArn": SURROGATE}),
    ("DeleteFilter", {"filterArn": SURROGATE}),
    ("CreateSolution", {"name": "s1", "datasetGroupArn": SURROGATE, "recipeArn": RECIPE + "aws-popularity-count"}),
    ("CreateSolution", {"name": "s1", "datasetGroupArn": GROUP, "recipeArn": RECIPE + "aws-popularity-count",
                        "eventType": SURROGATE, "performAutoTraining": False}),
    ("CreateCampaign", {"name": "c9", "solutionVersionArn": SURROGATE}),
    ("CreateFilter", {"name": "f1", "datasetGroupArn": GROUP,
                      "filterExpression": f'EXCLUDE ItemID WHERE Items.GENRES IN ("{SURROGATE}")'}),
    ("CreateEventTracker", {"name": "t1", "datasetGroupArn": SURROGATE}),
    ("CreateDataset", {"name": "d1", "datasetGroupArn": "bare", "datasetType": "Interactions", "schemaArn": SURROGATE}),
    ("CreateDatasetImportJob", {"jobName": "j1", "datasetArn": SURROGATE, "dataSource": {"dataLocation": "/x.csv"}}),
    ("CreateDatasetImportJob", {"jobName": "j1", "datasetArn": DATASET,
                                "dataSource": {"dataLocation": f"/x{SURROGATE}.csv"}}),
    ("UpdateCampaign", {"campaignArn": SURROGATE}),
    ("CreateSolutionVersion", {"solutionArn": SURROGATE}),
]


@pytest.mark.parametrize(("op", "params"), SURROGATE_CASES,
                         ids=[f"{op}-{i}" for i, (op, _) in enumerate(SURROGATE_CASES)])
def test_lone_surrogates_in_the_control_plane_are_invalid_input(world, op, params):
    before = snapshot(world)
    err = refused(world["personalize"], snake(op), **params)
    assert err.response["Error"]["Code"] == "InvalidInputException"
    assert snapshot(world) == before


def test_the_runtime_refuses_lone_surrogates_cleanly(world):
    """The runtime reads every id through text(): the same input there is InvalidInputException."""
    runtime = world["personalize-runtime"]
    for params in ({"campaignArn": CAMPAIGN, "itemId": SURROGATE},
                   {"campaignArn": CAMPAIGN, "userId": "u1", "filterArn": SURROGATE},
                   {"campaignArn": CAMPAIGN, "userId": "u1", "filterArn": FILTER, "filterValues": {SURROGATE: '"x"'}},
                   {"recommenderArn": SURROGATE, "userId": "u1"}):
        assert refused(runtime, "get_recommendations", **params).response["Error"]["Code"] == "InvalidInputException"


# -- PutEvents ------------------------------------------------------------------------------

def test_put_events_after_the_tracker_is_deleted_is_resource_not_found(world):
    control, events = world["personalize"], world["personalize-events"]
    name = _unique("gone")
    group = control.create_dataset_group(name=name)["datasetGroupArn"]
    tracker = control.create_event_tracker(name=name, datasetGroupArn=group)
    control.delete_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])
    control.delete_dataset_group(datasetGroupArn=group)
    before = snapshot(world)
    for tracking_id in (tracker["trackingId"], tracker["trackingId"].upper(), tracker["eventTrackerArn"]):
        err = refused(events, "put_events", trackingId=tracking_id, userId="u1", sessionId="s", eventList=[EVENT])
        assert err.response["Error"]["Code"] == "ResourceNotFoundException"
    err = refused(control, "describe_event_tracker", eventTrackerArn=tracker["eventTrackerArn"])
    assert err.response["Error"]["Code"] == "ResourceNotFoundException"
    err = refused(control, "delete_event_tracker", eventTrackerArn=tracker["eventTrackerArn"])
    assert err.response["Error"]["Code"] == "ResourceNotFoundException"
    assert snapshot(world) == before


def test_one_bad_event_of_ten_writes_none_of_them(world):
    events, pp = world["personalize-events"], world["pp"]
    good = [{**EVENT, "itemId": f"m{i}", "sentAt": 1_735_700_000 + i} for i in range(1, 10)]
    before = snapshot(world)
    for bad in ({**EVENT, "itemId": "m\x00"}, {**EVENT, "sentAt": -1}, "x"):
        err = refused(events, "put_events", trackingId=world["tids"][IMP_TID], userId="attacker", sessionId="s",
                      eventList=[*good, bad])
        assert any(w in str(err) for w in ("event 10", "row 10", "eventList[9]")), str(err)
    assert snapshot(world) == before
    assert pp.con.execute("SELECT count(*) FROM imp.interactions WHERE USER_ID = 'attacker'").fetchall() == [(0,)]


# -- dataSource ------------------------------------------------------------------------------

def test_a_data_source_without_a_location_is_refused_before_any_job(world):
    control = world["personalize"]
    before = snapshot(world)
    for source in ({}, {"dataLocation": None}, {"dataLocation": 5}, {"dataLocation": ""},
                   {"dataLocation": ["s3://bucket/interactions.csv"]}, {"location": "s3://bucket/interactions.csv"}):
        err = refused(control, "create_dataset_import_job", jobName=_unique("j"), datasetArn=DATASET, dataSource=source)
        assert isinstance(err, ParamValidationError) or err.response["Error"]["Code"] == "InvalidInputException"
    err = refused(control, "create_dataset_import_job", jobName="j", datasetArn=DATASET,
                  dataSource="s3://bucket/interactions.csv")
    assert isinstance(err, ParamValidationError)
    assert snapshot(world) == before


def test_an_s3_location_without_a_root_is_refused(world, monkeypatch):
    monkeypatch.delenv("PYPERSONALIZE_S3_ROOT", raising=False)
    control = pypersonalize.client("personalize", project=world["pp"])
    before = snapshot(world)
    err = refused(control, "create_dataset_import_job", jobName=_unique("j"), datasetArn=DATASET,
                  dataSource={"dataLocation": "s3://bucket/interactions.csv"})
    assert err.response["Error"]["Code"] == "InvalidInputException" and "s3_root" in str(err)
    assert snapshot(world) == before


@pytest.mark.parametrize("location", [
    "s3://bucket/../../secret.csv", "s3://bucket/../secret.csv", "s3://../secret.csv", "s3://..",
    "s3://bucket//interactions.csv", "s3:///secret.csv", "s3:////etc/passwd", "s3://",
    "s3://bucket/./interactions.csv", "s3://./bucket/interactions.csv", "s3://bucket/interactions.csv/..",
    "s3://bucket/a/../interactions.csv",
])
def test_s3_keys_cannot_leave_the_root(world, location):
    before = snapshot(world)
    err = refused(world["personalize"], "create_dataset_import_job", jobName=_unique("j"), datasetArn=DATASET,
                  dataSource={"dataLocation": location})
    assert err.response["Error"]["Code"] == "InvalidInputException"
    assert "not an S3 bucket/key path" in str(err)
    assert SECRET not in str(err)
    assert snapshot(world) == before


@pytest.mark.parametrize("location", [
    "s3://bucket/nope.csv", "s3://bucket/%2e%2e/secret.csv", "s3://bucket/..%2fsecret.csv",
    "s3://bucket\\..\\secret.csv", "s3://bucket/interactions.csv\x00.txt", "S3://bucket/interactions.csv",
    "s3:/bucket/interactions.csv", "https://example.com/x.csv", "file:///etc/passwd", "/dev/zero", "/etc",
    "<secret.csv>", "<project file>", "<root>",
])
def test_a_failed_import_leaves_at_most_a_failed_job_and_no_rows(world, location):
    """A location that names nothing importable fails as Personalize's jobs do: the job (if
    recorded at all) is CREATE FAILED with its reason; no row arrives; no file is quoted."""
    control = world["personalize"]
    location = {"<secret.csv>": str(world["root"] / "secret.csv"), "<project file>": str(world["pp"].path),
                "<root>": str(world["root"])}.get(location, location)
    before = snapshot(world)
    name = _unique("j")
    err = refused(control, "create_dataset_import_job", jobName=name, datasetArn=DATASET,
                  dataSource={"dataLocation": location})
    assert err.response["Error"]["Code"] == "InvalidInputException"
    assert SECRET not in str(err)
    objects, tables, data, listed = snapshot(world)
    assert (tables, data) == before[1:3]
    new = sorted(set(objects) - set(before[0]))
    assert set(before[0]) <= set(objects)
    assert [row[:3] for row in new] in ([], [("dataset-import-job", f"{A}:dataset-import-job/{name}", "CREATE FAILED")])
    jobs = listed[-1]
    assert sorted(jobs) == sorted([*before[3][-1], *([name] if new else [])])
    if new:
        job = control.describe_dataset_import_job(datasetImportJobArn=new[0][1])["datasetImportJob"]
        assert job["failureReason"] and SECRET not in job["failureReason"]


# -- CreateSchema's text is JSON, never a path -----------------------------------------------

def test_a_schema_naming_a_text_file_never_quotes_it(world):
    before = snapshot(world)
    for text in (str(world["root"] / "secret.txt"), str(world["root"] / "secret.csv"), "/etc/passwd", "/etc",
                 "../../../../etc/hostname", "/nonexistent/x.json", "/dev/zero"):
        err = refused(world["personalize"], "create_schema", name="s1", schema=text)
        assert err.response["Error"]["Code"] == "InvalidInputException"
        assert SECRET not in str(err)
    assert snapshot(world) == before


def test_create_schema_does_not_read_a_local_file(world):
    before = snapshot(world)
    path = DOMAIN_DIRS["VIDEO_ON_DEMAND"] / "interactions.schema.json"
    err = refused(world["personalize"], "create_schema", name=_unique("from-file"), schema=str(path))
    assert err.response["Error"]["Code"] == "InvalidInputException"
    assert snapshot(world) == before


def test_a_schema_naming_a_json_file_never_quotes_it(world):
    before = snapshot(world)
    err = refused(world["personalize"], "create_schema", name="s1", schema=str(world["root"] / "secret.json"))
    assert SECRET not in str(err)
    assert snapshot(world) == before


# -- botocore parity of nested members ---------------------------------------------------------

def test_nested_wrong_types_are_refused_here_where_botocore_refuses_them_client_side(world):
    """botocore checks nested shapes on the client side; here the service does (the model keeps
    top-level members only). Either way the call is refused with a catchable class."""
    runtime, events = world["personalize-runtime"], world["personalize-events"]
    cases = [(runtime, RT, "GetRecommendations", {"campaignArn": CAMPAIGN, "userId": "u1", "context": {"D": 3}}),
             (runtime, RT, "GetPersonalizedRanking", {"campaignArn": RANKING, "userId": "u1", "inputList": [1]}),
             (events, EV, "PutEvents", {"trackingId": world["tids"][TID], "sessionId": "s", "userId": "u1",
                                        "eventList": ["x"]})]
    for client, service, op, params in cases:
        assert _botocore_errors(service, op, params)
        err = refused(client, snake(op), **params)
        assert isinstance(err, (ParamValidationError, client.exceptions.InvalidInputException))


def test_an_unknown_key_in_a_promotion_is_refused(world):
    params = {"campaignArn": CAMPAIGN, "userId": "u1", "promotions": [
        {"name": "p", "percentPromotedItems": 10, "filterArn": FILTER, "filterValues": {"G": '"Comedy"'},
         "bogus": 1}]}
    assert _botocore_errors(RT, "GetRecommendations", params)
    refused(world["personalize-runtime"], "get_recommendations", **params)


def test_an_unknown_key_in_a_data_source_is_refused_client_side(world, monkeypatch):
    monkeypatch.delenv("PYPERSONALIZE_S3_ROOT", raising=False)
    params = {"jobName": _unique("j"), "datasetArn": DATASET,
              "dataSource": {"dataLocation": "s3://bucket/interactions.csv", "bogus": 1}}
    assert _botocore_errors(PZ, "CreateDatasetImportJob", params)
    client = pypersonalize.client("personalize", project=world["pp"])
    assert isinstance(refused(client, "create_dataset_import_job", **params), ParamValidationError)


@pytest.mark.parametrize("which", ["inputList", "promotions", "eventList"])
def test_tuples_are_lists_as_botocore_takes_them(world, which):
    runtime, events = world["personalize-runtime"], world["personalize-events"]
    if which == "inputList":
        params = {"campaignArn": RANKING, "userId": "u1", "inputList": ["m1", "m2", "m3"]}
        as_tuple = {**params, "inputList": tuple(params["inputList"])}
        assert not _botocore_errors(RT, "GetPersonalizedRanking", as_tuple)
        got = runtime.get_personalized_ranking(**as_tuple)["personalizedRanking"]
        assert got == runtime.get_personalized_ranking(**params)["personalizedRanking"]
    elif which == "promotions":
        params = {"campaignArn": CAMPAIGN, "userId": "u1", "numResults": 4, "promotions": [
            {"name": "p", "percentPromotedItems": 50, "filterArn": FILTER, "filterValues": {"G": '"Comedy"'}}]}
        as_tuple = {**params, "promotions": tuple(params["promotions"])}
        assert not _botocore_errors(RT, "GetRecommendations", as_tuple)
        # promoted items take random slots, so two calls are compared by what they hold
        got, want = (runtime.get_recommendations(**p)["itemList"] for p in (as_tuple, params))
        assert len(got) == len(want) == 4
        assert sum(i.get("promotionName") == "p" for i in got) == sum(i.get("promotionName") == "p" for i in want) == 2
    else:
        params = {"trackingId": world["tids"][IMP_TID], "userId": "tuple-user", "sessionId": "s",
                  "eventList": (EVENT,)}
        assert not _botocore_errors(EV, "PutEvents", params)
        events.put_events(**params)
        assert world["pp"].con.execute(
            "SELECT count(*) FROM imp.interactions WHERE USER_ID = 'tuple-user'").fetchall() == [(1,)]


def test_a_context_value_over_its_maximum_is_refused(world):
    err = refused(world["personalize-runtime"], "get_recommendations", campaignArn=CAMPAIGN, userId="u1",
                  context={"DEVICE": "x" * 1001})
    assert err.response["Error"]["Code"] == "InvalidInputException"


def test_an_input_list_id_over_its_maximum_is_refused(world):
    err = refused(world["personalize-runtime"], "get_personalized_ranking", campaignArn=RANKING, userId="u1",
                  inputList=["m" * 257])
    assert err.response["Error"]["Code"] == "InvalidInputException"


# -- paging ------------------------------------------------------------------------------------

def test_paging_round_trips_and_refuses_bad_sizes_and_tokens(world):
    control = world["personalize"]
    everything = [r["recipeArn"] for r in control.list_recipes()["recipes"]]
    assert len(everything) > 3
    for size in (1, 2, 3, 100):
        seen, token = [], None
        while True:
            page = control.list_recipes(maxResults=size, **({"nextToken": token} if token else {}))
            assert len(page["recipes"]) <= size
            seen += [r["recipeArn"] for r in page["recipes"]]
            token = page.get("nextToken")
            if token is None:
                break
        assert seen == everything
    for size in (0, -1, 1.0, None, "5"):
        assert isinstance(refused(control, "list_recipes", maxResults=size), ParamValidationError)
    for size in (101, 10**20):
        assert refused(control, "list_recipes", maxResults=size).response["Error"]["Code"] == "InvalidInputException"
    for token in (-1, 1, None, b"1"):
        assert isinstance(refused(control, "list_recipes", nextToken=token), ParamValidationError)
    assert refused(control, "list_recipes", nextToken="1" * 1501).response["Error"]["Code"] == "InvalidInputException"
    for token in ("-1", "", " 1", "1 ", "+1", "1.0", "0x1", "1e3", str(len(everything) + 1), "9" * 1500,
                  "\x00", "1\x00", SURROGATE, "abc"):
        err = refused(control, "list_recipes", nextToken=token)
        assert err.response["Error"]["Code"] == "InvalidNextTokenException", (token, str(err))
        assert len(str(err)) < 2_000


def test_a_superscript_digit_token_is_an_invalid_next_token(world):
    err = refused(world["personalize"], "list_recipes", nextToken="²")
    assert err.response["Error"]["Code"] == "InvalidNextTokenException"


@pytest.mark.parametrize("token", ["१", "01"])
def test_a_token_never_handed_out_is_refused(world, token):
    assert world["personalize"].list_recipes(maxResults=1)["nextToken"] == "1"
    err = refused(world["personalize"], "list_recipes", nextToken=token)
    assert err.response["Error"]["Code"] == "InvalidNextTokenException"


def test_a_boolean_max_results_is_refused(world):
    err = refused(world["personalize"], "list_solutions", maxResults=True)
    assert err.response["Error"]["Code"] == "InvalidInputException"


@pytest.mark.parametrize(("op", "member"), [("list_solutions", "datasetGroupArn"), ("list_datasets", "datasetGroupArn"),
                                            ("list_campaigns", "solutionArn"), ("list_event_trackers", "datasetGroupArn")])
def test_an_empty_arn_does_not_widen_a_list(world, op, member):
    err = refused(world["personalize"], op, **{member: ""})
    assert err.response["Error"]["Code"] == "InvalidInputException"


# -- the client object itself ---------------------------------------------------------------------

def test_positional_arguments_and_non_operations_fail_as_in_boto3(world):
    """boto3 raises TypeError for positional arguments and AttributeError for a name that is no
    operation of the service; so do these clients (hasattr/getattr(default) keep working)."""
    runtime, control, events = world["personalize-runtime"], world["personalize"], world["personalize-events"]
    before = snapshot(world)
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        runtime.get_recommendations(CAMPAIGN)
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        control.create_dataset_group("g1")
    with pytest.raises(TypeError, match="only accepts keyword arguments"):
        events.put_events(world["tids"][TID], "u1", "s", [EVENT])
    for client, name in ((runtime, "create_dataset_group"), (control, "get_recommendations"),
                         (events, "put_event"), (control, "CreateDatasetGroup"), (control, "createDatasetGroup"),
                         (control, ""), (control, "list_recipes "), (control, "__foo__")):
        with pytest.raises(AttributeError, match="has no operation"):
            getattr(client, name)
        assert not hasattr(client, name)
        assert getattr(client, name, None) is None
    assert "put_events" in dir(events) and "get_recommendations" not in dir(events)
    assert not any(n.startswith(("create_", "delete_")) for n in dir(runtime))
    assert snapshot(world) == before


def test_read_only_clients_refuse_writes_with_a_service_error(tmp_path):
    path = tmp_path / "ro.duckdb"
    with pypersonalize.client("personalize", db=path) as control:
        control.create_dataset_group(name="g1")
    control = pypersonalize.client("personalize", db=path, read_only=True)
    try:
        events = pypersonalize.client("personalize-events", project=control._pp)
        for method, params in (("create_dataset_group", {"name": "g2"}),
                               ("delete_dataset_group", {"datasetGroupArn": f"{A}:dataset-group/g1"})):
            assert refused(control, method, **params).response["Error"]["Code"] == "InvalidInputException"
        err = refused(events, "put_events", trackingId="t", userId="u1", sessionId="s", eventList=[EVENT])
        assert err.response["Error"]["Code"] in ("InvalidInputException", "ResourceNotFoundException")
        assert [g["name"] for g in control.list_dataset_groups()["datasetGroups"]] == ["g1"]
    finally:
        control.close()


def test_client_factory_arguments_are_checked(world, tmp_path):
    for kwargs in ({}, {"db": tmp_path / "a.duckdb", "project": world["pp"]}):
        with pytest.raises(pypersonalize.InvalidInput):
            pypersonalize.client("personalize", **kwargs)
    for service in (None, "Personalize", "personalize ", "s3", ""):
        with pytest.raises(pypersonalize.InvalidInput, match="unknown service"):
            pypersonalize.client(service, project=world["pp"])
    for db in ("/nonexistent/dir/x.duckdb", tmp_path, world["root"] / "secret.txt"):
        with pytest.raises(pypersonalize.InvalidInput) as info:
            pypersonalize.client("personalize", db=db)
        assert SECRET not in str(info.value)
    with pytest.raises(pypersonalize.InvalidInput):
        pypersonalize.client("personalize", db=tmp_path / "none.duckdb", read_only=True)
    assert not (tmp_path / "none.duckdb").exists() and not (tmp_path / "a.duckdb").exists()


def test_a_project_that_is_no_project_is_refused(tmp_path):
    with pytest.raises(pypersonalize.InvalidInput):
        pypersonalize.client("personalize", project=str(tmp_path / "p.duckdb"))


@pytest.mark.parametrize("method", ["list_dataset_groups", "create_dataset_group", "get_recommendations"])
def test_a_closed_client_raises_a_pypersonalize_error(tmp_path, method):
    path = tmp_path / "closed.duckdb"
    control = pypersonalize.client("personalize", db=path)
    runtime = pypersonalize.client("personalize-runtime", project=control._pp)
    control.close()
    control.close()                                  # closing twice is harmless
    client = runtime if method == "get_recommendations" else control
    params = {"create_dataset_group": {"name": "late"}, "get_recommendations": {"campaignArn": "c", "userId": "u1"},
              "list_dataset_groups": {}}[method]
    with pytest.raises(PypersonalizeError):
        getattr(client, method)(**params)
