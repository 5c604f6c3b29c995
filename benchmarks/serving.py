"""Serving: recommendations per second through the Python API, the SQL macro and the batch macro.

On the bundled VIDEO_ON_DEMAND sample (data/video_on_demand), three endpoints:
  byw      recommender "Because you watched X" (SIMS on Watch events, the user's watched
           titles left out: the macro looks up the user's history on every request)
  related  campaign of an aws-sims solution with default hyperparameters (no exclusion)
  up       campaign of an aws-user-personalization solution (no exploration): SQL macro vs numpy
Requests are random distinct (user, item) pairs of the sample's Watch events, n = 25.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from common import Section, format_table

import pypersonalize

N = 25
REQUESTS, REQUESTS_QUICK = 400, 100
BATCH, BATCH_QUICK = 1000, 1000
WARMUP = 20

INTRO = f"""\
Data: the bundled VIDEO_ON_DEMAND sample (`data/video_on_demand`, 45K interactions, 2K
users, 800 items), loaded with `tests/conftest.build_sample_group`. Endpoints: `byw`, the
domain recommender "Because you watched X" (SIMS on Watch events; the user's watched
titles are left out, so every request also reads the user's history), and `related`, a
campaign of an `aws-sims` solution with default hyperparameters (no exclusion).
Requests: random distinct (user, item) pairs of the sample's Watch events, `n = {N}`,
{WARMUP} warm-up requests first. Methods: `python` = `Project.get_recommendations` (input
checks, catalog look-up, then the macro); `sql macro` = `SELECT * FROM pp_recommend($endpoint,
user_id := $u, item_id := $i, n := {N})` on a plain `duckdb.connect` of the project file,
one `execute` per request; `batch macro` = one `SELECT * FROM pp_recommend_batch(endpoint,
'requests', n := {N})` over a temp table of {BATCH} requests (requests/s = {BATCH} / its time).
The three answer the same for the first 20 requests (asserted). `ms/request` is the median
over all timed single requests, for the batch its time / {BATCH}; the last column is
requests/s divided by the Python API's."""


def build(db: Path) -> list[tuple[str, str]]:
    from tests.conftest import build_sample_group
    with pypersonalize.open(db, quiet=True) as pp:
        build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
        pp.create_recommender(name="byw", dataset_group="movies", use_case="Because you watched X")
        pp.create_solution(name="sims", dataset_group="movies", recipe="aws-sims")
        version = pp.create_solution_version("sims")["solutionVersionArn"]
        pp.create_campaign(name="related", solution_version=version)
        pp.create_solution(name="up", dataset_group="movies", recipe="aws-user-personalization")
        version = pp.create_solution_version("up")["solutionVersionArn"]
        pp.create_campaign(name="up", solution_version=version, campaign_config={
            "itemExplorationConfig": {"explorationWeight": "0"}})
        return pp.con.execute("""SELECT DISTINCT USER_ID, ITEM_ID FROM movies.interactions
                                 WHERE EVENT_TYPE = 'Watch' ORDER BY ALL""").fetchall()


def timed_loop(fn, requests, repeat) -> tuple[float, list[float], list]:
    """Best pass's requests/s, all per-request latencies, the answers of the last pass."""
    for user, item in requests[:WARMUP]:
        fn(user, item)
    best, lat, answers = 0.0, [], []
    for _ in range(repeat):
        answers = []
        start = time.perf_counter()
        for user, item in requests:
            t = time.perf_counter()
            answers.append(fn(user, item))
            lat.append(time.perf_counter() - t)
        best = max(best, len(requests) / (time.perf_counter() - start))
    return best, lat, answers


def run(quick: bool = False, repeat: int = 3, log=print) -> Section:
    section = Section("serving", "Serving: recommendations per second", INTRO)
    n_req, n_batch = (REQUESTS_QUICK, BATCH_QUICK) if quick else (REQUESTS, BATCH)
    rng = np.random.default_rng(11)
    rows, rates = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "serving.duckdb"
        pairs = build(db)
        pick = rng.choice(len(pairs), max(n_req, n_batch), replace=False)
        single = [pairs[k] for k in pick[:n_req]]
        batch = pd.DataFrame([pairs[k] for k in pick[:n_batch]], columns=["user_id", "item_id"])
        endpoints = (("byw", "recommender"), ("related", "campaign"))

        # (a) the Python API
        py = {}
        with pypersonalize.open(db, quiet=True) as pp:
            for name, kind in endpoints:
                def api(user, item, name=name, kind=kind):
                    out = pp.get_recommendations(**{kind: name}, user_id=user, item_id=item,
                                                 num_results=N)["itemList"]
                    return [(r["itemId"], r["score"]) for r in out]
                py[name] = timed_loop(api, single, repeat)

        # (b) the macro, one request per execute, and (c) the batch macro, on plain DuckDB
        con = duckdb.connect(str(db))
        con.execute("CREATE TEMP TABLE bench_requests AS SELECT * FROM batch")
        for name, _kind in endpoints:
            def macro(user, item, name=name, fn="pp_recommend"):
                return [(i, s) for _r, i, s in con.execute(
                    f"SELECT * FROM {fn}($e, user_id := $u, item_id := $i, n := $n)",
                    {"e": name, "u": user, "i": item, "n": N}).fetchall()]
            sql = timed_loop(macro, single, repeat)
            basic = timed_loop(lambda u, i, name=name: macro(u, i, name, "pp_recommend_basic"), single, repeat)

            query = f"SELECT * FROM pp_recommend_batch('{name}', 'bench_requests', n := {N})"
            con.execute(query).fetchall()                               # warm-up
            batch_times, result = [], None
            for _ in range(repeat):
                start = time.perf_counter()
                result = con.execute(query).df()
                batch_times.append(time.perf_counter() - start)
            batch_rate = n_batch / min(batch_times)

            # The three agree on the first 20 requests (all of them in the batch table too).
            for k, (user, item) in enumerate(single[:20]):
                got = result[(result.user_id == user) & (result.item_id == item)].sort_values("rank")
                assert py[name][2][k] == sql[2][k] == basic[2][k], (name, user, item)
                assert list(got.recommended_item_id) == [i for i, _ in sql[2][k]], (name, user, item)
                assert len(sql[2][k]) == N
            assert result.groupby(["user_id", "item_id"]).ngroups == len(batch.drop_duplicates())

            base = py[name][0]
            for method, rate, lat, count in (
                    ("python", base, py[name][1], n_req),
                    ("sql pp_recommend", sql[0], sql[1], n_req),
                    ("sql pp_recommend_basic", basic[0], basic[1], n_req),
                    ("batch macro", batch_rate, None, n_batch)):
                med = f"{1000 * statistics.median(lat):.2f}" if lat else \
                    f"{1000 * min(batch_times) / n_batch:.2f}"
                rows.append([name, method, f"{count:,}", f"{rate:,.0f}", med, f"{rate / base:.2f}x"])
                rates[(name, method)] = rate
            log(f"  {name}: python {base:,.0f}/s, pp_recommend {sql[0]:,.0f}/s, "
                f"pp_recommend_basic {basic[0]:,.0f}/s, batch {batch_rate:,.0f}/s")
        con.close()
        personal = personal_rows(db, single, batch, repeat, log)
    section.tables.append(f"# best of {repeat} passes, n = {N}\n" + format_table(
        ["endpoint", "method", "requests", "requests/s", "ms/request", "vs python"], rows,
        right={2, 3, 4, 5}))
    log(section.tables[-1])
    section.tables.append(personal[0])
    section.reading = _reading(rates) + " " + personal[1]
    return section


def personal_rows(db: Path, single, batch: pd.DataFrame, repeat: int, log) -> tuple[str, str]:
    """User-Personalization (campaign `up`, no exploration): SQL macro vs numpy, one user at a
    time and many at once; the top 25 agree (asserted for the first 20 users)."""
    users = list(dict.fromkeys(u for u, _ in single))
    many = list(dict.fromkeys(batch["user_id"]))
    rows, rates = [], {}
    with pypersonalize.open(db, quiet=True) as pp:
        version = pp.describe_campaign("up")["campaign"]["solutionVersionArn"]

        def api(user, _item=None):
            return [r["itemId"] for r in pp.get_recommendations(campaign="up", user_id=user,
                                                                 num_results=N)["itemList"]]

        def numpy_one(user, _item=None):
            items, scores = pp.score_users(version, [user])
            top = np.argsort(-scores[0], kind="stable")[:N]
            return [items[k] for k in top]

        pairs = [(u, None) for u in users]
        py = timed_loop(api, pairs, repeat)
        npy = timed_loop(numpy_one, pairs, repeat)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            items, scores = pp.score_users(version, many)
            np.argpartition(-scores, N, axis=1)[:, :N]
            times.append(time.perf_counter() - start)
        for k in range(min(20, len(users))):
            assert py[2][k] == npy[2][k], users[k]
    con = duckdb.connect(str(db))
    con.execute("CREATE TEMP TABLE up_requests AS SELECT DISTINCT user_id, NULL::VARCHAR AS item_id FROM batch")
    sql = timed_loop(lambda u, _i=None: [i for _r, i, _s in con.execute(
        "SELECT * FROM pp_recommend('up', user_id := $u, n := $n)", {"u": u, "n": N}).fetchall()], pairs, repeat)
    btimes = []
    for _ in range(repeat):
        start = time.perf_counter()
        con.execute(f"SELECT * FROM pp_recommend_batch('up', 'up_requests', n := {N})").fetchall()
        btimes.append(time.perf_counter() - start)
    con.close()
    for method, rate, lat, count in (("python", py[0], py[1], len(users)),
                                     ("sql macro", sql[0], sql[1], len(users)),
                                     ("numpy score_users, one user", npy[0], npy[1], len(users)),
                                     ("batch macro", len(many) / min(btimes), None, len(many)),
                                     ("numpy score_users, all users", len(many) / min(times), None, len(many))):
        med = f"{1000 * statistics.median(lat):.2f}" if lat else f"{1000 / rate:.2f}"
        rows.append(["up", method, f"{count:,}", f"{rate:,.0f}", med, f"{rate / py[0]:.2f}x"])
        rates[method] = rate
    table = f"# User-Personalization campaign, best of {repeat} passes, n = {N}\n" + format_table(
        ["endpoint", "method", "users", "requests/s", "ms/request", "vs python"], rows, right={2, 3, 4, 5})
    log(table)
    reading = (f"User-Personalization: {rates['python']:,.0f} requests/s through Python (the SQL "
               f"scores the whole catalogue from the user's history on every request), "
               f"{rates['sql macro']:,.0f}/s through the plain-SQL macro pp_recommend, "
               f"{rates['numpy score_users, one user']:,.0f}/s with numpy one user at a time, "
               f"{rates['batch macro']:,.0f}/s with the batch macro and "
               f"{rates['numpy score_users, all users']:,.0f}/s with numpy over all users at once "
               "(same top 25, asserted).")
    return table, reading


def _reading(rates: dict) -> str:
    parts = []
    for name in ("byw", "related"):
        py, sql, basic, batch = (rates[(name, m)] for m in
                                 ("python", "sql pp_recommend", "sql pp_recommend_basic", "batch macro"))
        parts.append(f"`{name}`: {py:,.0f} requests/s through Python, {basic:,.0f} through "
                     f"pp_recommend_basic ({basic / py:.2f}x), {sql:,.0f} through pp_recommend "
                     f"({sql / py:.2f}x), {batch:,.0f} in batch ({batch / py:.1f}x)")
    overhead = [1 / rates[(n, 'python')] - 1 / rates[(n, 'sql pp_recommend_basic')] for n in ("byw", "related")]
    return ("Reading: " + "; ".join(parts) + ". The Python API adds about "
            f"{1000 * statistics.mean(overhead):.2f} ms per request over the bare pp_recommend_basic "
            "(input checks, catalog and endpoint look-ups, a request id); a single request's time is "
            "mostly DuckDB planning the macro's query: pp_recommend, which also carries the "
            "User-Personalization steps, takes DuckDB several times longer to plan. The batch macro "
            "plans once for all requests, which is where its advantage comes from.")
