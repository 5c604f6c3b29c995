"""Recommendation quality: pypersonalize's recipes against numpy and implicit peers.

Leave-last-out on MovieLens 100K and on the project's generated VIDEO_ON_DEMAND sample:
every model is tuned on a validation split carved from the training part (never on the
test split), retrained on the whole training part with the chosen configuration, and
scored on the test split with NDCG@10, Recall@10, MRR@25 and catalogue coverage@10.

Every model, ours and the peers, is an *adapter*: ``adapter(train, users, config) ->
(scores, train_seconds)``, where ``train`` has the columns ``user``, ``item`` (both
categorical; ``item``'s categories are the shared item index), ``timestamp`` and
optionally ``rating`` and ``event_type``; ``scores`` is a dense ``len(users) x len(item index)`` array, and
``train_seconds`` the time of the training step alone (data preparation, import and
scoring excluded). :class:`ProjectAdapters` wraps the project's public API that way.
"""

from __future__ import annotations

import itertools
import tempfile
import time
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from common import ROOT, Section, format_table
from metrics import coverage_at, mask_seen, mrr_at, ndcg_at, pessimistic_ranks, recall_at

import pypersonalize
from pypersonalize import sample_data
from pypersonalize.errors import PypersonalizeError
from pypersonalize.recipes import get_recipe

ML100K = ROOT.parent / "shared" / "data" / "ml-100k"
K, MRR_K = 10, 25
BUDGET, BUDGET_QUICK = 8, 3          # configurations tried on validation, per model
VOD = {"n_users": 3000, "n_items": 1000, "seed": 7}
VOD_QUICK = {"n_users": 1000, "n_items": 400, "seed": 7}
TIE_CHECK_SHARE = 0.1                 # same-second test items above which the tie-break is checked
ML_USERS_QUICK = 300                  # --quick: MovieLens users kept (seeded sample)
SEED = 0                              # implicit's random_state
FLOOR = -1e30                         # score of an item an endpoint did not return
PEERS = ("EASE", "item-kNN cosine", "implicit ALS", "implicit BPR")   # the "best peer" set
UP_NAME = "User-Personalization (pypersonalize)"
UP_RECIPE = "aws-user-personalization"

SCHEMA = {"type": "record", "name": "Interactions", "fields": [
    {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
    {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}

Adapter = Callable[[pd.DataFrame, list, dict], tuple[np.ndarray, float]]

INTRO = f"""\
Protocol. Data: MovieLens 100K (`u.data`, every rating counts as an interaction) and the
project's generated sample `sample_data.video_on_demand(n_users={VOD['n_users']}, \
n_items={VOD['n_items']}, seed={VOD['seed']})`
(its Watch events). `--quick`: {ML_USERS_QUICK} MovieLens users, a {VOD_QUICK['n_users']}-user \
{VOD_QUICK['n_items']}-item sample, {BUDGET_QUICK} configurations.
Each user's events are ordered by (timestamp, item id as text) and only the first event of
each (user, item) pair is kept, so a held-out item is always new to the user. For every
user with >= 3 items the latest is the test item and everything earlier is training; the
validation split is carved from the training part the same way (each such user's latest
training item is the validation item). Hyperparameters are chosen on validation NDCG@10
only (the first configuration wins a tie); the model is then retrained on the whole
training part with the chosen values and scored once on test. Every tuned model gets the
same budget: at most {BUDGET} configurations, the whole grid when it is that small, otherwise
that many drawn from it with a fixed seed (grids below; the ALS and BPR ranges were widened
after a first run showed them too narrow on validation, never looking at test).
Scoring: every item of the catalogue (all items of the dataset) except the user's training
items, which get -inf; a target's rank is the number of items scoring >= its score minus
one (pessimistic ties: a model with tied scores cannot look better than it is). Metrics,
means over the evaluated users: NDCG@10 = 1/log2(rank+2) if rank < 10, Recall@10 = hit
rate, MRR@25 = 1/(rank+1) if rank < 25, coverage@10 = distinct items in all users' top 10 /
catalogue size (`benchmarks/metrics.py`, checked against a per-user loop in
`tests/unit/test_quality_metrics.py`).
Models: `Popularity count` (distinct users per item, no tuning); `EASE` (numpy, B = I - P /
diag(P), P = (X^T X + lambda I)^-1, zero diagonal; X the binary user x item matrix);
`item-kNN cosine` (cosine X^T X / (sqrt(n_i n_j) + shrink), zero diagonal, each item keeps
its top k neighbours, score = sum over the user's items); `implicit ALS` and `implicit BPR`
(`implicit.cpu`, binary user x item CSR, random_state {SEED}, BLAS limited to one thread with
threadpoolctl as implicit recommends, its own threads at their default).
Ours, through the public API: the training part is imported into a temporary project file
(USER_ID, ITEM_ID, EVENT_TYPE = `rating` / `Watch`, TIMESTAMP), a solution with the recipe
and the configuration (other hyperparameters at the recipe's defaults) is created and
`create_solution_version` trains it ("train s" is that call alone). `Popularity-Count
(pypersonalize)`: `pp_recommend` on a campaign; `SIMS because-you-watched (pypersonalize)`:
the related-items list of the user's last training item (`pp_recommend_batch`, the whole
ranked list: related items, then the popular fill); `User-Personalization (pypersonalize)`:
`Project.score_users`. A ranked list becomes scores by rank; items with equal returned
scores keep equal scores (ties stay pessimistic), items not returned get the lowest score.
"train s" = the final training on the whole training part, best of 1. Where many test
items share their second with the previous event (MovieLens), every model is retrained
with its chosen configuration on a split whose same-second events are ordered by a random
item order instead, to show how much the id tie-break matters."""


# -- data and splits --------------------------------------------------------------------

def movielens() -> pd.DataFrame | None:
    path = ML100K / "u.data"
    if not path.exists():
        return None
    events = pd.read_csv(path, sep="\t", names=["user", "item", "rating", "timestamp"],
                         dtype={"user": str, "item": str, "rating": np.float32, "timestamp": np.int64})
    return events.assign(event_type="rating")


def vod_sample(size: dict) -> pd.DataFrame:
    events = sample_data.video_on_demand(**size)["interactions"]
    watch = events[events["EVENT_TYPE"] == "Watch"]
    return pd.DataFrame({"user": watch["USER_ID"].astype(str), "item": watch["ITEM_ID"].astype(str),
                         "timestamp": watch["TIMESTAMP"].astype(np.int64), "event_type": "Watch"})


def prepare(events: pd.DataFrame, tie_seed: int | None = None) -> pd.DataFrame:
    """Sort by (user, timestamp, item id), keep each (user, item)'s first event, and make
    ``user``/``item`` categorical over their sorted ids (the shared indexes). With
    ``tie_seed``, events with one timestamp are ordered by a seeded random order of the
    items instead of their ids (the tie-break sensitivity check)."""
    out = events
    key = ["user", "timestamp", "item"]
    if tie_seed is not None:
        ids = np.sort(events["item"].unique())
        shuffled = pd.Series(np.random.default_rng(tie_seed).permutation(len(ids)), index=ids)
        out = events.assign(tie=events["item"].map(shuffled).to_numpy())
        key = ["user", "timestamp", "tie"]
    out = out.sort_values(key, kind="stable").drop(columns=["tie"], errors="ignore")
    out = out.drop_duplicates(["user", "item"], keep="first").reset_index(drop=True)
    for col in ("user", "item"):
        out[col] = pd.Categorical(out[col], categories=np.sort(out[col].unique()))
    return out


@dataclass
class Split:
    """One evaluation: a training frame, the users scored and each one's held-out item."""

    train: pd.DataFrame
    users: np.ndarray          # user ids, in score-matrix row order
    targets: np.ndarray        # item codes (columns of the score matrix)

    def sample(self, n: int, seed: int = 1) -> Split:
        if n >= len(self.users):
            return self
        pick = np.sort(np.random.default_rng(seed).choice(len(self.users), n, replace=False))
        return Split(self.train, self.users[pick], self.targets[pick])


def leave_last_out(events: pd.DataFrame) -> tuple[Split, Split]:
    """(validation, test) splits of :func:`prepare`'s output."""
    user = events["user"]
    size = user.map(user.value_counts()).to_numpy()
    from_end = events.groupby("user", observed=True).cumcount(ascending=False).to_numpy()
    eligible = size >= 3
    is_test, is_val = eligible & (from_end == 0), eligible & (from_end == 1)

    def split(train_mask, target_mask) -> Split:
        held = events[target_mask]
        return Split(events[train_mask].reset_index(drop=True),
                     held["user"].astype(str).to_numpy(dtype=object),
                     held["item"].cat.codes.to_numpy(dtype=np.int64))

    return split(~is_test & ~is_val, is_val), split(~is_test, is_test)


def same_second_share(events: pd.DataFrame, split: Split) -> float:
    """Share of held-out items whose timestamp equals the user's previous event's: their
    order comes from the item-id tie-break alone."""
    last_ts = split.train.groupby("user", observed=True)["timestamp"].last()
    held = events.loc[events["user"].isin(split.users)].groupby("user", observed=True)["timestamp"].last()
    return float((held.loc[list(split.users)].to_numpy() == last_ts.loc[list(split.users)].to_numpy()).mean())


def user_items(train: pd.DataFrame) -> sp.csr_matrix:
    """Binary float32 CSR matrix, every user of the index x every item of the index."""
    rows, cols = train["user"].cat.codes.to_numpy(), train["item"].cat.codes.to_numpy()
    shape = (len(train["user"].cat.categories), len(train["item"].cat.categories))
    X = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    X.sum_duplicates()
    X.data[:] = 1.0
    return X


def user_rows(train: pd.DataFrame, users) -> np.ndarray:
    rows = train["user"].cat.categories.get_indexer(list(users))
    if (rows < 0).any():
        raise ValueError("users without training events cannot be scored")
    return rows


def evaluate(scores: np.ndarray, split: Split) -> dict:
    """Mask training items, rank, and average the metrics (a float64 ``scores`` is masked in place)."""
    seen = user_items(split.train)[user_rows(split.train, split.users)]
    scores = mask_seen(np.asarray(scores, dtype=np.float64), seen.indptr, seen.indices)
    ranks = pessimistic_ranks(scores, split.targets)
    return {"ndcg": ndcg_at(ranks, K), "recall": recall_at(ranks, K), "mrr": mrr_at(ranks, MRR_K),
            "coverage": coverage_at(scores, K)}


# -- peers ------------------------------------------------------------------------------

def popularity(train: pd.DataFrame, users, config: dict) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    counts = np.bincount(train["item"].cat.codes.to_numpy(), minlength=len(train["item"].cat.categories))
    seconds = time.perf_counter() - start
    return np.tile(counts.astype(np.float64), (len(users), 1)), seconds


def ease(train: pd.DataFrame, users, config: dict) -> tuple[np.ndarray, float]:
    X = user_items(train)
    start = time.perf_counter()
    G = (X.T @ X).toarray().astype(np.float64)
    G[np.diag_indices_from(G)] += config["lambda"]
    P = np.linalg.inv(G)
    B = P / -np.diag(P)                # B_ij = -P_ij / P_jj
    B[np.diag_indices_from(B)] = 0.0
    seconds = time.perf_counter() - start
    return np.asarray(X[user_rows(train, users)] @ B), seconds


def item_knn(train: pd.DataFrame, users, config: dict) -> tuple[np.ndarray, float]:
    X = user_items(train)
    start = time.perf_counter()
    C = (X.T @ X).toarray().astype(np.float64)
    norms = np.sqrt(np.diag(C))
    denom = np.outer(norms, norms) + config["shrink"]
    S = np.divide(C, denom, out=np.zeros_like(C), where=denom > 0)
    S[np.diag_indices_from(S)] = 0.0
    k = min(config["k"], S.shape[1] - 1)
    keep = np.argpartition(-S, k - 1, axis=1)[:, :k]        # each item's k nearest
    pruned = np.zeros_like(S)
    np.put_along_axis(pruned, keep, np.take_along_axis(S, keep, axis=1), axis=1)
    seconds = time.perf_counter() - start
    return np.asarray(X[user_rows(train, users)] @ pruned), seconds


def _implicit_fit(make_model, train: pd.DataFrame, users) -> tuple[np.ndarray, float]:
    """Build (implicit checks the BLAS threads when a model is made) and fit with BLAS on
    one thread, as implicit recommends; its own threads stay at their default."""
    from threadpoolctl import threadpool_limits
    X = user_items(train)
    with threadpool_limits(1, "blas"):
        model = make_model()
        start = time.perf_counter()
        model.fit(X, show_progress=False)
        seconds = time.perf_counter() - start
    return model.user_factors[user_rows(train, users)] @ model.item_factors.T, seconds


def als(train: pd.DataFrame, users, config: dict) -> tuple[np.ndarray, float]:
    from implicit.cpu.als import AlternatingLeastSquares
    return _implicit_fit(lambda: AlternatingLeastSquares(**config, random_state=SEED), train, users)


def bpr(train: pd.DataFrame, users, config: dict) -> tuple[np.ndarray, float]:
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    return _implicit_fit(lambda: BayesianPersonalizedRanking(**config, random_state=SEED), train, users)


def implicit_missing() -> str | None:
    try:
        import implicit  # noqa: F401
        import threadpoolctl  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install -e '.[bench]')"
    return None


# -- ours: the project's public API behind the adapter signature ----------------------------

def ranked_to_scores(request: np.ndarray, item: np.ndarray, score: np.ndarray,
                     n_requests: int, n_items: int) -> np.ndarray:
    """Dense scores from ranked lists: rows ``(request, item code, returned score)`` in
    rank order per request. Scores fall by one per group of consecutive equal returned
    scores (ties stay ties); items a request did not return get :data:`FLOOR`."""
    out = np.full((n_requests, n_items), FLOOR)
    if len(request) == 0:
        return out
    new_group = np.r_[True, (request[1:] != request[:-1]) | (score[1:] != score[:-1])]
    groups = np.cumsum(new_group)
    first_of_request = np.r_[True, request[1:] != request[:-1]]
    start = np.maximum.accumulate(np.where(first_of_request, groups, 0))
    out[request, item] = -(groups - start).astype(np.float64)
    return out


class ProjectAdapters:
    """Adapters over the project's public API; one temporary project file per training
    frame, kept open until :meth:`close` (imported once, trained many times)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._projects: dict[tuple, pypersonalize.Project] = {}
        self._solutions = 0

    def __enter__(self) -> ProjectAdapters:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for pp in self._projects.values():
            pp.close()
        self._projects.clear()

    def project(self, train: pd.DataFrame) -> pypersonalize.Project:
        """The open project holding ``train`` as dataset group ``g`` (imported on first use)."""
        key = (len(train), int(pd.util.hash_pandas_object(
            train[["user", "item", "timestamp"]].astype({"user": str, "item": str}), index=False).sum()))
        if key not in self._projects:
            path = self.folder / f"train{len(self._projects)}.duckdb"
            frame = pd.DataFrame({"USER_ID": train["user"].astype(str), "ITEM_ID": train["item"].astype(str),
                                  "EVENT_TYPE": train["event_type"].astype(str) if "event_type" in train
                                  else "interaction", "TIMESTAMP": train["timestamp"].astype(np.int64)})
            pp = pypersonalize.open(path, quiet=True)
            pp.create_dataset_group(name="g")
            pp.create_schema(name="interactions", schema=SCHEMA)
            pp.create_dataset(name="interactions", dataset_group="g", dataset_type="Interactions",
                              schema="interactions")
            pp.create_dataset_import_job(dataset="interactions", data_source=frame)
            self._projects[key] = pp
        return self._projects[key]

    @contextmanager
    def _version(self, pp, recipe: str, config: dict):
        """A new solution of ``recipe`` with ``config``, trained: yields (version arn, seconds
        of create_solution_version alone); the solution is deleted afterwards."""
        self._solutions += 1
        name = f"s{self._solutions}"
        pp.create_solution(name=name, dataset_group="g", recipe=recipe, hyperparameters=config or None)
        try:
            start = time.perf_counter()
            arn = pp.create_solution_version(name)["solutionVersionArn"]
            yield arn, time.perf_counter() - start
        finally:
            pp.delete_solution(name)

    def _served(self, pp, arn: str, sql: str, params: dict) -> pd.DataFrame:
        """Run ``sql`` (a query naming the endpoint ``$campaign``) with a campaign serving ``arn``."""
        campaign = f"c{self._solutions}"
        pp.create_campaign(name=campaign, solution_version=arn)
        try:
            return pp.sql(sql, params={**params, "campaign": campaign}).df()
        finally:
            pp.delete_campaign(campaign)

    def popularity(self, train: pd.DataFrame, users, config: dict) -> tuple[np.ndarray, float]:
        """Popularity-Count: the campaign's whole ranked list, the same for every user."""
        index = train["item"].cat.categories
        pp = self.project(train)
        with self._version(pp, "aws-popularity-count", config) as (arn, seconds):
            ranked = self._served(pp, arn, "SELECT item_id, score FROM pp_recommend($campaign, n := $n) "
                                           "ORDER BY rank", {"n": len(index)})
        row = ranked_to_scores(np.zeros(len(ranked), dtype=np.int64), index.get_indexer(ranked["item_id"]),
                               ranked["score"].to_numpy(), 1, len(index))
        return np.repeat(row, len(users), axis=0), seconds

    def sims(self, train: pd.DataFrame, users, config: dict) -> tuple[np.ndarray, float]:
        """Because you watched X: each user gets the ranked list of the last training item."""
        index = train["item"].cat.categories
        last = train.groupby("user", observed=True)["item"].last()      # train is in time order
        last_items = last.loc[list(users)].astype(str).to_numpy(dtype=object)
        requests, request_of_user = np.unique(last_items, return_inverse=True)
        pp = self.project(train)
        with self._version(pp, "aws-sims", config) as (arn, seconds):
            pp.con.register("pp_bench_requests", pd.DataFrame(
                {"user_id": pd.Series([None] * len(requests), dtype=object), "item_id": requests}))
            try:
                ranked = self._served(pp, arn, "SELECT item_id, recommended_item_id, score FROM "
                                               "pp_recommend_batch($campaign, 'pp_bench_requests', n := $n) "
                                               "ORDER BY item_id, rank", {"n": len(index)})
            finally:
                pp.con.unregister("pp_bench_requests")
        matrix = ranked_to_scores(pd.Index(requests).get_indexer(ranked["item_id"]),
                                  index.get_indexer(ranked["recommended_item_id"]),
                                  ranked["score"].to_numpy(), len(requests), len(index))
        return matrix[request_of_user], seconds

    def user_personalization(self, train: pd.DataFrame, users, config: dict) -> tuple[np.ndarray, float]:
        """User-Personalization: ``Project.score_users`` for all users at once."""
        index = train["item"].cat.categories
        pp = self.project(train)
        with self._version(pp, UP_RECIPE, config) as (arn, seconds):
            item_ids, scores = pp.score_users(arn, [str(u) for u in users])
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (len(users), len(item_ids)):
            raise ValueError(f"score_users returned shape {scores.shape} for {len(users)} users and "
                             f"{len(item_ids)} items")
        columns = index.get_indexer(pd.Index([str(i) for i in item_ids]))
        out = np.full((len(users), len(index)), FLOOR)
        known = columns >= 0
        out[:, columns[known]] = np.nan_to_num(scores[:, known], nan=FLOOR, neginf=FLOOR, posinf=-FLOOR)
        return out, seconds


def user_personalization_missing() -> str | None:
    try:
        get_recipe(UP_RECIPE)
    except PypersonalizeError:
        return f"recipe {UP_RECIPE} is not registered"
    if not callable(getattr(pypersonalize.Project, "score_users", None)):
        return "Project.score_users does not exist"
    return None


# -- the harness --------------------------------------------------------------------------

@dataclass
class Model:
    name: str
    adapter: Adapter
    grid: dict = field(default_factory=dict)      # name -> values; empty = nothing to tune
    missing: Callable[[], str | None] = lambda: None   # why it cannot run, or None

    def configurations(self, budget: int) -> list[dict]:
        """The whole grid if it fits the budget, else ``budget`` configurations drawn
        from it with a seed fixed by the model's name."""
        grid = [dict(zip(self.grid, values)) for values in itertools.product(*self.grid.values())]
        if len(grid) <= budget:
            return grid or [{}]
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        return [grid[i] for i in np.sort(rng.choice(len(grid), budget, replace=False))]


def models(ours: ProjectAdapters) -> list[Model]:
    implicit = implicit_missing
    peers = [
        Model("Popularity count", popularity),
        Model("EASE", ease, {"lambda": [10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0]}),
        Model("item-kNN cosine", item_knn, {"k": [20, 50, 100, 200], "shrink": [0.0, 10.0]}),
        Model("implicit ALS", als, {"factors": [32, 64], "regularization": [10.0, 50.0],
                                    "alpha": [1.0, 5.0], "iterations": [15]}, implicit),
        Model("implicit BPR", bpr, {"factors": [64, 128], "learning_rate": [0.01],
                                    "regularization": [0.01, 0.1], "iterations": [100, 200]}, implicit),
    ]
    return peers + [
        Model("Popularity-Count (pypersonalize)", ours.popularity),
        Model("SIMS because-you-watched (pypersonalize)", ours.sims,
              {"popularity_discount_factor": [0.25, 0.5, 0.75, 1.0], "min_cointeraction_count": [1, 3]}),
        Model(UP_NAME, ours.user_personalization,
              {"hidden_dimension": [32, 64, 149], "bptt": [8, 32], "history_weight": [0.7, 1.5],
               "popularity_exponent": [0.25, 0.5]},
              user_personalization_missing),
    ]


@dataclass
class Outcome:
    model: str
    config: dict | None = None
    validation: dict | None = None
    test: dict | None = None
    train_seconds: float = 0.0
    tuning_seconds: float = 0.0
    skipped: str | None = None


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def fmt_config(config: dict | None) -> str:
    if not config:
        return "-"
    return ", ".join(f"{k}={_fmt(v)}" for k, v in config.items())


def grids_table(models_: list[Model], budget: int) -> str:
    rows = []
    for m in models_:
        size = int(np.prod([len(v) for v in m.grid.values()])) if m.grid else 0
        values = "; ".join(f"{k} {', '.join(_fmt(v) for v in vs)}" for k, vs in m.grid.items())
        tried = "-" if not size else f"{min(size, budget)} of {size}" + (" (drawn)" if size > budget else "")
        rows.append([m.name, tried, values or "no tuning"])
    return format_table(["model", "configurations", "grid"], rows, right={1})


def failure_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: " + " ".join(str(exc).split())[:160]


def tune_and_test(model: Model, validation: Split, test: Split, budget: int, log) -> Outcome:
    """Try each configuration on validation, retrain the best on the whole training part
    and score it on test. A model that raises becomes a "failed" row, not a crash: ours
    are the code under test, and one broken recipe must not hide the others' figures."""
    reason = model.missing()
    if reason:
        log(f"    {model.name}: skipped: not available ({reason})")
        return Outcome(model.name, skipped=f"skipped: not available ({reason})")
    start = time.perf_counter()
    best, failures = None, []
    for config in model.configurations(budget):
        try:
            scores, _ = model.adapter(validation.train, list(validation.users), config)
        except Exception as exc:
            failures.append(failure_text(exc))
            log(f"    {model.name} {fmt_config(config)}: failed: {failures[-1]}")
            continue
        result = evaluate(scores, validation)
        log(f"    {model.name} {fmt_config(config)}: validation NDCG@10 {result['ndcg']:.4f}")
        if best is None or result["ndcg"] > best[1]["ndcg"]:
            best = (config, result)
    tuning = time.perf_counter() - start
    if best is None:
        return Outcome(model.name, skipped="failed: " + failures[0])
    try:
        scores, seconds = model.adapter(test.train, list(test.users), best[0])
    except Exception as exc:
        log(f"    {model.name} {fmt_config(best[0])} on the whole training part: failed: {failure_text(exc)}")
        return Outcome(model.name, skipped="failed: " + failure_text(exc))
    outcome = Outcome(model.name, best[0], best[1], evaluate(scores, test), seconds, tuning)
    log(f"  {model.name}: chose {fmt_config(best[0])}; test NDCG@10 {outcome.test['ndcg']:.4f}, "
        f"train {seconds:.2f}s, tuning {tuning:.1f}s")
    return outcome


def results_table(outcomes: list[Outcome]) -> str:
    rows = []
    for o in outcomes:
        if o.skipped:
            rows.append([o.model, o.skipped, "-", "-", "-", "-", "-", "-"])
            continue
        t = o.test
        rows.append([o.model, fmt_config(o.config), f"{o.validation['ndcg']:.4f}", f"{t['ndcg']:.4f}",
                     f"{t['recall']:.4f}", f"{t['mrr']:.4f}", f"{t['coverage']:.3f}",
                     f"{o.train_seconds:.2f}"])
    return format_table(["model", "chosen config", "val NDCG@10", "NDCG@10", "Recall@10", "MRR@25",
                         "coverage@10", "train s"], rows)


def up_ratio(outcomes: list[Outcome]) -> tuple[str, float | None]:
    """The ratio line: User-Personalization's test NDCG@10 over the best peer's."""
    by_name = {o.model: o for o in outcomes}
    peers = [by_name[p] for p in PEERS if p in by_name and not by_name[p].skipped]
    up = by_name.get(UP_NAME)
    if not peers:
        return "User-Personalization NDCG@10 / best peer: n/a (no peer ran)", None
    best = max(peers, key=lambda o: o.test["ndcg"])
    label = f"User-Personalization NDCG@10 / best peer ({', '.join(PEERS)}; best: {best.model})"
    if up is None or up.skipped:
        return f"{label}: n/a, User-Personalization {up.skipped if up else 'not run'}", None
    ratio = up.test["ndcg"] / best.test["ndcg"] if best.test["ndcg"] else float("nan")
    return f"{label}: {up.test['ndcg']:.4f} / {best.test['ndcg']:.4f} = {ratio:.2f}", ratio


def datasets(quick: bool) -> tuple[list[tuple[str, pd.DataFrame]], list[str]]:
    found, notes = [], []
    ml = movielens()
    if ml is None:
        notes.append(f"MovieLens 100K not found at {ML100K}: skipped.")
    elif quick:                          # a seeded sample of the users, all their ratings
        users = np.sort(ml["user"].unique())
        keep = np.random.default_rng(SEED).choice(users, ML_USERS_QUICK, replace=False)
        found.append((f"ml-100k-{ML_USERS_QUICK}u", ml[ml["user"].isin(keep)].reset_index(drop=True)))
    else:
        found.append(("ml-100k", ml))
    size = VOD_QUICK if quick else VOD
    found.append((f"vod-sample-{size['n_users']}u-{size['n_items']}i", vod_sample(size)))
    return found, notes


def run(quick: bool = False, repeat: int = 1, log=print) -> Section:
    """``repeat`` is ignored: a quality figure does not improve with repetition."""
    section = Section("quality", "Recommendation quality: pypersonalize recipes vs peers", INTRO)
    budget = BUDGET_QUICK if quick else BUDGET
    found, notes = datasets(quick)
    for note in notes:
        log(f"  {note}")
    facts, summaries = [], []
    with tempfile.TemporaryDirectory() as tmp, ProjectAdapters(Path(tmp)) as ours:
        roster = models(ours)
        for name, raw in found:
            events = prepare(raw)
            validation, test = leave_last_out(events)
            same = same_second_share(events, test)
            facts.append([name, f"{len(raw):,}", f"{len(events):,}", f"{len(events['user'].cat.categories):,}",
                          f"{len(events['item'].cat.categories):,}", f"{len(test.users):,}",
                          f"{len(test.train):,}", f"{len(validation.train):,}", f"{100 * same:.0f}%"])
            log(f"  {name}: {len(events):,} distinct (user, item) events, {len(test.users):,} users evaluated")
            outcomes = [tune_and_test(m, validation, test, budget, log) for m in roster]
            ratio_line, ratio = up_ratio(outcomes)
            table = f"# {name}: test split, configuration chosen on validation\n" + results_table(outcomes)
            section.tables.append(table + "\n" + ratio_line)
            log(section.tables[-1])
            tie = None
            if same >= TIE_CHECK_SHARE:
                tie = tie_break_check(raw, roster, outcomes, log)
                section.tables.append(f"# {name}, test split again with same-second events ordered by a "
                                      f"random item order (seed {SEED}) instead of item id; configurations "
                                      "as chosen above, not re-tuned\n" + tie["table"])
                log(section.tables[-1])
            summaries.append((name, outcomes, ratio, same, tie))
    section.tables.insert(0, format_table(
        ["dataset", "events", "distinct pairs", "users", "items", "evaluated users", "train pairs",
         "validation-train pairs", "test item in same second"], facts, right={1, 2, 3, 4, 5, 6, 7, 8}))
    section.tables.insert(1, f"# values tried on validation, at most {budget} configurations per model\n"
                          + grids_table(roster, budget))
    section.reading = _reading(summaries, notes)
    return section


def tie_break_check(raw: pd.DataFrame, roster: list[Model], outcomes: list[Outcome], log) -> dict:
    """Retrain every model that ran with its chosen configuration on a split whose
    same-second events are ordered by a random item order, and score it on test."""
    _validation, test = leave_last_out(prepare(raw, tie_seed=SEED))
    by_name = {m.name: m for m in roster}
    rows, ndcg = [], {}
    for o in outcomes:
        if o.skipped:
            continue
        try:
            scores, _ = by_name[o.model].adapter(test.train, list(test.users), o.config)
        except Exception as exc:
            rows.append([o.model, f"failed: {failure_text(exc)}", "-", "-"])
            continue
        ndcg[o.model] = evaluate(scores, test)["ndcg"]
        rows.append([o.model, fmt_config(o.config), f"{o.test['ndcg']:.4f}", f"{ndcg[o.model]:.4f}"])
    log(f"    tie-break check: {', '.join(f'{k} {v:.4f}' for k, v in ndcg.items())}")
    peers = {k: v for k, v in ndcg.items() if k in PEERS}
    if UP_NAME in ndcg and peers:
        best = max(peers, key=peers.get)
        ratio_text = f"{ndcg[UP_NAME]:.4f} / {peers[best]:.4f} ({best}) = {ndcg[UP_NAME] / peers[best]:.2f}"
    else:
        ratio_text = "n/a"
    table = format_table(["model", "config", "NDCG@10 (id tie-break)", "NDCG@10 (random tie-break)"], rows)
    return {"table": table + f"\nUser-Personalization NDCG@10 / best peer, random tie-break: {ratio_text}",
            "ratio_text": ratio_text}


def _reading(summaries, notes) -> str:
    text = ["Reading:"]
    for name, outcomes, ratio, same, tie in summaries:
        by_name = {o.model: o for o in outcomes}
        ran = sorted((o for o in outcomes if not o.skipped), key=lambda o: -o.test["ndcg"])
        figures = ", ".join(f"{o.model} {o.test['ndcg']:.4f}" for o in ran)
        text.append(f"{name}, test NDCG@10 best first: {figures}.")
        up = by_name.get(UP_NAME)
        if ratio is not None:
            text.append(f"User-Personalization / best peer = {ratio:.2f}.")
        elif up is not None:
            text.append(f"User-Personalization {up.skipped}: no ratio.")
        ours_pop, peer_pop = by_name.get("Popularity-Count (pypersonalize)"), by_name.get("Popularity count")
        if ours_pop and peer_pop and not ours_pop.skipped and not peer_pop.skipped:
            same_metrics = all(abs(ours_pop.test[m] - peer_pop.test[m]) < 1e-12 for m in ours_pop.test)
            text.append("Popularity-Count (pypersonalize) " + (
                "equals the numpy count on every metric (same definition: a check of the harness)."
                if same_metrics else "differs from the numpy count although both count distinct users: "
                "a harness or recipe bug."))
        if tie is not None:
            text.append(f"{100 * same:.0f}% of {name}'s test items share their second with the user's "
                        "previous event, so which one is held out, and the order sequence models learn "
                        "from, comes from the item-id tie-break; with a random tie-break instead "
                        f"(configurations kept) the ratio is {tie['ratio_text']}.")
    text += notes
    return " ".join(text)
