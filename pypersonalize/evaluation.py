"""Offline metrics of a solution version, taken at training time the way Personalize takes them.

The split (fixed seed ``SEED``; Personalize's documented rule):

- item recommendations (USER_PERSONALIZATION, POPULAR_ITEMS, PERSONALIZED_RANKING,
  RELATED_ITEMS): 10% of the users are held out. The model trains on the other 90% and
  their interactions; each held-out user's oldest 90% of events is their history (the
  model's input) and the newest 10% (at least one) the truth it is scored against. Only
  users with at least two training events can be held out. RELATED_ITEMS recipes are asked
  for the related items of the user's ``RELATED_INPUTS`` most recent history items, the
  lists merged by reciprocal rank.
- USER_SEGMENTATION: every user's oldest 80% of events train, the newest 20% are the truth;
  for up to ``SEGMENT_ITEMS`` items of the truth, the model's top 1% users are compared with
  the users who interacted with the item.
- Trending-Now: the last trend interval is held out; the trend of the events before it is
  compared with the items whose interactions grew most in it.

"Training events" are the ones the solution trains on (its event type, value threshold or
eventsConfig). The held-out model is trained with the solution's recipe, hyperparameters
and settings into a schema that looks like the dataset group's (``sql/metrics/``), scored
by the serving engine's own pipeline, and everything is rolled back afterwards: the final
version is then trained on all the data, as Personalize's is. HPO (``tuning.py``) uses the
same code with ``role="validation"``: a further 10% of the users, carved from the
training users, never the test users.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import metrics
from .engine import EngineState, Pipeline
from .histories import HistoryStore, Vocab
from .recipes import RECIPES, TrainContext
from .recipes.base import RecipeType
from .solution_config import training_schemas
from .sqlkit import execute_all, quote_ident, render

SEED = 42
HOLDOUT_USERS = 0.1        # of all users, held out (test; and again for validation)
TRUTH_SHARE = 0.1          # of a held-out user's events: the newest, the truth
SEGMENT_TRUTH = 0.2        # USER_SEGMENTATION: of every user's events, the newest
K = 25
RELATED_INPUTS = 5
SEGMENT_ITEMS = 200
BINS = 20
SCHEMA = "pp#holdout"      # no dataset group can be named so (names are [A-Za-z0-9_-])


class SkipMetrics(Exception):
    """The data cannot give metrics (too few users or events); the version trains anyway."""


@dataclass
class Split:
    method: str
    train_rows: np.ndarray        # rowids of the group's interactions the model trains on
    input_rows: np.ndarray        # rowids the held-out histories keep
    users: np.ndarray             # held-out user ids
    truth_user: np.ndarray        # index into ``users``
    truth_item: np.ndarray        # item ids
    truth_type: np.ndarray        # event types (None when the schema has none)
    train_users: int
    cutoff: int | None = None     # Trending-Now: the start of the held-out interval


# -- the events ---------------------------------------------------------------------------

def training_events(con, group: str, schemas: dict, event_type, threshold, events_config) -> pd.DataFrame:
    """Every interaction of the group (user, item, ts, seq, type, value) and whether the
    solution trains on it (``eligible``)."""
    inter = schemas["Interactions"]
    has_type, has_value = inter.field("EVENT_TYPE") is not None, inter.field("EVENT_VALUE") is not None
    cols = 'USER_ID AS "user", ITEM_ID AS item, "TIMESTAMP" AS ts, rowid AS seq' + \
        (", EVENT_TYPE AS type" if has_type else ", CAST(NULL AS VARCHAR) AS type") + \
        (", CAST(EVENT_VALUE AS DOUBLE) AS value" if has_value else ", CAST(NULL AS DOUBLE) AS value")
    ev = con.execute(f"SELECT {cols} FROM {quote_ident(group)}.interactions").df()
    ok = np.ones(len(ev), dtype=bool)
    if events_config:
        ok[:] = False
        for e in events_config:
            mine = (ev["type"] == e["eventType"]).to_numpy()
            if e.get("eventValueThreshold") is not None:
                mine = mine & (ev["value"] >= e["eventValueThreshold"]).fillna(False).to_numpy()
            ok |= mine
    else:
        if has_type and event_type is not None:
            ok = ok & (ev["type"] == event_type).to_numpy()
        if has_value and threshold is not None:
            ok = ok & (ev["value"] >= threshold).fillna(False).to_numpy()
    ev["eligible"] = ok
    return ev


def _newest(el: pd.DataFrame, share: float, at_least: int) -> np.ndarray:
    """Per user (``el`` sorted by user, ts, seq), which rows are their newest ``share``."""
    size = el.groupby("user", sort=False)["seq"].transform("size").to_numpy()
    pos = el.groupby("user", sort=False).cumcount().to_numpy()
    n_truth = np.maximum(np.floor(size * share + 0.5).astype(np.int64), at_least)
    n_truth = np.minimum(n_truth, size - 1)        # at least one event stays as input
    return pos >= size - n_truth


def _before_cutoff(ev: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Rows of ``ev`` older than their user's first truth row (by ts, then arrival)."""
    first = truth.groupby("user", sort=False).agg(cts=("ts", "min"))
    firsts = truth.merge(first, left_on="user", right_index=True)
    firsts = firsts[firsts["ts"] == firsts["cts"]].groupby("user")["seq"].min().rename("cseq")
    cut = first.join(firsts)
    m = ev[["user", "ts", "seq"]].merge(cut, left_on="user", right_index=True, how="left")
    cts, cseq = m["cts"].to_numpy(dtype=np.float64), m["cseq"].to_numpy(dtype=np.float64)
    ts, seq = m["ts"].to_numpy(dtype=np.float64), m["seq"].to_numpy(dtype=np.float64)
    return np.isnan(cts) | (ts < cts) | ((ts == cts) & (seq < cseq))


def user_split(ev: pd.DataFrame, seed: int = SEED, role: str = "test", budget: float = 1.0) -> Split:
    """Personalize's 90/10 users split (see the module docstring); ``role="validation"``
    holds out a second 10% and trains on neither; ``budget`` < 1 trains on that share of
    the training users (HPO's cheap early rounds)."""
    el = ev[ev["eligible"]].sort_values(["user", "ts", "seq"], kind="stable")
    everyone = np.sort(ev["user"].unique().astype(str))
    counts = el.groupby("user").size()
    candidates = np.sort(counts.index[counts >= 2].to_numpy().astype(str))
    n_hold = max(1, int(round(HOLDOUT_USERS * len(everyone))))
    need = 2 * n_hold if role == "validation" else n_hold
    if len(candidates) < need or len(everyone) - need < 1:
        raise SkipMetrics(f"too few users with two or more training events ({len(candidates)}) to hold "
                          f"out {need}")
    order = np.random.default_rng(seed).permutation(candidates)
    test = order[:n_hold]
    held = order[n_hold:2 * n_hold] if role == "validation" else test
    out_of_training = set(order[:need].tolist())
    train_users = np.array([u for u in everyone if u not in out_of_training], dtype=object)
    if budget < 1.0:
        take = max(1, int(round(budget * len(train_users))))
        train_users = np.sort(np.random.default_rng(seed + 1).permutation(train_users)[:take].astype(str))
    mine = el[el["user"].isin(held)]
    truth = mine[_newest(mine, TRUTH_SHARE, 1)]
    rows = ev[ev["user"].isin(held)]
    inputs = rows[_before_cutoff(rows, truth)]
    index = {u: k for k, u in enumerate(held)}
    return Split("users-90-10", ev.loc[ev["user"].isin(train_users), "seq"].to_numpy(np.int64),
                 inputs["seq"].to_numpy(np.int64), np.asarray(held, dtype=object),
                 truth["user"].map(index).to_numpy(np.int64), truth["item"].to_numpy(object),
                 truth["type"].to_numpy(object), len(train_users))


def interaction_split(ev: pd.DataFrame) -> Split:
    """USER_SEGMENTATION: every user's oldest 80% train, the newest 20% are the truth."""
    el = ev[ev["eligible"]].sort_values(["user", "ts", "seq"], kind="stable")
    truth = el[_newest(el, SEGMENT_TRUTH, 0)]
    if not len(truth):
        raise SkipMetrics("no user has enough events to hold out 20% of them")
    train = ev[_before_cutoff(ev, truth)]
    users = np.sort(truth["user"].unique().astype(str)).astype(object)
    index = {u: k for k, u in enumerate(users)}
    return Split("interactions-80-20", train["seq"].to_numpy(np.int64), train["seq"].to_numpy(np.int64),
                 users, truth["user"].map(index).to_numpy(np.int64), truth["item"].to_numpy(object),
                 truth["type"].to_numpy(object), int(train["user"].nunique()))


def time_split(ev: pd.DataFrame, interval: int) -> Split:
    """Trending-Now: events of the last ``interval`` seconds are held out."""
    el = ev[ev["eligible"]]
    if not len(el):
        raise SkipMetrics("no training events")
    cutoff = int(el["ts"].max()) - interval
    truth = el[el["ts"] > cutoff]
    train = ev[ev["ts"] <= cutoff]
    if not len(truth) or not len(train):
        raise SkipMetrics("the events do not span two trend intervals")
    seqs = train["seq"].to_numpy(np.int64)
    return Split("last-interval", seqs, seqs, np.zeros(0, dtype=object), np.zeros(0, np.int64),
                 truth["item"].to_numpy(object), truth["type"].to_numpy(object),
                 int(train["user"].nunique()), cutoff)


# -- the held-out model -------------------------------------------------------------------

def evaluate(pp, *, group, recipe_name: str, hyperparameters: dict, event_type, threshold, settings: dict,
             schemas: dict, session_gap=None, role: str = "test", budget: float = 1.0, seed: int = SEED,
             ev: pd.DataFrame | None = None, full: bool = True, schema: str = SCHEMA) -> dict:
    """``{"metrics": {...}, "evaluation": {...}}`` of a model trained on the held-out split.

    ``settings``: the solution's eventsConfig / optimizationObjective / excludedColumns.
    ``full=False`` (HPO trials) skips the baseline and the long-tail shares; ``schema`` names
    the rolled-back holdout schema (parallel trials each take their own)."""
    start = time.perf_counter()
    recipe = RECIPES[recipe_name]
    con = pp.con
    if ev is None:
        ev = training_events(con, group.name, schemas, event_type, threshold, settings.get("eventsConfig"))
    kind = recipe.recipe_type
    if kind == RecipeType.USER_SEGMENTATION:
        split = interaction_split(ev)
    elif recipe.name == "aws-trending-now":
        from .recipes.trending import FREQUENCIES
        split = time_split(ev, FREQUENCIES[hyperparameters["trend_discovery_frequency"]])
    else:
        split = user_split(ev, seed, role, budget)
    inter = schemas["Interactions"]
    arn = f"{group.arn}/{schema}"
    excluded = settings.get("excludedColumns") or {}
    others = [t for t in ("items", "users", "user_ids", "item_ids") if _exists(con, group.name, t)]
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("pp#train_rows", pd.DataFrame({"seq": split.train_rows}))
        con.register("pp#input_rows", pd.DataFrame({"seq": split.input_rows}))
        execute_all(con, render("metrics/holdout_schema.sql", schema=schema, group=group.name, others=others))
        ctx = TrainContext(con=con, schema_name=schema, version_arn=arn, hyperparameters=hyperparameters,
                           event_type=event_type, event_value_threshold=threshold,
                           has_event_type=inter.field("EVENT_TYPE") is not None,
                           has_event_value=inter.field("EVENT_VALUE") is not None, session_gap=session_gap,
                           schemas=training_schemas(schemas, excluded),
                           events_config=settings.get("eventsConfig"),
                           objective=settings.get("optimizationObjective"), excluded_columns=excluded)
        recipe.train(ctx)
        trained = time.perf_counter() - start
        scored = _score(pp, group, recipe, arn, split, inter, schema)
        if kind == RecipeType.USER_SEGMENTATION:
            out = _segment_metrics(recipe, con, arn, split, seed)
        elif split.cutoff is not None:
            out = _trend_metrics(scored, split, ev)
        else:
            out = _ranking(scored, split, ev, settings, con, group.name, full)
    finally:
        con.execute("ROLLBACK")
        for name in ("pp#train_rows", "pp#input_rows"):
            try:
                con.unregister(name)
            except Exception:        # noqa: BLE001 - never registered when the split failed
                pass
    metrics_, extra = out
    evaluation = {"split": {"method": split.method, "trainUsers": split.train_users,
                            "testUsers": len(split.users), "truthInteractions": len(split.truth_item),
                            "seed": seed, "role": role, "budget": budget},
                  "trainingSeconds": round(trained, 3), "seconds": round(time.perf_counter() - start, 3), **extra}
    return {"metrics": metrics_, "evaluation": evaluation}


def _exists(con, schema: str, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                            "AND schema_name = $s AND table_name = $t", {"s": schema, "t": table}).fetchall()[0][0])


@dataclass
class Scored:
    recs: np.ndarray             # (held-out users, K) vocabulary codes, -1 padded
    vocab: Vocab
    store: HistoryStore


def _score(pp, group, recipe, arn: str, split: Split, inter, schema: str) -> Scored | None:
    """The held-out users' top K, answered by the serving engine's pipeline."""
    if recipe.recipe_type == RecipeType.USER_SEGMENTATION:
        return None
    con = pp.con
    state = EngineState()
    vocab = Vocab()
    store = HistoryStore.load(con, group.name, inter.field("IMPRESSION") is not None,
                              inter.field("RECOMMENDATION_ID") is not None, vocab,
                              events_from=f"{quote_ident(schema)}.input")
    state.vocabs[group.name] = vocab
    state.stores[group.name] = (0, store)
    pipe = Pipeline(pp, state)
    ep = pipe.version_endpoint(arn, group.name, recipe)
    if split.cutoff is not None:          # Trending-Now: one list for everyone
        items = pipe.recommend(ep, None, None, K)
        recs = np.full((1, K), -1, dtype=np.int64)
        codes = vocab.codes([i["itemId"] for i in items])
        recs[0, :len(codes)] = codes
        return Scored(recs, vocab, store)
    users = list(split.users)
    recs = np.full((len(users), K), -1, dtype=np.int64)
    if recipe.recipe_type == RecipeType.RELATED_ITEMS:
        cache: dict = {}
        for k, user in enumerate(users):
            recs[k] = _related_for(pipe, ep, store, vocab, user, cache)
        return Scored(recs, vocab, store)
    _store, (row, rank, code, _score_) = pipe.recommend_batch(ep, users, K)
    recs[row, rank - 1] = code
    return Scored(recs, vocab, store)


def _related_for(pipe, ep, store, vocab, user: str, cache: dict) -> np.ndarray:
    """The related lists of the user's most recent history items, merged by reciprocal rank."""
    history = store.history(user)
    recent = []
    if history is not None and history.has_events:
        for code in history.items[::-1]:
            if code not in recent:
                recent.append(int(code))
            if len(recent) == RELATED_INPUTS:
                break
    total: dict[int, float] = {}
    for code in recent:
        found = cache.get(code)
        if found is None:
            items = pipe.recommend(ep, None, vocab.strings(np.array([code]))[0], K)
            found = cache[code] = vocab.codes([i["itemId"] for i in items])
        for r, c in enumerate(found.tolist()):
            total[c] = total.get(c, 0.0) + 1.0 / (r + 1)
    out = np.full(K, -1, dtype=np.int64)
    best = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:K]
    out[:len(best)] = [c for c, _v in best]
    return out


# -- the numbers --------------------------------------------------------------------------

def _ranking(scored: Scored, split: Split, ev: pd.DataFrame, settings: dict, con, group: str,
             full: bool) -> tuple[dict, dict]:
    vocab = scored.vocab
    truth_codes = vocab.codes(list(split.truth_item))
    out = metrics.ranking_metrics(scored.recs, split.truth_user, truth_codes)
    catalogue = _catalogue(con, group, ev)
    out["coverage"] = metrics.coverage(scored.recs, len(catalogue))
    if settings.get("eventsConfig"):
        weight = {e["eventType"]: e["weight"] for e in settings["eventsConfig"]}
        w = np.array([weight.get(t, 0.0) for t in split.truth_type], dtype=np.float64)
        out["normalized_discounted_cumulative_gain_with_event_weights_at_k"] = metrics.weighted_ndcg(
            scored.recs, split.truth_user, truth_codes, w / np.mean(list(weight.values())), K)
    if settings.get("optimizationObjective"):
        column = settings["optimizationObjective"]["itemAttribute"]
        values = dict(con.execute(f"SELECT ITEM_ID, CAST({quote_ident(column)} AS DOUBLE) FROM "
                                  f"{quote_ident(group)}.items").fetchall())
        rewards = np.array([values.get(i) or 0.0 for i in split.truth_item], dtype=np.float64)
        out["average_rewards_at_k"] = metrics.average_rewards(scored.recs, split.truth_user, truth_codes,
                                                              rewards, K)
    out = {k: round(float(v), 6) for k, v in sorted(out.items())}
    if not full:
        return out, {}
    train = ev[ev["eligible"] & ev["seq"].isin(split.train_rows)]
    users_per_item = train.groupby("item")["user"].nunique()
    popular = sorted(users_per_item.items(), key=lambda kv: (-kv[1], kv[0]))[:K]
    base = np.full((len(split.users), K), -1, dtype=np.int64)
    base[:, :len(popular)] = vocab.codes([i for i, _n in popular])
    baseline = metrics.ranking_metrics(base, split.truth_user, truth_codes)
    baseline["coverage"] = metrics.coverage(base, len(catalogue))
    return out, {"baseline": {"recipe": "aws-popularity-count",
                              "metrics": {k: round(float(v), 6) for k, v in sorted(baseline.items())}},
                 "longTail": _long_tail(train, catalogue, vocab, scored.recs)}


def _catalogue(con, group: str, ev: pd.DataFrame) -> np.ndarray:
    """Every item of Interactions and Items (coverage's denominator)."""
    items = set(ev["item"].astype(str).tolist())
    if _exists(con, group, "items"):
        items.update(r[0] for r in con.execute(f"SELECT ITEM_ID FROM {quote_ident(group)}.items").fetchall())
    return np.array(sorted(items), dtype=object)


def _long_tail(train: pd.DataFrame, catalogue: np.ndarray, vocab: Vocab, recs: np.ndarray) -> dict:
    """Items by training popularity in ``BINS`` groups of equal size: each group's share of the
    training events and of the recommendation slots."""
    counts = train.groupby("item").size()
    pop = counts.reindex(catalogue, fill_value=0).to_numpy(dtype=np.float64)
    order = np.lexsort((catalogue.astype(str), -pop))
    bins = min(BINS, len(catalogue))
    bin_of = np.empty(len(catalogue), dtype=np.int64)
    bin_of[order] = np.arange(len(catalogue)) * bins // len(catalogue)
    catalog_share = np.bincount(bin_of, weights=pop, minlength=bins) / max(pop.sum(), 1.0)
    where = {c: k for k, c in enumerate(vocab.codes(list(catalogue)).tolist())}
    slots = [where[c] for c in recs[recs >= 0].tolist() if c in where]
    rec_share = np.bincount(bin_of[slots], minlength=bins) / max(len(slots), 1)
    return {"bins": bins, "catalogShare": [round(float(x), 6) for x in catalog_share],
            "recommendedShare": [round(float(x), 6) for x in rec_share]}


def _trend_metrics(scored: Scored, split: Split, ev: pd.DataFrame) -> tuple[dict, dict]:
    """trend prediction accuracy: the growth, in the held-out interval, of the recommended
    items over the growth of the items that actually grew most (both top K)."""
    el = ev[ev["eligible"]]
    interval = int(el["ts"].max()) - split.cutoff
    after = el[el["ts"] > split.cutoff].groupby("item").size()
    before = el[(el["ts"] > split.cutoff - interval) & (el["ts"] <= split.cutoff)].groupby("item").size()
    gain = after.sub(before, fill_value=0)
    gain = gain[gain > 0]
    best = gain.sort_values(ascending=False).iloc[:K].sum()
    recommended = [str(i) for i in scored.vocab.strings(scored.recs[0][scored.recs[0] >= 0])]
    got = float(gain.reindex(recommended, fill_value=0).sum())
    accuracy = got / best if best > 0 else 0.0
    catalogue_size = el["item"].nunique()
    return ({"coverage": round(float(len(recommended)) / max(catalogue_size, 1), 6),
             "trend_prediction_accuracy": round(float(accuracy), 6)}, {})


def _segment_metrics(recipe, con, arn: str, split: Split, seed: int) -> tuple[dict, dict]:
    model = recipe.scorer.load(con, arn, Vocab())
    k = metrics.segment_k(len(model.users))
    items = pd.Series(split.truth_user).groupby(split.truth_item.astype(str)).agg(lambda s: sorted(set(s)))
    names = items.index.to_numpy()
    if len(names) > SEGMENT_ITEMS:
        names = np.sort(np.random.default_rng(seed).choice(names, SEGMENT_ITEMS, replace=False))
    user_code = {u: j for j, u in enumerate(model.users.tolist())}
    predicted, actual = [], []
    for item in names:
        rows = model.item_rows([item])
        found, _scores = recipe.scorer.segment(model, rows, k) if len(rows) else (np.zeros(0, np.int64), None)
        predicted.append(np.asarray(found, dtype=np.int64))
        actual.append(np.array([user_code.get(split.users[u], -1 - u) for u in items[item]], dtype=np.int64))
    out = metrics.segment_metrics(predicted, actual, k)
    return {name: round(float(v), 6) for name, v in out.items()}, {"segmentItems": len(names), "k": k}


__all__ = ["SEED", "SkipMetrics", "Split", "evaluate", "training_events", "user_split"]
