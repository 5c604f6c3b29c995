"""``pypersonalize serve``: Personalize's wire protocols over HTTP, answered by one open project.

The process that serves owns the project file (DuckDB lets one process write it); boto3
clients (``endpoint_url=``), ``pypersonalize.client(..., endpoint_url=)`` and the CLI's
``--endpoint-url`` all work through it. Each request runs the in-process client's
operation (``clients.py``: the same checks, the same answers), so HTTP adds only parsing
and a socket. The standard library's threading server is enough: the work of a request is
Python under one GIL, so more machinery adds no parallelism (see benchmarks/RESULTS.md,
"HTTP serving", for the cost it adds per request).

Operations that take long (imports, training, recommenders, batch jobs) run on one
background worker in the order they arrive. A call waits up to ``SYNC_SECONDS`` for its
work; when it takes longer the call returns the new ARN at once (botocore would time out
and retry a call of over 60 s) and ``describe_*`` shows ``CREATE IN_PROGRESS`` until the
work is done.
"""

from __future__ import annotations

import json
import queue
import re
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import wire
from .clients import Client, ClientError, ParamValidationError
from .errors import InvalidInput, PypersonalizeError

SYNC_SECONDS = 2.0        # how long a long call waits before it answers "in progress"
IDLE_SECONDS = 300        # a kept-alive connection's idle limit
DRAIN_LIMIT = 4           # a body up to this many times the limit is read and dropped before the 413
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)")
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_PROTOCOL_ERRORS = {400: "BadRequestException", 408: "RequestTimeoutException",
                    414: "RequestHeaderFieldsTooLargeException", 431: "RequestHeaderFieldsTooLargeException",
                    501: "UnknownOperationException", 505: "HttpVersionNotSupportedException"}

# operation -> (catalog kind, name member, parent member, describe operation, describe key, ARN member)
SWITCH_SECONDS = 0.0005     # the serve command's GIL switch interval (see cli.serve)
LONG = {
    "CreateDatasetImportJob": ("dataset-import-job", "jobName", "datasetArn", "DescribeDatasetImportJob",
                               "datasetImportJob", "datasetImportJobArn"),
    "CreateSolutionVersion": ("solution-version", None, "solutionArn", "DescribeSolutionVersion",
                              "solutionVersion", "solutionVersionArn"),
    "CreateRecommender": ("recommender", "name", "datasetGroupArn", "DescribeRecommender", "recommender",
                          "recommenderArn"),
    "CreateBatchInferenceJob": ("batch-inference-job", "jobName", "solutionVersionArn", "DescribeBatchInferenceJob",
                                "batchInferenceJob", "batchInferenceJobArn"),
    "CreateBatchSegmentJob": ("batch-segment-job", "jobName", "solutionVersionArn", "DescribeBatchSegmentJob",
                              "batchSegmentJob", "batchSegmentJobArn"),
}
_DESCRIBES = {entry[3]: (op, entry) for op, entry in LONG.items()}
# Project methods the CLI may call through --endpoint-url (everything public but these).
RPC_REFUSED = {"close", "con", "catalog", "engine", "progress", "path", "read_only"}


@dataclass
class Pending:
    """Long work the worker has not finished: what describe_* answers until it has."""

    op: str
    arn: str
    parent: str | None
    kwargs: dict
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    status: str = "CREATE PENDING"
    failure: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class Worker:
    """One thread running long operations in arrival order."""

    def __init__(self, clients: dict[str, Client], project):
        self._clients, self._pp = clients, project
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self.pending: dict[str, Pending] = {}
        self._thread = threading.Thread(target=self._run, name="pypersonalize-worker", daemon=True)
        self._thread.start()

    def submit(self, op: str, kwargs: dict) -> dict:
        kind, name_key, parent_key, *_rest, arn_key = LONG[op]
        with self._lock:
            arn = self._predict(op, kind, name_key, parent_key, kwargs)
            if arn in self.pending:
                raise self._clients["personalize"].exceptions.ResourceAlreadyExistsException(
                    "ResourceAlreadyExistsException", f"{arn} is already being created", op)
            job = Pending(op, arn, kwargs.get(parent_key), kwargs)
            self.pending[arn] = job
        self._queue.put(job)
        if job.done.wait(SYNC_SECONDS):
            with self._lock:
                self.pending.pop(arn, None)       # the caller hears the outcome itself
            if job.error is not None:
                raise job.error
            return job.result
        return {arn_key: arn}

    def _predict(self, op: str, kind: str, name_key, parent_key, kwargs: dict) -> str:
        """The ARN the work will create: named objects by name; a solution's next version by
        counting its versions, those waiting here included (the worker makes them in order)."""
        if name_key is not None:
            name = kwargs.get(name_key)
            return self._pp.catalog.arn(kind, name) if isinstance(name, str) and name else f"pending/{uuid.uuid4()}"
        try:
            solution = self._pp.catalog.get("solution", kwargs.get(parent_key))
        except PypersonalizeError:
            return f"pending/{uuid.uuid4()}"          # the call itself reports the missing solution
        made = len(self._pp.catalog.select("solution-version", parent_arn=solution.arn))
        waiting = sum(1 for p in self.pending.values() if p.op == op and p.parent in (solution.arn, solution.name))
        return f"{solution.arn}/{made + waiting + 1}"

    def _run(self) -> None:
        client = self._clients["personalize"]
        while True:
            job = self._queue.get()
            if job is None:
                return
            job.status = "CREATE IN_PROGRESS"
            try:
                job.result = client._call(job.op, dict(job.kwargs))
                job.status = "ACTIVE"
            except BaseException as exc:          # noqa: BLE001 - kept for the caller or for describe_*
                job.error, job.status = exc, "CREATE FAILED"
                job.failure = " ".join(str(exc).split())[:1000]
            finally:
                try:
                    recorded = bool(self._pp.catalog.select(LONG[job.op][0], arn=job.arn))
                except Exception:             # noqa: BLE001 - the worker outlives any one job
                    recorded = False
                with self._lock:
                    if recorded:
                        self.pending.pop(job.arn, None)     # the catalog answers from now on
                    elif job.error is None:
                        job.failure = None
                        self.pending.pop(job.arn, None)
                job.done.set()

    def describe(self, op: str, arn: str) -> dict | None:
        """describe_* of work still pending (or failed before it was recorded), else None."""
        job = self.pending.get(arn)
        if job is None or _DESCRIBES[op][0] != job.op:
            return None
        _kind, _name, parent_key, _d, key, arn_key = LONG[job.op]
        body = {arn_key: arn, "status": job.status, "creationDateTime": job.created,
                "lastUpdatedDateTime": datetime.now(timezone.utc)}
        if job.parent is not None:
            body[parent_key] = job.parent
        if LONG[job.op][1] is not None:
            body["jobName" if "job" in arn_key.lower() else "name"] = job.kwargs.get(LONG[job.op][1])
        if job.failure:
            body["failureReason"] = job.failure
        return {key: body}

    def stop(self) -> None:
        self._queue.put(None)


def _parse(body: bytes, default: bytes = b"{}"):
    """The request body as JSON whose text is all valid UTF-8.

    Deep nesting (RecursionError) is no JSON we take; a lone surrogate escape (``"\\ud800"``)
    is refused before it reaches the catalog, a DuckDB string or the background worker.
    """
    try:
        value = json.loads(body or default)
    except (ValueError, RecursionError):
        raise _Refused(400, "SerializationException", "the request body is not JSON") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused(400, "InvalidInputException",
                       "the request holds a lone surrogate escape (such as \\ud800): text must be valid "
                       "Unicode") from None
    return value


def _rpc_plain(value: Any) -> Any:
    try:
        return wire._plain(value)
    except TypeError:
        return str(value)        # a BLOB, a TIME, an INTERVAL: as the CLI would print them


class Handler(BaseHTTPRequestHandler):
    """One connection's requests (HTTP/1.1 keep-alive, as botocore's pool uses them)."""

    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment (a buffered writer, flushed after each request)
    # and unbatched (TCP_NODELAY): the body sent alone after the headers waited for the
    # client's delayed ACK, 40 ms a request.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    timeout = IDLE_SECONDS       # a connection silent this long is closed (a stalled client holds no thread)
    server: PersonalizeServer

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        service = None
        try:
            body = self._body()
            if self.path == wire.RPC_PATH:
                self._authorize()
                answer = self.server.rpc(_parse(body))
                # our own client reads NaN and infinities (Python's json does); AWS's wire does not
                payload = json.dumps(answer, default=_rpc_plain, separators=(",", ":")).encode()
                return self._send(200, payload, wire.REST_JSON)
            found = wire.find("POST", self.path, self.headers.get("X-Amz-Target"))
            if found is None:
                return self._error(None, 404, "UnknownOperationException",
                                   f"no Personalize operation at POST {self.path[:200]}")
            service, op = found
            self._authorize()
            kwargs = _parse(body)
            if not isinstance(kwargs, dict):
                return self._error(service, 400, "SerializationException", "the request body is not a JSON object")
            result = self.server.call(service, op, kwargs)
            result.pop("ResponseMetadata", None)
            content = wire.JSON_11 if service == "personalize" else wire.REST_JSON
            self._send(200, wire.dumps(result), content)
        except _Refused as exc:
            self._error(service, exc.status, exc.code, exc.message)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            self._error(service, wire.status_of(service, code) if service else 400, code,
                        exc.response["Error"]["Message"])
        except (ParamValidationError, InvalidInput) as exc:
            self._error(service, 400, "InvalidInputException", str(exc))
        except Exception as exc:                 # noqa: BLE001 - answered, logged, and the server goes on
            if not self.server.quiet:
                traceback.print_exception(exc, file=sys.stderr)
            self._error(service, 500, "InternalFailure", f"{type(exc).__name__}: {str(exc)[:500]}")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's refusals (bad request line, headers, method, version) in
        AWS's error shape, with a status line even for what parsed as HTTP/0.9."""
        if self.request_version == "HTTP/0.9":
            self.request_version = self.protocol_version
        self.close_connection = True
        text = message or self.responses.get(code, ("refused",))[0]
        self._error(None, code, _PROTOCOL_ERRORS.get(code, "BadRequestException"), str(text)[:200],
                    {"Connection": "close"})

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/ping":
            return self._send(200, b'{"status":"ok"}', wire.REST_JSON)
        self._error(None, 404, "UnknownOperationException", "Personalize's operations are POST requests")

    def _body(self) -> bytes:
        lengths = set(self.headers.get_all("Content-Length") or ())
        if self.headers.get("Transfer-Encoding") is not None:
            # the chunks, unread, would be parsed as the next request; with a Content-Length
            # too, the two framings disagree (RFC 9112 6.3: refuse and close)
            self.close_connection = True
            if lengths:
                raise _Refused(400, "SerializationException",
                               "a request has either a Content-Length or a Transfer-Encoding, not both")
            raise _Refused(411, "LengthRequiredException", "send the body with a Content-Length")
        if not lengths:
            return b""
        if len(lengths) > 1:
            self.close_connection = True
            raise _Refused(400, "SerializationException", "the request has different Content-Length headers")
        length = lengths.pop().strip()
        if not _DIGITS.fullmatch(length):
            self.close_connection = True
            raise _Refused(400, "SerializationException", "Content-Length is not a number of bytes")
        if len(length) > 18:
            self.close_connection = True
            raise _Refused(413, "RequestEntityTooLargeException",
                           f"the request body is over {self.server.max_body:,} bytes, the server's limit")
        size = int(length)
        if size > self.server.max_body:
            if size <= DRAIN_LIMIT * self.server.max_body:
                self._drain(size)                # read and dropped, so the client hears the answer
            else:
                self.close_connection = True     # not read: the connection cannot go on
            raise _Refused(413, "RequestEntityTooLargeException",
                           f"the request body has {size:,} bytes; the server takes at most {self.server.max_body:,}")
        return self.rfile.read(size)

    def _drain(self, size: int) -> None:
        while size > 0:
            chunk = self.rfile.read(min(size, 1 << 20))
            if not chunk:
                break
            size -= len(chunk)

    def _authorize(self) -> None:
        keys = self.server.access_keys
        if keys is None:
            return
        found = _CREDENTIAL.search(self.headers.get("Authorization", ""))
        if found is None or found.group(1) not in keys:
            raise _Refused(403, "UnrecognizedClientException",
                           "the request's access key is not one this server allows")

    def _error(self, service: str | None, status: int, code: str, message: str, headers: dict | None = None) -> None:
        body = wire.error_payload(code, message)
        content = wire.JSON_11 if service in (None, "personalize") else wire.REST_JSON
        self._send(status, body, content, {"x-amzn-ErrorType": code, **(headers or {})})

    def _send(self, status: int, body: bytes, content: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the standard library's signature
        if self.server.verbose:
            super().log_message(format, *args)


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class PersonalizeServer(ThreadingHTTPServer):
    """The HTTP server of one open project (see the module docstring)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, project, host: str = "127.0.0.1", port: int = 8080, access_keys=None,
                 s3_root=None, max_body: int = wire.MAX_BODY, quiet: bool = False, verbose: bool = False):
        super().__init__((host, port), Handler)
        self.project = project
        self.clients = {s: Client(s, project, owns=False, s3_root=s3_root)
                        for s in ("personalize", "personalize-runtime", "personalize-events")}
        self.access_keys = None if access_keys is None else frozenset(access_keys)
        self.max_body, self.quiet, self.verbose = max_body, quiet, verbose
        self.worker = Worker(self.clients, project)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def call(self, service: str, op: str, kwargs: dict) -> dict:
        if service == "personalize" and op in LONG:
            return self.worker.submit(op, kwargs)
        if service == "personalize" and op in _DESCRIBES:
            arn = kwargs.get(_DESCRIBES[op][1][5])
            pending = self.worker.describe(op, arn) if isinstance(arn, str) else None
            if pending is not None:
                return pending
        return self.clients[service]._call(op, kwargs)

    def rpc(self, request: dict) -> dict:
        """A Project method called by the CLI's --endpoint-url: ``{"method", "args", "kwargs"}``."""
        method = request.get("method") if isinstance(request, dict) else None
        if not isinstance(method, str) or method.startswith("_") or method in RPC_REFUSED \
                or not callable(getattr(self.project, method, None)):
            return {"error": {"code": "InvalidInputException",
                              "message": f"{str(method)[:100]!r} cannot be called through the server"}}
        args, kwargs = request.get("args") or [], request.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            return {"error": {"code": "InvalidInputException", "message": "args must be a list, kwargs an object"}}
        try:
            if method == "sql":
                rel = self.project.sql(*args, **kwargs)
                return {"result": None if rel is None else {"columns": list(rel.columns),
                                                            "rows": [list(r) for r in rel.fetchall()]}}
            return {"result": getattr(self.project, method)(*args, **kwargs)}
        except PypersonalizeError as exc:
            from .clients import _CODE_OF
            code = next((c for cls, c in _CODE_OF if isinstance(exc, cls)), "InvalidInputException")
            return {"error": {"code": code, "message": str(exc), "type": type(exc).__name__}}
        except TypeError as exc:
            return {"error": {"code": "InvalidInputException", "message": str(exc)}}
        except Exception as exc:                 # noqa: BLE001 - DuckDB's errors, for the CLI's one line
            if type(exc).__module__.split(".")[0] != "duckdb" and "duckdb" not in type(exc).__module__:
                raise
            return {"error": {"code": "InvalidInputException", "message": str(exc)}}

    def server_close(self) -> None:
        self.worker.stop()
        super().server_close()


def serve(project, host: str = "127.0.0.1", port: int = 8080, **options) -> PersonalizeServer:
    """A started server on ``host:port`` (port 0: any free port), answering in background
    threads; ``shutdown()`` then ``server_close()`` stop it.

    >>> srv = serve(pp, port=0)             # doctest: +SKIP
    >>> boto3.client("personalize-runtime", endpoint_url=srv.url, ...)  # doctest: +SKIP
    """
    server = PersonalizeServer(project, host, port, **options)
    threading.Thread(target=server.serve_forever, name="pypersonalize-http", daemon=True).start()
    return server


__all__ = ["LONG", "SWITCH_SECONDS", "PersonalizeServer", "SYNC_SECONDS", "Worker", "serve"]
