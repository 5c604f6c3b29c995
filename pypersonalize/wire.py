"""Personalize's three services on the wire, as botocore sends and reads them.

``personalize`` speaks JSON 1.1: ``POST /`` with ``X-Amz-Target: AmazonPersonalize.<Op>``.
``personalize-runtime`` and ``personalize-events`` speak REST-JSON: ``POST /recommendations``,
``POST /events`` ... with the input as a JSON body. Errors carry the exception's name in
``__type`` (and ``x-amzn-ErrorType``) and the status botocore's model gives it. Timestamps
travel as epoch seconds. The server (``server.py``) routes with :func:`find`; the HTTP
client of :func:`pypersonalize.client` with ``endpoint_url`` sends with :class:`HTTPClient`.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import urllib.parse
from pathlib import Path
from typing import Any

from . import aws_model
from .errors import InvalidInput

JSON_11 = "application/x-amz-json-1.1"
REST_JSON = "application/json"
MAX_BODY = 8 * 1024 * 1024        # the largest request body the server reads
RPC_PATH = "/_pypersonalize/rpc"  # the Project methods of the CLI's --endpoint-url (ours, not AWS's)


def _routes() -> tuple[dict, dict]:
    by_target, by_path = {}, {}
    for service in aws_model.SERVICES:
        info = aws_model.service(service)
        for op, spec in info["operations"].items():
            if info["targetPrefix"]:
                by_target[f"{info['targetPrefix']}.{op}"] = (service, op)
            else:
                by_path[(spec["http"]["method"], spec["http"]["requestUri"])] = (service, op)
    return by_target, by_path


_BY_TARGET, _BY_PATH = _routes()


def find(method: str, path: str, target: str | None) -> tuple[str, str] | None:
    """(service, operation) of a request, or None when no operation lives there."""
    if target:
        return _BY_TARGET.get(target) if method == "POST" and path == "/" else None
    return _BY_PATH.get((method, urllib.parse.urlsplit(path).path))


def status_of(service: str, code: str) -> int:
    """The HTTP status Personalize answers an exception with (botocore's model; else 400)."""
    return aws_model.service(service)["errorStatus"].get(code, 400)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if type(value).__module__ in ("decimal", "uuid", "numpy"):
        return value.item() if hasattr(value, "item") else str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: Any) -> bytes:
    """JSON as the wire carries it: datetimes as epoch seconds, no NaN."""
    return json.dumps(value, default=_plain, allow_nan=False, separators=(",", ":")).encode()


def error_payload(code: str, message: str) -> bytes:
    return dumps({"__type": code, "message": message})


def with_datetimes(result: dict, paths: list) -> dict:
    """The output's timestamp members (botocore's ``outputTimestamps`` paths) as datetimes."""
    for path in paths:
        _convert(result, list(path))
    return result


def _convert(node, path: list) -> None:
    if not path or node is None:
        return
    head, rest = path[0], path[1:]
    if head == "[]":
        for item in node if isinstance(node, list) else []:
            _convert(item, rest) if rest else None
        return
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        _convert(node[head], rest)
    elif isinstance(node[head], (int, float)) and not isinstance(node[head], bool):
        node[head] = dt.datetime.fromtimestamp(node[head], tz=dt.timezone.utc)


class HTTPClient:
    """A boto3-shaped client of one service that calls a running ``pypersonalize serve``.

    Made by ``pypersonalize.client(service, endpoint_url="http://127.0.0.1:8080")``; raises the
    same exception classes as the in-process client (``client.exceptions``).
    """

    def __init__(self, service: str, endpoint_url: str, access_key: str | None = None, timeout: float = 120.0):
        from .clients import Client
        parts = urllib.parse.urlsplit(endpoint_url)
        if parts.scheme != "http" or not parts.hostname:
            raise InvalidInput(f"endpoint_url must be http://HOST[:PORT], got {endpoint_url!r}")
        self._service, self._host, self._port = service, parts.hostname, parts.port or 80
        self._timeout, self._access_key = timeout, access_key
        self._specs = aws_model.operations(service)
        self._info = aws_model.service(service)
        self._local = threading.local()
        template = Client.__new__(Client)          # the exception classes, named and based as in process
        Client._exceptions(template, service, self._specs)
        self.exceptions = template.exceptions
        from .clients import snake
        self._by_method = {snake(op): op for op in self._specs}

    def __repr__(self) -> str:
        return f"<pypersonalize client {self._service!r} at http://{self._host}:{self._port}>"

    def __getattr__(self, name: str):
        op = self.__dict__.get("_by_method", {}).get(name)
        if op is None:
            raise AttributeError(f"'{self._service}' client has no operation {name!r}")

        def call(*args, **kwargs):
            if args:
                raise TypeError(f"{name}() only accepts keyword arguments")
            return self._call(op, kwargs)
        call.__name__ = name
        return call

    def can_paginate(self, operation_name: str) -> bool:
        return self._by_method.get(operation_name) in aws_model.paginators(self._service)

    def get_paginator(self, operation_name: str):
        from .clients import Paginator
        config = aws_model.paginators(self._service).get(self._by_method.get(operation_name))
        if config is None:
            raise InvalidInput(f"operation {operation_name!r} cannot be paginated")
        return Paginator(getattr(self, operation_name), config)

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, op: str, kwargs: dict) -> dict:
        from .clients import _check, _lists
        spec = self._specs[op]
        _check(op, spec, kwargs)                 # botocore's client-side checks, before sending
        body = dumps({k: _lists(v) for k, v in kwargs.items()})
        headers = {"Content-Type": REST_JSON}
        path = spec["http"]["requestUri"]
        if self._info["targetPrefix"]:
            headers = {"Content-Type": JSON_11, "X-Amz-Target": f"{self._info['targetPrefix']}.{op}"}
        if self._access_key:
            headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={self._access_key}/local/pypersonalize"
        status, payload = self._send(spec["http"]["method"], path, body, headers)
        found = json.loads(payload) if payload else {}
        if status >= 300:
            code = str(found.get("__type", "InvalidInputException")).rsplit("#", 1)[-1]
            error = getattr(self.exceptions, code, None) or self.exceptions.ClientError
            raise error(code, found.get("message", ""), op)
        result = with_datetimes(found, spec["outputTimestamps"])
        result["ResponseMetadata"] = {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}
        return result

    def _send(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
        for attempt in (1, 2):       # a kept-alive connection the server closed is opened again once
            con = getattr(self._local, "con", None)
            if con is None:
                con = self._local.con = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            try:
                con.request(method, path, body=body, headers=headers)
                response = con.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine) as exc:
                con.close()
                self._local.con = None
                if attempt == 2:
                    raise InvalidInput(f"no pypersonalize server answers at http://{self._host}:{self._port}: "
                                       f"{exc}") from None
        raise AssertionError("unreachable")


class RemoteProject:
    """The :class:`pypersonalize.Project` methods of a project a running server owns (what the
    CLI's ``--endpoint-url`` works through): each call is sent to the server's RPC path,
    arguments and results as JSON (timestamps come back as epoch seconds)."""

    def __init__(self, endpoint_url: str, access_key: str | None = None, timeout: float = 3600.0):
        self._http = HTTPClient("personalize", endpoint_url, access_key=access_key, timeout=timeout)
        self.path = endpoint_url

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._http.close()

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            return self._rpc(name, list(args), kwargs)
        call.__name__ = name
        return call

    def sql(self, query: str, params: Any = None):
        """The query's result as a relation-like object (``columns``, ``fetchall()``)."""
        found = self._rpc("sql", [query], {} if params is None else {"params": params})
        if found is None:
            return None
        return _Rows(found["columns"], found["rows"])

    def _rpc(self, method: str, args: list, kwargs: dict):
        from . import errors
        headers = {"Content-Type": REST_JSON}
        if self._http._access_key:
            headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={self._http._access_key}/local/pypersonalize"
        try:
            body = dumps({"method": method, "args": args, "kwargs": kwargs})
        except TypeError as exc:
            raise InvalidInput(f"{method}: {exc} (only JSON values travel to the server)") from None
        status, payload = self._http._send("POST", RPC_PATH, body, headers)
        found = json.loads(payload) if payload else {}
        if status >= 300 or "error" in found:
            err = found.get("error") or {"code": found.get("__type"), "message": found.get("message", "")}
            cls = getattr(errors, err.get("type") or "", None)
            if not (isinstance(cls, type) and issubclass(cls, errors.PypersonalizeError)):
                cls = {"ResourceNotFoundException": errors.ResourceNotFound,
                       "ResourceAlreadyExistsException": errors.ResourceAlreadyExists,
                       "ResourceInUseException": errors.ResourceInUse,
                       "LimitExceededException": errors.LimitExceeded}.get(err.get("code"), InvalidInput)
            raise cls(err.get("message") or "the server refused the call")
        return found.get("result")


class _Rows:
    def __init__(self, columns: list, rows: list):
        self.columns, self._rows = columns, rows

    def fetchall(self) -> list:
        return [tuple(r) for r in self._rows]


__all__ = ["HTTPClient", "RemoteProject", "JSON_11", "MAX_BODY", "REST_JSON", "RPC_PATH", "dumps", "error_payload", "find",
           "status_of", "with_datetimes"]
