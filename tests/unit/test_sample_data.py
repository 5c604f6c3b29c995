"""The bundled sample data is what the seeded generator makes, and is shaped as promised."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from pypersonalize import sample_data
from pypersonalize.schemas import parse_schema
from tests.conftest import DOMAIN_DIRS

GENERATORS = {"VIDEO_ON_DEMAND": sample_data.video_on_demand, "ECOMMERCE": sample_data.ecommerce}


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("domain", list(GENERATORS))
def test_shipped_files_are_regenerated_byte_for_byte(domain, tmp_path):
    sample_data.write_csv(GENERATORS[domain](), tmp_path)
    sample_data.write_schemas(domain, tmp_path)
    assert _digest(tmp_path) == _digest(DOMAIN_DIRS[domain])


@pytest.mark.parametrize("domain", list(GENERATORS))
def test_shipped_schemas_pass_the_domain_rules(domain):
    for t in ("interactions", "items", "users"):
        parse_schema(DOMAIN_DIRS[domain] / f"{t}.schema.json", domain=domain)


@pytest.mark.parametrize("domain", list(GENERATORS))
def test_sample_data_shape(domain):
    frames = GENERATORS[domain]()
    inter = frames["interactions"]
    counts = inter.groupby("ITEM_ID").size().sort_values(ascending=False)
    assert counts.iloc[0] > 10 * counts.median()          # power-law popularity
    assert inter.groupby("USER_ID").size().min() >= 2      # Personalize's per-user minimum
    assert set(inter["ITEM_ID"]) <= set(frames["items"]["ITEM_ID"])
    assert set(inter["USER_ID"]) <= set(frames["users"]["USER_ID"])
    created = frames["items"].set_index("ITEM_ID")["CREATION_TIMESTAMP"]
    assert (inter["TIMESTAMP"].to_numpy() >= created.loc[inter["ITEM_ID"]].to_numpy()).all()
    assert np.all(np.diff(inter["TIMESTAMP"].to_numpy()) >= 0)
    assert frames["items"]["ITEM_ID"].is_unique and frames["users"]["USER_ID"].is_unique
    assert len(inter) >= 1000 and inter["USER_ID"].nunique() >= 25


def test_generator_is_seeded():
    a = sample_data.video_on_demand(n_users=50, n_items=40, seed=1)["interactions"]
    b = sample_data.video_on_demand(n_users=50, n_items=40, seed=1)["interactions"]
    c = sample_data.video_on_demand(n_users=50, n_items=40, seed=2)["interactions"]
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
