"""Import speed: pypersonalize's validated, atomic import against its peers.

Peers, on the same generated Personalize CSV in the same process:
  duckdb-raw     CREATE TABLE AS SELECT * FROM read_csv(...)   (no checks at all)
  pandas         pd.read_csv with the schema's dtypes          (parse only)
  pandas+checks  pd.read_csv + the same rules in pandas        (nulls, integers, ms timestamps,
                                                                id length and '|', float values)
Usage: python benchmarks/run.py [--rows 100000,1000000,3000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

import pypersonalize

SCHEMA = {"type": "record", "name": "Interactions", "fields": [
    {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
    {"name": "EVENT_TYPE", "type": "string"}, {"name": "EVENT_VALUE", "type": ["null", "float"]},
    {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}


def make_csv(path: Path, rows: int) -> None:
    duckdb.sql(f"""
        COPY (SELECT 'u' || (hash(i) % 50000) AS USER_ID,
                     'i' || CAST(floor(pow(random(), 3) * 20000) AS BIGINT) AS ITEM_ID,
                     CASE WHEN i % 5 = 0 THEN 'Purchase' ELSE 'View' END AS EVENT_TYPE,
                     CASE WHEN i % 5 = 0 THEN round(random() * 100, 2) END AS EVENT_VALUE,
                     1700000000 + i AS "TIMESTAMP"
              FROM range({rows}) t(i))
        TO '{path}' (HEADER)""")


def run_pypersonalize(path: Path, db: Path) -> int:
    with pypersonalize.open(db, quiet=True) as pp:
        if not pp.list_dataset_groups()["datasetGroups"]:
            pp.create_dataset_group(name="bench")
            pp.create_schema(name="s", schema=SCHEMA)
            pp.create_dataset(name="d", dataset_group="bench", dataset_type="Interactions", schema="s")
        arn = pp.create_dataset_import_job(dataset="d", data_source=path)["datasetImportJobArn"]
        return pp.describe_dataset_import_job(arn)["datasetImportJob"]["rowCount"]


def run_duckdb_raw(path: Path, db: Path) -> int:
    con = duckdb.connect(str(db))
    con.execute(f"CREATE OR REPLACE TABLE raw AS SELECT * FROM read_csv('{path}')")
    n = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
    con.close()
    return n


DTYPES = {"USER_ID": str, "ITEM_ID": str, "EVENT_TYPE": str, "EVENT_VALUE": "float64"}


def run_pandas(path: Path, db: Path) -> int:
    return len(pd.read_csv(path, dtype={**DTYPES, "TIMESTAMP": "int64"}))


def run_pandas_checks(path: Path, db: Path) -> int:
    df = pd.read_csv(path, dtype={**DTYPES, "TIMESTAMP": str}, keep_default_na=False,
                     na_values={"EVENT_VALUE": [""]})
    for col in ("USER_ID", "ITEM_ID", "TIMESTAMP"):
        bad = (df[col] == "")
        if bad.any():
            raise ValueError(f"{col} empty at row {int(np.argmax(bad.to_numpy())) + 2}")
    for col in ("USER_ID", "ITEM_ID"):
        if (df[col].str.len() > 256).any() or df[col].str.contains("|", regex=False).any():
            raise ValueError(col)
    if not df["TIMESTAMP"].str.fullmatch(r"[+-]?[0-9]{1,18}").all():
        raise ValueError("TIMESTAMP")
    ts = df["TIMESTAMP"].astype("int64")
    if (ts >= 100_000_000_000).any() or (ts < 0).any():
        raise ValueError("TIMESTAMP range")
    if not np.isfinite(df["EVENT_VALUE"].dropna()).all():
        raise ValueError("EVENT_VALUE")
    df["TIMESTAMP"] = ts
    return len(df)


PEERS = {"pypersonalize": run_pypersonalize, "duckdb-raw": run_duckdb_raw,
         "pandas": run_pandas, "pandas+checks": run_pandas_checks}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="100000,1000000,3000000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"duckdb {duckdb.__version__}, pandas {pd.__version__}, best of {args.repeat}")
    print(f"{'rows':>10}  {'method':<14} {'seconds':>8} {'rows/s':>12} {'time vs pypersonalize':>22}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in [int(r) for r in args.rows.split(",")]:
            path = Path(tmp) / f"interactions-{rows}.csv"
            make_csv(path, rows)
            best = {}
            for name, fn in PEERS.items():
                db = Path(tmp) / f"{name}-{rows}.duckdb"
                times = []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    n = fn(path, db)
                    times.append(time.perf_counter() - start)
                    assert n == rows, (name, n)
                best[name] = min(times)
            for name, secs in best.items():
                print(f"{rows:>10,}  {name:<14} {secs:>8.3f} {rows / secs:>12,.0f} "
                      f"{secs / best['pypersonalize']:>21.2f}x")


if __name__ == "__main__":
    main()
