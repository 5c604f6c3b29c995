"""The shipped service model (pypersonalize/aws_model.json) is botocore's, operation for operation."""

from __future__ import annotations

import pytest

from pypersonalize import aws_model
from pypersonalize.clients import OPERATIONS, snake

botocore = pytest.importorskip("botocore", reason="botocore (the test extra) is not installed")


@pytest.fixture(scope="module")
def live():
    return aws_model.from_botocore()


@pytest.mark.parametrize("service", aws_model.SERVICES)
def test_every_shipped_operation_matches_botocore(live, service):
    shipped = aws_model.operations(service)
    current = live[service]["operations"]
    assert aws_model.load()[service]["protocol"] == live[service]["protocol"]
    missing = sorted(set(shipped) - set(current))
    assert not missing, f"botocore no longer has {missing}"
    for name, spec in shipped.items():
        # botocore may add optional members; what we ship must still be there, the same
        assert set(spec["required"]) == set(current[name]["required"]), name
        for member, shape in spec["input"].items():
            assert current[name]["input"].get(member) == shape, (name, member)
        assert set(spec["output"]) <= set(current[name]["output"]), name


@pytest.mark.parametrize("service", aws_model.SERVICES)
def test_every_mapped_operation_and_parameter_exists(service):
    ops = aws_model.operations(service)
    for op, (_method, params, *_fixed) in OPERATIONS[service].items():
        assert op in ops, op
        for aws, _ours in params:
            assert aws in ops[op]["input"], (op, aws)
        for required in ops[op]["required"]:
            assert required in {aws for aws, _o in params}, (op, required)


def test_method_names_are_boto3s(live):
    from botocore import xform_name
    for service in aws_model.SERVICES:
        for op in live[service]["operations"]:
            assert snake(op) == xform_name(op), op


@pytest.mark.parametrize("service", aws_model.SERVICES)
def test_paginators_are_botocores(live, service):
    assert aws_model.paginators(service) == live[service]["paginators"]
    for op, config in aws_model.paginators(service).items():
        spec = aws_model.operations(service)[op]
        assert config["inputToken"] in spec["input"] and config["resultKey"] in spec["output"]
