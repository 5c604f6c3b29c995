"""Shared fixtures: fresh project files and the bundled sample data loaded into them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import pypersonalize

METRICS_SWITCH = "PYPERSONALIZE_OFFLINE_METRICS"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Offline metrics retrain every model once more; only the tests marked ``offline_metrics``
    (the metrics, tuning and report modules) pay for them. Set before any fixture of the test,
    so module-scoped training fixtures see the same switch as their tests."""
    if item.get_closest_marker("offline_metrics"):
        os.environ.pop(METRICS_SWITCH, None)
    else:
        os.environ[METRICS_SWITCH] = "0"

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"
ML100K = SHARED_DATA / "ml-100k"

DOMAIN_DIRS = {"VIDEO_ON_DEMAND": DATA / "video_on_demand", "ECOMMERCE": DATA / "ecommerce"}


@pytest.fixture
def project(tmp_path):
    with pypersonalize.open(tmp_path / "project.duckdb", quiet=True) as pp:
        yield pp


def build_sample_group(pp, domain: str = "VIDEO_ON_DEMAND", name: str = "g",
                       types=("Interactions", "Items", "Users"), import_data: bool = True) -> str:
    """A dataset group of ``domain`` with the sample schemas, datasets and (optionally) data."""
    folder = DOMAIN_DIRS[domain]
    pp.create_dataset_group(name=name, domain=domain)
    for dtype in types:
        lower = dtype.lower()
        pp.create_schema(name=f"{name}-{lower}", schema=folder / f"{lower}.schema.json", domain=domain)
        pp.create_dataset(name=f"{name}-{lower}", dataset_group=name, dataset_type=dtype,
                          schema=f"{name}-{lower}")
        if import_data:
            pp.create_dataset_import_job(dataset=dtype, dataset_group=name,
                                         data_source=folder / f"{lower}.csv")
    return name


def table_digest(pp, table: str) -> tuple[int, str]:
    """Row count and a digest of a table's whole content, independent of row order."""
    rows = pp.con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.fixture
def vod(project):
    build_sample_group(project, "VIDEO_ON_DEMAND", "movies")
    return project
