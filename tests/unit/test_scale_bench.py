"""The scale benchmark's generator and report, and a 20K smoke run of its stages (so the
script that measures 25M does not rot between the sessions that run it)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import scale  # noqa: E402
import scale_data  # noqa: E402

SMOKE = 20_000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale-data")
    info = scale_data.write(SMOKE, folder, seed=3)
    return folder, info


def test_sizes_follow_movielens_25m_at_the_top():
    assert scale_data.sizes(25_000_000) == (160_256, 60_000)
    users, items = scale_data.sizes(1_000_000)
    assert users == 6_410 and 8_000 < items < 9_000          # the catalogue grows more slowly than users
    assert [scale_data.label(n) for n in (30_000, 1_000_000, 2_500_000)] == ["30K", "1M", "2.5M"]


def test_the_files_hold_what_was_asked_with_personalize_schemas(data):
    folder, info = data
    con = duckdb.connect()
    n, users, items, types = con.execute(
        "SELECT count(*), count(DISTINCT USER_ID), count(DISTINCT ITEM_ID), list(DISTINCT EVENT_TYPE ORDER BY EVENT_TYPE) "
        "FROM read_parquet(?)", [info["files"]["Interactions"]]).fetchall()[0]
    assert (n, info["interactions"]) == (SMOKE, SMOKE)
    assert users == info["users"] == scale_data.sizes(SMOKE)[0]
    assert items <= info["items"] and types == sorted(scale_data.EVENT_TYPES)
    for kind, stem in scale_data.FILES.items():
        schema = json.loads((folder / f"{stem}.schema.json").read_text())
        columns = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)",
                                              [info["files"][kind]]).fetchall()]
        assert columns == [f["name"] for f in schema["fields"]]
    # no event picks an item before it exists
    early = con.execute("SELECT count(*) FROM read_parquet(?) e JOIN read_parquet(?) i USING (ITEM_ID) "
                        "WHERE e.TIMESTAMP < i.CREATION_TIMESTAMP",
                        [info["files"]["Interactions"], info["files"]["Items"]]).fetchall()[0][0]
    assert early == 0


def test_the_events_have_the_structure_of_real_logs():
    f = scale_data.frames(200_000, seed=1)
    ev, items = f["events"], f["items"]
    counts = np.bincount(ev["item"], minlength=len(items["created"]))
    top = np.sort(counts)[::-1]
    assert top[: len(top) // 100].sum() > 0.12 * counts.sum()      # power law: the top 1% of items
    assert (counts == 0).mean() < 0.5 and (counts > 0).sum() > 0.5 * len(counts)   # and a long tail
    # items arrive over time: the arrivals of the span's last quarter take events only then
    late = items["created"] > scale_data.START + 0.75 * scale_data.SPAN
    assert late.any() and (ev["ts"][np.isin(ev["item"], np.flatnonzero(late))]
                           >= scale_data.START + 0.75 * scale_data.SPAN).all()
    # sessions: most consecutive events of a user are minutes apart, some are days apart
    same_user = ev["user"][1:] == ev["user"][:-1]
    gaps = np.diff(ev["ts"])[same_user]
    assert 0.7 < (np.abs(gaps) < 3600).mean() < 0.95
    # taste: a user's most frequent category takes more of their events than the category's share
    taste = f["users"]["taste"][ev["user"]]
    assert (items["category"][ev["item"]] == taste).mean() > 0.25
    shares = np.bincount(ev["etype"], minlength=3) / len(ev["etype"])
    assert np.allclose(shares, scale_data.EVENT_SHARES, atol=0.01)


def test_growth_exponents_against_a_direct_computation():
    store = {"1M": {"sims": {"seconds": 10.0}}, "5M": {"sims": {"seconds": 40.0}},
             "25M": {"sims": {"seconds": 250.0}}}
    g = scale.growth(store, "sims")
    assert g == {"1M->5M": round(math.log(4) / math.log(5), 2), "5M->25M": round(math.log(6.25) / math.log(5), 2)}
    assert scale.growth({"1M": {"sims": {"seconds": 1.0}}}, "sims") == {}


def test_the_results_block_replaces_itself_and_keeps_the_rest(tmp_path, monkeypatch):
    results, chart = tmp_path / "RESULTS.md", tmp_path / "scale.svg"
    results.write_text("# Benchmark results\n\n## Imports\n\ntext\n")
    monkeypatch.setattr(scale, "RESULTS", results)
    monkeypatch.setattr(scale, "CHART", chart)
    row = {"seconds": 12.5, "peak_mb": 2048, "when": "2026-12-04 20:00", "command": "python benchmarks/scale.py"}
    scale.write_outputs({"1M": {"import": row}, "5M": {"import": {**row, "seconds": 50.0}}})
    scale.write_outputs({"1M": {"import": row}, "5M": {"import": {**row, "seconds": 60.0}}})
    text = results.read_text()
    assert text.count(scale.BEGIN) == 1 and "## Imports\n\ntext" in text
    assert "60.0s 2.0G" in text and "50.0s" not in text
    assert f"1M->5M {round(math.log(60 / 12.5) / math.log(5), 2)}" in text
    svg = chart.read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == 2          # time and memory, one stage


def test_the_block_judges_serving_and_the_25m_targets():
    def serving(p99):
        return {"seconds": 1.0, "p50_ms": p99 / 2, "p99_ms": p99, "peak_mb": 100}
    store = {"1M": {"serving": serving(5.0), "import": {"seconds": 2.0, "peak_mb": 300}},
             "25M": {"serving": serving(12.0), "import": {"seconds": 70.0, "peak_mb": 17 * 1024},
                     "sims": {"seconds": 200.0, "peak_mb": 9000}}}
    text = scale.render(store)
    assert "Serving p99 at 25M: 2.40x its p99 at 1M (target <= 2x)." in text
    assert "Missed at 25M: import 70s > 60s, import 17.0 GiB." in text          # sims met its 300 s
    assert f"1M->25M {round(math.log(12 / 5) / math.log(25), 2)}" in text      # serving grows by its p99


def test_every_stage_runs_on_a_small_set(data, tmp_path, monkeypatch):
    """The same stage functions the child processes run, in this process (seconds, not minutes)."""
    folder, _ = data
    monkeypatch.setenv("SCALE_REQUESTS", "50")
    db = str(tmp_path / "smoke.duckdb")
    results = {stage: scale.run_stage(stage, db, str(folder)) for stage in scale.STAGES}
    assert results["import"]["rows"] == SMOKE
    assert results["batch"]["users"] == scale_data.sizes(SMOKE)[0]
    assert 0 < results["serving"]["p50_ms"] <= results["serving"]["p99_ms"]
    assert 0 < results["metrics"]["ndcg@10"] <= 1
    assert all(r["seconds"] > 0 for r in results.values())
