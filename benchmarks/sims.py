"""SIMS training: the SQL recipe (create_solution_version, aws-sims) against a scipy peer.

With every percentile cut-off disabled (min 0.0, max 1.0) and min_cointeraction_count=1,
SIMS is exactly "co-occurrence counts, scored and ranked", which the peer computes with
scipy.sparse in memory: X = binary user x item CSR matrix of the distinct (user, item)
pairs, C = X.T @ X with a zero diagonal, score = C / (n_i^a n_j^a), top 500 per row with
ties broken by item id, as the SQL does. Both results are compared before any ratio is
reported (pair count, related-row count, per-item row count and score sum, top 10 of a
handful of items), so that a wrong peer cannot make a flattering ratio.

Also run as a child process (``--child sql|scipy``) to read one computation's peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Section, fmt_s, format_table, rss_mb  # noqa: E402

import pypersonalize  # noqa: E402
import pypersonalize.training  # noqa: E402

# Training alone, as the peer computes it: the offline metrics a FULL version takes by default
# (a second training on a held-out split) are off here; the tuning section measures their cost.
os.environ[pypersonalize.training.METRICS_SWITCH] = "0"
from pypersonalize.recipes import TrainContext  # noqa: E402

ML100K = ROOT.parent / "shared" / "data" / "ml-100k"

# Identical computation on both sides: no cut-off drops or caps anything, every pair counts.
IDENTICAL = {"min_user_history_length_percentile": 0.0, "max_user_history_length_percentile": 1.0,
             "min_item_interaction_count_percentile": 0.0, "max_item_interaction_count_percentile": 1.0,
             "min_cointeraction_count": 1, "popularity_discount_factor": 0.5, "max_related_items": 500}
ALPHA, MIN_COOC, CAP = 0.5, 1, 500

SYNTH = {"interactions": 1_000_000, "users": 50_000, "items": 20_000}
SYNTH_QUICK = {"interactions": 100_000, "users": 5_000, "items": 2_000}

SCHEMA = {"type": "record", "name": "Interactions", "fields": [
    {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}

INTRO = """\
`pypersonalize` = `create_solution_version` of an `aws-sims` solution, offline metrics off
(`PYPERSONALIZE_OFFLINE_METRICS=0`: the peer computes none), SQL templates
`sql/recipes/sims/10..40` (distinct baskets, cut-offs, self-join co-occurrence, score and
rank) writing the top 500 related items per item into the project file, plus the
popular-items fallback, the data check and the catalog record, in one transaction.
`identical` = every percentile cut-off disabled (min 0.0 / max 1.0), `min_cointeraction_count`
1, discount 0.5, 500 related items: then SIMS is exactly co-occurrence counts, and the peer
computes the same thing. `defaults` = Personalize's defaults (cut-offs 0.005/0.995/0.01/0.9,
`min_cointeraction_count` 3); the peer has no such row.
Peer `scipy`: from the (USER_ID, ITEM_ID) strings in memory (fetched beforehand, not timed):
`pd.factorize` (items sorted, so column order = id order = the SQL's tie-break), binary CSR
matrix of the distinct pairs, `C = X.T @ X`, zero diagonal, counts >= min, `score = C /
(n_i^a n_j^a)`, then per row the top 500 by (score desc, id) with `argpartition` and a sort
of the candidates; the result stays in numpy arrays (nothing persisted).
Before a ratio is printed the two results are compared: the same number of (i < j) pairs,
the same number of related rows, per item the same count and score sum, and the same top
10 (ids and scores) for eight items. The last column is pypersonalize's time divided by
the peer's (the issue's target at 1M interactions: <= 2.0)."""


# -- data -----------------------------------------------------------------------------

def synthetic_frame(interactions: int, users: int, items: int, seed: int = 7) -> pd.DataFrame:
    """Uniform users, power-law items (item k has probability ~ k^(-2/3)), one event per second."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, users, interactions)
    i = np.floor(rng.random(interactions) ** 3 * items).astype(np.int64)
    return pd.DataFrame({"USER_ID": np.char.add("u", u.astype(str)).astype(object),
                         "ITEM_ID": np.char.add("i", i.astype(str)).astype(object),
                         "TIMESTAMP": 1_700_000_000 + np.arange(interactions, dtype=np.int64)})


def build_project(db: Path, source, schema: dict) -> None:
    with pypersonalize.open(db, quiet=True) as pp:
        pp.create_dataset_group(name="g")
        pp.create_schema(name="s", schema=schema)
        pp.create_dataset(name="d", dataset_group="g", dataset_type="Interactions", schema="s")
        pp.create_dataset_import_job(dataset="d", data_source=source)


def peer_input(con) -> tuple[np.ndarray, np.ndarray]:
    df = con.execute('SELECT USER_ID, ITEM_ID FROM g.interactions').df()
    return df["USER_ID"].to_numpy(dtype=object), df["ITEM_ID"].to_numpy(dtype=object)


def dataset_facts(con) -> dict:
    n, pairs, users, items = con.execute("""
        SELECT (SELECT count(*) FROM g.interactions),
               (SELECT count(*) FROM (SELECT DISTINCT USER_ID, ITEM_ID FROM g.interactions)),
               (SELECT count(DISTINCT USER_ID) FROM g.interactions),
               (SELECT count(DISTINCT ITEM_ID) FROM g.interactions)""").fetchall()[0]
    return {"interactions": n, "distinctPairs": pairs, "users": users, "items": items}


# -- the peer ---------------------------------------------------------------------------

@dataclass
class PeerResult:
    item_ids: np.ndarray      # code -> item id (sorted)
    counts: np.ndarray        # related rows per item code
    related: np.ndarray       # related item codes, grouped by item, in rank order
    scores: np.ndarray
    pairs: int                # (i < j) pairs with cooc >= min_cooc

    def top(self, item_id: str, k: int = 10) -> list[tuple[str, float]]:
        code = int(np.searchsorted(self.item_ids, item_id))
        start = int(self.counts[:code].sum())
        end = start + min(k, int(self.counts[code]))
        return [(str(self.item_ids[c]), float(s))
                for c, s in zip(self.related[start:end], self.scores[start:end])]


def scipy_sims(users: np.ndarray, items: np.ndarray, alpha: float = ALPHA,
               min_cooc: int = MIN_COOC, cap: int = CAP) -> PeerResult:
    item_codes, item_ids = pd.factorize(items, sort=True)
    user_codes, user_ids = pd.factorize(users)
    X = sp.csr_matrix((np.ones(len(item_codes), dtype=np.float32), (user_codes, item_codes)),
                      shape=(len(user_ids), len(item_ids)))
    X.sum_duplicates()
    X.data[:] = 1.0                                   # binary: distinct (user, item) pairs
    n = np.bincount(X.indices, minlength=X.shape[1]).astype(np.float64)
    C = X.T.tocsr() @ X                               # co-occurrence counts, CSR, any column order
    rows = np.repeat(np.arange(C.shape[0], dtype=np.int32), np.diff(C.indptr))
    ok = (rows != C.indices) & (C.data >= min_cooc)   # zero diagonal, minimum count
    rows, cols, cooc = rows[ok], C.indices[ok], C.data[ok]
    del C
    lens = np.bincount(rows, minlength=X.shape[1])
    indptr = np.r_[0, np.cumsum(lens)]
    p = n ** alpha
    neg = -(cooc.astype(np.float64) / (p[rows] * p[cols]))
    # Per row: the top `cap` by (score desc, column); columns are in id order.
    keep = []
    for r in np.flatnonzero(lens):
        a, b = indptr[r], indptr[r + 1]
        seg, col = neg[a:b], cols[a:b]
        if b - a > cap:
            cand = np.flatnonzero(seg <= np.partition(seg, cap - 1)[cap - 1])
            order = cand[np.lexsort((col[cand], seg[cand]))][:cap]
        else:
            order = np.lexsort((col, seg))
        keep.append(order + a)
    sel = np.concatenate(keep) if keep else np.empty(0, dtype=np.int64)
    return PeerResult(item_ids=np.asarray(item_ids, dtype=object), counts=np.minimum(lens, cap),
                      related=cols[sel], scores=-neg[sel], pairs=len(cooc) // 2)


# -- the SQL recipe, with its time split per statement -----------------------------------

# Labels of the statements train() runs, in their order (= the table's row order).
STEP_RULES = [
    ("10 baskets (distinct pairs, dense ids)", r"TEMP TABLE pp_sims_events"),
    ("cut-off counts (2 GROUP BYs)", r"^SELECT count\(\*\) FROM pp_sims_events GROUP BY"),
    ("20 kept (cut-offs, recency cap)", r"TEMP TABLE pp_sims_kept"),
    ("30 co-occurrence (self-join, GROUP BY)", r"TEMP TABLE pp_sims_pairs"),
    ("40 related items (score, rank, insert)", r"INSERT INTO pypersonalize\.related_items"),
    ("model stats (counts)", r"count\(DISTINCT basket\)"),
    ("drop temp tables", r"^DROP TABLE"),
    ("popular items (fallback)", r"popular_items"),
]
OUTSIDE = "rest (data check, quantiles, catalog, COMMIT)"


class TimedConnection:
    """Forwards to a DuckDB connection, adding each execute's time to a labelled step."""

    def __init__(self, con, steps: dict):
        self._con, self._steps = con, steps

    def execute(self, query, parameters=None):
        code = re.sub(r"--[^\n]*", "", query).strip()
        label = next((name for name, rx in STEP_RULES if re.search(rx, code)), "other SQL")
        start = time.perf_counter()
        result = self._con.execute(query) if parameters is None else self._con.execute(query, parameters)
        self._steps[label] += time.perf_counter() - start
        return result

    def __getattr__(self, name):
        return getattr(self._con, name)


def sql_sims(pp, solution: str, hyperparameters: dict | None) -> tuple[float, str, dict, dict]:
    """Create a solution and time its first version; (seconds, version arn, modelStats, steps)."""
    pp.create_solution(name=solution, dataset_group="g", recipe="aws-sims",
                       hyperparameters=hyperparameters)
    steps: dict = defaultdict(float)

    def timed_context(**kwargs):
        return TrainContext(**{**kwargs, "con": TimedConnection(kwargs["con"], steps)})

    with mock.patch.object(pypersonalize.training, "TrainContext", timed_context):
        start = time.perf_counter()
        arn = pp.create_solution_version(solution)["solutionVersionArn"]
        seconds = time.perf_counter() - start
    steps[OUTSIDE] = seconds - sum(steps.values())
    stats = pp.describe_solution_version(arn)["solutionVersion"]["modelStats"]
    return seconds, arn, stats, dict(steps)


def verify(pp, version_arn: str, stats: dict, peer: PeerResult, seed: int = 3) -> str:
    """Assert that the SQL model rows and the peer's arrays are the same model."""
    assert stats["itemPairs"] == peer.pairs, ("pairs", stats["itemPairs"], peer.pairs)
    assert stats["relatedItems"] == len(peer.related), ("related", stats["relatedItems"], len(peer.related))
    per_item = pp.con.execute("""SELECT item, count(*), sum(score) FROM pypersonalize.related_items
                                 WHERE version_arn = $v GROUP BY item""", {"v": version_arn}).df()
    peer_sum = np.add.reduceat(peer.scores, np.r_[0, np.cumsum(peer.counts)[:-1]]) \
        if len(peer.scores) else np.zeros(0)
    peer_df = pd.DataFrame({"item": peer.item_ids, "n": peer.counts,
                            "s": np.where(peer.counts > 0, peer_sum, 0.0)})
    peer_df = peer_df[peer_df.n > 0]
    merged = per_item.set_index("item").join(peer_df.set_index("item"), how="outer")
    assert not merged.isna().any().any(), "items differ"
    assert (merged.iloc[:, 0] == merged["n"]).all(), "per-item counts differ"
    assert np.allclose(merged.iloc[:, 1], merged["s"], rtol=1e-9, atol=0), "per-item score sums differ"
    # Top 10 of the most and least popular items with related items, the median one, and random ones.
    by_pop = pp.con.execute("""SELECT ITEM_ID FROM g.interactions GROUP BY ITEM_ID
                               ORDER BY count(DISTINCT USER_ID) DESC, ITEM_ID""").fetchall()
    by_pop = [r[0] for r in by_pop if peer.counts[np.searchsorted(peer.item_ids, r[0])] > 0]
    rng = np.random.default_rng(seed)
    probe = [by_pop[0], by_pop[1], by_pop[len(by_pop) // 2], by_pop[-1]] + \
        [by_pop[k] for k in rng.choice(len(by_pop), 4, replace=False)]
    for item in probe:
        sql = pp.con.execute("""SELECT related, score FROM pypersonalize.related_items
                                WHERE version_arn = $v AND item = $i AND rank <= 10 ORDER BY rank""",
                             {"v": version_arn, "i": item}).fetchall()
        ours = peer.top(item, 10)
        assert [r for r, _ in sql] == [r for r, _ in ours], (item, sql, ours)
        assert np.allclose([s for _, s in sql], [s for _, s in ours], rtol=1e-12, atol=0), (item, sql, ours)
    return (f"{stats['itemPairs']:,} pairs, {stats['relatedItems']:,} related rows, per-item counts and "
            f"score sums of {len(merged):,} items, top 10 of {len(probe)} items: equal")


# -- child processes: peak memory ------------------------------------------------------
# Peak = VmHWM of /proc/self/status, reset by exec. ru_maxrss is not: Linux carries the
# forked parent's RSS over into the child's, so every child would report at least the
# parent's size.

def child(kind: str, db: str, solution: str | None) -> dict:
    if kind == "sql":
        with pypersonalize.open(db, quiet=True) as pp:
            before = rss_mb()
            start = time.perf_counter()
            pp.create_solution_version(solution)
            seconds = time.perf_counter() - start
            after = rss_mb()
    else:
        import duckdb
        con = duckdb.connect(db, read_only=True)
        users, items = peer_input(con)
        con.close()
        del con
        gc.collect()
        before = rss_mb()
        start = time.perf_counter()
        result = scipy_sims(users, items)
        seconds = time.perf_counter() - start
        after = rss_mb()
        assert len(result.related) > 0
    return {"seconds": seconds, "before": before, "after": after}


def measure_child(kind: str, db: Path, solution: str | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--db", str(db)]
    if solution:
        cmd += ["--solution", solution]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- the section ----------------------------------------------------------------------

def run(quick: bool = False, repeat: int = 3, log=print) -> Section:
    section = Section("sims", "SIMS training: SQL recipe vs a scipy.sparse peer", INTRO)
    synth = SYNTH_QUICK if quick else SYNTH
    datasets = []
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if (ML100K / "u.data").exists():
            from tests.sql.test_movielens import SCHEMAS, to_personalize_csv
            (tmp / "ml").mkdir()
            to_personalize_csv(tmp / "ml")
            datasets.append(("ml-100k", tmp / "ml" / "interactions.csv", SCHEMAS["Interactions"], False))
        else:
            notes.append(f"MovieLens 100K not found at {ML100K}: its rows are skipped.")
        name = f"synthetic-{synth['interactions'] // 1000}K" if synth["interactions"] < 1_000_000 \
            else f"synthetic-{synth['interactions'] // 1_000_000}M"
        datasets.append((name, synthetic_frame(**synth), SCHEMA, True))

        facts, rows, splits, memory, checks, ratios = {}, [], {}, None, {}, {}
        for name, source, schema, big in datasets:
            db = tmp / f"{name}.duckdb"
            build_project(db, source, schema)
            with pypersonalize.open(db, quiet=True) as pp:
                facts[name] = dataset_facts(pp.con)
                users, items = peer_input(pp.con)
                if big:
                    pp.create_solution(name="mem", dataset_group="g", recipe="aws-sims",
                                       hyperparameters=IDENTICAL)
            log(f"  {name}: {facts[name]['interactions']:,} interactions, "
                f"{facts[name]['distinctPairs']:,} distinct (user, item) pairs")
            if big:   # fresh processes, one computation each, before this one grows
                memory = {"sql": measure_child("sql", db, "mem"), "scipy": measure_child("scipy", db)}
            best = {"sql-identical": None, "scipy": None, "sql-defaults": None}
            times = defaultdict(list)
            with pypersonalize.open(db, quiet=True) as pp:
                for rep in range(repeat):
                    secs, arn, stats, steps = sql_sims(pp, f"ident{rep}", IDENTICAL)
                    times["sql-identical"].append(secs)
                    if best["sql-identical"] is None or secs < best["sql-identical"][0]:
                        best["sql-identical"] = (secs, stats, steps)
                    gc.collect()
                    start = time.perf_counter()
                    peer = scipy_sims(users, items)
                    secs_peer = time.perf_counter() - start
                    times["scipy"].append(secs_peer)
                    if best["scipy"] is None or secs_peer < best["scipy"][0]:
                        best["scipy"] = (secs_peer, None, None)
                    if rep == 0:
                        checks[name] = verify(pp, arn, stats, peer)
                        log(f"    check: {checks[name]}")
                    del peer
                    pp.delete_solution(f"ident{rep}")
                    secs, arn, stats, steps = sql_sims(pp, f"dflt{rep}", None)
                    times["sql-defaults"].append(secs)
                    if best["sql-defaults"] is None or secs < best["sql-defaults"][0]:
                        best["sql-defaults"] = (secs, stats, steps)
                    pp.delete_solution(f"dflt{rep}")
                    log(f"    rep {rep + 1}: sql-identical {times['sql-identical'][-1]:.2f}s, "
                        f"scipy {secs_peer:.2f}s, sql-defaults {secs:.2f}s")
            ratio = best["sql-identical"][0] / best["scipy"][0]
            ratios[name] = ratio
            s_id, s_df = best["sql-identical"][1], best["sql-defaults"][1]
            rows += [
                [name, "identical", "pypersonalize", fmt_s(best["sql-identical"][0]),
                 f"{s_id['itemPairs']:,}", f"{s_id['relatedItems']:,}", f"{ratio:.2f}x"],
                [name, "identical", "scipy", fmt_s(best["scipy"][0]),
                 f"{s_id['itemPairs']:,}", f"{s_id['relatedItems']:,}", "1.00x"],
                [name, "defaults", "pypersonalize", fmt_s(best["sql-defaults"][0]),
                 f"{s_df['itemPairs']:,}", f"{s_df['relatedItems']:,}", "-"],
            ]
            splits[name] = (best["sql-identical"], best["sql-defaults"])
            del users, items

    fact_rows = [[n, f"{f['interactions']:,}", f"{f['distinctPairs']:,}", f"{f['users']:,}",
                  f"{f['items']:,}"] for n, f in facts.items()]
    section.tables.append(format_table(["dataset", "interactions", "distinct pairs", "users", "items"],
                                       fact_rows, right={1, 2, 3, 4}))
    section.tables.append(f"# best of {repeat}\n" + format_table(
        ["dataset", "config", "method", "seconds", "pairs i<j", "related rows", "pypersonalize / scipy"],
        rows, right={3, 4, 5, 6}))
    big_name = datasets[-1][0]
    ident, dflt = splits[big_name]
    labels = [n for n, _ in STEP_RULES] + [OUTSIDE]
    split_rows = []
    for label in labels:
        a, b = ident[2].get(label, 0.0), dflt[2].get(label, 0.0)
        if a or b:
            split_rows.append([label, f"{a:.3f}", f"{100 * a / ident[0]:.0f}%",
                               f"{b:.3f}", f"{100 * b / dflt[0]:.0f}%"])
    split_rows.append(["total", f"{ident[0]:.3f}", "100%", f"{dflt[0]:.3f}", "100%"])
    section.tables.append(f"# {big_name}, time per SQL statement of the best run\n" + format_table(
        ["step", "identical s", "share", "defaults s", "share"], split_rows, right={1, 2, 3, 4}))
    mem_rows = []
    if memory:
        for key, label in (("sql", "pypersonalize (create_solution_version)"),
                           ("scipy", "scipy peer")):
            m = memory[key]
            mem_rows.append([label, f"{m['seconds']:.2f}", f"{m['before']['vmrss']:,.0f}",
                             f"{m['after']['vmhwm']:,.0f}",
                             f"{m['after']['vmhwm'] - m['before']['vmrss']:,.0f}"])
        section.tables.append(f"# {big_name}, identical config, one fresh process each\n" + format_table(
            ["process", "seconds", "RSS before (MB)", "peak RSS (MB)", "peak - before (MB)"],
            mem_rows, right={1, 2, 3, 4}))
    for line in section.tables:
        log(line)
    section.reading = _reading(ratios, checks, ident, dflt, memory, big_name, notes)
    return section


def _reading(ratios, checks, ident, dflt, memory, big_name, notes) -> str:
    ratio = ratios[big_name]
    verdict = "meets" if ratio <= 2.0 else "misses"
    steps = sorted(((v, k) for k, v in ident[2].items()), reverse=True)
    top = ", ".join(f"{k} {100 * v / ident[0]:.0f}%" for v, k in steps[:3])
    dsteps = sorted(((v, k) for k, v in dflt[2].items()), reverse=True)
    dtop = ", ".join(f"{k} {100 * v / dflt[0]:.0f}%" for v, k in dsteps[:2])
    text = [f"Reading: on {big_name} the SQL recipe takes {ratio:.2f}x the scipy peer's time for "
            f"the identical computation, so it {verdict} the issue's target of <= 2.0."]
    others = [f"{n} {r:.2f}x" for n, r in ratios.items() if n != big_name]
    if others:
        text.append("The same ratio on " + ", ".join(others) + " (smaller data: the fixed costs "
                    "of the SQL path weigh more).")
    text.append(f"Where the SQL time goes ({big_name}, identical): {top}. With the defaults "
                f"(min_cointeraction_count 3, cut-offs, the most popular items capped to their "
                f"latest baskets) only {dflt[1]['itemPairs']:,} pairs are left instead of "
                f"{ident[1]['itemPairs']:,} and the time is {dflt[0] / ident[0]:.2f}x the identical "
                f"config's; its largest steps: {dtop}.")
    if big_name.startswith("synthetic"):
        text.append("(The synthetic users pick items independently, so almost no pair co-occurs "
                    "3 times once popular items are capped: the defaults row there mostly "
                    "measures the fixed steps.)")
    text.append("The peer's result stays in memory as arrays while the SQL writes every related "
                "row (item ids as strings) into the project file and commits, so part of the gap "
                "is persistence, not arithmetic.")
    if memory:
        s, p = memory["sql"], memory["scipy"]
        text.append(f"Peak memory: {s['after']['vmhwm']:,.0f} MB for the SQL training process "
                    f"(+{s['after']['vmhwm'] - s['before']['vmrss']:,.0f} MB over the opened project) "
                    f"against {p['after']['vmhwm']:,.0f} MB for the peer "
                    f"(+{p['after']['vmhwm'] - p['before']['vmrss']:,.0f} MB over its loaded input): "
                    "VmHWM of a fresh process per computation, DuckDB at its default memory limit. "
                    "(Not ru_maxrss: on Linux a child's ru_maxrss starts from the parent's RSS at "
                    "fork, which here hid the difference.)")
    text.append("Checks passed: " + "; ".join(f"{n}: {c}" for n, c in checks.items()) + ".")
    text += notes
    return " ".join(text)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", choices=["sql", "scipy"], required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--solution")
    args = ap.parse_args()
    print(json.dumps(child(args.child, args.db, args.solution)))
