"""The two kinds of batch-job run: records in, one answer per record out.

``InferenceRun`` answers inference records with the serving engine: plain user records a
block at a time (``Pipeline.recommend_batch``, exploration for the block at once), records
with a filter, ``filterValues`` or an ``itemList`` one at a time. ``SegmentRun`` answers
segment records with the USER_SEGMENTATION recipe's scorer. Both ``score`` a block (the job
scores the next block on another thread) and ``emit`` its lines.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import batch_io
from .catalog import Record
from .engine import Endpoint, exploration_settings
from .errors import InvalidInput
from .recipes import RecipeType, get_recipe
from .sqlkit import render
from .texts import text

MAX_ITEM_LIST = 500             # itemList of a Personalized-Ranking record
SEGMENT_QUERIES = {"aws-item-affinity": 500, "aws-item-attribute-affinity": 10}   # records per input file


def _filter_values(record: dict) -> dict | None:
    values = record.get("filterValues")
    if values is None:
        return None
    if not isinstance(values, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        raise InvalidInput('filterValues must map names to strings, e.g. {"GENRES": "\\"Comedy\\""}')
    return values


def _string(record: dict, key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{key} must be a non-empty string" if key in record else f"the record has no {key}")
    return text(value, key, limit=256)


class InferenceRun:
    """Answers inference records a block at a time with the serving engine."""

    def __init__(self, pp, rec: Record):
        self.pp = pp
        c = rec.config
        version = pp.catalog.get("solution-version", c["solutionVersionArn"])
        solution = pp.catalog.get("solution", version.parent_arn) if version.parent_arn and \
            pp.catalog.select("solution", arn=version.parent_arn) else None
        self.recipe = get_recipe(version.config["recipe"])
        group = pp.catalog.get("dataset-group", version.dataset_group_arn)
        self.n = c["numResults"]
        self.filter = c.get("filterArn")
        config = c["batchInferenceJobConfig"]
        self.analyst = bool(config.get("outputTable") or config.get("outputParquet"))
        self.ep = Endpoint(rec.name, rec.arn, rec.kind, version.arn, group.name, "user" in self.recipe.inputs,
                           "item" in self.recipe.inputs, None, self.recipe,
                           {"influence": config.get("rankingInfluence") or None, "metadata": False})
        self.ep.extra["exploration"] = exploration_settings(
            "batch inference job", SimpleNamespace(name=rec.name, config={"campaignConfig": config}), version) \
            if self.recipe.explores else None
        rtype = self.recipe.recipe_type
        self.ranking = rtype == RecipeType.PERSONALIZED_RANKING
        self.key = "itemId" if rtype == RecipeType.RELATED_ITEMS else "userId"
        self.scores = rtype not in (RecipeType.RELATED_ITEMS, RecipeType.POPULAR_ITEMS) and \
            self.recipe.name != "aws-popularity-count"
        requested = (solution.config.get("requestedRecipe") if solution else None) or self.recipe.name
        self.reasons = requested.endswith("-v2")

    def close(self) -> None:
        pass

    def _request(self, record) -> tuple:
        if isinstance(record, batch_io.ParseError):
            raise InvalidInput(record.reason)
        if not isinstance(record, dict):
            raise InvalidInput(f"a record is a JSON object, not {type(record).__name__}")
        allowed = {self.key, "filterValues"} | ({"itemList"} if self.ranking else set())
        odd = sorted(set(record) - allowed)
        if odd:
            raise InvalidInput(f"unknown key {odd[0]!r}; a {self.recipe.recipe_type} record takes "
                               + ", ".join(sorted(allowed)))
        key = _string(record, self.key)
        values = _filter_values(record)
        items = None
        if self.ranking:
            items = record.get("itemList")
            if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEM_LIST or \
                    not all(isinstance(i, str) and i for i in items):
                raise InvalidInput(f"itemList must be a list of 1 to {MAX_ITEM_LIST} item ids")
            for i in items:
                text(i, "itemList", limit=256)
        return key, values, items

    def score(self, block: list) -> tuple:
        """Every record's answer (item dicts, (ids, scores, None), or an error text)."""
        engine = self.pp.engine
        answers: dict[int, Any] = {}
        groups: dict[str, tuple] = {}          # filter values -> (compiled filter, [(k, user)])
        parsed = []
        for k, (line, record) in enumerate(block):
            try:
                parsed.append(self._request(record))
            except InvalidInput as exc:
                parsed.append(None)
                answers[k] = f"line {line}: {exc}"
                continue
            key, values, items = parsed[-1]
            if self.key != "userId" or self.ranking or (values is not None and self.filter is None):
                continue
            tag = json.dumps(values, sort_keys=True)
            if tag not in groups:
                groups[tag] = (self._block_filter(values), [])
            if groups[tag][0] is not False:
                groups[tag][1].append((k, key))
        for flt, fast in groups.values():
            if fast:
                self._score_users(fast, None if flt is True else flt, block, answers)
        for k, (line, _record) in enumerate(block):
            if k in answers:
                continue
            key, values, items = parsed[k]
            try:
                with self.pp._engine.serving:
                    if self.ranking:
                        ranked = engine.rank(self.ep, key, items, None, self.filter, values)
                        answers[k] = [{"itemId": i, "score": s} for i, s in ranked]
                    else:
                        user, item = (key, None) if self.key == "userId" else (None, key)
                        answers[k] = engine.recommend(self.ep, user, item, self.n, self.filter, values, seed=line)
            except InvalidInput as exc:
                answers[k] = f"line {line}: {exc}"
        return parsed, answers

    def _block_filter(self, values):
        """True (no filter), the compiled filter when the engine evaluates it for many users
        from memory (Items predicates, events of types), else False (one request at a time)."""
        if self.filter is None:
            return True
        try:
            flt = self.pp.engine._filter(self.filter, self.ep.group, values, False)
        except InvalidInput:
            return False                    # e.g. a missing value: the line's own request says so
        return flt if flt.static or flt.parts is not None else False

    def _score_users(self, fast: list, flt, block: list, answers: dict) -> None:
        """A matrix of users at a time; exploration then per user, cold items found once."""
        engine = self.pp.engine
        store, (users, _ranks, codes, scores) = engine.recommend_batch(self.ep, [u for _k, u in fast], self.n,
                                                                       flt=flt)
        names = store.vocab.strings(codes).tolist()
        bounds = np.searchsorted(users, np.arange(len(fast) + 1))
        scores = scores.tolist()
        explore = self.ep.extra["exploration"] is not None
        if explore:
            _store, served = engine._parts(self.ep)
            cold = engine.cold_candidates(self.ep, store, served)
            histories = [store.history(user) for _k, user in fast]
            seens = [np.unique(h.items) if h is not None and h.has_events else np.zeros(0, np.int64)
                     for h in histories]
            many = getattr(served.recipe.scorer, "exploration_relevance_many", None)
            relevance = many(served.model, seens, cold[0], store.shown_counts) if many else [None] * len(fast)
        for j, (k, user) in enumerate(fast):
            lo, hi = bounds[j], bounds[j + 1]
            if not explore:
                answers[k] = (names[lo:hi], scores[lo:hi], None)
                continue
            items = [{"itemId": i, "score": sc} for i, sc in zip(names[lo:hi], scores[lo:hi])]
            answers[k] = engine._explore(self.ep, store, served, histories[j], items, self.n, flt,
                                         block[k][0], user, None, cold=cold, relevance=relevance[j],
                                         seen=seens[j])

    def emit(self, block: list, scored: tuple, out, rows) -> None:
        parsed, answers = scored
        for k, (_line, record) in enumerate(block):
            answer = answers[k]
            shown = record if isinstance(record, dict) else \
                (record.raw if isinstance(record, batch_io.ParseError) else record)
            if isinstance(answer, str):
                out.add({"input": shown, "output": None, "error": answer})
                if rows:
                    rows.add({"k": None, "items": [], "scores": []})
                continue
            if isinstance(answer, tuple):
                names, scores, _none = answer
                reasons = [[] for _ in names]
            else:
                names, scores = [i["itemId"] for i in answer], [i["score"] for i in answer]
                reasons = [i.get("reason", []) for i in answer]
            output: dict[str, Any] = {"recommendedItems": names}
            if self.scores:
                output["scores"] = np.round(scores, 7).tolist()
            if self.reasons:
                output["reason"] = reasons
            out.add({"input": record, "output": output, "error": None})
            if rows:
                rows.add({"k": parsed[k][0], "items": names, "scores": scores})
        out.flush()
        if rows:
            rows.flush()


class SegmentRun:
    """Answers segment records with the USER_SEGMENTATION recipe's scorer."""

    def __init__(self, pp, rec: Record):
        self.pp = pp
        c = rec.config
        version = pp.catalog.get("solution-version", c["solutionVersionArn"])
        self.recipe = get_recipe(version.config["recipe"])
        self.group = pp.catalog.get("dataset-group", version.dataset_group_arn)
        self.n = c["numResults"]
        self.filter = pp.catalog.get("filter", c["filterArn"]) if c.get("filterArn") else None
        config = c["batchSegmentJobConfig"]
        self.analyst = bool(config.get("outputTable") or config.get("outputParquet"))
        self.attributes = self.recipe.name == "aws-item-attribute-affinity"
        self.key = "itemAttributes" if self.attributes else "itemId"
        self.limit = SEGMENT_QUERIES.get(self.recipe.name)
        self.model = self.recipe.scorer.load(pp.con, version.arn)
        self.allowed: dict[str, np.ndarray] = {}
        self.schema = pp._schemas_of(self.group).get("Items")

    def close(self) -> None:
        pass

    def _users_allowed(self, values: dict | None) -> np.ndarray | None:
        """The model users the job's UserID filter lets through with these values."""
        if self.filter is None:
            if values:
                raise InvalidInput("filterValues given, but the job has no filter")
            return None
        key = json.dumps(values, sort_keys=True)
        if key not in self.allowed:
            from .filter_parser import parse_filter
            from .filters import compile_filter
            from .sqlkit import used_params
            schemas = self.pp._schemas_of(self.group)
            predicate, params = compile_filter(parse_filter(self.filter.config["filterExpression"]), schemas,
                                               self.group.name, values or {}, "c.USER_ID")
            sql = ("SELECT c.i FROM (SELECT unnest($pp_users::VARCHAR[]) AS USER_ID, "
                   f"unnest(range(len($pp_users::VARCHAR[]))) AS i) c WHERE {predicate}")
            found = self.pp.con.execute(sql, used_params(sql, {"pp_users": list(self.model.users), **params}))
            mask = np.zeros(len(self.model.users), dtype=bool)
            mask[np.array([i for (i,) in found.fetchall()], dtype=np.int64)] = True
            self.allowed[key] = mask
        return self.allowed[key]

    def _rows(self, query: str) -> np.ndarray:
        if not self.attributes:
            if query not in self.model.items:
                raise InvalidInput(f"item {query!r} is not in the model (it had no training interactions)")
            return np.array([self.model.items[query]], dtype=np.int64)
        from .segment_query import item_attributes
        if self.schema is None:
            raise InvalidInput("the dataset group has no Items dataset")
        conditions = item_attributes(query, self.schema)
        sql = render("batch/matching_items.sql", schema_name=self.group.name,
                     conditions=[{"column": c.column, "is_list": self.schema.field(c.column).is_list,
                                  "numeric": self.schema.field(c.column).type in ("int", "long", "float", "double"),
                                  "boolean": self.schema.field(c.column).type == "boolean"}
                                 for c in conditions])
        params = {f"v{k}": c.value for k, c in enumerate(conditions)}
        ids = [i for (i,) in self.pp.con.execute(sql, params).fetchall()]
        rows = self.model.item_rows(ids)
        if not len(rows):
            raise InvalidInput("no item of the model has these attributes")
        return rows

    def score(self, block: list) -> list:
        return block           # segments are few (<= 500 per file): scored as they are written

    def emit(self, block: list, _scored, out, rows) -> None:
        for line, record in block:
            shown = record.raw if isinstance(record, batch_io.ParseError) else record
            try:
                if isinstance(record, batch_io.ParseError):
                    raise InvalidInput(record.reason)
                if not isinstance(record, dict):
                    raise InvalidInput(f"a record is a JSON object, not {type(record).__name__}")
                odd = sorted(set(record) - {self.key, "filterValues"})
                if odd:
                    raise InvalidInput(f"unknown key {odd[0]!r}; a {self.recipe.name} record takes {self.key} "
                                       "and filterValues")
                query = _string(record, self.key) if not self.attributes else record.get(self.key)
                if self.attributes and not isinstance(query, str):
                    raise InvalidInput("the record has no itemAttributes" if query is None
                                       else "itemAttributes must be a string")
                users, scores = self.recipe.scorer.segment(self.model, self._rows(query), self.n,
                                                           self._users_allowed(_filter_values(record)))
            except InvalidInput as exc:
                line_out = {"itemAttributes": shown.get("itemAttributes") if isinstance(shown, dict) else shown} \
                    if self.attributes else {"input": shown}
                out.add({**line_out, "output": None, "error": f"line {line}: {exc}"})
                if rows:
                    rows.add({"k": None, "items": [], "scores": []})
                continue
            names = [str(u) for u in self.model.users[users]]
            head = {"itemAttributes": query} if self.attributes else {"input": record}
            out.add({**head, "output": {"recommendedUsers": names}, "error": None})
            if rows:
                rows.add({"k": query, "items": names, "scores": scores.tolist()})
        out.flush()
        if rows:
            rows.flush()



__all__ = ["InferenceRun", "SegmentRun", "MAX_ITEM_LIST", "SEGMENT_QUERIES"]
