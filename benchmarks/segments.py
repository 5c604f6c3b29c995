"""Segments: do the users an Item-Affinity segment ranks first interact with the item later?

MovieLens 100K, time split; our segments against user-activity baselines and implicit ALS."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from common import ROOT, Section, format_table
from latency import implicit_missing

import pypersonalize

ML100K = ROOT.parent / "shared" / "data" / "ml-100k"
TRAIN_SHARE = 0.8            # events before this quantile of time train; the rest is the truth
MIN_LATER_USERS = 5          # items evaluated: at least this many users interact later
PER_FILE = 500               # Personalize's Item-Affinity limit per input file
ALS = {"factors": 64, "iterations": 15, "regularization": 0.05, "random_state": 0}

INTRO = f"""\
MovieLens 100K, every rating an interaction. Time split: events before the
{TRAIN_SHARE:.0%} quantile of TIMESTAMP train (imported through the public API, Items with
GENRES); for every item with at least {MIN_LATER_USERS} users rating it afterwards, those
users are the truth and every training user is a candidate. Ours: aws-item-affinity
(hidden_dimension 149, default), one batch segment job over the items (files of
{PER_FILE}, Personalize's limit) with num_results = every user, scores from its
outputTable. Peers, same candidates: user activity (training events per user), recent
activity (training events decayed with the model's half-life, a tenth of the time span),
and implicit ALS ({ALS['factors']} factors, {ALS['iterations']} iterations) scoring users by
u·v. Per item: AUC (later users vs the rest), R-precision (share of the later users among the
top as many users as there are), hit@1% and recall@1% (Personalize's segment metrics, top 1%
of users); means over items."""


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    p, n = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - p * (p + 1) / 2) / (p * n))


def _metrics(scores: np.ndarray, positive: np.ndarray, k1: int) -> tuple[float, float, float, float]:
    order = np.lexsort((np.arange(len(scores)), -scores))
    p = int(positive.sum())
    hits1 = int(positive[order[:k1]].sum())
    return _auc(scores, positive), positive[order[:p]].mean(), hits1, hits1 / p


def _als_scores(train: pd.DataFrame, users: list[str], items: list[str]) -> np.ndarray | None:
    if implicit_missing():
        return None
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits
    u = pd.Categorical(train.USER_ID, categories=users).codes
    i = pd.Categorical(train.ITEM_ID, categories=items).codes
    x = sp.csr_matrix((np.ones(len(u), dtype=np.float32), (u, i)), shape=(len(users), len(items)))
    x.data[:] = 1.0
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(**ALS)
        model.fit(x, show_progress=False)
    return np.asarray(model.user_factors) @ np.asarray(model.item_factors).T


def run(quick: bool = False, repeat: int = 3, log=print) -> Section:
    section = Section("segments", "Segments: Item-Affinity against user-activity baselines, MovieLens 100K", INTRO)
    if not (ML100K / "u.data").exists():
        section.reading = f"Reading: skipped, MovieLens 100K not found at {ML100K}."
        return section
    from tests.sql.test_movielens import SCHEMAS, to_personalize_csv
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        to_personalize_csv(tmp)
        events = pd.read_csv(tmp / "interactions.csv", dtype={"USER_ID": str, "ITEM_ID": str})
        cut = events.TIMESTAMP.quantile(TRAIN_SHARE)
        train, later = events[events.TIMESTAMP < cut], events[events.TIMESTAMP >= cut]
        train.to_csv(tmp / "train.csv", index=False)
        with pypersonalize.open(tmp / "seg.duckdb", quiet=True) as pp:
            pp.create_dataset_group(name="ml")
            for dtype, path in (("Interactions", tmp / "train.csv"), ("Items", tmp / "items.csv")):
                pp.create_schema(name=f"ml-{dtype}", schema=SCHEMAS[dtype])
                pp.create_dataset(name=f"ml-{dtype}", dataset_group="ml", dataset_type=dtype, schema=f"ml-{dtype}")
                pp.create_dataset_import_job(dataset=dtype, dataset_group="ml", data_source=path)
            pp.create_solution(name="affinity", dataset_group="ml", recipe="aws-item-affinity")
            start = time.perf_counter()
            version = pp.create_solution_version("affinity")["solutionVersionArn"]
            trained = time.perf_counter() - start
            users = sorted(train.USER_ID.unique())
            known = set(train.ITEM_ID)
            later_users = later.groupby("ITEM_ID").USER_ID.apply(set)
            items = sorted(i for i, s in later_users.items() if len(s) >= MIN_LATER_USERS and i in known)
            if quick:
                items = items[:60]
            folder = tmp / "queries"
            folder.mkdir()
            for k in range(0, len(items), PER_FILE):
                (folder / f"part-{k // PER_FILE:02d}.jsonl").write_text(
                    "".join(json.dumps({"itemId": i}) + "\n" for i in items[k:k + PER_FILE]))
            start = time.perf_counter()
            pp.create_batch_segment_job("later", version, folder, tmp / "out/", num_results=len(users),
                                        batch_segment_job_config={"outputTable": "segments"})
            job_seconds = time.perf_counter() - start
            rows = pp.sql("SELECT query, user_id, score FROM segments").df()
        ours = rows.pivot(index="user_id", columns="query", values="score").reindex(index=users, columns=items)
        ours = ours.fillna(0.0).to_numpy()
        counts = train.groupby("USER_ID").size().reindex(users).to_numpy(dtype=float)
        span = train.TIMESTAMP.max() - train.TIMESTAMP.min()
        decay = 0.5 ** ((train.TIMESTAMP.max() - train.TIMESTAMP) / max(0.1 * span, 1.0))
        recent = decay.groupby(train.USER_ID).sum().reindex(users).to_numpy()
        all_items = sorted(known)
        als = _als_scores(train, users, all_items)
        column = {i: k for k, i in enumerate(all_items)}
        k1 = max(1, round(0.01 * len(users)))
        names = {"aws-item-affinity (ours)": lambda j: ours[:, j],
                 "user activity (events)": lambda j: counts,
                 "recent activity (decayed events)": lambda j: recent}
        if als is not None:
            names["implicit ALS u·v"] = lambda j: als[:, column[items[j]]]
        table = []
        index = {u: k for k, u in enumerate(users)}
        for label, score in names.items():
            per = []
            for j, item in enumerate(items):
                positive = np.zeros(len(users), dtype=bool)
                positive[[index[u] for u in later_users[item] if u in index]] = True
                if positive.sum() == 0:
                    continue
                per.append(_metrics(np.asarray(score(j), dtype=float), positive, k1))
            m = np.mean(per, axis=0)
            table.append([label, f"{len(per)}", f"{m[0]:.3f}", f"{m[1]:.3f}", f"{m[2]:.2f}", f"{m[3]:.3f}"])
            log(f"  {label}: AUC {m[0]:.3f}, R-precision {m[1]:.3f}")
    section.tables.append(
        f"# {len(train):,} training events, {len(later):,} later; {len(users)} candidate users; top 1% = {k1} users\n"
        + format_table(["segment scores", "items", "AUC", "R-precision", "hit@1%", "recall@1%"], table,
                       right={1, 2, 3, 4, 5}))
    log(section.tables[-1])
    best_peer = max(table[1:], key=lambda r: float(r[2]))
    section.reading = (f"Reading: Item-Affinity's segments put the users who later rate an item ahead of the rest "
                       f"with mean AUC {table[0][2]} against {best_peer[2]} for the best peer ({best_peer[0]}); "
                       f"R-precision {table[0][3]} vs {best_peer[3]}. Training {trained:.1f}s; the segment job "
                       f"({len(items)} items, every user ranked) {job_seconds:.1f}s.")
    return section
