"""Personalized ranking and many users' scores at once, as a part of the Project facade.

Both are answered by the serving engine (``engine.py``) with the User-Personalization
family's scorer (``recipes/personal_model.py``); a plain DuckDB client gets the same
numbers from ``pp_personal_scores``.
"""

from __future__ import annotations

import uuid

import numpy as np

from .base import ProjectBase
from .errors import InvalidInput
from .recipes import Request, get_recipe
from .texts import text

MAX_RANKING_ITEMS = 500


class PersonalAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    def score_users(self, solution_version: str, user_ids: list[str],
                    context: dict | None = None) -> tuple[list[str], np.ndarray]:
        """Scores of every model item for many users at once (rows sum to 1; users without
        history get rows of zeros).

        >>> items, scores = pp.score_users("arn:...:solution/up/1", ["u1", "u2"])  # doctest: +SKIP
        """
        from .serving import context_params
        context_params(context)
        version = self.catalog.get("solution-version", solution_version)
        recipe = get_recipe(version.config["recipe"])
        if not recipe.ranks_lists:
            raise InvalidInput(f"{version.arn} is a {recipe.name} version; score_users scores "
                               "User-Personalization models")
        group = self.catalog.get("dataset-group", version.dataset_group_arn)
        ep = self.engine.version_endpoint(version.arn, group.name, recipe)
        store, served = self.engine._parts(ep)
        pm = served.model
        requests = [Request(store.history(u), None, context, store) for u in user_ids]
        raw, scored = recipe.scorer.raw_scores(pm, requests)
        probs = recipe.scorer.probabilities(pm, raw) if len(requests) else raw
        probs[~scored] = 0.0
        return list(pm.items), probs

    def get_personalized_ranking(self, campaign: str, user_id: str, input_list: list[str],
                                 context: dict | None = None, filter: str | None = None,
                                 filter_values: dict | None = None, metadata_columns: dict | None = None) -> dict:
        """Personalize's GetPersonalizedRanking: ``input_list`` reordered for ``user_id``.

        >>> pp.get_personalized_ranking("rank", "u1", ["m1", "m2", "m3"])  # doctest: +SKIP
        {'personalizedRanking': [{'itemId': 'm2', 'score': 0.61}, ...], 'recommendationId': ...}
        """
        from .serving import context_params
        ep = self.engine.endpoint("campaign", text(campaign, "campaign"))
        if not ep.recipe.ranks_lists:
            raise InvalidInput(f"campaign {ep.name!r} serves {ep.recipe.name}, which cannot "
                               "rank a list (use a Personalized-Ranking or User-Personalization solution)")
        if not isinstance(user_id, str) or not user_id:
            raise InvalidInput("user_id must be a non-empty string")
        if not isinstance(input_list, list) or not 1 <= len(input_list) <= MAX_RANKING_ITEMS \
                or not all(isinstance(i, str) for i in input_list):
            raise InvalidInput(f"input_list must be a list of 1 to {MAX_RANKING_ITEMS} item ids")
        text(user_id, "user_id")
        for item in input_list:
            text(item, "input_list")
        context_params(context)
        from .serving import metadata_columns_of
        columns = metadata_columns_of(self.engine, ep, "campaign", metadata_columns, len(input_list), "input_list")
        with self._engine.serving:
            ranked = self.engine.rank(ep, user_id, input_list, context, filter, filter_values)
            out = [{"itemId": item, "score": score} for item, score in ranked]
            if columns is not None:
                self.engine.add_metadata(ep, out, columns)
        return {"personalizedRanking": out, "recommendationId": f"RID-{uuid.uuid4()}"}


__all__ = ["PersonalAPI", "MAX_RANKING_ITEMS"]
