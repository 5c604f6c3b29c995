"""Trending-Now: the items whose interactions grow fastest, the same for every user.

Personalize's definition: "the increase in interactions that each item has over
configurable intervals of time". Here: with ``i`` = ``trend_discovery_frequency``, an
item's growth is its events in the last interval ``(latest - i, latest]`` minus its events
in the one before, ``latest`` being the group's newest event (of the solution's event type);
items that grew rank by growth, then item id, and score growth / the total growth. The
trend is computed at request time from the current interactions (in memory, or by
``sql/recipes/trending/candidates.sql``), so events put after training count at once, as
Personalize's do. Items and Users are not read (filters may still use them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInput
from ..sqlkit import render
from .base import Hyperparameter, Ranked, Recipe, RecipeType, Request, TrainContext
from .popularity import write_popular_items

FREQUENCIES = {"30 minutes": 1800, "1 hour": 3600, "2 hours": 7200, "3 hours": 10800, "1 day": 86400}


def train(ctx: TrainContext) -> dict:
    if ctx.event_value_threshold is not None:
        raise InvalidInput("aws-trending-now counts events; an event_value_threshold is not supported yet")
    interval = FREQUENCIES[ctx.hyperparameters["trend_discovery_frequency"]]
    ctx.con.execute(render("recipes/trending/10_params.sql"),
                    {"version": ctx.version_arn, "interval": interval, "event_type": ctx.event_type})
    return {"intervalSeconds": interval, "popularItems": write_popular_items(ctx)}


@dataclass
class TrendSettings:
    interval: int
    event_type: str | None
    cache: tuple | None = None                   # (store, its version, Ranked) last computed


class TrendScorer:
    """The trend of the request's dataset group, recomputed when its events changed."""

    def load(self, con, version_arn: str, vocab) -> TrendSettings:
        interval, event_type = con.execute("SELECT interval_s, event_type FROM pypersonalize.trending_params "
                                           "WHERE version_arn = $v", {"v": version_arn}).fetchall()[0]
        return TrendSettings(int(interval), event_type)

    def recommend(self, model: TrendSettings, requests: list[Request], limit: int | None) -> list[Ranked]:
        out = []
        for req in requests:
            store = req.group
            held = model.cache
            if held is None or held[0] is not store or held[1] != store.version:
                held = model.cache = (store, store.version, self._trend(model, store))
            out.append(held[2])
        return out

    @staticmethod
    def _trend(model: TrendSettings, store) -> Ranked:
        items, ts, types = store.all_events()
        if model.event_type is not None:
            code = store.type_names.index(model.event_type) if model.event_type in store.type_names else -2
            keep = types == code
            items, ts = items[keep], ts[keep]
        if not len(ts):
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0))
        latest = int(ts.max())
        window = ts > latest - 2 * model.interval
        recent = ts[window] > latest - model.interval
        n = len(store.vocab)
        gain = np.bincount(items[window][recent], minlength=n) - np.bincount(items[window][~recent], minlength=n)
        grew = np.flatnonzero(gain > 0)
        names = store.vocab.strings(grew).astype(str)
        order = np.lexsort((names, -gain[grew]))
        grew = grew[order]
        return Ranked(grew, gain[grew] / gain[grew].sum())


    def explain(self, model: TrendSettings, request: Request, codes: np.ndarray, scores: np.ndarray) -> list[dict]:
        """Each item's events in the last interval and in the one before (its growth)."""
        store = request.group
        items, ts, types = store.all_events()
        if model.event_type is not None:
            code = store.type_names.index(model.event_type) if model.event_type in store.type_names else -2
            keep = types == code
            items, ts = items[keep], ts[keep]
        if not len(ts):
            return [{"text": "a popular item (no trend yet)", "kind": "popular"} for _ in codes]
        latest = int(ts.max())
        n = max(len(store.vocab), int(codes.max()) + 1 if len(codes) else 0)
        last = np.bincount(items[ts > latest - model.interval], minlength=n)
        before = np.bincount(items[(ts > latest - 2 * model.interval) & (ts <= latest - model.interval)],
                             minlength=n)
        out = []
        for code in codes.tolist():
            a, b = int(last[code]), int(before[code])
            if a <= b:
                out.append({"text": "a popular item (fills the list past the trending ones)", "kind": "popular",
                            "lastInterval": a, "intervalBefore": b})
            else:
                out.append({"text": f"{a} events in the last {model.interval} s, up from {b} in the "
                                    f"{model.interval} s before", "kind": "trend", "lastInterval": a,
                            "intervalBefore": b, "growth": a - b, "intervalSeconds": model.interval})
        return out


RECIPE = Recipe(
    name="aws-trending-now",
    recipe_type=RecipeType.POPULAR_ITEMS,
    description="Items whose interactions grow fastest from one interval to the next, the same for "
                "every user; events put after training count at once.",
    folder="trending",
    train=train,
    scorer=TrendScorer(),
    hyperparameters=(
        Hyperparameter("trend_discovery_frequency", str, "2 hours", kind="featurization",
                       choices=tuple(FREQUENCIES),
                       doc="the length of the two intervals whose event counts are compared"),
    ),
)
