"""Batch jobs: top-25 for every user as a batch inference job, against a loop of single
requests and implicit's batch recommend; segment jobs for 500 items."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from common import Section, format_table, frozen_gc
from datagen import ml1m_like
from latency import ALS, ML1M, ML1M_QUICK, SEED, implicit_missing, import_files

import pypersonalize

N = 25
TARGET = 5000                     # users/s, the issue's
ITEMS_PER_SEGMENT_JOB = 500       # Personalize's limit per input file

INTRO = f"""\
Data: `datagen.ml1m_like` (seed {SEED}, {ML1M['users']:,} users, {ML1M['items']:,} items,
{ML1M['interactions']:,} interactions; `--quick`: {ML1M_QUICK['users']} users,
{ML1M_QUICK['items']} items, {ML1M_QUICK['interactions']:,}) imported through the public API;
aws-user-personalization, aws-sims and aws-item-affinity trained with their defaults. Each job
reads a JSON Lines file (one `{{"userId"}}` per user, or `{{"itemId"}}` per item) and writes
Personalize's output lines (`<input>.out`, synced to disk per block of 512 records), timed end to
end from `create_batch_inference_job` to ACTIVE, best of the passes (each pass a new job). Peers
in the same run: a loop of `get_recommendations` on a campaign of the same version (the same
answers, one request per user), `recommend_batch` (the library's DataFrame call), and implicit
ALS ({ALS['factors']} factors, BLAS on one thread) `model.recommend(all users, N={N})` (scores
only, nothing written). `vs loop` = our users/s over the loop's; `vs ALS` = over implicit's.
Segment job: {ITEMS_PER_SEGMENT_JOB} items (Personalize's per-file limit), the {N} best users each."""


def _job(pp, kind: str, version: str, lines: list[dict], folder: Path, name: str, **kw) -> float:
    source = folder / f"{name}.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in lines))
    start = time.perf_counter()
    with frozen_gc():
        if kind == "inference":
            pp.create_batch_inference_job(name, version, source, folder / f"{name}-out/", num_results=N, **kw)
        else:
            pp.create_batch_segment_job(name, version, source, folder / f"{name}-out/", num_results=N, **kw)
    return time.perf_counter() - start


def _best(passes: int, fn) -> float:
    return min(fn(k) for k in range(passes))


def _als_rate(pp, group: str, log) -> float | None:
    missing = implicit_missing()
    if missing:
        log(f"  implicit ALS peer skipped: {missing}")
        return None
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits
    pairs = pp.con.execute(f'SELECT USER_ID, ITEM_ID FROM "{group}".interactions').df()
    rows, users = pd.factorize(pairs["USER_ID"])
    cols, _items = pd.factorize(pairs["ITEM_ID"])
    x = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(_items)))
    x.sum_duplicates()
    x.data[:] = 1.0
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(**ALS)
        model.fit(x, show_progress=False)
        everyone = np.arange(x.shape[0])
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            model.recommend(everyone, x, N=N)
            seconds.append(time.perf_counter() - start)
    return len(everyone) / min(seconds)


def run(quick: bool = False, repeat: int = 3, log=print) -> Section:
    section = Section("batch", "Batch jobs: batch inference throughput and segment jobs", INTRO)
    size = ML1M_QUICK if quick else ML1M
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        paths, schemas = ml1m_like(tmp, seed=SEED, **size)
        with pypersonalize.open(tmp / "batch.duckdb", quiet=True) as pp:
            import_files(pp, "ml1m", paths, schemas)
            versions = {}
            for name, recipe in (("up", "aws-user-personalization"), ("sims", "aws-sims"),
                                 ("affinity", "aws-item-affinity")):
                pp.create_solution(name=name, dataset_group="ml1m", recipe=recipe)
                start = time.perf_counter()
                versions[name] = pp.create_solution_version(name)["solutionVersionArn"]
                log(f"  {recipe} trained in {time.perf_counter() - start:.1f}s")
            pp.create_campaign(name="up", solution_version=versions["up"],
                               campaign_config={"itemExplorationConfig": {"explorationWeight": 0}})
            pp.create_filter(name="genre", dataset_group="ml1m",
                             filter_expression="INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)")
            users = [u for (u,) in pp.sql('SELECT DISTINCT USER_ID FROM ml1m.interactions ORDER BY 1').fetchall()]
            items = [i for (i,) in pp.sql('SELECT DISTINCT ITEM_ID FROM ml1m.interactions ORDER BY 1').fetchall()]
            quiet = {"itemExplorationConfig": {"explorationWeight": 0}}
            passes = max(1, repeat)

            def loop(_k):
                start = time.perf_counter()
                with frozen_gc():
                    for u in users:
                        pp.get_recommendations(campaign="up", user_id=u, num_results=N)
                return time.perf_counter() - start

            pp.get_recommendations(campaign="up", user_id=users[0], num_results=N)       # model loaded
            loop_rate = len(users) / _best(passes, loop)
            log(f"  loop of get_recommendations: {loop_rate:,.0f} users/s")

            def library(_k):
                start = time.perf_counter()
                pp.recommend_batch(campaign="up", user_ids=users, num_results=N)
                return time.perf_counter() - start
            batch_rate = len(users) / _best(passes, library)
            als_rate = _als_rate(pp, "ml1m", log)

            jobs = [
                ("UP batch inference job, exploration off", "inference", "up",
                 [{"userId": u} for u in users], {"batch_inference_job_config": quiet}),
                ("UP batch inference job, default exploration", "inference", "up",
                 [{"userId": u} for u in users], {}),
                ("UP batch inference job, Items filter, filterValues per line", "inference", "up",
                 [{"userId": u, "filterValues": {"GENRES": '"Comedy"'}} for u in users],
                 {"filter": "genre", "batch_inference_job_config": quiet}),
                ("UP batch inference job + outputTable", "inference", "up",
                 [{"userId": u} for u in users],
                 {"batch_inference_job_config": {**quiet, "outputTable": "recs"}}),
                ("SIMS batch inference job, every item", "inference", "sims",
                 [{"itemId": i} for i in items], {}),
                (f"Item-Affinity segment job, {ITEMS_PER_SEGMENT_JOB} items", "segment", "affinity",
                 [{"itemId": i} for i in items[:ITEMS_PER_SEGMENT_JOB]], {}),
            ]
            for number, (label, kind, version, lines, kw) in enumerate(jobs):
                seconds = _best(passes, lambda k, lines=lines, kw=kw, kind=kind, version=version, number=number:
                                _job(pp, kind, versions[version], lines, tmp, f"job{number}-{k}", **kw))
                rate = len(lines) / seconds
                user_rows = version == "up"
                rows.append([label, f"{len(lines):,}", f"{seconds:.2f}", f"{rate:,.0f}",
                             f"{rate / loop_rate:.1f}x" if user_rows else "-",
                             f"{rate / als_rate:.2f}x" if user_rows and als_rate else "-",
                             ("yes" if rate >= TARGET else "NO") if user_rows else "-"])
                log(f"  {label}: {rate:,.0f} records/s")
            rows.append(["recommend_batch (library call, DataFrame)", f"{len(users):,}", "-", f"{batch_rate:,.0f}",
                         f"{batch_rate / loop_rate:.1f}x", f"{batch_rate / als_rate:.2f}x" if als_rate else "-", "-"])
            rows.append(["loop of get_recommendations (peer)", f"{len(users):,}", "-", f"{loop_rate:,.0f}",
                         "1.0x", f"{loop_rate / als_rate:.2f}x" if als_rate else "-", "-"])
            if als_rate:
                rows.append(["implicit ALS recommend, all users (peer)", f"{len(users):,}", "-", f"{als_rate:,.0f}",
                             f"{als_rate / loop_rate:.1f}x", "1.00x", "-"])
    headers = ["job", "records", "seconds", "records/s", "vs loop", "vs ALS", f">= {TARGET:,}/s"]
    section.tables.append(f"# best of {max(1, repeat)}, top {N}, {size['interactions']:,} interactions\n"
                          + format_table(headers, rows, right={1, 2, 3, 4, 5}))
    log(section.tables[-1])
    first = rows[0]
    section.reading = (f"Reading: a batch inference job writes top-{N} for every user at {first[3]} users/s "
                       f"({first[4]} a loop of single requests, {first[5]} implicit's in-memory batch recommend, "
                       f"which writes nothing); with default exploration {rows[1][3]}/s; a per-line filter "
                       f"{rows[2][3]}/s.")
    return section
