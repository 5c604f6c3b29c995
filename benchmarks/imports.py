"""Import speed: pypersonalize's validated, atomic import against its peers.

Peers, on the same generated Personalize CSV in the same process:
  duckdb-raw     CREATE TABLE AS SELECT * FROM read_csv(...)   (no checks at all)
  pandas         pd.read_csv with the schema's dtypes          (parse only)
  pandas+checks  pd.read_csv + the same rules in pandas        (nulls, integers, ms timestamps,
                                                                id length and '|', float values)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from common import Section

import pypersonalize

SIZES = (100_000, 1_000_000, 3_000_000)
QUICK_SIZES = (100_000,)

SCHEMA = {"type": "record", "name": "Interactions", "fields": [
    {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
    {"name": "EVENT_TYPE", "type": "string"}, {"name": "EVENT_VALUE", "type": ["null", "float"]},
    {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}

INTRO = """\
`pypersonalize` = `create_dataset_import_job`: header check, stage as text, one validation
scan (nulls, integer/float syntax, millisecond timestamps, id length and `|`), typed load
into the project file, id-map update, job record, all in one transaction.
Peers run in the same process on the same file: `duckdb-raw` is a bare `CREATE TABLE AS
SELECT * FROM read_csv(...)` into a file (no checks), `pandas` a bare `read_csv` into
memory, `pandas+checks` `read_csv` plus the same rules written in pandas (in memory,
nothing persisted). The last column is the peer's time divided by pypersonalize's
(below 1 = the peer is faster)."""


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


def run(quick: bool = False, repeat: int = 3, log=print) -> Section:
    sizes = QUICK_SIZES if quick else SIZES
    section = Section("imports", "Import of a Personalize interactions CSV (5 columns)", INTRO)
    lines = [f"# best of {repeat}",
             f"{'rows':>10}  {'method':<14} {'seconds':>8} {'rows/s':>12} {'time vs pypersonalize':>22}"]
    log(lines[1])
    ratios: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            path = Path(tmp) / f"interactions-{rows}.csv"
            make_csv(path, rows)
            best = {}
            for name, fn in PEERS.items():
                db = Path(tmp) / f"{name}-{rows}.duckdb"
                times = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    n = fn(path, db)
                    times.append(time.perf_counter() - start)
                    assert n == rows, (name, n)
                best[name] = min(times)
            ratios[rows] = {k: v / best["pypersonalize"] for k, v in best.items()}
            ratios[rows]["_rate"] = rows / best["pypersonalize"]
            for name, secs in best.items():
                line = (f"{rows:>10,}  {name:<14} {secs:>8.3f} {rows / secs:>12,.0f} "
                        f"{secs / best['pypersonalize']:>21.2f}x")
                lines.append(line)
                log(line)
    section.tables.append("\n".join(lines))
    section.reading = _reading(ratios)
    return section


def _size(rows: int) -> str:
    return f"{rows // 1_000_000}M" if rows >= 1_000_000 else f"{rows // 1000}K"


def _reading(ratios: dict[int, dict[str, float]]) -> str:
    costs = [1 / r["duckdb-raw"] for r in ratios.values()]
    lo, hi = f"{min(costs):.1f}", f"{max(costs):.1f}"
    span = f"{lo}x" if lo == hi else f"{lo}-{hi}x"
    checks = ", ".join(f"{r['pandas+checks']:.2f}x ({_size(rows)})" for rows, r in ratios.items())
    rates = ", ".join(f"~{r['_rate'] / 1e6:.1f}M rows/s at {_size(rows)} rows" for rows, r in ratios.items())
    text = (f"Reading: the validated, atomic, persisted import costs {span} a bare DuckDB load; "
            f"pandas doing the same checks in memory (nothing persisted) needs {checks} of its "
            f"time (above 1 = slower than pypersonalize). Throughput: {rates}.")
    if min(ratios) < 1_000_000:
        text += (" At 100K rows fixed costs (catalog, transaction, file sync) dominate, so the "
                 "ratios there say little about throughput.")
    return text + (" Not measured here: the import's peak memory (SIMS training's is, below).")
