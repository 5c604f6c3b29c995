"""The recipe registry: every recipe by its Personalize name, ARN or alias.

Everything that depends on which recipes exist is derived from here: the model tables
(``model_tables``), the plain-SQL recommend dispatch (``sql/serving/pipeline.sql`` loops
over ``RECIPES``), which recipes support UPDATE training and every list of names.
"""

from __future__ import annotations

from ..errors import InvalidInput
from . import (
    item_affinity,
    popularity,
    semantic_similarity,
    similar_items,
    sims,
    trending,
    user_personalization,
)
from .base import Hyperparameter, Ranked, Recipe, RecipeType, Request, Scorer, TrainContext

RECIPES: dict[str, Recipe] = {r.name: r for r in (popularity.RECIPE, sims.RECIPE, similar_items.RECIPE,
                                                 trending.RECIPE, semantic_similarity.RECIPE,
                                                 *user_personalization.RECIPES, *item_affinity.RECIPES)}

__all__ = ["RECIPES", "Recipe", "RecipeType", "Hyperparameter", "Ranked", "Request", "Scorer", "TrainContext",
           "get_recipe", "register", "summary", "summaries", "unregister", "model_tables", "sql_folders"]


def get_recipe(ref: str) -> Recipe:
    """``get_recipe("aws-sims")`` == ``get_recipe("arn:aws:personalize:::recipe/aws-sims")``."""
    prefix = "arn:aws:personalize:::recipe/"
    name = ref[len(prefix):] if isinstance(ref, str) and ref.startswith(prefix) else ref
    for recipe in RECIPES.values():
        if name == recipe.name or name in recipe.aliases:
            return recipe
    raise InvalidInput(f"unknown recipe {ref!r}; available: {', '.join(RECIPES)}")


def summary(recipe: Recipe, name: str | None = None) -> dict:
    """``list_recipes``' entry for ``recipe`` (or for its alias ``name``)."""
    name = name or recipe.name
    description = recipe.description if name == recipe.name else \
        f"Served by {recipe.name}'s model: {recipe.description}"
    return {"name": name, "recipeArn": f"arn:aws:personalize:::recipe/{name}",
            "recipeType": str(recipe.recipe_type), "description": description}


def summaries() -> list[dict]:
    """Every recipe name a user can give, Personalize's -v2 names included."""
    out = [summary(r) for r in RECIPES.values()]
    return out + [summary(r, a) for r in RECIPES.values() for a in r.aliases]


def unregister(name: str) -> None:
    """Remove a recipe registered with :func:`register` (a test's toy one)."""
    recipe = RECIPES.pop(name, None)
    from ..sqlkit import remove_sql_folder, sql_fingerprint
    if recipe is not None and recipe.sql_dir is not None \
            and not any(r.folder == recipe.folder for r in RECIPES.values()):
        remove_sql_folder(f"recipes/{recipe.folder}")
    sql_fingerprint.cache_clear()


def register(recipe: Recipe) -> Recipe:
    """Add a recipe (its module calls this, or a test does for a toy one).

    A project opened afterwards creates its model tables and rebuilds the recommend
    macros to include it (the SQL fingerprint covers the registry).
    """
    RECIPES[recipe.name] = recipe
    from ..sqlkit import add_sql_folder, sql_fingerprint
    if recipe.sql_dir is not None:
        add_sql_folder(f"recipes/{recipe.folder}", recipe.sql_dir)
    sql_fingerprint.cache_clear()
    return recipe


def sql_folders() -> list[Recipe]:
    """One recipe per SQL folder (the User-Personalization family shares one)."""
    seen: dict[str, Recipe] = {}
    for recipe in RECIPES.values():
        seen.setdefault(recipe.folder, recipe)
    return list(seen.values())


def model_tables() -> tuple[str, ...]:
    """Every table keyed by version_arn that some recipe writes (their 00_tables.sql)."""
    out: list[str] = []
    for recipe in sql_folders():
        out += [t for t in recipe.model_tables if t not in out]
    return tuple(out)
