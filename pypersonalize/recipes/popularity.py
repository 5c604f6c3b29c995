"""Popularity-Count: the items with the most distinct users, the same for everybody."""

from __future__ import annotations

import numpy as np

from ..sqlkit import render
from .base import Ranked, Recipe, RecipeType, Request, TrainContext


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
        store = request.group
        users = np.zeros(len(codes), dtype=np.int64)
        for user in store.users():
            users += np.isin(codes, store.history(user).items)
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
