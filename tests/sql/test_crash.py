"""A process killed with SIGKILL in the middle of an import leaves the file as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

import pypersonalize
from tests.conftest import table_digest

SCHEMA = {"type": "record", "name": "Interactions", "fields": [
    {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"}]}

CHILD = """
import sys, pypersonalize
pp = pypersonalize.open(sys.argv[1], quiet=True)
print("started", flush=True)
pp.create_dataset_import_job(dataset="d", data_source=sys.argv[2], job_name="big")
print("finished", flush=True)
"""


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")
def test_kill_9_during_a_large_import_leaves_the_data_as_before(tmp_path):
    db = tmp_path / "p.duckdb"
    big = tmp_path / "big.csv"
    duckdb.sql(f"""COPY (SELECT 'u' || (i % 100000) AS USER_ID, 'i' || (i % 20000) AS ITEM_ID,
                         1600000000 + i AS "TIMESTAMP" FROM range(6000000) t(i))
                   TO '{big}' (HEADER)""")
    small = tmp_path / "small.csv"
    small.write_text("USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1600000000\nu2,i2,1600000001\n")
    with pypersonalize.open(db, quiet=True) as pp:
        pp.create_dataset_group(name="g")
        pp.create_schema(name="s", schema=SCHEMA)
        pp.create_dataset(name="d", dataset_group="g", dataset_type="Interactions", schema="s")
        pp.create_dataset_import_job(dataset="d", data_source=small)
        before = table_digest(pp, "g.interactions"), table_digest(pp, "g.user_ids")

    killed_mid_import = 0
    for delay in (0.2, 0.8, 1.6):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(big)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "started"
        time.sleep(delay)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            killed_mid_import += 1
        child.wait()
        child.stdout.close()
        with pypersonalize.open(db, quiet=True) as pp:
            after = table_digest(pp, "g.interactions"), table_digest(pp, "g.user_ids")
            jobs = pp.list_dataset_import_jobs(dataset="d")["datasetImportJobs"]
            if child.returncode == -signal.SIGKILL:
                assert after == before
                assert [j["jobName"] for j in jobs] == ["g-interactions-1"]
            else:   # the import won the race: then it must be complete and recorded
                assert after[0][0] == 6_000_000
                break
    assert killed_mid_import >= 1
