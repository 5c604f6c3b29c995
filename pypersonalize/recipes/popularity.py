"""Popularity-Count: the items with the most distinct users, the same for everybody."""

from __future__ import annotations

from ..sqlkit import render
from .base import Recipe, TrainContext


def write_popular_items(ctx: TrainContext) -> int:
    """Fill ``pypersonalize.popular_items`` for the version; every recipe calls it."""
    sql = render("recipes/popularity/10_popular_items.sql", schema_name=ctx.schema_name,
                 has_event_type=ctx.has_event_type, has_event_value=ctx.has_event_value)
    ctx.con.execute(sql, {"version": ctx.version_arn, **ctx.event_params()})
    return ctx.con.execute("SELECT count(*) FROM pypersonalize.popular_items WHERE version_arn = $v",
                           {"v": ctx.version_arn}).fetchall()[0][0]


def train(ctx: TrainContext) -> dict:
    return {"popularItems": write_popular_items(ctx)}


RECIPE = Recipe(
    name="aws-popularity-count",
    recipe_type="USER_PERSONALIZATION",
    description="Most interacted items (distinct users), the same for every user.",
    serving="popular",
    train=train,
    sql_files=("recipes/popularity/10_popular_items.sql",),
)
