"""SIMS: item-to-item collaborative filtering from co-occurrence in user histories.

Definition (all steps are SQL templates under ``sql/recipes/sims``):

1. baskets: the distinct (user, item) pairs of the training events (or, for Frequently
   bought together, (session, item) pairs);
2. cut-offs are the linear-interpolated quantiles of the unfiltered counts, bounds
   inclusive: baskets shorter or longer than the ``min/max_user_history_length_percentile``
   cut-offs and items rarer than ``min_item_interaction_count_percentile`` are dropped;
   items more frequent than ``max_item_interaction_count_percentile`` keep only their
   most recent baskets, as many as the cut-off. Personalize does not say whether such
   items are dropped or capped; dropping them would leave the items people ask about most
   (the very most popular) without any related items, so they are capped;
3. cooc(i, j) = number of kept baskets holding both i and j, kept if >= ``min_cointeraction_count``;
4. score(i, j) = cooc(i, j) / (n_i^a * n_j^a), a = ``popularity_discount_factor``;
   the top ``max_related_items`` per item are stored, ties broken by item id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sqlkit import render
from .base import Hyperparameter, Ranked, Recipe, RecipeType, Request, TrainContext
from .popularity import user_item_pairs, write_popular_items

HYPERPARAMETERS = (
    Hyperparameter("popularity_discount_factor", float, 0.5, 0.0, 1.0, True,
                   doc="0 ranks by raw co-occurrence (popular items win), 0.5 is cosine "
                       "similarity, 1 discounts popularity fully"),
    Hyperparameter("min_cointeraction_count", int, 3, 0, 10, True,
                   doc="minimum number of users who interacted with both items"),
    Hyperparameter("min_user_history_length_percentile", float, 0.005, 0.0, 1.0, kind="featurization",
                   doc="drop users whose history is shorter than this percentile"),
    Hyperparameter("max_user_history_length_percentile", float, 0.995, 0.0, 1.0, kind="featurization",
                   doc="drop users whose history is longer than this percentile (e.g. bots)"),
    Hyperparameter("min_item_interaction_count_percentile", float, 0.01, 0.0, 1.0, kind="featurization",
                   doc="drop items with fewer interactions than this percentile"),
    Hyperparameter("max_item_interaction_count_percentile", float, 0.9, 0.0, 1.0, kind="featurization",
                   doc="items with more interactions than this percentile keep only their most "
                       "recent ones, as many as the cut-off"),
    Hyperparameter("max_related_items", int, 500, 1, 10000, kind="featurization",
                   doc="pypersonalize: related items stored per item (requests past it are "
                       "filled with popular items)"),
)


def cutoffs(counts: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """Inclusive bounds: the linear-interpolated ``low`` and ``high`` quantiles."""
    if counts.size == 0:
        return 0.0, 0.0
    lo, hi = np.quantile(counts.astype(np.float64), [low, high])
    return float(lo), float(hi)


def train(ctx: TrainContext) -> dict:
    hp = ctx.hyperparameters
    con = ctx.con
    con.execute(render("recipes/sims/10_baskets.sql", schema_name=ctx.schema_name,
                       has_event_type=ctx.has_event_type, has_event_value=ctx.has_event_value,
                       session_gap=ctx.session_gap is not None),
                {**ctx.event_params(), **({"gap": ctx.session_gap} if ctx.session_gap is not None else {})})
    basket_sizes = con.execute("SELECT count(*) FROM pp_sims_events GROUP BY basket").fetchnumpy()
    item_counts = con.execute("SELECT count(*) FROM pp_sims_events GROUP BY item").fetchnumpy()
    b_lo, b_hi = cutoffs(next(iter(basket_sizes.values())), hp["min_user_history_length_percentile"],
                         hp["max_user_history_length_percentile"])
    i_lo, i_hi = cutoffs(next(iter(item_counts.values())), hp["min_item_interaction_count_percentile"],
                         hp["max_item_interaction_count_percentile"])
    con.execute(render("recipes/sims/20_kept.sql"),
                {"basket_min": b_lo, "basket_max": b_hi, "item_min": i_lo, "item_max": i_hi})
    con.execute(render("recipes/sims/30_cooccurrence.sql"), {"min_cooc": hp["min_cointeraction_count"]})
    con.execute(render("recipes/sims/40_related_items.sql", schema_name=ctx.schema_name),
                {"version": ctx.version_arn, "alpha": hp["popularity_discount_factor"],
                 "cap": hp["max_related_items"]})
    stats = con.execute("""
        SELECT (SELECT count(DISTINCT basket) FROM pp_sims_kept),
               (SELECT count(DISTINCT item) FROM pp_sims_kept),
               (SELECT count(*) FROM pp_sims_pairs),
               (SELECT count(*) FROM pypersonalize.related_items WHERE version_arn = $v)""",
                        {"v": ctx.version_arn}).fetchall()[0]
    for table in ("pp_sims_events", "pp_sims_kept", "pp_sims_pairs"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return {"baskets": stats[0], "items": stats[1], "itemPairs": stats[2], "relatedItems": stats[3],
            "cutoffs": {"basketLength": [b_lo, b_hi], "itemCount": [i_lo, i_hi]},
            "popularItems": write_popular_items(ctx)}


@dataclass
class RelatedLists:
    """Every item's related items, best first, as vocabulary codes (CSR-like)."""

    offsets: dict          # item code -> (start, end) into related/scores
    related: np.ndarray
    scores: np.ndarray


def item_offsets(items: np.ndarray, vocab) -> dict:
    """Item code -> (start, end) of its rows, for rows sorted by item."""
    offsets = {}
    if len(items):
        cut = np.flatnonzero(items[1:] != items[:-1]) + 1
        starts = np.concatenate(([0], cut))
        ends = np.concatenate((cut, [len(items)]))
        for code, lo, hi in zip(vocab.codes(list(items[starts])), starts, ends):
            offsets[int(code)] = (int(lo), int(hi))
    return offsets


class RelatedScorer:
    """The current item's related items (none when it is unknown or not given)."""

    def load(self, con, version_arn: str, vocab) -> RelatedLists:
        rows = con.execute("SELECT item, related, score FROM pypersonalize.related_items "
                           "WHERE version_arn = $v ORDER BY item, rank", {"v": version_arn}).fetchnumpy()
        items = np.asarray(rows["item"], dtype=object)
        related = vocab.codes(list(np.asarray(rows["related"], dtype=object)))
        offsets = item_offsets(items, vocab)
        return RelatedLists(offsets, related, np.asarray(rows["score"], dtype=np.float64))

    def recommend(self, model: RelatedLists, requests: list[Request], limit: int | None) -> list[Ranked]:
        out = []
        for req in requests:
            lo, hi = model.offsets.get(req.item, (0, 0)) if req.item is not None else (0, 0)
            out.append(Ranked(model.related[lo:hi], model.scores[lo:hi]))
        return out


    def explain(self, model: RelatedLists, request: Request, codes: np.ndarray, scores: np.ndarray) -> list[dict]:
        """For each related item: how many distinct users (in the group's current events) have
        both it and the request's item, and how many have each; items not in the stored list
        are the popular fill."""
        store = request.group
        lo, hi = model.offsets.get(request.item, (0, 0)) if request.item is not None else (0, 0)
        stored = dict(zip(model.related[lo:hi].tolist(), model.scores[lo:hi].tolist()))
        users, items = user_item_pairs(store)
        size = max(int(items.max()) + 1 if len(items) else 0, int(codes.max()) + 1 if len(codes) else 0)
        each = np.bincount(items, minlength=size)[codes]
        asked = users[items == request.item] if request.item is not None else users[:0]
        query = len(asked)
        both = np.bincount(items[np.isin(users, asked)], minlength=size)[codes]
        name = store.vocab.strings(np.array([request.item]))[0] if request.item is not None else None
        out = []
        for k, code in enumerate(codes.tolist()):
            if code not in stored:
                out.append({"text": "a popular item (fills the list past the related items)", "kind": "popular"})
                continue
            out.append({"text": f"{int(both[k])} users interacted with both {name} and this item",
                        "kind": "co-occurrence", "itemId": name, "coOccurrence": int(both[k]),
                        "usersWithItem": int(query), "usersWithRecommended": int(each[k]),
                        "score": float(stored[code]),
                        "formula": "cooc(i, j) / (n_i^a * n_j^a), counted on the training data's kept "
                                   "histories (a = popularity_discount_factor)"})
        return out


RECIPE = Recipe(
    name="aws-sims",
    recipe_type=RecipeType.RELATED_ITEMS,
    description="Items that co-occur in user histories, discounted for popularity.",
    folder="sims",
    train=train,
    scorer=RelatedScorer(),
    inputs=("item",),
    hyperparameters=HYPERPARAMETERS,
)
