"""User-Personalization in Python: many users at once, personalized ranking, exploration.

``score_users`` loads a version's model tables into numpy once (cached) and scores whole
batches of users with sparse matrix products: the same numbers as the SQL macro
``pp_personal_scores``, which serves single requests. Exploration of cold items runs here,
after the ranked list is cut (``explore``), because its placement is random.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InvalidInput
from .recipes import get_recipe, seqmodel
from .sqlkit import render

MAX_RANKING_ITEMS = 500


@dataclass
class LoadedModel:
    items: np.ndarray                 # item ids, index order
    index: dict
    model: seqmodel.Model
    event_weights: dict
    context_weight: float
    impression_weight: float
    lifts: pd.DataFrame               # field, value, item, lift
    metadata_weight: float = 0.0
    tokens: sp.csr_matrix | None = None   # items with metadata x tokens (item_tokens)
    token_index: dict | None = None       # item id -> row of tokens
    model_tokens: sp.csr_matrix | None = None   # model items x tokens
    user_weight: float = 0.0
    user_lifts: pd.DataFrame | None = None     # field ('Users.<F>'), value, item, lift
    popularity: np.ndarray | None = None       # training interactions per model item


def load_model(con, version_arn: str) -> LoadedModel:
    params = con.execute("SELECT bptt, decay, history_weight, temperature, context_weight, impression_weight, "
                         "metadata_weight, user_weight "
                         "FROM pypersonalize.personal_params WHERE version_arn = $v",
                         {"v": version_arn}).fetchall()
    if not params:
        raise InvalidInput(f"{version_arn} is not a User-Personalization model")
    bptt, decay, hw, temperature, cw, iw, mw, uw = params[0]
    f = con.execute("SELECT item, dim, value, value_out FROM pypersonalize.item_factors WHERE version_arn = $v "
                    "ORDER BY item, dim", {"v": version_arn}).df()
    items = f["item"].drop_duplicates().to_numpy(dtype=object)
    rank = int(f["dim"].max()) + 1
    factors = f["value"].to_numpy(dtype=np.float64).reshape(len(items), rank)
    factors_out = f["value_out"].to_numpy(dtype=np.float64).reshape(len(items), rank)
    index = {item: i for i, item in enumerate(items)}
    t = con.execute("SELECT item, next_item, weight FROM pypersonalize.item_transitions WHERE version_arn = $v",
                    {"v": version_arn}).df()
    rows = t["item"].map(index).to_numpy(dtype=np.int64)
    cols = t["next_item"].map(index).to_numpy(dtype=np.int64)
    transitions = sp.csr_matrix((t["weight"].to_numpy(), (rows, cols)), shape=(len(items), len(items)))
    weights = dict(con.execute("SELECT event_type, weight FROM pypersonalize.event_weights WHERE version_arn = $v",
                               {"v": version_arn}).fetchall())
    lifts = con.execute("SELECT field, value, item, lift FROM pypersonalize.context_lift WHERE version_arn = $v",
                        {"v": version_arn}).df()
    model = seqmodel.Model(transitions, factors, decay, bptt, hw, temperature, factors_out)
    tok = con.execute("SELECT item, token, weight FROM pypersonalize.item_tokens WHERE version_arn = $v",
                      {"v": version_arn}).df()
    codes, names = pd.factorize(tok["token"])
    rows, token_items = pd.factorize(tok["item"])
    token_index = {item: i for i, item in enumerate(token_items)}
    tokens_all = sp.csr_matrix((tok["weight"].to_numpy(dtype=np.float64), (rows, codes)),
                               shape=(len(token_items), max(len(names), 1)))
    # the model items' rows of it (zero rows for model items without metadata)
    pick = np.array([token_index.get(i, -1) for i in items])
    select = sp.csr_matrix((np.ones(int((pick >= 0).sum())), (np.flatnonzero(pick >= 0), pick[pick >= 0])),
                           shape=(len(items), len(token_items)))
    pop = con.execute("SELECT item, interactions FROM pypersonalize.model_items WHERE version_arn = $v",
                      {"v": version_arn}).df()
    counts = np.zeros(len(items))
    known = pop["item"].isin(index)
    counts[pop.loc[known, "item"].map(index).to_numpy(dtype=np.int64)] = pop.loc[known, "interactions"].to_numpy()
    # lifts of items the model left out (e.g. only heavy users had them) score nothing
    lifts = lifts[lifts["item"].isin(index)]
    user_lifts = lifts[lifts["field"].str.startswith("Users.")]
    return LoadedModel(items, index, model, weights, cw, iw, lifts[~lifts["field"].str.startswith("Users.")],
                       mw, tokens_all, token_index, (select @ tokens_all).tocsr(), uw, user_lifts, counts)


def history_frame(con, group: str, user_ids: list[str]) -> pd.DataFrame:
    # implicit impressions join in: the logged list of the recommendation an event names
    return con.execute("SELECT h.user_id, h.item, h.event_type, "
                       "list_concat(coalesce(h.impression, []), coalesce(l.items, [])) AS impression "
                       "FROM pypersonalize.interactions_all h "
                       "LEFT JOIN pypersonalize.recommendation_log l ON l.recommendation_id = h.recommendation_id "
                       "AND l.dataset_group = h.dataset_group "
                       "WHERE h.dataset_group = $g AND h.user_id IN (SELECT unnest($u::VARCHAR[])) "
                       "ORDER BY h.user_id, h.ts, h.seq", {"g": group, "u": list(user_ids)}).df()


def attribute_frame(con, group: str, user_ids: list[str]) -> pd.DataFrame:
    return con.execute("SELECT uid AS user_id, field, value FROM pypersonalize.user_attributes_all "
                       "WHERE dataset_group = $g AND uid IN (SELECT unnest($u::VARCHAR[]))",
                       {"g": group, "u": list(user_ids)}).df()


def _lift_matrix(lifts: pd.DataFrame, keys: pd.DataFrame, index: dict, order: dict, n: int) -> np.ndarray:
    """Sum of the lifts matching each user's (field, value) keys: users x items."""
    out = np.zeros((len(order), n))
    if lifts is None or not len(lifts) or not len(keys):
        return out
    hit = keys.merge(lifts, on=["field", "value"])
    np.add.at(out, (hit["user_id"].map(order).to_numpy(dtype=np.int64),
                    hit["item"].map(index).to_numpy(dtype=np.int64)), hit["lift"].to_numpy())
    return out


def raw_scores(lm: LoadedModel, hist: pd.DataFrame, user_ids: list[str],
               context: dict | None = None, attributes: pd.DataFrame | None = None) -> np.ndarray:
    """Blended scores (users x model items) as pp_personal_scores computes them."""
    n = len(lm.items)
    order = {u: i for i, u in enumerate(user_ids)}
    users = hist["user_id"].map(order).to_numpy(dtype=np.int64)
    # items the model does not know still take a place in the recency window
    items = hist["item"].map(lm.index).fillna(n).to_numpy(dtype=np.int64)
    weights = hist["event_type"].map(lm.event_weights).fillna(1.0).to_numpy(dtype=np.float64) \
        if len(hist) else np.zeros(0)
    has_history = np.bincount(users[items < n], minlength=len(user_ids)) > 0
    bonus = np.zeros(n)
    if context and len(lm.lifts):
        keys = pd.DataFrame({"field": list(context), "value": list(context.values())})
        chosen = keys.merge(lm.lifts, on=["field", "value"])
        np.add.at(bonus, chosen["item"].map(lm.index).to_numpy(dtype=np.int64), chosen["lift"].to_numpy())
    ulift = np.zeros((len(user_ids), n))
    described = np.zeros(len(user_ids), dtype=bool)
    if attributes is not None and len(attributes) and lm.user_lifts is not None and len(lm.user_lifts):
        keys = attributes.assign(field="Users." + attributes["field"])
        ulift = _lift_matrix(lm.user_lifts, keys, lm.index, order, n)
        hit = keys.merge(lm.user_lifts, on=["field", "value"])
        described[hit["user_id"].map(order).to_numpy(dtype=np.int64)] = True
    out = np.zeros((len(user_ids), n))
    if has_history.any():
        sort = np.argsort(users, kind="stable")
        ev = seqmodel.Events(users[sort], items[sort], weights[sort], len(user_ids), n + 1)
        w = seqmodel.windows(ev, lm.model.bptt, lm.model.decay)[:, :n]
        x = seqmodel.history_matrix(ev)[:, :n]
        out = seqmodel.raw_scores(lm.model, w, x)
        if lm.metadata_weight and lm.tokens is not None and lm.tokens.nnz:
            # the profile reads every history item with metadata, in the model or not (a
            # new item the user just watched tells its genres)
            rows = hist["item"].map(lm.token_index)
            has = rows.notna().to_numpy()
            tev = seqmodel.Events(users[has], rows[has].to_numpy(dtype=np.int64), weights[has],
                                  len(user_ids), lm.tokens.shape[0])
            profile = seqmodel.history_matrix(tev) @ lm.tokens
            meta = np.asarray((profile @ lm.model_tokens.T).todense())
            out = out + lm.metadata_weight * seqmodel._scaled(meta)
        out = out + lm.context_weight * bonus + lm.user_weight * ulift
        if lm.impression_weight and "impression" in hist and hist["impression"].notna().any():
            shown = hist[["user_id", "impression"]].dropna().explode("impression").dropna()
            seen = set(zip(hist["user_id"], hist["item"]))
            shown = shown[np.array([(u, i) not in seen for u, i in zip(shown["user_id"], shown["impression"])],
                                   dtype=bool)]
            shown = shown[shown["impression"].isin(lm.index)]
            times = np.zeros((len(user_ids), n))
            np.add.at(times, (shown["user_id"].map(order).to_numpy(dtype=np.int64),
                              shown["impression"].map(lm.index).to_numpy(dtype=np.int64)), 1.0)
            out = out - lm.impression_weight * np.log1p(times)
        out[~has_history] = 0.0
    cold = ~has_history & described
    if cold.any():
        # no history: naive Bayes, log P(item) + attribute and context lifts (x temperature,
        # so that the softmax gives those probabilities)
        prior = np.log((lm.popularity + 1.0) / (lm.popularity + 1.0).sum())
        out[cold] = lm.model.temperature * (prior + ulift[cold] + lm.context_weight * bonus)
    return out


class PersonalAPI:
    """Mixed into :class:`pypersonalize.Project`."""

    def _loaded_model(self, version_arn: str) -> LoadedModel:
        cache = self.__dict__.setdefault("_personal_models", {})
        if version_arn not in cache:
            cache[version_arn] = load_model(self.con, version_arn)
        return cache[version_arn]

    def score_users(self, solution_version: str, user_ids: list[str],
                    context: dict | None = None) -> tuple[list[str], np.ndarray]:
        """Scores of every model item for many users at once (rows sum to 1; users without
        history get rows of zeros). Vectorized numpy over the model tables.

        >>> items, scores = pp.score_users("arn:...:solution/up/1", ["u1", "u2"])  # doctest: +SKIP
        """
        version = self.catalog.get("solution-version", solution_version)
        group = self.catalog.get("dataset-group", version.dataset_group_arn)
        lm = self._loaded_model(version.arn)
        raw = raw_scores(lm, history_frame(self.con, group.name, user_ids), list(user_ids), context,
                         attribute_frame(self.con, group.name, user_ids))
        probs = seqmodel.softmax(raw, lm.model.temperature)
        probs[~raw.any(axis=1)] = 0.0
        return list(lm.items), probs

    def get_personalized_ranking(self, campaign: str, user_id: str, input_list: list[str],
                                 context: dict | None = None, filter: str | None = None,
                                 filter_values: dict | None = None) -> dict:
        """Personalize's GetPersonalizedRanking: ``input_list`` reordered for ``user_id``.

        >>> pp.get_personalized_ranking("rank", "u1", ["m1", "m2", "m3"])  # doctest: +SKIP
        {'personalizedRanking': [{'itemId': 'm2', 'score': 0.61}, ...], 'recommendationId': ...}
        """
        from .serving import context_params
        rec = self.catalog.get("campaign", campaign)
        version = self.catalog.get("solution-version", rec.config["solutionVersionArn"])
        if get_recipe(version.config["recipe"]).serving not in ("personalized", "ranking"):
            raise InvalidInput(f"campaign {rec.name!r} serves {version.config['recipe']}, which cannot "
                               "rank a list (use a Personalized-Ranking or User-Personalization solution)")
        if not isinstance(user_id, str) or not user_id:
            raise InvalidInput("user_id must be a non-empty string")
        if not isinstance(input_list, list) or not 1 <= len(input_list) <= MAX_RANKING_ITEMS \
                or not all(isinstance(i, str) for i in input_list):
            raise InvalidInput(f"input_list must be a list of 1 to {MAX_RANKING_ITEMS} item ids")
        group = self.catalog.get("dataset-group", version.dataset_group_arn)
        predicate, params = "true", {}
        if filter is not None:
            predicate, params = self._filter_predicate(filter, group.name, filter_values, "r.item_id")
        elif filter_values:
            raise InvalidInput("filter_values given without a filter")
        rows = self.con.execute(render("serving/personalized_ranking.sql", predicate=predicate),
                                {"endpoint": rec.arn, "version": version.arn, "user_id": user_id,
                                 "items": list(dict.fromkeys(input_list)), **context_params(context),
                                 **params}).fetchall()
        return {"personalizedRanking": [{"itemId": item, "score": float(score)}
                                        for item, score, _tier, _z, _pos in rows],
                "recommendationId": f"RID-{uuid.uuid4()}"}

    def _explore(self, endpoint_arn: str, version_arn: str, group: str, user_id: str, items: list[dict],
                 n: int, weight: float, age_days: float, cold_max: int, predicate: str, params: dict,
                 seed, reference: int | None = None) -> list[dict]:
        """Give ``round(n * weight / 2)`` slots of ``items`` to cold items (see README)."""
        k = min(n, int(math.floor(n * weight / 2 + 0.5)))
        if k == 0:
            return items[:n]
        cold = self.con.execute(render("serving/explore.sql", predicate=predicate), {
            "version": version_arn, "group": group, "user_id": user_id, "cold_max": cold_max,
            "age": age_days * 86400.0, "taken": [i["itemId"] for i in items[:n]], "reference": reference,
            **params}).fetchall()
        rng = random.Random(seed)
        # relevance first; a random key breaks ties so equal items rotate across requests
        ranked = sorted(cold, key=lambda r: (-r[1], rng.random()))[:k]
        explored = [{"itemId": item, "score": 0.0, "reason": ["Exploration"]} for item, _rel in ranked]
        kept = items[: n - len(explored)]
        slots = sorted(rng.sample(range(len(kept) + len(explored)), len(explored)))
        out, e, o = [], iter(explored), iter(kept)
        for pos in range(len(kept) + len(explored)):
            out.append(next(e) if pos in slots else next(o))
        return out


__all__ = ["PersonalAPI", "load_model", "raw_scores"]
