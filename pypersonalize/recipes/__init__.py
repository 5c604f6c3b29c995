"""The recipe registry: every recipe by its Personalize name, ARN or alias."""

from __future__ import annotations

from ..errors import InvalidInput
from . import popularity, sims, user_personalization
from .base import Hyperparameter, Recipe, TrainContext

RECIPES: dict[str, Recipe] = {r.name: r for r in (popularity.RECIPE, sims.RECIPE,
                                                 *user_personalization.RECIPES)}

__all__ = ["RECIPES", "Recipe", "Hyperparameter", "TrainContext", "get_recipe"]


def get_recipe(ref: str) -> Recipe:
    """``get_recipe("aws-sims")`` == ``get_recipe("arn:aws:personalize:::recipe/aws-sims")``."""
    name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) and ref.startswith("arn:") else ref
    for recipe in RECIPES.values():
        if name == recipe.name or name in recipe.aliases:
            return recipe
    raise InvalidInput(f"unknown recipe {ref!r}; available: {', '.join(RECIPES)}")
