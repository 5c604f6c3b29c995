"""Personalize's request and response shapes, as botocore's service model states them.

``aws_model.json`` beside this file is generated from botocore (a test dependency, not a
runtime one) by ``python -m pypersonalize.aws_model --write``; ``tests/unit/test_aws_model.py``
checks it against the installed botocore. For each of the three services it keeps, per
operation, the top-level input members (shape type, required, length / value bounds, enum),
the output member names and the errors, and boto3's paginators: what the in-process clients (``clients.py``) check a call
against before they run it.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

MODEL_FILE = Path(__file__).with_name("aws_model.json")
SERVICES = ("personalize", "personalize-runtime", "personalize-events")
_BOUNDS = ("min", "max")


def _member(shape) -> dict:
    out = {"type": shape.type_name}
    for key in _BOUNDS:
        if key in shape.metadata:
            out[key] = shape.metadata[key]
    if getattr(shape, "enum", None):
        out["enum"] = list(shape.enum)
    return out


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
                         "errors": sorted(e.name for e in op.error_shapes)}
        try:
            pages = session.get_paginator_model(service)._paginator_config
        except Exception:            # noqa: BLE001 - botocore raises UnknownServiceError for none
            pages = {}
        paginators = {op: {"inputToken": c["input_token"], "outputToken": c["output_token"],
                           "limitKey": c["limit_key"], "resultKey": c["result_key"]} for op, c in pages.items()}
        out[service] = {"apiVersion": model.api_version, "protocol": model.protocol, "operations": ops,
                        "paginators": paginators}
    return out


@lru_cache(maxsize=1)
def load() -> dict:
    """The shipped model (``aws_model.json``)."""
    return json.loads(MODEL_FILE.read_text(encoding="utf-8"))


def paginators(service: str) -> dict:
    """List operations boto3 can paginate: {operation: {inputToken, outputToken, limitKey, resultKey}}."""
    operations(service)
    return load()[service].get("paginators", {})


def operations(service: str) -> dict:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    return load()[service]["operations"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m pypersonalize.aws_model --write")
    MODEL_FILE.write_text(json.dumps(from_botocore(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_FILE}")
