"""The serving engine: real-time and batch recommendations answered from memory.

Per project file and process there is one :class:`EngineState`, shared by every Project,
thread and cursor on that file: the endpoints table, each served version's model
(loaded once by its recipe's scorer, an LRU of ``MAX_MODELS``), each dataset group's
users' histories (``histories.HistoryStore``) and compiled filters. Stamps say when to
reload: every write transaction bumps the catalog stamp (endpoints and filters are read
again, a cheap query), a verb that changes a group's data bumps that group's data stamp
(its histories are read again), and ``put_events`` appends to the histories itself after
its transaction commits, so an event put a moment ago counts at once.

The pipeline of one request, as ``sql/serving/pipeline.sql`` runs it in SQL: the recipe's
own candidates -> the version's popular items after them -> exclusions (items of the
endpoint's excluded event type, the current item) -> the filter (one SQL predicate, see
``filters.py``; an Items filter's verdict is cached per values and data stamp) ->
promotions -> top n -> exploration (User-Personalization).
"""

from __future__ import annotations

import json
import math
import os
import random
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidInput
from .event_log import SeenEvents
from .histories import HistoryStore, Vocab
from .recipes import Recipe, Request, get_recipe
from .sqlkit import render, used_params
from .texts import text

MAX_MODELS = 32            # versions held in memory per project file (least recently used go)
MAX_FILTERS = 256          # compiled filter requests and Items-filter verdicts kept
LOG_BATCH = 64             # implicit-impression lists written to the file together
LOG_SECONDS = 1.0          # ... or after this long


@dataclass
class Endpoint:
    """A campaign's or recommender's row of ``pypersonalize.endpoints``."""

    name: str
    arn: str
    kind: str
    version_arn: str
    group: str
    requires_user: bool
    requires_item: bool
    exclude_event_type: str | None
    recipe: Recipe | None          # None: a recipe this process does not know (see extra["recipe"])
    extra: dict = field(default_factory=dict)      # exploration settings, filled on first use


@dataclass
class Served:
    """One version in memory: its recipe's model and its popular items (the fallback)."""

    recipe: Recipe
    model: Any
    popular: np.ndarray            # vocabulary codes, by rank
    popular_scores: np.ndarray
    outside: dict = field(default_factory=dict)   # id(universe) -> popular items outside it


class EngineState:
    """What the engine holds for one project file (see the module docstring)."""

    def __init__(self):
        self.lock = threading.RLock()
        # One request answered at a time: its numpy steps are short and hand the GIL back
        # and forth, so many threads answering at once only queue for it (measured: 0.6x
        # the throughput of one thread); waiting on this lock instead costs nothing.
        self.serving = threading.Lock()
        self.catalog_stamp = 0
        self.data_stamps: dict[str, int] = {}
        self.vocabs: dict[str, Vocab] = {}
        self.stores: dict[str, tuple[int, HistoryStore]] = {}
        self.seen: dict[str, tuple[int, SeenEvents]] = {}
        self.models: OrderedDict[str, Served] = OrderedDict()
        self.endpoints: tuple[int, dict] | None = None
        self.filters: OrderedDict = OrderedDict()
        self._memo: dict = {}
        self.pending_log: list[tuple] = []
        self.log_since = 0.0
        self.users = 0

    # -- stamps -----------------------------------------------------------------------

    def catalog_changed(self) -> None:
        with self.lock:
            self.catalog_stamp += 1

    def data_changed(self, group: str | None = None) -> None:
        """``group``'s data changed behind the histories (None: any group's may have)."""
        with self.lock:
            self.catalog_stamp += 1
            for name in ([group] if group else set(self.data_stamps) | set(self.stores)):
                self.data_stamps[name] = self.data_stamps.get(name, 0) + 1

    def memo(self, key, compute):
        """``compute()`` once per catalog stamp (catalog look-ups a hot path would repeat)."""
        stamp = self.catalog_stamp
        hit = self._memo.get(key)
        if hit is None or hit[0] != stamp:
            hit = self._memo[key] = (stamp, compute())
        return hit[1]

    # -- endpoints --------------------------------------------------------------------

    def endpoint(self, con, ref: str, kind: str | None = None) -> Endpoint | None:
        table = self.endpoints
        if table is None or table[0] != self.catalog_stamp:
            with self.lock:
                stamp = self.catalog_stamp
                rows = con.execute("SELECT name, arn, kind, version_arn, dataset_group, requires_user, "
                                   "requires_item, exclude_event_type, recipe FROM pypersonalize.endpoints"
                                   ).fetchall()
                by_ref = {}
                for name, arn, k, version, group, ru, ri, ex, recipe in rows:
                    try:
                        known = get_recipe(recipe)
                    except InvalidInput:        # a recipe this process has not registered
                        known = None
                    ep = Endpoint(name, arn, k, version, group, ru, ri, ex, known, {"recipe": recipe})
                    by_ref[(k, arn)] = by_ref[(k, name)] = by_ref[(None, arn)] = by_ref[(None, name)] = ep
                table = self.endpoints = (stamp, by_ref)
        return table[1].get((kind, ref))

    # -- histories and models ---------------------------------------------------------

    def store(self, con, group: str) -> HistoryStore:
        stamp = self.data_stamps.get(group, 0)
        held = self.stores.get(group)
        if held is not None and held[0] == stamp:
            return held[1]
        with self.lock:
            stamp = self.data_stamps.get(group, 0)
            held = self.stores.get(group)
            if held is not None and held[0] == stamp:
                return held[1]
            cols = {c for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                "AND schema_name = $g AND table_name = 'interactions'", {"g": group}).fetchall()}
            vocab = self.vocabs.setdefault(group, Vocab())
            store = HistoryStore.load(con, group, "IMPRESSION" in cols, "RECOMMENDATION_ID" in cols, vocab)
            self.stores[group] = (stamp, store)
            return store

    def seen_events(self, con, group: str) -> SeenEvents:
        """The event log's memory of ``group`` (event_log.py), read again when its data changed."""
        with self.lock:
            stamp = self.data_stamps.get(group, 0)
            held = self.seen.get(group)
            if held is None or held[0] != stamp:
                held = self.seen[group] = (stamp, SeenEvents(con, group))
            return held[1]

    def served(self, con, ep: Endpoint, vocab: Vocab) -> Served:
        held = self.models.get(ep.version_arn)
        if held is not None:
            try:
                self.models.move_to_end(ep.version_arn, last=True)
            except KeyError:        # evicted by another thread meanwhile; still good to serve
                pass
            return held
        with self.lock:
            held = self.models.get(ep.version_arn)
            if held is None:
                model = ep.recipe.scorer.load(con, ep.version_arn, vocab)
                rows = con.execute("SELECT item, score FROM pypersonalize.popular_items WHERE version_arn = $v "
                                   "ORDER BY rank", {"v": ep.version_arn}).fetchnumpy()
                held = Served(ep.recipe, model, vocab.codes(list(np.asarray(rows["item"], dtype=object))),
                              np.asarray(rows["score"], dtype=np.float64))
                self.models[ep.version_arn] = held
                while len(self.models) > MAX_MODELS:
                    self.models.popitem(last=False)
            return held

    def forget(self, version_arn: str) -> None:
        with self.lock:
            self.models.pop(version_arn, None)


_STATES: dict[Any, EngineState] = {}
_STATES_LOCK = threading.Lock()


def attach(path: str, token: object) -> tuple[Any, EngineState]:
    """The state of the file at ``path`` (an in-memory project gets its own, by ``token``)."""
    key = ("memory", id(token)) if path == ":memory:" else str(Path(path).resolve())
    with _STATES_LOCK:
        state = _STATES.setdefault(key, EngineState())
        state.users += 1
    return key, state


def detach(key) -> None:
    with _STATES_LOCK:
        state = _STATES.get(key)
        if state is not None:
            state.users -= 1
            if state.users <= 0:
                del _STATES[key]


# -- the pipeline ---------------------------------------------------------------------

def _excluded(ep: Endpoint, store: HistoryStore, history, item: int | None) -> np.ndarray:
    parts = []
    if ep.exclude_event_type is not None and history is not None and history.has_events:
        if ep.exclude_event_type == "*":
            parts.append(history.items)
        else:
            code = store.type_names.index(ep.exclude_event_type) \
                if ep.exclude_event_type in store.type_names else -2
            parts.append(history.items[history.types == code])
    if item is not None:
        parts.append(np.array([item], dtype=np.int64))
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def _recent_items(store: HistoryStore, history, types, window: int) -> np.ndarray:
    """Items of the user's ``window`` most recent events of each event type (case-insensitive),
    of the types in ``types`` (None: every type), as an Interactions filter reads them."""
    if history is None or not history.has_events:
        return np.zeros(0, dtype=np.int64)
    lowered = np.array([t.lower() for t in store.type_names] + [""], dtype=object)[history.types]
    picked = []
    for name in set(lowered.tolist()):
        if types is not None and name not in types:
            continue
        rows = np.flatnonzero(lowered == name)[-window:]
        picked.append(history.items[rows])
    return np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)


def _candidates(served: Served, ranked) -> tuple[np.ndarray, np.ndarray]:
    """The recipe's own candidates, then the popular items they do not cover; those are
    scaled to at most half the lowest own score (when they would reach it), so that no
    score rises down the list and the two parts never tie."""
    if ranked.universe is not None:
        key = id(ranked.universe)
        rest = served.outside.get(key)
        if rest is None:
            keep = ~np.isin(served.popular, ranked.universe)
            rest = served.outside[key] = (served.popular[keep], served.popular_scores[keep])
    elif len(ranked.items):
        keep = ~np.isin(served.popular, ranked.items)
        rest = (served.popular[keep], served.popular_scores[keep])
    else:
        rest = (served.popular, served.popular_scores)
    if not len(ranked.items):
        return rest
    floor = ranked.floor if ranked.floor is not None else float(ranked.scores.min())
    top = float(rest[1].max()) if len(rest[1]) else 0.0
    # half the lowest own score at most: below it, and never tied with the last own item
    scores = rest[1] * (floor / (2 * top)) if top >= floor and top > 0 else rest[1]
    return np.concatenate((ranked.items, rest[0])), np.concatenate((ranked.scores, scores))


class Pipeline:
    """Requests of one Project answered by the engine (the Project gives connection and catalog)."""

    def __init__(self, pp, state: EngineState):
        self.pp = pp
        self.state = state

    # -- looking things up ----------------------------------------------------------

    def endpoint(self, kind: str | None, ref: str) -> Endpoint:
        ep = self.state.endpoint(self.pp.con, ref, kind)
        if ep is None:
            if kind is None:
                raise InvalidInput(f"no campaign or recommender named {ref!r}")
            rec = self.pp.catalog.get(kind, ref)
            raise InvalidInput(f"{kind} {rec.name!r} is {rec.status}, not serving")
        if ep.recipe is None:
            raise InvalidInput(f"{ep.kind} {ep.name!r} serves a version of recipe {ep.extra['recipe']!r}, "
                               "which this installation of pypersonalize does not have")
        return ep

    def version_endpoint(self, version_arn: str, group: str, recipe: Recipe) -> Endpoint:
        """A version that no campaign may serve, scored as if one did (score_users)."""
        return Endpoint("", "", "version", version_arn, group, False, False, None, recipe)

    def _parts(self, ep: Endpoint):
        con = self.pp.con
        store = self.state.store(con, ep.group)
        return store, self.state.served(con, ep, store.vocab)

    # -- filters --------------------------------------------------------------------

    def _filter(self, ref: str, group: str, values: dict | None, related: bool, prefix: str = "p"):
        """A request's filter (filters.RequestFilter), compiled once per values."""
        text(ref, "filter")
        if values is not None:
            if not isinstance(values, dict):
                raise InvalidInput("filter_values must map value names to strings, e.g. "
                                   "{\"GENRES\": '\"Comedy\",\"Drama\"'}")
            for name, value in values.items():
                text(name, "filter_values name")
                text(value, f"filter value {name}")
        key = ("filter", ref, group, json.dumps(values, sort_keys=True, default=str), related, prefix,
               self.state.catalog_stamp)
        hit = self.state.filters.get(key)
        if hit is None:
            hit = self.pp._filter_request(ref, group, values, "r.item_id", prefix=prefix, related=related)
            self._remember(key, hit)
        return hit

    def _remember(self, key, value) -> None:
        with self.state.lock:
            self.state.filters[key] = value
            while len(self.state.filters) > MAX_FILTERS:
                self.state.filters.popitem(last=False)

    def allowed(self, flt, store: HistoryStore, codes: np.ndarray, user_id, item_id,
                history=None) -> np.ndarray:
        """Which of ``codes`` pass the compiled filter ``flt`` (a filters.RequestFilter)."""
        if not len(codes):
            return np.zeros(0, dtype=bool)
        if flt.parts is not None:
            include, exclude = None, np.zeros(len(codes), dtype=bool)
            for part in flt.parts:
                if part.predicate is not None:
                    member = self._static(part.predicate, part.params, store, codes)
                else:
                    member = np.isin(codes, _recent_items(store, history, part.event_types, part.window))
                if part.action == "INCLUDE":
                    include = member if include is None else include | member
                else:
                    exclude |= member
            return (np.ones(len(codes), dtype=bool) if include is None else include) & ~exclude
        if flt.static:
            return self._static(flt.predicate, flt.params, store, codes)
        return self._run_filter(flt.predicate, flt.params, store, codes, user_id, item_id)

    def _static(self, predicate: str, params: dict, store: HistoryStore, codes: np.ndarray) -> np.ndarray:
        """A user-independent predicate's verdict on every item, computed once per data stamp."""
        key = ("mask", predicate, json.dumps(params, sort_keys=True, default=str), store.group,
               self.state.data_stamps.get(store.group, 0))
        mask = self.state.filters.get(key)
        if mask is None or codes.max() >= len(mask):
            everything = np.arange(len(store.vocab), dtype=np.int64)
            mask = self._run_filter(predicate, params, store, everything, None, None)
            self._remember(key, mask)
        return mask[codes]

    def _run_filter(self, predicate: str, params: dict, store: HistoryStore, codes, user_id, item_id,
                    names: list[str] | None = None) -> np.ndarray:
        """One query: which of the items (``codes``, or ids ``names``) pass ``predicate``."""
        sql = (f"SELECT r.i FROM (SELECT unnest($pp_items::VARCHAR[]) AS item_id, "
               f"unnest(range(len($pp_items::VARCHAR[]))) AS i) r WHERE {predicate}")
        names = list(store.vocab.strings(codes)) if names is None else names
        bound = used_params(sql, {"pp_items": names, **params, "user_id": user_id, "item_id": item_id})
        passed = np.array([i for (i,) in self.pp.con.execute(sql, bound).fetchall()], dtype=np.int64)
        out = np.zeros(len(names), dtype=bool)
        out[passed] = True
        return out

    # -- get_recommendations --------------------------------------------------------

    def recommend(self, ep: Endpoint, user_id, item_id, n: int, filter=None, filter_values=None,
                  promotions=None, seed=None, context=None, explain: bool = False) -> list[dict]:
        """One get_recommendations request's item list (the caller holds ``state.serving``)."""
        if explain and not hasattr(ep.recipe.scorer, "explain"):
            raise InvalidInput(f"explain is not supported yet for {ep.recipe.name}")
        store, served = self._parts(ep)
        history = store.history(user_id)
        item = store.vocab.lookup(item_id)
        excluded = _excluded(ep, store, history, item)
        related = ep.recipe.recipe_type == "RELATED_ITEMS"
        flt = None
        if filter is not None:
            flt = self._filter(filter, ep.group, filter_values, related)
        elif filter_values:
            raise InvalidInput("filter_values given without a filter")
        full = flt is not None or promotions
        request = Request(history, item, context, store, self._influence(ep))
        ranked = ep.recipe.scorer.recommend(served.model, [request], None if full else n + len(excluded))[0]
        codes, scores = _candidates(served, ranked)
        if len(excluded):
            keep = ~np.isin(codes, excluded)
            codes, scores = codes[keep], scores[keep]
        if promotions:
            out = self._promoted(ep, store, codes, scores, n, flt, promotions, seed, related, user_id, item_id,
                                 history)
        else:
            if flt is not None:
                codes, scores = self._passing(flt, store, codes, scores, n, user_id, item_id, history)
            names = store.vocab.strings(codes[:n])
            out = [{"itemId": i, "score": float(s)} for i, s in zip(names, scores[:n])]
        if ep.recipe.explores and user_id is not None:
            out = self._explore(ep, store, served, history, out, n, flt, seed, user_id, item_id)
        if explain:
            self._explain(ep, store, served, request, out)
        return out

    def _explain(self, ep: Endpoint, store, served: Served, request: Request, out: list[dict]) -> None:
        """Each item's ``"explanation"``: the recipe's own (Scorer.explain) for the items it
        ranked; promoted items, exploration slots and the popular fill say why they are there."""
        own = [k for k, i in enumerate(out) if "promotionName" not in i and "Exploration" not in i.get("reason", ())]
        codes = store.vocab.known([out[k]["itemId"] for k in own])
        scores = np.array([out[k]["score"] for k in own], dtype=np.float64)
        found = ep.recipe.scorer.explain(served.model, request, codes, scores) if len(own) else []
        for k, e in zip(own, found):
            out[k]["explanation"] = e
        for item in out:
            if "promotionName" in item:
                item["explanation"] = {"text": f"promotion {item['promotionName']}", "kind": "promotion"}
            elif "Exploration" in item.get("reason", ()):
                item["explanation"] = {"text": "exploration: a new item with few interactions", "kind": "exploration"}

    def _passing(self, flt, store, codes, scores, n, user_id, item_id, history):
        """The candidates passing the filter, enough of them for ``n`` (best first)."""
        if flt.static or flt.parts is not None:
            ok = self.allowed(flt, store, codes, user_id, item_id, history)
            return codes[ok], scores[ok]
        # a per-user filter costs a query: ask about the best few first, the rest if needed
        head = min(len(codes), max(4 * n, 100))
        ok = self.allowed(flt, store, codes[:head], user_id, item_id, history)
        if ok.sum() < n and head < len(codes):
            ok = np.concatenate((ok, self.allowed(flt, store, codes[head:], user_id, item_id, history)))
            return codes[ok], scores[ok]
        return codes[:head][ok], scores[:head][ok]

    def _promoted(self, ep, store, codes, scores, n, flt, promotions, seed, related, user_id, item_id, history):
        """Personalize's promotions: ceil(n * pct / 100) slots for the best items of a filter.

        Promoted items keep their order among themselves and take random positions among
        the others (reproducible with ``seed``); the request's filter applies to the others.
        """
        from .catalog import check_name
        if not isinstance(promotions, list) or len(promotions) != 1 or not isinstance(promotions[0], dict):
            raise InvalidInput("promotions must be a list with exactly one promotion (Personalize's limit)")
        promo = promotions[0]
        name = check_name(promo.get("name"), "promotion")
        pct = promo.get("percentPromotedItems")
        if isinstance(pct, bool) or not isinstance(pct, int) or not 1 <= pct <= 100:
            raise InvalidInput(f"percentPromotedItems must be an integer from 1 to 100, got {pct!r}")
        promo_filter = promo.get("filterArn") or promo.get("filter")
        if not promo_filter:
            raise InvalidInput("a promotion needs a filterArn (or filter) naming its filter")
        k = -(-n * pct // 100)
        promo_flt = self._filter(promo_filter, ep.group, promo.get("filterValues"), related, prefix="q")
        promo_ok = self.allowed(promo_flt, store, codes, user_id, item_id, history)
        picked = np.flatnonzero(promo_ok)[:k]
        rest_ok = self.allowed(flt, store, codes, user_id, item_id, history) if flt is not None \
            else np.ones(len(codes), dtype=bool)
        rest_ok[picked] = False
        others = np.flatnonzero(rest_ok)[: n - len(picked)]
        promoted = [{"itemId": i, "score": float(s), "promotionName": name}
                    for i, s in zip(store.vocab.strings(codes[picked]), scores[picked])]
        rest = [{"itemId": i, "score": float(s)} for i, s in zip(store.vocab.strings(codes[others]), scores[others])]
        total = len(promoted) + len(rest)
        slots = sorted(random.Random(seed).sample(range(total), len(promoted)))
        merged, p, o = [], iter(promoted), iter(rest)
        for position in range(total):
            merged.append(next(p) if slots and position == slots[0] else next(o))
            if slots and position == slots[0]:
                slots.pop(0)
        return merged

    def _influence(self, ep: Endpoint) -> dict | None:
        """The campaign's rankingInfluence, for recipes that apply it (read once per endpoint)."""
        if not ep.recipe.ranking_factors:
            return None
        if "influence" not in ep.extra:
            rec = self.pp.catalog.get(ep.kind, ep.arn)
            config = rec.config.get("campaignConfig") or rec.config.get("recommenderConfig") or {}
            ep.extra["influence"] = config.get("rankingInfluence") or None
        return ep.extra["influence"]

    # -- metadata in recommendations ------------------------------------------------

    def metadata_enabled(self, ep: Endpoint) -> bool:
        """The endpoint's enableMetadataWithRecommendations (read once per catalog stamp)."""
        if "metadata" not in ep.extra:
            rec = self.pp.catalog.get(ep.kind, ep.arn)
            config = rec.config.get("campaignConfig") or rec.config.get("recommenderConfig") or {}
            ep.extra["metadata"] = config.get("enableMetadataWithRecommendations") is True
        return ep.extra["metadata"]

    def item_columns(self, group: str) -> dict[str, str]:
        """The group's Items columns, upper-cased name -> name (empty: no Items dataset)."""
        return {k: c for k, (c, _t) in self._item_columns(group).items()}

    def _item_columns(self, group: str) -> dict[str, tuple[str, str]]:
        def read():
            rows = self.pp.con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
                "AND schema_name = $g AND table_name = 'items'", {"g": group}).fetchall()
            return {c.upper(): (c, t) for c, t in rows}
        return self.state.memo(("item_columns", group), read)

    def add_metadata(self, ep: Endpoint, items: list[dict], columns: list[str]) -> None:
        """Add ``"metadata": {column: value as text}`` to every item; NULL values are left out,
        items without an Items row get an empty map. The columns of the whole Items table are
        read once per column set and data stamp (sql/serving/item_metadata.sql), so a request
        costs dict look-ups."""
        if not items:
            return
        key = ("metadata", ep.group, tuple(columns), self.state.data_stamps.get(ep.group, 0))
        found = self.state.filters.get(key)
        if found is None:
            types = dict(self._item_columns(ep.group).values())
            sql = render("serving/item_metadata.sql", schema_name=ep.group, columns=columns,
                         lists=[c for c in columns if types.get(c, "").endswith("[]")])
            rows = self.pp.con.execute(sql).fetchall()
            found = {r[0]: {c: v for c, v in zip(columns, r[1:]) if v is not None} for r in rows}
            self._remember(key, found)
        for item in items:
            item["metadata"] = dict(found.get(item["itemId"], {}))

    # -- exploration ----------------------------------------------------------------

    def _exploration(self, ep: Endpoint):
        """(weight, age cut-off days, cold interactions, reference time or None), or None."""
        if "exploration" not in ep.extra:
            pp = self.pp
            rec = pp.catalog.get(ep.kind, ep.arn)
            version = pp.catalog.get("solution-version", ep.version_arn)
            ep.extra["exploration"] = exploration_settings(ep.kind, rec, version)
        settings = ep.extra["exploration"]
        if settings is None:
            return None
        weight, age, cold_max, current_time = settings
        return weight, age, cold_max, int(time.time()) if current_time else None

    def cold_candidates(self, ep, store, served):
        """The endpoint's cold items in id order (codes, ids, each code's position or -1), or
        None when it does not explore. Cold items are listed in id order, as the SQL this
        replaced listed them: the seeded random tie-break of ``_explore`` then picks the same
        items. They depend only on the served model and the settings (with ``currentTime``,
        on the second), so the last list is kept for the requests that follow."""
        settings = self._exploration(ep)
        if settings is None:
            return None
        weight, age_days, cold_max, reference = settings
        key = (age_days, cold_max, reference)
        kept = ep.extra.get("cold")
        if kept is not None and kept[0] is served and kept[1] == key:
            return kept[2]
        codes = served.recipe.scorer.cold_items(served.model, age_days, cold_max, reference)
        names = store.vocab.strings(codes)
        order = np.argsort(names.astype(str), kind="stable")
        codes, names = codes[order], names[order]
        where = np.full(int(codes.max()) + 1 if len(codes) else 0, -1, dtype=np.int64)
        where[codes] = np.arange(len(codes))
        ep.extra["cold"] = (served, key, (codes, names, where))
        return codes, names, where

    def _explore(self, ep, store, served, history, items: list[dict], n: int, flt, seed, user_id, item_id,
                 cold=None, relevance=None, seen=None):
        """Give ``round(n * weight / 2)`` slots of ``items`` to cold items (see README).
        Batch jobs compute for many users at once ``cold`` (``cold_candidates``) and each
        user's ``relevance`` to every one of them (``exploration_relevance_many``) and ``seen``
        items."""
        settings = self._exploration(ep)
        if settings is None:
            return items[:n]
        weight = settings[0]
        k = min(n, int(math.floor(n * weight / 2 + 0.5)))
        if k == 0:
            return items[:n]
        pm = served.model
        codes, names, where = cold if cold is not None else self.cold_candidates(ep, store, served)
        if seen is None:
            seen = np.unique(history.items) if history is not None and history.has_events else np.zeros(0, np.int64)
        if relevance is None:       # of the whole (kept) cold list: the scorer keeps its token rows
            relevance = served.recipe.scorer.exploration_relevance(pm, seen, codes, store.shown_counts)
        taken = store.vocab.known([i["itemId"] for i in items[:n]])
        keep = np.ones(len(codes), dtype=bool)
        for found in (seen, taken):             # positions in the cold list: no search per user
            found = found[(found >= 0) & (found < len(where))]
            at = where[found]
            keep[at[at >= 0]] = False
        codes, names, relevance = codes[keep], names[keep], relevance[keep]
        if flt is not None and len(codes):
            ok = self.allowed(flt, store, codes, user_id, item_id, history)
            codes, names, relevance = codes[ok], names[ok], relevance[ok]
        rng = random.Random(seed)
        # by relevance, ties in a seeded random order (one draw per cold item, in list order)
        draws = np.random.default_rng(rng.getrandbits(64)).random(len(names))
        ranked = names[np.lexsort((draws, -np.asarray(relevance, dtype=np.float64)))[:k]].tolist()
        explored = [{"itemId": item, "score": 0.0, "reason": ["Exploration"]} for item in ranked]
        kept = items[: n - len(explored)]
        slots = sorted(rng.sample(range(len(kept) + len(explored)), len(explored)))
        out, e, o = [], iter(explored), iter(kept)
        for pos in range(len(kept) + len(explored)):
            out.append(next(e) if pos in slots else next(o))
        return out

    # -- implicit impressions -------------------------------------------------------

    def log(self, ep: Endpoint, user_id, items: list[dict], rid: str) -> None:
        """Remember a User-Personalization list whose later events count its items as shown."""
        if self.pp.read_only or not ep.recipe.logs_recommendations or user_id is None or not items:
            return
        store, _served = self._parts(ep)
        if not store.has_recommendation_id:
            return
        ids = [i["itemId"] for i in items]
        store.log(rid, ids)
        state = self.state
        with state.lock:
            if not state.pending_log:
                state.log_since = time.monotonic()
            state.pending_log.append((rid, ep.group, user_id, ids))
            due = len(state.pending_log) >= LOG_BATCH or time.monotonic() - state.log_since > LOG_SECONDS
        if due:
            self.flush_log()

    def flush_log(self) -> None:
        """Write the remembered lists to ``recommendation_log`` (one transaction)."""
        if self.state.pending_log and not self.pp.read_only:
            with self.pp._transaction(changes=False):
                self.write_log(self.pp.con)

    def write_log(self, con) -> None:
        """Inside a write transaction: every write first writes the lists remembered so far,
        so the file has them before any event that names one."""
        state = self.state
        with state.lock:
            rows, state.pending_log = state.pending_log, []
        if rows:
            con.executemany("INSERT INTO pypersonalize.recommendation_log VALUES ($1, $2, $3, $4, now())", rows)

    # -- Personalized-Ranking and batches ---------------------------------------------

    def rank(self, ep: Endpoint, user_id: str, input_list: list[str], context, filter, filter_values):
        store, served = self._parts(ep)
        items = list(dict.fromkeys(input_list))
        codes = store.vocab.known(items)          # ids from a request never grow the vocabulary
        history = store.history(user_id)
        if filter is not None:
            flt = self._filter(filter, ep.group, filter_values, False)
            known = codes >= 0
            ok = np.zeros(len(codes), dtype=bool)
            ok[known] = self.allowed(flt, store, codes[known], user_id, None, history)
            if not known.all():      # ids we never saw (an Items filter may still pass them)
                unknown = [i for i, k in zip(items, known) if not k]
                ok[~known] = self._run_filter(flt.predicate, flt.params, store, None, user_id, None, unknown)
            items = [i for i, keep in zip(items, ok) if keep]
            codes = codes[ok]
        elif filter_values:
            raise InvalidInput("filter_values given without a filter")
        popularity = dict(zip(served.popular.tolist(), served.popular_scores.tolist()))
        request = Request(history, None, context, store)
        return served.recipe.scorer.rank(served.model, request, items, codes, popularity)

    def recommend_batch(self, ep: Endpoint, user_ids: list, n: int, chunk: int = 128, flt=None):
        """(user index, rank, item code, score) arrays for many users.

        Blocks of ``chunk`` users are scored at once, on as many threads as there are cores
        (numpy and scipy release the GIL for the heavy steps), each with one BLAS thread;
        128 users a block scored fastest at 60k items (64-512 measured). ``flt``: a compiled filter the
        engine evaluates from memory (static or by parts); each user's list is then the
        first ``n`` passing items of a longer ranking, or of the whole one when too few pass
        (the same items get_recommendations gives)."""
        store, served = self._parts(ep)
        influence = self._influence(ep)
        mask = None                 # an Items filter's verdict on every item, when the scorer can use it
        if flt is not None and getattr(ep.recipe.scorer, "masks_items", False) and \
                (flt.static or (flt.parts is not None and all(p.predicate is not None for p in flt.parts))):
            mask = self.allowed(flt, store, np.arange(len(store.vocab), dtype=np.int64), None, None)

        def listed(r, ex, user, history, final):
            codes, sc = _candidates(served, r)
            own = np.arange(len(codes)) < len(r.items)
            if len(ex):
                keep = ~np.isin(codes, ex)
                codes, sc, own = codes[keep], sc[keep], own[keep]
            if flt is None:
                return codes[:n], sc[:n]
            if mask is not None:
                ok = np.zeros(len(codes), dtype=bool)
                inside = codes < len(mask)
                ok[inside] = mask[codes[inside]]
            else:
                ok = self.allowed(flt, store, codes, user, None, history)
            if not final and r.universe is not None and len(r.items) < len(r.universe) and (ok & own).sum() < n:
                return None                 # the longer ranking has too few: rank everything
            return codes[ok][:n], sc[ok][:n]

        def block(start: int):
            part = user_ids[start:start + chunk]
            histories = [store.history(u) for u in part]
            excluded = [_excluded(ep, store, h, None) for h in histories]
            limit = n + max((len(e) for e in excluded), default=0)
            if flt is not None:
                limit += max(3 * n, 100)
            requests = [Request(h, None, None, store, influence) for h in histories]
            got: list = [None] * len(part)
            todo = list(range(len(part)))
            while todo:             # users with too few passing items are ranked again, 8x deeper
                subset = [requests[k] for k in todo]
                ranked = ep.recipe.scorer.recommend(served.model, subset, limit, allowed=mask) \
                    if mask is not None else ep.recipe.scorer.recommend(served.model, subset, limit)
                for k, r in zip(todo, ranked):
                    got[k] = listed(r, excluded[k], part[k], histories[k], limit is None)
                todo = [k for k in todo if got[k] is None]
                limit = limit * 8 if limit is not None and limit < 100_000 else None
            return [(start + k, *g) for k, g in enumerate(got)]

        starts = range(0, len(user_ids), chunk)
        workers = min(len(starts), os.cpu_count() or 1)
        if workers > 1:
            from threadpoolctl import threadpool_limits
            with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
                blocks = list(pool.map(block, starts))
        else:
            blocks = [block(s) for s in starts]
        rows = [r for b in blocks for r in b]
        if not rows:
            return store, (np.zeros(0, np.int64),) * 3 + (np.zeros(0),)
        return store, (np.concatenate([np.full(len(c), k) for k, c, _ in rows]),
                       np.concatenate([np.arange(1, len(c) + 1) for _, c, _ in rows]),
                       np.concatenate([c for _, c, _ in rows]), np.concatenate([s for _, _, s in rows]))


def exploration_settings(kind: str, rec, version) -> tuple | None:
    """An endpoint's exploration: (weight, age cut-off days, cold interactions, count from now).

    HRNN-Coldstart's cold items are its ``cold_start_*`` settings: created within
    ``cold_start_max_duration`` days of the newest item or of now."""
    from .numbers import finite
    hp = version.config["hyperparameters"]
    if "exploration_weight" not in hp:
        return None
    config = rec.config.get("campaignConfig") or rec.config.get("recommenderConfig") or {}
    explore = config.get("itemExplorationConfig") or {}
    weight = finite(explore.get("explorationWeight", hp["exploration_weight"]),
                    f"{kind} {rec.name!r}: explorationWeight")
    age = finite(explore.get("explorationItemAgeCutOff",
                             hp.get("cold_start_max_duration", hp["exploration_item_age_cut_off"])),
                 f"{kind} {rec.name!r}: explorationItemAgeCutOff")
    if weight <= 0:
        return None
    return weight, age, int(hp.get("cold_start_max_interactions", 15)), \
        hp.get("cold_start_relative_from") == "currentTime"


__all__ = ["EngineState", "Pipeline", "attach", "detach"]
