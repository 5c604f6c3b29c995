"""Popularity-Count: the items with the most distinct users, the same for everybody."""

from __future__ import annotations

import threading
import weakref

import numpy as np

from ..sqlkit import render
from .base import Ranked, Recipe, RecipeType, Request, TrainContext

_PAIRS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PAIRS_LOCK = threading.Lock()


def user_item_pairs(store) -> tuple[np.ndarray, np.ndarray]:
    """(user index, item code) once per distinct pair of the group's current events (a
    histories.HistoryStore), kept until its next append; for explanations that count users."""
    with _PAIRS_LOCK:
        held = _PAIRS.get(store)
        if held is not None and held[0] == store.version:
            return held[1]
        users = np.repeat(np.arange(len(store._offsets) - 1), np.diff(store._offsets))
        items = store._items
        if store._added:
            index = dict(store._users)
            more_u, more_i = [], []
            for user, events in list(store._added.items()):
                k = index.setdefault(user, len(index))
                more_u.extend([k] * len(events))
                more_i.extend(e[1] for e in events)
            users = np.concatenate((users, np.array(more_u, dtype=np.int64)))
            items = np.concatenate((items, np.array(more_i, dtype=np.int64)))
        width = int(items.max()) + 1 if len(items) else 1
        keys = np.unique(users * width + items)
        pairs = (keys // width, keys % width)
        _PAIRS[store] = (store.version, pairs)
        return pairs


def write_popular_items(ctx: TrainContext) -> int:
    """Fill ``pypersonalize.popular_items`` for the version; every recipe calls it."""
    sql = render("recipes/popularity/10_popular_items.sql", schema_name=ctx.schema_name,
                 has_event_type=ctx.has_event_type, has_event_value=ctx.has_event_value)
    ctx.con.execute(sql, {"version": ctx.version_arn, **ctx.event_params()})
    return ctx.con.execute("SELECT count(*) FROM pypersonalize.popular_items WHERE version_arn = $v",
                           {"v": ctx.version_arn}).fetchall()[0][0]


def train(ctx: TrainContext) -> dict:
    return {"popularItems": write_popular_items(ctx)}


class PopularScorer:
    """No candidates of its own: the pipeline's popular-items fallback is the whole answer."""

    def load(self, con, version_arn: str, vocab) -> None:
        return None

    def recommend(self, model, requests: list[Request], limit: int | None) -> list[Ranked]:
        empty = np.zeros(0, dtype=np.int64)
        return [Ranked(empty, np.zeros(0)) for _ in requests]

    def explain(self, model, request: Request, codes: np.ndarray, scores: np.ndarray) -> list[dict]:
        """Each item's number of distinct users in the group's current events (the ranking
        itself counts the training events, of the solution's event type)."""
        _users, items = user_item_pairs(request.group)
        counts = np.bincount(items, minlength=int(codes.max()) + 1 if len(codes) else 0)
        users = counts[codes] if len(codes) else counts[:0]
        return [{"text": f"{int(u)} users interacted with it", "kind": "popularity", "users": int(u)}
                for u in users]


RECIPE = Recipe(
    name="aws-popularity-count",
    recipe_type=RecipeType.USER_PERSONALIZATION,     # Personalize files it so
    description="Most interacted items (distinct users), the same for every user.",
    folder="popularity",
    train=train,
    scorer=PopularScorer(),
)
