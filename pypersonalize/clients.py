"""boto3-shaped clients in process: Personalize's exact operation and parameter names.

>>> import pypersonalize
>>> runtime = pypersonalize.client("personalize-runtime", db="shop.duckdb")   # doctest: +SKIP
>>> runtime.get_recommendations(campaignArn=arn, userId="u1", numResults=5)["itemList"]  # doctest: +SKIP

A method is named as boto3 names it (``GetRecommendations`` -> ``get_recommendations``) and
takes keyword arguments only, checked against botocore's service model (``aws_model.py``):
an unknown or missing required parameter, a wrong type or a value under its minimum raises
:class:`ParamValidationError` before anything runs, as botocore does on the client side;
what the service checks (a value over its maximum, a missing resource) raises the exception
class Personalize raises, found on ``client.exceptions`` (``ResourceNotFoundException`` is
also a :class:`pypersonalize.ResourceNotFound`, and so on). Each call runs the same
:class:`pypersonalize.Project` method the Python API uses; the table ``OPERATIONS`` maps the
parameters. Responses carry only the operation's output members, plus ``ResponseMetadata``.
Operations of the service model not mapped yet raise "not supported yet".
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import aws_model
from .errors import (
    InvalidInput,
    LimitExceeded,
    PypersonalizeError,
    ResourceAlreadyExists,
    ResourceInUse,
    ResourceNotFound,
)
from .numbers import epoch_seconds

_PYTHON_TYPES = {"string": (str,), "integer": (int,), "long": (int,), "float": (int, float),
                 "double": (int, float), "boolean": (bool,), "map": (dict,), "structure": (dict,),
                 "list": (list, tuple), "timestamp": (int, float, str), "blob": (bytes, str)}
_BASES = {"ResourceNotFoundException": ResourceNotFound, "InvalidInputException": InvalidInput,
          "ResourceAlreadyExistsException": ResourceAlreadyExists, "ResourceInUseException": ResourceInUse,
          "LimitExceededException": LimitExceeded}
_CODE_OF = [(ResourceNotFound, "ResourceNotFoundException"), (ResourceAlreadyExists, "ResourceAlreadyExistsException"),
            (ResourceInUse, "ResourceInUseException"), (LimitExceeded, "LimitExceededException"),
            (InvalidInput, "InvalidInputException")]


class ParamValidationError(InvalidInput):
    """A call that does not fit the operation's input shape (botocore's client-side check)."""


class ClientError(PypersonalizeError):
    """An error as boto3 reports it: ``err.response["Error"]["Code"]`` names the exception."""

    def __init__(self, code: str, message: str, operation: str):
        super().__init__(f"An error occurred ({code}) when calling the {operation} operation: {message}")
        self.response = {"Error": {"Code": code, "Message": message},
                         "ResponseMetadata": {"HTTPStatusCode": 400}}
        self.operation_name = operation


def snake(name: str) -> str:
    """boto3's method name of an operation: GetSolutionMetrics -> get_solution_metrics."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


# -- the mapping: operation -> (Project method, [(aws name, our keyword)]) ------------------
# An aws name mapped to None is positional, in order. Defaults are the Project method's.

def _describe(method: str, arn: str):
    return method, [(arn, None)]


OPERATIONS: dict[str, dict[str, tuple]] = {       # (method, [(aws, ours)], optional fixed keywords)
    "personalize-runtime": {
        "GetRecommendations": ("get_recommendations", [
            ("campaignArn", "campaign"), ("recommenderArn", "recommender"), ("userId", "user_id"),
            ("itemId", "item_id"), ("numResults", "num_results"), ("context", "context"),
            ("filterArn", "filter"), ("filterValues", "filter_values"), ("promotions", "promotions"),
            ("metadataColumns", "metadata_columns")]),
        "GetPersonalizedRanking": ("get_personalized_ranking", [
            ("campaignArn", "campaign"), ("userId", "user_id"), ("inputList", "input_list"),
            ("context", "context"), ("filterArn", "filter"), ("filterValues", "filter_values"),
            ("metadataColumns", "metadata_columns")]),
    },
    "personalize-events": {
        # the group comes from the tracker; a missing userId reaches put_events as None
        "PutEvents": ("put_events", [("trackingId", "tracking_id"), ("userId", "user_id"),
                                     ("sessionId", "session_id"), ("eventList", "event_list")],
                      {"dataset_group": None, "user_id": None}),
        "PutItems": ("put_items", [("datasetArn", "dataset"), ("items", "items")]),
        "PutUsers": ("put_users", [("datasetArn", "dataset"), ("users", "users")]),
    },
    "personalize": {
        "CreateDatasetGroup": ("create_dataset_group", [("name", "name"), ("domain", "domain")]),
        "CreateSchema": ("create_schema", [("name", "name"), ("schema", "schema"), ("domain", "domain")]),
        "CreateDataset": ("create_dataset", [("name", "name"), ("datasetGroupArn", "dataset_group"),
                                             ("datasetType", "dataset_type"), ("schemaArn", "schema")]),
        "CreateDatasetImportJob": ("create_dataset_import_job", [
            ("datasetArn", "dataset"), ("dataSource", "data_source"), ("jobName", "job_name"),
            ("importMode", "import_mode")]),
        # Personalize trains automatically unless told not to: performAutoTraining defaults to true
        "CreateSolution": ("create_solution", [
            ("name", "name"), ("datasetGroupArn", "dataset_group"), ("recipeArn", "recipe"),
            ("eventType", "event_type"), ("solutionConfig", "solution_config"),
            ("performAutoTraining", "perform_auto_training"), ("performHPO", "perform_hpo"),
            ("performAutoML", "perform_auto_ml")], {"perform_auto_training": True}),
        "CreateSolutionVersion": ("create_solution_version", [("solutionArn", "solution"),
                                                              ("trainingMode", "training_mode")]),
        "CreateCampaign": ("create_campaign", [("name", "name"), ("solutionVersionArn", "solution_version"),
                                               ("minProvisionedTPS", "min_provisioned_tps"),
                                               ("campaignConfig", "campaign_config")]),
        "UpdateCampaign": ("update_campaign", [("campaignArn", "campaign"), ("solutionVersionArn", "solution_version"),
                                               ("minProvisionedTPS", "min_provisioned_tps"),
                                               ("campaignConfig", "campaign_config")]),
        "CreateRecommender": ("create_recommender", [("name", "name"), ("datasetGroupArn", "dataset_group"),
                                                     ("recipeArn", "recipe"), ("recommenderConfig", "recommender_config")]),
        "CreateFilter": ("create_filter", [("name", "name"), ("datasetGroupArn", "dataset_group"),
                                           ("filterExpression", "filter_expression")]),
        "DeleteDatasetGroup": _describe("delete_dataset_group", "datasetGroupArn"),
        "DeleteSchema": _describe("delete_schema", "schemaArn"),
        "DeleteDataset": _describe("delete_dataset", "datasetArn"),
        "DeleteSolution": _describe("delete_solution", "solutionArn"),
        "DeleteCampaign": _describe("delete_campaign", "campaignArn"),
        "DeleteRecommender": _describe("delete_recommender", "recommenderArn"),
        "DeleteFilter": _describe("delete_filter", "filterArn"),
        "DescribeDatasetGroup": _describe("describe_dataset_group", "datasetGroupArn"),
        "DescribeSchema": _describe("describe_schema", "schemaArn"),
        "DescribeDataset": _describe("describe_dataset", "datasetArn"),
        "DescribeDatasetImportJob": _describe("describe_dataset_import_job", "datasetImportJobArn"),
        "DescribeRecipe": _describe("describe_recipe", "recipeArn"),
        "DescribeSolution": _describe("describe_solution", "solutionArn"),
        "DescribeSolutionVersion": _describe("describe_solution_version", "solutionVersionArn"),
        "GetSolutionMetrics": _describe("get_solution_metrics", "solutionVersionArn"),
        "DescribeCampaign": _describe("describe_campaign", "campaignArn"),
        "DescribeRecommender": _describe("describe_recommender", "recommenderArn"),
        "DescribeFilter": _describe("describe_filter", "filterArn"),
        "DescribeBatchInferenceJob": _describe("describe_batch_inference_job", "batchInferenceJobArn"),
        "DescribeBatchSegmentJob": _describe("describe_batch_segment_job", "batchSegmentJobArn"),
        "CreateBatchInferenceJob": ("create_batch_inference_job", [
            ("jobName", "job_name"), ("solutionVersionArn", "solution_version"), ("jobInput", "job_input"),
            ("jobOutput", "job_output"), ("numResults", "num_results"), ("filterArn", "filter"),
            ("batchInferenceJobConfig", "batch_inference_job_config"),
            ("batchInferenceJobMode", "batch_inference_job_mode"), ("roleArn", "role_arn")]),
        "CreateBatchSegmentJob": ("create_batch_segment_job", [
            ("jobName", "job_name"), ("solutionVersionArn", "solution_version"), ("jobInput", "job_input"),
            ("jobOutput", "job_output"), ("numResults", "num_results"), ("filterArn", "filter"),
            ("roleArn", "role_arn")]),
        "CreateEventTracker": ("create_event_tracker", [("name", "name"), ("datasetGroupArn", "dataset_group")]),
        "DescribeEventTracker": _describe("describe_event_tracker", "eventTrackerArn"),
        "ListEventTrackers": ("list_event_trackers", [("datasetGroupArn", "dataset_group")]),
        "DeleteEventTracker": _describe("delete_event_tracker", "eventTrackerArn"),
        "ListDatasetGroups": ("list_dataset_groups", []),
        "ListSchemas": ("list_schemas", []),
        "ListRecipes": ("list_recipes", []),
        "ListDatasets": ("list_datasets", [("datasetGroupArn", "dataset_group")]),
        "ListDatasetImportJobs": ("list_dataset_import_jobs", [("datasetArn", "dataset")]),
        "ListSolutions": ("list_solutions", [("datasetGroupArn", "dataset_group")]),
        "ListSolutionVersions": ("list_solution_versions", [("solutionArn", "solution")]),
        "ListCampaigns": ("list_campaigns", [("solutionArn", "solution")]),
        "ListRecommenders": ("list_recommenders", [("datasetGroupArn", "dataset_group")]),
        "ListFilters": ("list_filters", [("datasetGroupArn", "dataset_group")]),
        "ListBatchInferenceJobs": ("list_batch_inference_jobs", [("solutionVersionArn", "solution_version")]),
        "ListBatchSegmentJobs": ("list_batch_segment_jobs", [("solutionVersionArn", "solution_version")]),
    },
}
PAGING = ("maxResults", "nextToken")
# AWS-only parameters with no local meaning: accepted, and recorded on the object the call
# creates (its catalog record's "awsOnly"), so describe_* can show what was asked. An
# operation that maps one of them (a batch job's roleArn) takes it as its own.
AWS_ONLY = ("roleArn", "kmsKeyArn", "tags", "name@CreateSolutionVersion")
# Switches of features not built yet: their "off" value is accepted (and changes nothing).
OFF_ONLY = {"publishAttributionMetricsToS3": False, "performIncrementalUpdate": False}
# Where a call names S3 locations: (member, inner key, is a folder).
S3_PATHS = {"CreateDatasetImportJob": [("dataSource", "dataLocation", False)],
            "CreateBatchInferenceJob": [("jobInput", "s3DataSource", False), ("jobOutput", "s3DataDestination", True)],
            "CreateBatchSegmentJob": [("jobInput", "s3DataSource", False), ("jobOutput", "s3DataDestination", True)]}
S3_ROOT_ENV = "PYPERSONALIZE_S3_ROOT"


_NUMERIC = ("integer", "long", "float", "double")


def _check(op: str, spec: dict, kwargs: dict) -> None:
    """botocore's client-side checks, at every depth: names, required members, types, minimums."""
    problems: list[str] = []
    _check_members(spec["input"], spec["required"], kwargs, "", problems, top=True)
    if problems:
        raise ParamValidationError("Parameter validation failed:\n" + "\n".join(problems))


def _check_members(members: dict, required: list, given: dict, where: str, problems: list, top=False) -> None:
    scope = "input" if top else where
    for name in given:
        if name not in members:
            problems.append(f'Unknown parameter in {scope}: "{name}", must be one of: {", ".join(members)}')
    for name in required:
        if name not in given:
            problems.append(f'Missing required parameter in {scope}: "{name}"')
    for name, value in given.items():
        if name in members:
            _check_value(members[name], value, f"{where}.{name}" if where else name, problems)


def _check_value(shape: dict, value, where: str, problems: list) -> None:
    if shape["type"] == "timestamp":
        try:
            if not isinstance(value, bool):     # botocore reads True as 1; the service refuses it
                epoch_seconds(value, where)
        except InvalidInput:
            problems.append(f"Invalid type for parameter {where}, value: {_short(value)}, type: "
                            f"{type(value).__name__}, valid types: <class 'datetime.datetime'>, timestamp-string")
        return
    kinds = _PYTHON_TYPES.get(shape["type"], (object,))
    if not isinstance(value, kinds):          # botocore lets True pass as an integer; the service refuses it
        problems.append(f"Invalid type for parameter {where}, value: {_short(value)}, type: {type(value).__name__}, "
                        f"valid types: {', '.join(k.__name__ for k in kinds)}")
        return
    low = shape.get("min")
    if low is not None and shape["type"] != "timestamp":
        size = value if shape["type"] in _NUMERIC else len(value)
        if size < low:
            what = "value" if shape["type"] in _NUMERIC else "length"
            problems.append(f"Invalid {what} for parameter {where}, value: {size}, valid min {what}: {low}")
    if shape["type"] == "structure" and "members" in shape:
        _check_members(shape["members"], shape.get("required", []), value, where, problems)
    elif shape["type"] == "list" and "member" in shape:
        for n, v in enumerate(value):
            _check_value(shape["member"], v, f"{where}[{n}]", problems)
    elif shape["type"] == "map" and "value" in shape:
        for k, v in value.items():
            _check_value(shape["key"], k, f"{where} key", problems)
            _check_value(shape["value"], v, f"{where}.{_short(k)}", problems)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def _lists(value):
    """Tuples where a list belongs, as lists (botocore takes either)."""
    if isinstance(value, tuple):
        return [_lists(v) for v in value]
    if isinstance(value, list):
        return [_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return value


def _service_check(spec: dict, kwargs: dict) -> str | None:
    """What the service refuses before looking anything up: text that is not valid Unicode
    (a lone surrogate), an empty ARN, a boolean page size, CreateSchema given anything but
    the schema's JSON text (boto3 sends the text; it is never a path to read)."""
    for name, value in kwargs.items():
        if name == "nextToken":
            continue                  # a token is checked as a token (InvalidNextTokenException)
        for piece in _strings(value):
            try:
                piece.encode("utf-8")
            except UnicodeEncodeError:
                return f"{name}: not valid Unicode text"
        if name.endswith("Arn") and value == "":
            return f"{name} must not be empty"
        if name == "maxResults" and isinstance(value, bool):
            return "maxResults must be a number"
        if name == "schema" and isinstance(value, str) and not value.lstrip().startswith("{"):
            return "schema must be the Avro schema's JSON text"
    return None


def _over_maximum(spec: dict, kwargs: dict) -> str | None:
    """The service's own check (an InvalidInputException): a value over its maximum, at any depth."""
    for name, value in kwargs.items():
        found = _over(spec["input"].get(name), value, name)
        if found:
            return found
    return None


def _over(shape: dict | None, value, where: str) -> str | None:
    if shape is None:
        return None
    high = shape.get("max")
    if high is not None and shape["type"] != "timestamp":
        numeric = shape["type"] in _NUMERIC
        size = value if numeric else len(value)
        if size > high:
            return f"1 validation error detected: Value at '{where}' failed to satisfy constraint: " \
                   f"Member must have {'value' if numeric else 'length'} less than or equal to {high}"
    if shape["type"] == "structure":
        for name, v in value.items():
            found = _over(shape.get("members", {}).get(name), v, f"{where}.{name}")
            if found:
                return found
    elif shape["type"] == "list":
        for n, v in enumerate(value):
            found = _over(shape.get("member"), v, f"{where}.{n + 1}.member")
            if found:
                return found
    elif shape["type"] == "map":
        for k, v in value.items():
            found = _over(shape.get("key"), k, f"{where}.key") or _over(shape.get("value"), v, f"{where}.{_short(k)}")
            if found:
                return found
    return None


_CLASSES: dict = {}


def _exception_classes(service: str, names: tuple):
    """``client.exceptions`` of a service: one set of classes per service, shared by every
    client of it (in process or over HTTP), so ``except client.exceptions.X`` catches both."""
    if service not in _CLASSES:
        _CLASSES[service] = type("exceptions", (), {
            "ClientError": ClientError,
            **{n: type(n, (ClientError, _BASES[n]) if n in _BASES else (ClientError,), {}) for n in names}})
    return _CLASSES[service]


class Client:
    """One service's operations over a :class:`pypersonalize.Project` (see the module docstring)."""

    def __init__(self, service: str, project, owns: bool, s3_root=None):
        self._service, self._pp, self._owns, self._s3_root = service, project, owns, s3_root
        self._closed = False
        self._specs = aws_model.operations(service)
        self._by_method = {snake(op): op for op in self._specs}
        self._exceptions(service, self._specs)

    def _exceptions(self, service: str, specs: dict) -> None:
        names = sorted({e for spec in specs.values() for e in spec["errors"]} | set(_BASES))
        self.exceptions = _exception_classes(service, tuple(names))

    def __repr__(self) -> str:
        return f"<pypersonalize client {self._service!r} on {getattr(self._pp, 'path', None)}>"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._by_method))

    def __getattr__(self, name: str) -> Callable[..., dict]:
        op = self.__dict__.get("_by_method", {}).get(name)
        if op is None:
            raise AttributeError(f"'{self._service}' client has no operation {name!r}")

        def call(*args, **kwargs):
            if args:
                raise TypeError(f"{name}() only accepts keyword arguments")
            return self._call(op, kwargs)
        call.__name__ = name
        call.__doc__ = f"Personalize's {op} (boto3 parameter names; see pypersonalize.client)."
        return call

    def can_paginate(self, operation_name: str) -> bool:
        """Whether boto3 has a paginator for this method (``"list_solutions"``)."""
        return self._by_method.get(operation_name) in aws_model.paginators(self._service)

    def get_paginator(self, operation_name: str) -> Paginator:
        """boto3's paginator: ``.paginate(**params, PaginationConfig={"MaxItems", "PageSize",
        "StartingToken"})`` yields the pages of a List* call."""
        op = self._by_method.get(operation_name)
        config = aws_model.paginators(self._service).get(op)
        if config is None:
            raise InvalidInput(f"operation {operation_name!r} cannot be paginated")
        return Paginator(getattr(self, operation_name), config)

    def close(self) -> None:
        if self._owns and not self._closed:
            self._pp.close()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- one call ---------------------------------------------------------------------

    def _call(self, op: str, kwargs: dict) -> dict:
        if self._closed:
            raise InvalidInput(f"this {self._service} client is closed")
        spec = self._specs[op]
        _check(op, spec, kwargs)
        bad = _service_check(spec, kwargs)
        if bad:
            raise self.exceptions.InvalidInputException("InvalidInputException", bad, op)
        kwargs = {k: _lists(v) for k, v in kwargs.items()}
        mapped = OPERATIONS[self._service].get(op)
        if mapped is None:
            raise self.exceptions.InvalidInputException(
                "InvalidInputException", f"{op} is not supported yet by pypersonalize's in-process client", op)
        too_big = _over_maximum(spec, kwargs)
        if too_big:
            raise self.exceptions.InvalidInputException("InvalidInputException", too_big, op)
        method, params, *fixed = mapped
        paging = {k: kwargs.pop(k) for k in PAGING if k in kwargs}
        own = {aws for aws, _ours in params}
        aws_only = {}
        for entry in AWS_ONLY:
            key, _, only_in = entry.partition("@")
            if key in kwargs and key not in own and only_in in ("", op):
                aws_only[key] = kwargs.pop(key)
        for key, off in OFF_ONLY.items():
            if key in kwargs:
                if kwargs.pop(key) is not off:
                    raise self.exceptions.InvalidInputException(
                        "InvalidInputException", f"{op}: {key}={not off} is not supported yet", op)
        for member, inner, folder in S3_PATHS.get(op, ()):
            if member in kwargs:
                kwargs[member] = self._local_source(kwargs[member], member, inner, folder, op)
        if op == "ListRecipes":
            return self._list_recipes(spec, kwargs, paging)
        unmapped = sorted(set(kwargs) - {aws for aws, _ours in params})
        if unmapped:
            raise self.exceptions.InvalidInputException(
                "InvalidInputException", f"{op}: {', '.join(unmapped)} is not supported yet", op)
        positional = [kwargs[aws] for aws, ours in params if ours is None and aws in kwargs]
        keywords = {**(fixed[0] if fixed else {}),
                    **{ours: kwargs[aws] for aws, ours in params if ours is not None and aws in kwargs}}
        import duckdb
        try:
            result = getattr(self._pp, method)(*positional, **keywords)
        except duckdb.ConnectionException:
            raise InvalidInput(f"the project this {self._service} client works on is closed") from None
        except PypersonalizeError as exc:
            code = next((c for cls, c in _CODE_OF if isinstance(exc, cls)), "InvalidInputException")
            error = getattr(self.exceptions, code)
            raise error(code, self._s3_names(str(exc)), op) from exc
        if aws_only:
            self._record_aws_only(result or {}, aws_only)
        result = {k: self._s3_names(v) for k, v in (result or {}).items() if k in spec["output"]}
        if paging or "nextToken" in spec["output"]:
            result = _page(result, spec, paging, op, self.exceptions)
        result["ResponseMetadata"] = _metadata()
        return result


    def _local_source(self, value, member: str, inner: str, folder: bool, op: str):
        """A call's S3 location as a local path: ``dataSource.dataLocation`` becomes the path,
        ``jobInput.s3DataSource.path`` / ``jobOutput.s3DataDestination.path`` the path or folder."""
        if inner == "dataLocation":
            location = value.get(inner) if isinstance(value, dict) else None
        else:
            box = value.get(inner) if isinstance(value, dict) else None
            location = box.get("path") if isinstance(box, dict) else None
        if not isinstance(location, str) or not location:
            where = f"{member}.{inner}" + ("" if inner == "dataLocation" else ".path")
            raise self.exceptions.InvalidInputException("InvalidInputException", f"{where} must be a path", op)
        local = self._local_path(location, op)
        if folder and location.startswith("s3://") and not local.endswith("/"):
            local += "/"          # an S3 prefix is a folder: <input name>.out goes inside it
        return local if inner == "dataLocation" else {inner: {**value[inner], "path": local}}

    def _s3_names(self, value):
        """Paths under the S3 root named as the s3:// locations they stand for, in answers and
        errors alike (a caller over HTTP gave s3:// and is not told where the root is)."""
        root = self._s3_root or os.environ.get(S3_ROOT_ENV)
        if not root or self._service != "personalize":      # only the control plane takes paths
            return value
        prefix = str(Path(root)) + os.sep
        if isinstance(value, str):
            return value.replace(prefix, "s3://") if prefix in value else value
        if isinstance(value, dict):
            return {k: self._s3_names(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._s3_names(v) for v in value]
        return value

    def _local_path(self, location: str, op: str) -> str:
        """``s3://bucket/key`` under the S3 root (``client(s3_root=...)`` or
        $PYPERSONALIZE_S3_ROOT) as ``ROOT/bucket/key``; a local path as it is."""
        if not location.startswith("s3://"):
            return location
        root = self._s3_root or os.environ.get(S3_ROOT_ENV)
        if not root:
            raise self.exceptions.InvalidInputException(
                "InvalidInputException", f"{location} is an S3 path: give client(s3_root=DIR) or set "
                f"{S3_ROOT_ENV}=DIR to read it from DIR/bucket/key", op)
        key = location[len("s3://"):]
        if not key or any(part in ("", ".", "..") for part in key.rstrip("/").split("/")):
            raise self.exceptions.InvalidInputException("InvalidInputException",
                                                        f"{location} is not an S3 bucket/key path", op)
        return str(Path(root) / key) + ("/" if key.endswith("/") else "")

    def _list_recipes(self, spec: dict, kwargs: dict, paging: dict) -> dict:
        """ListRecipes: every recipe is a SERVICE recipe; ``domain`` lists that domain's use cases."""
        from .usecases import USE_CASES
        provider, domain = kwargs.pop("recipeProvider", None), kwargs.pop("domain", None)
        if provider not in (None, "SERVICE"):
            raise self.exceptions.InvalidInputException(
                "InvalidInputException", f"recipeProvider must be SERVICE, got {provider!r}", "ListRecipes")
        domains = sorted({u.domain for u in USE_CASES.values()})
        if domain not in (None, *domains):
            raise self.exceptions.InvalidInputException(
                "InvalidInputException", f"domain must be one of {', '.join(domains)}, got {_short(domain)}",
                "ListRecipes")
        if domain is None:
            recipes = self._pp.list_recipes()["recipes"]
        else:
            recipes = [{"name": u.name, "recipeArn": u.arn, "domain": u.domain} for u in USE_CASES.values()
                       if u.domain == domain]
        result = _page({"recipes": recipes}, spec, paging, "ListRecipes", self.exceptions)
        result["ResponseMetadata"] = _metadata()
        return result

    def _record_aws_only(self, result: dict, values: dict) -> None:
        arn = next((v for k, v in result.items() if k.endswith("Arn") and isinstance(v, str)), None)
        if arn is None:
            return
        kind = arn.split(":", 5)[-1].split("/", 1)[0]
        tags, rest = values.get("tags"), {k: v for k, v in values.items() if k != "tags"}
        for rec in self._pp.catalog.select(kind, arn=arn):
            with self._pp._transaction():
                config = dict(rec.config)
                if rest:
                    config["awsOnly"] = {**config.get("awsOnly", {}), **rest}
                if tags is not None:
                    config["tags"] = tags
                self._pp.catalog.update(rec, config=config)


def _metadata() -> dict:
    return {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}


class Paginator:
    """Pages of one List* call, as boto3's paginators give them."""

    def __init__(self, method: Callable[..., dict], config: dict):
        self._method, self._config = method, config

    def paginate(self, PaginationConfig: dict | None = None, **params):  # noqa: N803 - boto3's name
        settings = dict(PaginationConfig or {})
        unknown = set(settings) - {"MaxItems", "PageSize", "StartingToken"}
        if unknown:
            raise ParamValidationError(f"PaginationConfig: unknown key(s) {', '.join(sorted(unknown))}")
        left = settings.get("MaxItems")
        token = settings.get("StartingToken")
        key = self._config["resultKey"]
        while True:
            call = dict(params)
            if settings.get("PageSize") is not None:
                call[self._config["limitKey"]] = settings["PageSize"]
            if token is not None:
                call[self._config["inputToken"]] = token
            page = self._method(**call)
            token = page.get(self._config["outputToken"])
            if left is not None:
                if len(page[key]) >= left:
                    page[key] = page[key][:left]
                    yield page
                    return
                left -= len(page[key])
            yield page
            if token is None:
                return


def _page(result: dict, spec: dict, paging: dict, op: str, exceptions) -> dict:
    """``maxResults`` / ``nextToken`` over the operation's one list member (the token is the
    offset of the next item; a token this client did not hand out is refused)."""
    key = next((k for k in spec["output"] if k != "nextToken" and isinstance(result.get(k), list)), None)
    if key is None:
        return result
    items = result[key]
    start = 0
    token = paging.get("nextToken")
    if token is not None:
        if not re.fullmatch(r"0|[1-9][0-9]*", str(token), re.ASCII) or int(token) > len(items):
            raise exceptions.InvalidNextTokenException("InvalidNextTokenException", f"invalid nextToken {token!r}", op)
        start = int(token)
    size = paging.get("maxResults", 100)
    out = dict(result)
    out[key] = items[start:start + size]
    if start + size < len(items):
        out["nextToken"] = str(start + size)
    else:
        out.pop("nextToken", None)
    return out


def client(service: str, db: Any = None, *, project=None, read_only: bool = False,
           endpoint_url: str | None = None, s3_root: str | Path | None = None, **aws_only) -> Client:
    """A boto3-shaped client of ``service`` ("personalize", "personalize-runtime",
    "personalize-events") on the project file ``db`` (or an open ``project``, which it then
    leaves open), or, with ``endpoint_url``, on the running ``pypersonalize serve`` at that
    URL (the same client over HTTP; ``aws_access_key_id`` is then sent for the server's
    access-key allow-list). AWS session settings boto3 takes (``region_name``, credentials …)
    mean nothing locally and are accepted and ignored.

    >>> rt = client("personalize-runtime", endpoint_url="http://127.0.0.1:8080")  # doctest: +SKIP
    >>> rt.get_recommendations(campaignArn=arn, userId="u1")["itemList"]       # doctest: +SKIP
    """
    if service not in aws_model.SERVICES:
        raise InvalidInput(f"unknown service {service!r}; expected one of {', '.join(aws_model.SERVICES)}")
    session_keys = {"region_name", "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "config",
                    "verify", "api_version", "use_ssl"}
    unknown = set(aws_only) - session_keys
    if unknown:
        raise TypeError(f"client() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
    if endpoint_url is not None:
        if db is not None or project is not None or s3_root is not None:
            raise InvalidInput("endpoint_url talks to a running `pypersonalize serve`; give no db, project or "
                               "s3_root with it (the server has them)")
        from .wire import HTTPClient
        return HTTPClient(service, endpoint_url, access_key=aws_only.get("aws_access_key_id"))
    if (db is None) == (project is None):
        raise InvalidInput("give the project file (db=...) or an open project (project=...)")
    if isinstance(project, (str, Path)):
        raise InvalidInput("project= takes an open pypersonalize project; give a file path as db=")
    if project is not None:
        return Client(service, project, owns=False, s3_root=s3_root)
    from .project import open as open_project
    return Client(service, open_project(db, quiet=True, read_only=read_only), owns=True, s3_root=s3_root)


__all__ = ["OPERATIONS", "Client", "ClientError", "Paginator", "ParamValidationError", "client", "snake"]
