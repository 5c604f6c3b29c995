"""Personalize's request and response shapes, as botocore's service model states them.

``aws_model.json`` beside this file is generated from botocore (a test dependency, not a
runtime one) by ``python -m pypersonalize.aws_model --write``; ``tests/unit/test_aws_model.py``
checks it against the installed botocore. For each of the three services it keeps, per
operation, the input members as trees (shape type, required, length / value bounds, enum,
nested members), the output member names and where the output holds timestamps, the errors
and the HTTP method and path; per service, boto3's paginators, the JSON 1.1 target prefix
and each error's HTTP status. The in-process clients (``clients.py``) check a call against
it before they run it; the server and the HTTP client (``wire.py``) speak the wire protocol
from it.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

MODEL_FILE = Path(__file__).with_name("aws_model.json")
SERVICES = ("personalize", "personalize-runtime", "personalize-events")
_BOUNDS = ("min", "max")


def _member(shape, depth: int = 0) -> dict:
    """One shape as a tree: type, bounds, enum, and the shapes it holds (structure members
    with their required names, a list's member, a map's key and value)."""
    out = {"type": shape.type_name}
    for key in _BOUNDS:
        if key in shape.metadata:
            out[key] = shape.metadata[key]
    if getattr(shape, "enum", None):
        out["enum"] = list(shape.enum)
    if depth > 8:                  # Personalize's shapes nest 4 deep; a cycle would not end
        return out
    if shape.type_name == "structure":
        out["members"] = {m: _member(s, depth + 1) for m, s in shape.members.items()}
        out["required"] = list(shape.required_members)
    elif shape.type_name == "list":
        out["member"] = _member(shape.member, depth + 1)
    elif shape.type_name == "map":
        out["key"], out["value"] = _member(shape.key, depth + 1), _member(shape.value, depth + 1)
    return out


def _timestamps(shape, path=(), depth: int = 0) -> list:
    """Paths ("[]" for a list element, "{}" for a map value) to the timestamps in an output shape."""
    if shape is None or depth > 8:
        return []
    if shape.type_name == "timestamp":
        return [list(path)]
    if shape.type_name == "structure":
        return [p for m, s in shape.members.items() for p in _timestamps(s, (*path, m), depth + 1)]
    if shape.type_name == "list":
        return _timestamps(shape.member, (*path, "[]"), depth + 1)
    if shape.type_name == "map":
        return _timestamps(shape.value, (*path, "{}"), depth + 1)
    return []


def from_botocore() -> dict:
    """The model read from the installed botocore (needs ``pip install botocore``)."""
    import botocore.session
    session = botocore.session.get_session()
    out = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        ops = {}
        for name in model.operation_names:
            op = model.operation_model(name)
            shape = op.input_shape
            members = {} if shape is None else {m: _member(s) for m, s in shape.members.items()}
            required = [] if shape is None else list(shape.required_members)
            ops[name] = {"input": members, "required": required,
                         "output": [] if op.output_shape is None else list(op.output_shape.members),
                         "outputTimestamps": _timestamps(op.output_shape),
                         "errors": sorted(e.name for e in op.error_shapes),
                         "http": {"method": op.http["method"], "requestUri": op.http["requestUri"]}}
        try:
            pages = session.get_paginator_model(service)._paginator_config
        except Exception:            # noqa: BLE001 - botocore raises UnknownServiceError for none
            pages = {}
        paginators = {op: {"inputToken": c["input_token"], "outputToken": c["output_token"],
                           "limitKey": c["limit_key"], "resultKey": c["result_key"]} for op, c in pages.items()}
        errors = {e.name: e.metadata.get("error", {}).get("httpStatusCode", 400)
                  for e in model.error_shapes}
        out[service] = {"apiVersion": model.api_version, "protocol": model.protocol, "operations": ops,
                        "paginators": paginators, "targetPrefix": model.metadata.get("targetPrefix"),
                        "errorStatus": errors}
    return out


@lru_cache(maxsize=1)
def load() -> dict:
    """The shipped model (``aws_model.json``)."""
    return json.loads(MODEL_FILE.read_text(encoding="utf-8"))


def paginators(service: str) -> dict:
    """List operations boto3 can paginate: {operation: {inputToken, outputToken, limitKey, resultKey}}."""
    operations(service)
    return load()[service].get("paginators", {})


def service(name: str) -> dict:
    """A service's whole entry: protocol, targetPrefix, errorStatus, operations, paginators."""
    operations(name)
    return load()[name]


def operations(service: str) -> dict:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    return load()[service]["operations"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m pypersonalize.aws_model --write")
    MODEL_FILE.write_text(json.dumps(from_botocore(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_FILE}")
