"""open(memory_limit=) and $PYPERSONALIZE_MEMORY_LIMIT bound DuckDB's memory (work spills to disk)."""

from __future__ import annotations

import pytest

import pypersonalize
from pypersonalize.connection import MEMORY_LIMIT_ENV


def _limit_mib(pp) -> float:
    text = pp.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
    value, unit = text.split()
    return float(value) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def test_the_argument_and_the_variable_set_duckdbs_limit(tmp_path, monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    with pypersonalize.open(tmp_path / "a.duckdb", quiet=True) as pp:
        default = _limit_mib(pp)
    with pypersonalize.open(tmp_path / "a.duckdb", quiet=True, memory_limit="1GB") as pp:
        assert _limit_mib(pp) == pytest.approx(1e9 / 2**20, rel=1e-3) != default
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "600MB")
    with pypersonalize.open(tmp_path / "a.duckdb", quiet=True) as pp:
        assert _limit_mib(pp) == pytest.approx(600e6 / 2**20, rel=1e-3)
    with pypersonalize.open(":memory:", quiet=True, memory_limit="2GiB") as pp:     # the argument wins
        assert _limit_mib(pp) == pytest.approx(2048, rel=1e-3)


@pytest.mark.parametrize("bad", ["lots", "12", "-1GB", "0MB", "1GB; DROP TABLE x", "12 parsecs"])
def test_a_bad_limit_is_refused_naming_where_it_came_from(tmp_path, monkeypatch, bad):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    with pytest.raises(pypersonalize.InvalidInput, match="memory_limit must be a size"):
        pypersonalize.open(tmp_path / "c.duckdb", memory_limit=bad)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, bad)
    with pytest.raises(pypersonalize.InvalidInput, match=MEMORY_LIMIT_ENV):
        pypersonalize.open(tmp_path / "c.duckdb")
    assert not (tmp_path / "c.duckdb").exists()
