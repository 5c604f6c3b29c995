"""Latency: p50/p99 of single requests against the serving-engine issue's targets.

The issue's acceptance protocol, on a generated MovieLens-1M-sized dataset
(``datagen.ml1m_like``) and on MovieLens 100K: User-Personalization (with and without
exploration, after a fresh event, with an Items and an Interactions filter),
Personalized-Ranking, SIMS, popularity, put_events against a bare DuckDB insert, implicit
ALS as the peer every row is compared with, plain SQL, 8 threads on one Project, and
top-25 for all users at once.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import scipy.sparse as sp
from common import ROOT, Latency, Section, format_table, frozen_gc, time_requests
from datagen import ml1m_like

import pypersonalize

N = 25
SEED = 0
REQUESTS, REQUESTS_QUICK = 2000, 200
WARMUP, WARMUP_QUICK = 50, 20
SQL_REQUESTS, SQL_REQUESTS_QUICK = 200, 50
THREADS = 8
CONCURRENT, CONCURRENT_QUICK = 4000, 400
SQL_BATCH, SQL_BATCH_QUICK = 200, 50
RANK_ITEMS = 100
CHECKED = 20                       # UP requests compared between Python and plain SQL
REL_TOL = 1e-5
ML1M = {"users": 6040, "items": 3700, "interactions": 1_000_000}
ML1M_QUICK = {"users": 600, "items": 500, "interactions": 60_000}
ALS = {"factors": 128, "iterations": 10, "random_state": 0}
ML100K = ROOT.parent / "shared" / "data" / "ml-100k"
GENRE = '"Comedy"'

INTRO = f"""\
The serving-engine issue's acceptance protocol. Data A: `datagen.ml1m_like` (seed {SEED},
{ML1M['users']:,} users, {ML1M['items']:,} items, {ML1M['interactions']:,} interactions: power-law
item popularity, a preferred genre per user, sessions over three years, EVENT_TYPE `watch` 85%
/ `rate` 15%; Items with GENRES, YEAR, CREATION_TIMESTAMP; `--quick`: {ML1M_QUICK['users']}
users, {ML1M_QUICK['items']} items, {ML1M_QUICK['interactions']:,} interactions), written as CSV
and imported through the public API. Data B: MovieLens 100K as in `tests/sql/test_movielens.py`
(every event is a `rating`, so its Interactions filter excludes `rating`; its EVENT_VALUE is
required, so its put events carry eventValue 4).
On each: campaigns `up` (aws-user-personalization, explorationWeight 0), `up-explore` (same
version, default exploration), `rank` (aws-personalized-ranking), `related` (aws-sims), `similar` (aws-similar-items), `trending` (aws-trending-now),
`popular` (aws-popularity-count); filters `INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)`
(GENRES = {GENRE}) and `EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("rate")`.
Single requests through the Python API, n = {N}: {WARMUP} warm-up requests, then passes of
{REQUESTS:,} requests (`--quick`: {REQUESTS_QUICK}, one pass) with the garbage collector frozen;
the pass with the lowest p50 is kept and its p99 reported. Users, items and ranking lists
({RANK_ITEMS} items) are drawn with a fixed seed. `UP after put_events`: one `watch` event of a
random item is put for the user (untimed) right before each timed request. `put_events` is
compared with a bare DuckDB `INSERT` + `COMMIT` of one row into a table of the same columns in
a separate file (`duckdb.connect`). Peer: implicit ALS (`implicit.cpu`, factors
{ALS['factors']}, {ALS['iterations']} iterations, random_state 0, BLAS on one thread via
threadpoolctl) fitted on the same binary user x item CSR, `model.recommend(u, user_items[u],
N={N})`; `vs ALS` = our time / ALS's (p50 for single requests, per user for batches).
Plain SQL: `SELECT * FROM pp_recommend($endpoint, user_id := $u, item_id := $i, n := {N})` on
the project's connection, {SQL_REQUESTS} requests (`--quick`: {SQL_REQUESTS_QUICK}).
Concurrency: {THREADS} threads share one Project for {CONCURRENT:,} requests (`--quick`:
{CONCURRENT_QUICK}), each answer compared with the single-threaded answer for its user.
Batch: top {N} for every user (`recommend_batch`, or `score_users` + numpy when it is missing,
as the row says) and `pp_recommend_batch('up', 'requests', n := {N})` over {SQL_BATCH} users
(`--quick`: {SQL_BATCH_QUICK}). Before timing, the first {CHECKED} UP requests are answered by
Python and by plain SQL: the same items (ties aside) and scores within {REL_TOL:g} relative."""

TARGETS = {
    "up": ("p50 <= 1 ms, p99 <= 5 ms", lambda r: r.p50 <= 1 and r.p99 <= 5),
    "filtered": ("p99 <= 6 ms", lambda r: r.p99 <= 6),
    "ranking": ("p99 <= 5 ms", lambda r: r.p99 <= 5),
    "basic": ("p99 <= 2 ms", lambda r: r.p99 <= 2),
    "sql": ("p50 <= 10 ms", lambda r: r.p50 <= 10),
    "batch": (">= 5,000 users/s", lambda r: r.rate >= 5000),
}


@dataclass
class Row:
    dataset: str
    label: str
    count: int
    p50: float | None          # ms; None for batch rows
    p99: float | None
    rate: float                # requests (or users) per second
    target: str = "-"
    met: bool | None = None
    vs_als: float | None = None

    def figure(self) -> str:
        return (f"{self.rate:,.0f} users/s" if self.p50 is None
                else f"p50 {self.p50:.2f} / p99 {self.p99:.2f} ms")

    def cells(self) -> list:
        return [self.dataset, self.label, f"{self.count:,}", fmt_ms(self.p50), fmt_ms(self.p99),
                f"{self.rate:,.0f}", fmt_ratio(self.vs_als),
                self.target, "-" if self.met is None else ("yes" if self.met else "NO")]


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x" if value < 100 else f"{value:,.0f}x"


def row(dataset: str, label: str, lat: Latency, target: str | None = None) -> Row:
    out = Row(dataset, label, lat.count, lat.p50, lat.p99, lat.rate)
    if target is not None:
        out.target, check = TARGETS[target]
        out.met = bool(check(out))
    return out


@dataclass
class Data:
    name: str
    group: str
    rated: str                 # the event type the Interactions filter excludes
    value: float | None = None  # eventValue of a put event, where EVENT_VALUE is required


# -- building the two projects -------------------------------------------------------------

def import_files(pp, group: str, paths: dict, schemas: dict) -> None:
    pp.create_dataset_group(name=group)
    for dtype, schema in schemas.items():
        name = f"{group}-{dtype.lower()}"
        pp.create_schema(name=name, schema=schema)
        pp.create_dataset(name=name, dataset_group=group, dataset_type=dtype, schema=name)
        pp.create_dataset_import_job(dataset=dtype, dataset_group=group, data_source=paths[dtype])


def train(pp, data: Data, log) -> None:
    """The five campaigns and two filters every row uses."""
    def version(name: str, recipe: str) -> str:
        pp.create_solution(name=f"{data.group}-{name}", dataset_group=data.group, recipe=recipe)
        start = time.perf_counter()
        arn = pp.create_solution_version(f"{data.group}-{name}")["solutionVersionArn"]
        log(f"  {data.name}: {recipe} trained in {time.perf_counter() - start:.1f}s")
        return arn

    up = version("up", "aws-user-personalization")
    pp.create_campaign(name="up", solution_version=up,
                       campaign_config={"itemExplorationConfig": {"explorationWeight": "0"}})
    pp.create_campaign(name="up-explore", solution_version=up)
    pp.create_campaign(name="rank", solution_version=version("rank", "aws-personalized-ranking"))
    pp.create_campaign(name="related", solution_version=version("sims", "aws-sims"))
    pp.create_campaign(name="similar", solution_version=version("similar", "aws-similar-items"))
    pp.create_campaign(name="trending", solution_version=version("trending", "aws-trending-now"))
    pp.create_campaign(name="popular", solution_version=version("pop", "aws-popularity-count"))
    pp.create_filter(name="genre", dataset_group=data.group,
                     filter_expression="INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)")
    pp.create_filter(name="unrated", dataset_group=data.group,
                     filter_expression=f'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("{data.rated}")')


def build_ml1m(tmp: Path, quick: bool, log) -> tuple[Path, Data]:
    size = ML1M_QUICK if quick else ML1M
    folder = tmp / "ml1m"
    folder.mkdir()
    start = time.perf_counter()
    paths, schemas = ml1m_like(folder, seed=SEED, **size)
    log(f"  generated {size['interactions']:,} interactions in {time.perf_counter() - start:.1f}s")
    data = Data(f"ml1m-like {size['interactions'] // 1000:,}K".replace("1,000K", "1M"), "ml1m", "rate")
    db = tmp / "latency-ml1m.duckdb"
    with pypersonalize.open(db, quiet=True) as pp:
        start = time.perf_counter()
        import_files(pp, data.group, paths, schemas)
        log(f"  imported in {time.perf_counter() - start:.1f}s")
        train(pp, data, log)
    return db, data


def build_ml100k(tmp: Path, log) -> tuple[Path, Data]:
    from tests.sql.test_movielens import SCHEMAS, to_personalize_csv
    folder = tmp / "ml100k"
    folder.mkdir()
    to_personalize_csv(folder)
    data = Data("MovieLens 100K", "ml100k", "rating", value=4.0)
    db = tmp / "latency-ml100k.duckdb"
    with pypersonalize.open(db, quiet=True) as pp:
        import_files(pp, data.group, {d: folder / f"{d.lower()}.csv" for d in SCHEMAS}, SCHEMAS)
        train(pp, data, log)
    return db, data


# -- peers and checks -------------------------------------------------------------------------

def same_ranking(py: list[tuple], sql: list[tuple]) -> str | None:
    """None when two ranked (item, score) lists agree: scores position by position within
    REL_TOL, and the same items within each run of tied scores (a tie cut by n excepted)."""
    if len(py) != len(sql):
        return f"{len(py)} items from Python, {len(sql)} from SQL"
    for k, ((_, a), (_, b)) in enumerate(zip(py, sql)):
        if not np.isclose(a, b, rtol=REL_TOL, atol=0.0):
            return f"score at rank {k + 1}: {a!r} (Python) vs {b!r} (SQL)"
    start = 0
    for k in range(1, len(py) + 1):
        if k == len(py) or not np.isclose(py[k][1], py[start][1], rtol=REL_TOL, atol=0.0):
            if k < len(py) and {i for i, _ in py[start:k]} != {i for i, _ in sql[start:k]}:
                return f"items at ranks {start + 1}-{k}: {[i for i, _ in py[start:k]]} vs " \
                       f"{[i for i, _ in sql[start:k]]}"
            start = k
    return None


def python_vs_sql(pp, users: list[str], log) -> str:
    """Compare the first UP requests answered both ways; a mismatch is reported, not raised."""
    bad = []
    for user in users[:CHECKED]:
        py = [(r["itemId"], r["score"]) for r in
              pp.get_recommendations(campaign="up", user_id=user, num_results=N)["itemList"]]
        sql = [(i, s) for _r, i, s in pp.con.execute(
            "SELECT * FROM pp_recommend('up', user_id := $u, n := $n)", {"u": user, "n": N}).fetchall()]
        why = same_ranking(py, sql)
        if why:
            bad.append((user, why))
    if bad:
        log(f"  MISMATCH Python vs SQL on {len(bad)} of {CHECKED} UP requests; first: user "
            f"{bad[0][0]}: {bad[0][1]}")
        return f"Python and plain SQL DISAGREE on {len(bad)} of {CHECKED} UP requests (user {bad[0][0]}: {bad[0][1]})"
    log(f"  Python and plain SQL agree on the first {CHECKED} UP requests")
    return f"Python and plain SQL agree on the first {CHECKED} UP requests"


def implicit_missing() -> str | None:
    try:
        import implicit  # noqa: F401
        import threadpoolctl  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install -e '.[bench]')"
    return None


def als_rows(pp, data: Data, users: list[str], passes: int, warmup: int, log) -> tuple[Row, Row]:
    """implicit ALS on the group's user x item matrix: single users, then all users at once."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits
    pairs = pp.con.execute(f'SELECT USER_ID, ITEM_ID FROM "{data.group}".interactions').df()
    rows, user_index = pd.factorize(pairs["USER_ID"])
    cols, item_index = pd.factorize(pairs["ITEM_ID"])
    X = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                      shape=(len(user_index), len(item_index)))
    X.sum_duplicates()
    X.data[:] = 1.0
    position = {u: k for k, u in enumerate(user_index)}
    with threadpool_limits(1, "blas"):      # implicit's advice: BLAS threads fight its own
        model = AlternatingLeastSquares(**ALS)
        start = time.perf_counter()
        model.fit(X, show_progress=False)
        log(f"  {data.name}: implicit ALS fitted in {time.perf_counter() - start:.1f}s")
        single = time_requests(lambda u: model.recommend(position[u], X[position[u]], N=N)[0],
                               users, passes, warmup)
        everyone = np.arange(X.shape[0])
        seconds = []
        for _ in range(passes):
            with frozen_gc():
                start = time.perf_counter()
                model.recommend(everyone, X, N=N)
                seconds.append(time.perf_counter() - start)
    batch = Row(data.name, "implicit ALS recommend, all users", len(everyone), None, None,
                len(everyone) / min(seconds))
    return row(data.name, "implicit ALS recommend (peer)", single), batch


def concurrency(pp, data: Data, users: list[str], passes: int, log) -> tuple[Row, list]:
    """THREADS threads on one Project against the single-threaded answers of the same requests."""
    def call(user):
        return [r["itemId"] for r in pp.get_recommendations(campaign="up", user_id=user,
                                                            num_results=N)["itemList"]]
    alone = time_requests(call, users, passes, warmup=0)      # also the reference answers
    reference = alone.answers
    best, errors, differ = None, [], 0
    with ThreadPoolExecutor(THREADS) as pool:
        pool_pass(pool, call, users[:THREADS * 5])           # each thread's cursor exists first
        for _ in range(passes):
            answers, lat, wall, failed = pool_pass(pool, call, users)
            errors += failed
            differ += sum(a is not None and a != ref for a, ref in zip(answers, reference))
            ms = 1000 * lat
            if best is None or len(users) / wall > best[0]:
                best = (len(users) / wall, float(np.percentile(ms, 50)), float(np.percentile(ms, 99)))
    rate, p50, p99 = best
    out = Row(data.name, f"UP, {THREADS} threads, one Project", len(users), p50, p99, rate,
              "0 errors, same answers", not errors and not differ)
    log(f"  {data.name}: {THREADS} threads {rate:,.0f} req/s vs 1 thread {alone.rate:,.0f} req/s, "
        f"{len(errors)} errors, {differ} answers differ" + (f" (first error: {errors[0]})" if errors else ""))
    detail = [data.name, THREADS, f"{len(users):,}", f"{rate:,.0f}", f"{alone.rate:,.0f}",
              f"{rate / alone.rate:.2f}x", f"{p50:.2f}", f"{p99:.2f}", len(errors),
              "yes" if not differ else f"NO ({differ})"]
    return out, detail


def pool_pass(pool, call, requests: list) -> tuple[list, np.ndarray, float, list]:
    """One pass of ``requests`` spread over the pool's threads, started together:
    (answers, latencies in s, wall seconds, error texts)."""
    n = len(requests)
    answers, lat, errors = [None] * n, np.zeros(n), []
    ticket = itertools.count()             # next() on a count is atomic under the GIL
    barrier = threading.Barrier(THREADS + 1)

    def worker():
        barrier.wait()
        while (k := next(ticket)) < n:
            start = time.perf_counter()
            try:
                answers[k] = call(requests[k])
            except Exception as exc:       # counted, not raised: the count is a measurement
                errors.append(f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}")
            lat[k] = time.perf_counter() - start

    with frozen_gc():
        futures = [pool.submit(worker) for _ in range(THREADS)]
        barrier.wait()
        start = time.perf_counter()
        for f in futures:
            f.result()
        wall = time.perf_counter() - start
    return answers, lat, wall, errors


def batch_rows(pp, data: Data, users: list[str], sql_users: list[str], passes: int, log) -> list[Row]:
    """Top 25 for every user from Python, and the SQL batch macro over a requests table."""
    recommend_batch = getattr(pp, "recommend_batch", None)
    if recommend_batch is not None:
        label = "recommend_batch, all users"

        def everyone(who):
            return recommend_batch(campaign="up", user_ids=who, num_results=N)
    else:
        label = "score_users + numpy top-25, all users (no recommend_batch)"
        version = pp.describe_campaign("up")["campaign"]["solutionVersionArn"]

        def everyone(who):
            items, scores = pp.score_users(version, who)
            top = np.argpartition(-scores, N - 1, axis=1)[:, :N]
            order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
            return np.asarray(items, dtype=object)[np.take_along_axis(top, order, axis=1)]

    pp.con.register("pp_bench_users", pd.DataFrame({"user_id": sql_users,
                                                    "item_id": pd.Series([None] * len(sql_users), dtype=object)}))
    pp.con.execute("CREATE OR REPLACE TEMP TABLE requests AS "
                   "SELECT user_id::VARCHAR AS user_id, item_id::VARCHAR AS item_id FROM pp_bench_users")
    pp.con.unregister("pp_bench_users")
    query = f"SELECT * FROM pp_recommend_batch('up', 'requests', n := {N})"
    out = []
    for what, fn, count in ((label, lambda: everyone(users), len(users)),
                            (f"SQL pp_recommend_batch, {len(sql_users)} users",
                             lambda: pp.con.execute(query).fetchall(), len(sql_users))):
        first = fn()                                          # warm-up (model load, plans)
        log(f"  {data.name}: {what}: {len(first):,} rows for {count:,} users")
        seconds = []
        for _ in range(passes):
            with frozen_gc():
                start = time.perf_counter()
                fn()
                seconds.append(time.perf_counter() - start)
        r = Row(data.name, what, count, None, None, count / min(seconds))
        r.target, check = TARGETS["batch"]
        r.met = check(r)
        log(f"  {data.name}: {what}: {r.rate:,.0f} users/s")
        out.append(r)
    return out


def put_rows(pp, data: Data, tmp: Path, pairs: list[tuple], clock, passes: int, warmup: int,
             log) -> tuple[Row, Row, Row]:
    """UP right after an event, put_events alone, and a bare DuckDB insert of the same row."""
    extra = {} if data.value is None else {"eventValue": data.value}

    def put(pair):
        user, item = pair
        pp.put_events(data.group, user_id=user, session_id="s",
                      event_list=[{"eventType": "watch", "itemId": item, "sentAt": next(clock), **extra}])

    after = time_requests(lambda pair: pp.get_recommendations(campaign="up", user_id=pair[0], num_results=N),
                          pairs, passes, warmup, before=put)
    putting = time_requests(put, pairs, passes, warmup)

    columns = pp.con.execute(f'DESCRIBE "{data.group}".interactions').fetchall()
    peer = duckdb.connect(str(tmp / f"{data.group}-peer.duckdb"))
    peer.execute("CREATE TABLE interactions (" + ", ".join(f'"{c[0]}" {c[1]}' for c in columns) + ")")
    insert = f"INSERT INTO interactions VALUES ({', '.join('?' * len(columns))})"

    def bare(pair):
        values = {"USER_ID": pair[0], "ITEM_ID": pair[1], "TIMESTAMP": next(clock), "EVENT_TYPE": "watch",
                  "EVENT_VALUE": data.value}
        peer.execute("BEGIN TRANSACTION")
        peer.execute(insert, [values.get(c[0]) for c in columns])
        peer.execute("COMMIT")

    raw = time_requests(bare, pairs, passes, warmup)
    peer.close()
    put_row = row(data.name, "put_events, one event", putting)
    put_row.target = f"p99 <= 2x bare; is {putting.p99 / raw.p99:.1f}x"
    put_row.met = putting.p99 <= 2 * raw.p99
    log(f"  {data.name}: put_events p50 {putting.p50:.2f} ms p99 {putting.p99:.2f} ms, bare insert "
        f"p50 {raw.p50:.2f} ms p99 {raw.p99:.2f} ms")
    return (row(data.name, "UP after put_events", after, "up"), put_row,
            row(data.name, "bare DuckDB INSERT + COMMIT (peer)", raw))


# -- one dataset ---------------------------------------------------------------------------------

def measure(db: Path, data: Data, tmp: Path, quick: bool, passes: int, log) -> dict:
    rng = np.random.default_rng(SEED)
    n_req = REQUESTS_QUICK if quick else REQUESTS
    warmup = WARMUP_QUICK if quick else WARMUP
    n_sql = SQL_REQUESTS_QUICK if quick else SQL_REQUESTS
    with pypersonalize.open(db, quiet=True) as pp:
        g = f'"{data.group}"'
        all_users = [u for (u,) in pp.con.execute(f"SELECT DISTINCT USER_ID FROM {g}.interactions ORDER BY 1").fetchall()]
        items = [i for (i,) in pp.con.execute(f"SELECT DISTINCT ITEM_ID FROM {g}.interactions ORDER BY 1").fetchall()]
        newest = pp.con.execute(f"SELECT max(TIMESTAMP) FROM {g}.interactions").fetchall()[0][0]
        users = [str(u) for u in rng.choice(all_users, n_req)]
        seeds = [str(i) for i in rng.choice(items, n_req)]
        lists = [[str(i) for i in rng.choice(items, min(RANK_ITEMS, len(items)), replace=False)]
                 for _ in range(n_req)]
        check = python_vs_sql(pp, users, log)

        def up(campaign, **kw):
            return lambda u: pp.get_recommendations(campaign=campaign, user_id=u, num_results=N, **kw)

        peer, peer_batch = None, None
        missing = implicit_missing()
        if missing:
            log(f"  {data.name}: implicit ALS peer skipped: {missing}")
        else:
            peer, peer_batch = als_rows(pp, data, users, passes, warmup, log)
        timed = [
            ("UP, no filter", up("up"), users, "up"),
            ("UP, default exploration", up("up-explore"), users, "up"),
            ("UP, Items filter (GENRES)", up("up", filter="genre", filter_values={"GENRES": GENRE}),
             users, "filtered"),
            (f"UP, Interactions filter (not {data.rated})", up("up", filter="unrated"), users, "filtered"),
            (f"Personalized-Ranking of {RANK_ITEMS}",
             lambda k: pp.get_personalized_ranking(campaign="rank", user_id=users[k], input_list=lists[k]),
             list(range(n_req)), "ranking"),
            ("SIMS related(item)", lambda i: pp.get_recommendations(campaign="related", item_id=i, num_results=N),
             seeds, "basic"),
            ("Similar-Items related(item)",
             lambda i: pp.get_recommendations(campaign="similar", item_id=i, num_results=N), seeds, "basic"),
            ("popularity", up("popular"), users, "basic"),
            ("Trending-Now", up("trending"), users, "basic"),
        ]
        single = []
        for label, call, requests, target in timed:
            single.append(row(data.name, label, time_requests(call, requests, passes, warmup), target))
            log(f"  {data.name}: {label}: p50 {single[-1].p50:.2f} ms, p99 {single[-1].p99:.2f} ms")

        sql = "SELECT * FROM pp_recommend($e, user_id := $u, item_id := $i, n := $n)"
        sql_rows = []
        for endpoint, requests in (("up", [(u, None) for u in users]), ("related", [(None, i) for i in seeds]),
                                   ("popular", [(u, None) for u in users])):
            lat = time_requests(lambda r, e=endpoint: pp.con.execute(
                sql, {"e": e, "u": r[0], "i": r[1], "n": N}).fetchall(), requests[:n_sql], passes, warmup)
            sql_rows.append(row(data.name, f"SQL pp_recommend '{endpoint}'", lat, "sql"))
            log(f"  {data.name}: SQL {endpoint}: p50 {lat.p50:.2f} ms, p99 {lat.p99:.2f} ms")

        n_conc = CONCURRENT_QUICK if quick else CONCURRENT
        conc_row, conc_detail = concurrency(pp, data, [str(u) for u in rng.choice(all_users, n_conc)], passes, log)
        sql_users = list(dict.fromkeys(users))[:SQL_BATCH_QUICK if quick else SQL_BATCH]
        batch = batch_rows(pp, data, all_users, sql_users, passes, log)
        # last: these add events, which every earlier row must not see
        after, put, bare = put_rows(pp, data, tmp, list(zip(users, seeds)), itertools.count(newest + 1),
                                    passes, warmup, log)

    # the order: UP rows, filters, ranking, related, popular, events, peer, SQL, threads, batch
    rows = (single[:2] + [after] + single[2:] + [put, bare] + [r for r in (peer,) if r]
            + sql_rows + [conc_row] + batch + [r for r in (peer_batch,) if r])
    for r in rows:                      # our time / ALS's: per request, or per user in a batch
        if peer is not None and r is not peer and r is not peer_batch:
            r.vs_als = r.p50 / peer.p50 if r.p50 is not None else peer_batch.rate / r.rate
    return {"rows": rows, "check": check, "concurrency": conc_detail, "peer": peer}


# -- the section ---------------------------------------------------------------------------------

def reading(results: list[tuple[Data, dict]], skipped: list[str]) -> str:
    parts = []
    for data, res in results:
        rows = res["rows"]
        judged = [r for r in rows if r.met is not None]
        missed = [r for r in judged if not r.met]
        by = {r.label: r for r in rows}
        up = by["UP, no filter"]
        text = f"{data.name}: {len(judged) - len(missed)} of {len(judged)} targets met"
        met = [r for r in judged if r.met]
        if missed and len(missed) <= len(met):
            text += " (missed: " + "; ".join(f"{r.label} {r.figure()}" for r in missed) + ")"
        elif missed:                  # most rows miss: the few that pass are the news
            text += " (met: " + ("; ".join(r.label for r in met) or "none") + ")"
        text += ". "
        text += f"User-Personalization p50 {up.p50:.2f} ms, p99 {up.p99:.2f} ms"
        if res["peer"] is not None:
            text += (f", {fmt_ratio(up.vs_als)} implicit ALS's single-user recommend "
                     f"({res['peer'].p50:.3f} ms)")
        put, bare = by["put_events, one event"], by["bare DuckDB INSERT + COMMIT (peer)"]
        text += (f". put_events p50 / p99 {put.p50:.2f} / {put.p99:.2f} ms = {put.p50 / bare.p50:.1f}x / "
                 f"{put.p99 / bare.p99:.1f}x a bare DuckDB insert + commit ({bare.p50:.2f} / {bare.p99:.2f} ms). ")
        c = res["concurrency"]
        text += (f"{c[1]} threads on one Project: {c[3]} req/s against {c[4]} single-threaded ({c[5]}), "
                 f"{c[8]} errors, answers equal to the single-threaded ones: {c[9]}. ")
        batch = [r for r in rows if r.p50 is None and r.target != "-"]
        text += "Batch: " + ", ".join(f"{r.label} {r.rate:,.0f} users/s" for r in batch) + ". "
        text += res["check"] + "."
        parts.append(text)
    parts += skipped
    return "Reading: " + " ".join(parts)


def run(quick: bool = False, repeat: int = 3, log=print) -> Section:
    section = Section("latency", "Latency: single requests against the serving-engine targets", INTRO)
    results, skipped = [], []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        built = [build_ml1m(tmp, quick, log)]
        if (ML100K / "u.data").exists():
            built.append(build_ml100k(tmp, log))
        else:
            reason = f"MovieLens 100K skipped: not found at {ML100K}."
            log(f"  {reason}")
            skipped.append(reason)
        for db, data in built:
            results.append((data, measure(db, data, tmp, quick, repeat, log)))
    n_req = REQUESTS_QUICK if quick else REQUESTS
    headers = ["dataset", "request", "requests", "p50 ms", "p99 ms", "per s", "vs ALS", "target", "met"]
    section.tables.append(
        f"# best of {repeat} passes of {n_req:,} single requests (lowest p50; its p99), n = {N}; "
        "batch rows: users/s, best of the passes\n"
        + format_table(headers, [r.cells() for _, res in results for r in res["rows"]], right={2, 3, 4, 5, 6}))
    section.tables.append(
        f"# {THREADS} threads, one Project, UP without filter: throughput vs one thread, same requests\n"
        + format_table(["dataset", "threads", "requests", "req/s", "1 thread req/s", "speed-up",
                        "p50 ms", "p99 ms", "errors", "same answers"],
                       [res["concurrency"] for _, res in results], right=set(range(1, 9))))
    for table in section.tables:
        log(table)
    section.reading = reading(results, skipped)
    return section
