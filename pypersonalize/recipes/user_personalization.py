"""User-Personalization, the HRNN family and Personalized-Ranking: one engine, five names.

Personalize merged HRNN, HRNN-Metadata and HRNN-Coldstart into User-Personalization; we
serve the legacy names with the same engine in the matching configuration. Training
(numpy, ``seqmodel.py``) writes, per solution version:

* ``item_transitions``: the sequence model, item -> next item weights,
* ``item_factors``: item factors of the whole-history model (``hidden_dimension``),
* ``model_items``: the catalogue with interaction counts and creation times (cold items,
  exploration), ``item_tokens``: item metadata as tokens, ``context_lift``: context,
* ``event_weights`` and ``personal_params``: how serving weighs events and blends parts,
* ``item_objective``: an optimizationObjective's item attribute as a percent rank.

A -v2 solution's eventsConfig keeps only the listed event types (each with its own
EVENT_VALUE threshold) for every training step, and its weights, divided by their mean,
replace the learned per-type weights (``event_weights``); serving leaves unlisted types out
of the history (``personal_params.other_event_weight`` = 0).

Scores are computed at request time from the user's current history by the SQL macro
``pp_personal_scores`` (``sql/recipes/user_personalization/macros.sql``) or, for many users
at once, by ``personal_model.py`` with the same numbers in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from ..schemas import Schema
from ..sqlkit import quote_ident, render
from . import seqmodel
from .base import Hyperparameter, Recipe, RecipeType, TrainContext
from .personal_model import PersonalScorer, read_model
from .popularity import write_popular_items

# Interactions fields that are never context.
NOT_CONTEXT = {"USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE", "IMPRESSION",
               "RECOMMENDATION_ID", "EVENT_ID", "SESSION_ID"}
SEQUENCE_ITEMS = 5000      # items in the sequence model's solve (cubic); the rest use factors
TOP_K = 200                # transition weights kept per item
# optimizationObjective: raw += temperature * w * (the item's attribute percent rank), so an
# item's probability is multiplied by exp(w * rank): the catalogue's highest attribute against
# its lowest is worth a factor 10**0.5, 10 or 100 in probability. In the terms of
# (1 - s) * log10(relative probability) + s * rank, s is 1/3, 1/2 (MEDIUM: equal emphasis), 2/3.
OBJECTIVE_WEIGHTS = {"LOW": 0.5 * np.log(10.0), "MEDIUM": np.log(10.0), "HIGH": 2.0 * np.log(10.0)}


def user_attribute_fields(schema: Schema) -> list[dict]:
    """The string fields of a Users schema that describe a user (SUBSCRIPTION_MODEL, ...)."""
    return [{"name": f.name, "is_list": f.is_list} for f in schema.fields
            if f.name != "USER_ID" and f.type == "string" and not f.textual]


def _hp(name, type_, default, low=None, high=None, tunable=False, kind="algorithm", doc="", **kw):
    return Hyperparameter(name, type_, default, low, high, tunable, kind, doc, **kw)


def _common(hidden_dimension: int) -> tuple[Hyperparameter, ...]:
    return (
        _hp("hidden_dimension", int, hidden_dimension, 32, 256, True, search=(32, 192, True),
            doc="rank of the whole-history factor model (item factors)"),
        _hp("bptt", int, 32, 2, 32, True, search=(8, 32, False),
            doc="how many of the user's most recent events the sequence model reads"),
        _hp("recency_mask", bool, True, tunable=True, aliases=("apply_recency_bias",),
            doc="true: the k-th most recent event weighs recency_decay^k; false: all bptt events "
                "weigh the same"),
        _hp("min_user_history_length_percentile", float, 0.0, 0.0, 1.0, kind="featurization",
            doc="users with fewer events than this percentile are left out of training"),
        _hp("max_user_history_length_percentile", float, 0.99, 0.0, 1.0, kind="featurization",
            doc="users with more events than this percentile (bots) are left out of training"),
        _hp("recency_decay", float, 0.9, 0.01, 1.0, tunable=True, search=(0.8, 1.0, False),
            doc="pypersonalize: the per-event decay recency_mask applies"),
        _hp("history_weight", float, 0.7, 0.0, 10.0, tunable=True, search=(0.1, 1.5, True),
            doc="pypersonalize: weight of the whole-history part against the sequence part"),
        _hp("popularity_exponent", float, 0.25, 0.0, 1.0, tunable=True, search=(0.1, 0.7, False),
            doc="pypersonalize: the history factors are fitted on item columns scaled by "
                "(interactions)^-x, so that they capture taste rather than popularity"),
        _hp("l2_regularization", float, 0.7, 0.0001, 100.0, tunable=True, search=(0.1, 5.0, True),
            doc="pypersonalize: ridge penalty of the sequence model, relative to the mean "
                "diagonal of its Gram matrix"),
        _hp("event_type_weight_exponent", float, 0.5, 0.0, 2.0,
            doc="pypersonalize: an event of type t weighs (events / events of type t)^x, "
                "scaled so the most common type weighs 1 (rarer types, like purchases, count more)"),
        _hp("event_value_exponent", float, 0.0, 0.0, 2.0,
            doc="pypersonalize: events weigh (EVENT_VALUE / mean EVENT_VALUE)^x"),
        _hp("metadata_weight", float, 0.3, 0.0, 10.0,
            doc="pypersonalize: weight of the similarity between the item's metadata (categorical "
                "values, words of textual fields) and the metadata of the user's history"),
        _hp("user_metadata_weight", float, 0.3, 0.0, 10.0,
            doc="pypersonalize: how far the user's attributes (Users dataset) shift the scores of a "
                "user with history; users without history are ranked by popularity x attributes"),
        _hp("context_weight", float, 0.5, 0.0, 10.0,
            doc="pypersonalize: how far a request's context shifts scores"),
        _hp("impression_weight", float, 0.1, 0.0, 10.0,
            doc="pypersonalize: penalty per ln(1 + times an item was shown to the user and "
                "not chosen)"),
    )


_EXPLORATION = (
    _hp("exploration_weight", float, 0.3, 0.0, 1.0, kind="campaign",
        doc="default of the campaign's itemExplorationConfig explorationWeight"),
    _hp("exploration_item_age_cut_off", float, 30.0, 0.0, 36500.0, kind="campaign",
        doc="default of the campaign's explorationItemAgeCutOff (days)"),
)
_COLDSTART = (
    _hp("cold_start_max_interactions", int, 15, 0, 1000000, kind="featurization",
        doc="items with at most this many interactions are cold"),
    _hp("cold_start_max_duration", float, 5.0, 0.0, 36500.0, kind="featurization",
        doc="items created within this many days are cold"),
    _hp("cold_start_relative_from", str, "latestItem", kind="featurization",
        choices=("latestItem", "currentTime"),
        doc="what cold_start_max_duration counts back from"),
)


def event_weights(types: np.ndarray, type_names: list[str], values: np.ndarray | None,
                  hp: dict, configured: dict | None = None) -> tuple[np.ndarray, dict]:
    """Per-event weights (``types`` are codes into ``type_names``, -1 = none) and the
    per-type table serving uses.

    Without ``configured``, a type weighs ``(events / events of the type)^event_type_weight_exponent``
    (the most common type 1). ``configured`` (a -v2 eventsConfig, type -> normalised weight,
    see :func:`configured_weights`) replaces those learned weights: the table is exactly it."""
    w = np.ones(len(types))
    table = {}
    if configured is not None:
        per_type = np.array([configured.get(t, 0.0) for t in type_names] + [0.0])
        table = dict(configured)
        w = per_type[np.where(types >= 0, types, len(type_names))]
    elif type_names and (types >= 0).any():
        counts = np.bincount(types[types >= 0], minlength=len(type_names)).astype(np.float64)
        per_type = np.where(counts > 0, (counts.max() / np.maximum(counts, 1)), 1.0) \
            ** hp["event_type_weight_exponent"]
        table = {name: float(per_type[k]) for k, name in enumerate(type_names) if counts[k] > 0}
        w = np.where(types >= 0, per_type[np.maximum(types, 0)], 1.0)
    if values is not None and hp["event_value_exponent"] > 0 and not np.isnan(values).all():
        mean = np.nanmean(np.abs(values)) or 1.0
        w = w * np.nan_to_num(np.clip(np.abs(values) / mean, 1e-3, None), nan=1.0) ** hp["event_value_exponent"]
    return w, table


def configured_weights(events_config: list[dict] | None) -> dict | None:
    """An eventsConfig's weights as type -> weight / (mean listed weight), rounded to 12
    decimals so that only the ratio matters, to the bit ((0.3, 0.1) and (0.6, 0.2) both give
    1.5 and 0.5). Types of weight 0 are left out (training drops their events)."""
    if not events_config:
        return None
    mean = sum(e["weight"] for e in events_config) / len(events_config)
    return {e["eventType"]: round(e["weight"] / mean, 12) for e in events_config if e["weight"] > 0}


def event_params(ctx: TrainContext) -> dict:
    """``ctx.event_params()`` plus an eventsConfig's bound lists (``_events.sql``): the types
    of weight above 0 and their thresholds (None = no threshold)."""
    out = ctx.event_params()
    if ctx.events_config:
        kept = [e for e in ctx.events_config if e["weight"] > 0]
        out["ec_types"] = [e["eventType"] for e in kept]
        out["ec_thresholds"] = [e["eventValueThreshold"] for e in kept]
    return out


def _excluded(ctx: TrainContext, dataset_type: str, name: str) -> bool:
    return name in (ctx.excluded_columns or {}).get(dataset_type, ())


@dataclass
class _Loaded:
    user: np.ndarray
    item: np.ndarray
    ts: np.ndarray
    type: np.ndarray
    value: np.ndarray | None
    item_ids: np.ndarray
    type_names: list[str]


def _load_events(ctx: TrainContext, low: float, high: float) -> _Loaded:
    """The training events as integer arrays (strings stay in DuckDB), users outside the
    history-length percentiles left out."""
    con = ctx.con
    con.execute(render("recipes/user_personalization/10_events.sql", schema_name=ctx.schema_name,
                       has_event_type=ctx.has_event_type, has_event_value=ctx.has_event_value,
                       events_config=bool(ctx.events_config)),
                event_params(ctx))
    try:
        cols = con.execute("SELECT u, i, ts, coalesce(t, -1) AS t, v FROM pp_up_events").fetchnumpy()
        type_names = [r[0] for r in con.execute(
            "SELECT DISTINCT event_type FROM pp_up_events WHERE event_type IS NOT NULL ORDER BY 1").fetchall()]
        ids = con.execute(f"SELECT idx, id FROM {quote_ident(ctx.schema_name)}.item_ids").fetchnumpy()
    finally:
        con.execute("DROP TABLE IF EXISTS pp_up_events")
    user = np.asarray(cols["u"], dtype=np.int64)
    lengths = np.bincount(user)
    lo, hi = np.quantile(lengths[lengths > 0].astype(np.float64), [low, high]) if len(user) else (0, 0)
    keep = (lengths[user] >= lo) & (lengths[user] <= hi)
    # re-code so that users and items left out leave no gaps
    _u, user = np.unique(user[keep], return_inverse=True)
    used, item = np.unique(np.asarray(cols["i"], dtype=np.int64)[keep], return_inverse=True)
    id_by_idx = np.empty(int(ids["idx"].max()) + 1 if len(ids["idx"]) else 0, dtype=object)
    id_by_idx[np.asarray(ids["idx"], dtype=np.int64)] = np.asarray(ids["id"], dtype=object)
    # a left-out EVENT_VALUE / EVENT_TYPE (trainingDataConfig) weighs nothing: the solution's
    # event type and thresholds still choose the events
    value = np.asarray(cols["v"], dtype=np.float64)[keep] \
        if ctx.has_event_value and not _excluded(ctx, "Interactions", "EVENT_VALUE") else None
    types = np.asarray(cols["t"], dtype=np.int64)[keep]
    if _excluded(ctx, "Interactions", "EVENT_TYPE") and not ctx.events_config:
        types, type_names = np.full(len(types), -1, dtype=np.int64), []
    return _Loaded(user.astype(np.int64), item.astype(np.int64), np.asarray(cols["ts"])[keep],
                   types, value, id_by_idx[used], type_names)


def train(ctx: TrainContext, *, metadata: bool, defaults: dict) -> dict:
    hp = ctx.hyperparameters
    data = _load_events(ctx, hp["min_user_history_length_percentile"], hp["max_user_history_length_percentile"])
    weights, type_table = event_weights(data.type, data.type_names, data.value, hp,
                                        configured_weights(ctx.events_config))
    ids = data.item_ids
    ev = seqmodel.Events(data.user, data.item, weights,
                         int(data.user.max()) + 1 if len(data.user) else 0, len(ids))
    decay = hp["recency_decay"] if hp["recency_mask"] else 1.0
    if ctx.base_version:
        model, added = _updated_model(ctx, ev, ids)
    else:
        transitions = seqmodel.fit_transitions(ev, hp["bptt"], decay, hp["l2_regularization"],
                                               TOP_K, SEQUENCE_ITEMS)
        f_in, f_out = seqmodel.fit_two_sided_factors(seqmodel.history_matrix(ev), hp["hidden_dimension"],
                                                     hp["popularity_exponent"])
        model = seqmodel.Model(transitions, f_in, decay, hp["bptt"], hp["history_weight"], factors_out=f_out)
        model.temperature = seqmodel.fit_temperature(model, ev)
        added = None
    _write_model(ctx, model, ids, type_table)
    first = np.full(len(ids), np.iinfo(np.int64).max)
    last = np.full(len(ids), np.iinfo(np.int64).min)
    np.minimum.at(first, data.item, data.ts)
    np.maximum.at(last, data.item, data.ts)
    counts = pd.DataFrame({"item": ids, "interactions": np.bincount(data.item, minlength=len(ids)),
                           "first_ts": first, "last_ts": last})
    stats = _write_catalogue(ctx, counts, metadata)
    stats.update(users=ev.n_users, items=ev.n_items, events=len(data.user),
                 transitions=int(model.transitions.nnz), factorRank=int(model.factors.shape[1]),
                 temperature=model.temperature, eventTypeWeights=type_table, defaults=defaults,
                 popularItems=_write_popular_items(ctx))
    if ctx.objective:
        stats["objective"] = {**ctx.objective, "weight": OBJECTIVE_WEIGHTS[ctx.objective["objectiveSensitivity"]]}
    if added is not None:
        stats.update(updatedFrom=ctx.base_version, newItems=added)
    return stats


def _updated_model(ctx: TrainContext, ev: seqmodel.Events, ids: np.ndarray) -> tuple[seqmodel.Model, int]:
    """Personalize's UPDATE training: the base FULL version's model, extended to new items.

    The sequence weights and factors of known items are kept; a new item's factors are
    fitted by ridge regression of its users onto their factor representation (the
    whole-history part can then recommend it), with no new decomposition or solve.
    """
    base = read_model(ctx.con, ctx.base_version)
    bptt, decay, history_weight, temperature = (base.model.bptt, base.model.decay, base.model.history_weight,
                                                base.model.temperature)
    index = {item: i for i, item in enumerate(ids)}
    rank = base.model.factors.shape[1]
    old_items, old_in, old_out = base.items, base.model.factors, base.model.out
    factors, factors_out = np.zeros((len(ids), rank)), np.zeros((len(ids), rank))
    known = np.array([index.get(i, -1) for i in old_items])
    factors[known[known >= 0]] = old_in[known >= 0]
    factors_out[known[known >= 0]] = old_out[known >= 0]
    x = seqmodel.history_matrix(ev).tocsc()
    is_new = np.ones(len(ids), dtype=bool)
    is_new[known[known >= 0]] = False
    if is_new.any():
        users = x[:, ~is_new] @ factors[~is_new]                 # users x rank
        gram = users.T @ users
        gram[np.diag_indices(rank)] += 1e-3 * max(np.trace(gram) / rank, 1e-12)
        factors_out[is_new] = np.linalg.solve(gram, (x[:, is_new].T @ users).T).T
        # the input side of a new item, as training scales it: P_in = P_out * n^(-2a)
        n = np.maximum(np.asarray((x[:, is_new] != 0).sum(axis=0)).ravel(), 1).astype(np.float64)
        a = ctx.hyperparameters.get("popularity_exponent", 0.0)
        factors[is_new] = factors_out[is_new] * (n ** (-2 * a))[:, None]
    # the base's sequence weights, re-indexed to this version's items
    old = base.model.transitions.tocoo()
    remap = np.array([index.get(i, -1) for i in old_items], dtype=np.int64)
    ok = (remap[old.row] >= 0) & (remap[old.col] >= 0)
    transitions = seqmodel.sp.csr_matrix((old.data[ok], (remap[old.row[ok]], remap[old.col[ok]])),
                                         shape=(len(ids), len(ids)))
    return (seqmodel.Model(transitions, factors, decay, bptt, history_weight, temperature, factors_out),
            int(is_new.sum()))


def _write_model(ctx: TrainContext, model: seqmodel.Model, ids: np.ndarray, type_table: dict) -> None:
    con, v, hp = ctx.con, ctx.version_arn, ctx.hyperparameters
    t = model.transitions.tocoo()
    rank = model.factors.shape[1]
    # numbers travel as numeric columns (zero-copy); ids are joined in SQL
    frames = {
        "pp_up_ids": pd.DataFrame({"idx": np.arange(len(ids), dtype=np.int64),
                                   "item": pd.array(ids, dtype="string")}),
        "pp_up_transitions": pd.DataFrame({"a": t.row.astype(np.int64), "b": t.col.astype(np.int64),
                                           "weight": t.data}),
        "pp_up_factors": pd.DataFrame({"a": np.repeat(np.arange(len(ids), dtype=np.int64), rank),
                                       "dim": np.tile(np.arange(rank, dtype=np.int16), len(ids)),
                                       "value": model.factors.ravel(), "value_out": model.out.ravel()}),
    }
    for name, frame in frames.items():
        con.register(name, frame)
    try:
        con.execute("INSERT INTO pypersonalize.item_transitions SELECT $v, x.item, y.item, t.weight "
                    "FROM pp_up_transitions t JOIN pp_up_ids x ON x.idx = t.a JOIN pp_up_ids y ON y.idx = t.b",
                    {"v": v})
        con.execute("INSERT INTO pypersonalize.item_factors SELECT $v, x.item, f.dim, f.value, f.value_out "
                    "FROM pp_up_factors f JOIN pp_up_ids x ON x.idx = f.a", {"v": v})
    finally:
        for name in frames:
            con.unregister(name)
    for event_type, weight in type_table.items():
        con.execute("INSERT INTO pypersonalize.event_weights VALUES ($v, $t, $w)",
                    {"v": v, "t": event_type, "w": weight})
    objective = OBJECTIVE_WEIGHTS[ctx.objective["objectiveSensitivity"]] if ctx.objective else 0.0
    con.execute("INSERT INTO pypersonalize.personal_params (version_arn, bptt, decay, history_weight, temperature, "
                "context_weight, impression_weight, metadata_weight, user_weight, other_event_weight, "
                "objective_weight) VALUES ($v, $bptt, $decay, $hw, $temp, $cw, $iw, $mw, $uw, $other, $obj)",
                {"v": v, "bptt": model.bptt, "decay": model.decay, "hw": model.history_weight,
                 "temp": model.temperature, "cw": hp["context_weight"], "iw": _impression_weight(ctx),
                 "mw": hp["metadata_weight"], "uw": hp["user_metadata_weight"],
                 "other": 0.0 if ctx.events_config else 1.0, "obj": float(objective)})


def _impression_weight(ctx: TrainContext) -> float:
    """``impression_weight``, or 0 when trainingDataConfig leaves out every impression field the
    Interactions schema has (IMPRESSION, and RECOMMENDATION_ID for implicit impressions)."""
    inter = ctx.schemas.get("Interactions")
    left_out = (ctx.excluded_columns or {}).get("Interactions", ())
    has = [n for n in ("IMPRESSION", "RECOMMENDATION_ID") if inter is not None and inter.field(n) is not None]
    given = [n for n in ("IMPRESSION", "RECOMMENDATION_ID") if n in left_out]
    return 0.0 if given and not has else ctx.hyperparameters["impression_weight"]


def _write_popular_items(ctx: TrainContext) -> int:
    """The version's popular items (the fill after its own): ``popularity.write_popular_items``,
    over the eventsConfig's events when it has one."""
    if not ctx.events_config:
        return write_popular_items(ctx)
    ctx.con.execute(render("recipes/popularity/10_popular_items.sql", schema_name=ctx.schema_name,
                           has_event_type=ctx.has_event_type, has_event_value=ctx.has_event_value,
                           events_config=True),
                    {"version": ctx.version_arn, **event_params(ctx)})
    return ctx.con.execute("SELECT count(*) FROM pypersonalize.popular_items WHERE version_arn = $v",
                           {"v": ctx.version_arn}).fetchall()[0][0]


def _write_catalogue(ctx: TrainContext, counts: pd.DataFrame, metadata: bool) -> dict:
    con, v = ctx.con, ctx.version_arn
    items_schema = ctx.schemas.get("Items")
    con.register("pp_up_counts", counts)
    try:
        con.execute(render("recipes/user_personalization/20_model_items.sql", schema_name=ctx.schema_name,
                           has_items=items_schema is not None,
                           has_creation=bool(items_schema and items_schema.field("CREATION_TIMESTAMP"))),
                    {"version": v})
    finally:
        con.unregister("pp_up_counts")
    tokens = 0
    if items_schema is not None and metadata:
        categorical = [f.name for f in items_schema.fields if f.categorical]
        textual = [f.name for f in items_schema.fields if f.textual]
        if categorical or textual:
            con.execute(render("recipes/_item_tokens.sql",
                               schema_name=ctx.schema_name, categorical=categorical, textual=textual,
                               numerical=()),
                        {"version": v})
            tokens = con.execute("SELECT count(*) FROM pypersonalize.item_tokens WHERE version_arn = $v",
                                 {"v": v}).fetchall()[0][0]
    inter = ctx.schemas.get("Interactions")
    fields = [{"name": f.name, "is_list": f.is_list} for f in (inter.fields if inter else ())
              if f.name not in NOT_CONTEXT and f.type == "string"]
    if fields:
        con.execute(render("recipes/user_personalization/40_context_lift.sql", schema_name=ctx.schema_name,
                           fields=fields, has_event_type=ctx.has_event_type,
                           has_event_value=ctx.has_event_value, events_config=bool(ctx.events_config)),
                    {"version": v, **event_params(ctx)})
    users_schema = ctx.schemas.get("Users")
    user_fields = user_attribute_fields(users_schema) if users_schema is not None and metadata else []
    if user_fields:
        con.execute(render("recipes/user_personalization/50_user_lift.sql", schema_name=ctx.schema_name,
                           fields=user_fields, has_event_type=ctx.has_event_type,
                           has_event_value=ctx.has_event_value, events_config=bool(ctx.events_config)),
                    {"version": v, **event_params(ctx)})
    if ctx.objective:
        # the attribute is read from the Items table itself: it is the objective, not a feature
        con.execute(render("recipes/user_personalization/60_item_objective.sql", schema_name=ctx.schema_name,
                           attribute=ctx.objective["itemAttribute"]), {"version": v})
    lifts = con.execute("SELECT count(*) FILTER (WHERE NOT starts_with(field, 'Users.')), "
                        "count(*) FILTER (WHERE starts_with(field, 'Users.')) "
                        "FROM pypersonalize.context_lift WHERE version_arn = $v", {"v": v}).fetchall()[0]
    return {"metadataTokens": tokens, "contextFields": [f["name"] for f in fields], "contextLifts": lifts[0],
            "userFields": [f["name"] for f in user_fields], "userLifts": lifts[1]}


SCORER = PersonalScorer()


def _recipe(name, recipe_type, description, hps, metadata, aliases=(), updatable=False,
            ranking=False) -> Recipe:
    defaults = {h.name: h.default for h in hps if h.kind == "campaign"}
    return Recipe(name=name, recipe_type=recipe_type, description=description, folder="user_personalization",
                  train=partial(train, metadata=metadata, defaults=defaults), scorer=SCORER,
                  inputs=("user",), hyperparameters=hps, aliases=aliases, updatable=updatable,
                  ranks_lists=True, logs_recommendations=not ranking)


USER_PERSONALIZATION = _recipe(
    "aws-user-personalization", RecipeType.USER_PERSONALIZATION,
    "Sequence-aware personalization from each user's current history, with item metadata for "
    "cold items, exploration of new items, context and impressions.",
    _common(149) + _EXPLORATION, metadata=True, aliases=("aws-user-personalization-v2",), updatable=True)
HRNN = _recipe("aws-hrnn", RecipeType.USER_PERSONALIZATION,
               "Legacy HRNN: the User-Personalization engine on interactions only.",
               _common(43), metadata=False)
HRNN_METADATA = _recipe("aws-hrnn-metadata", RecipeType.USER_PERSONALIZATION,
                        "Legacy HRNN-Metadata: the User-Personalization engine with item metadata.",
                        _common(43), metadata=True)
HRNN_COLDSTART = _recipe("aws-hrnn-coldstart", RecipeType.USER_PERSONALIZATION,
                         "Legacy HRNN-Coldstart: User-Personalization with item metadata and "
                         "exploration of cold items.",
                         _common(149) + _EXPLORATION + _COLDSTART, metadata=True, updatable=True)
PERSONALIZED_RANKING = _recipe(
    "aws-personalized-ranking", RecipeType.PERSONALIZED_RANKING,
    "Reorders a given list of items for a user with the User-Personalization model.",
    _common(149), metadata=True, aliases=("aws-personalized-ranking-v2",), ranking=True)

RECIPES = (USER_PERSONALIZATION, HRNN, HRNN_METADATA, HRNN_COLDSTART, PERSONALIZED_RANKING)
