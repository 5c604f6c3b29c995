"""Seeded Personalize-format datasets of any size for the scale benchmark, as Parquet.

``write(interactions, folder, seed)`` writes ``interactions.parquet``, ``items.parquet`` and
``users.parquet`` (with their Avro schemas as ``*.schema.json``) straight from vectorised
numpy: no per-row Python, so 25M events take seconds, not minutes. The sizes follow
MovieLens-25M at the top (``sizes(25_000_000)`` = 160k users, 60k items): users grow with
the interactions, the catalogue more slowly.

The structure is the one recommenders meet in warehouse tables:

- popularity is a power law with a long tail (Zipf, exponent ``ZIPF``);
- users' activity is lognormal (at least ``MIN_EVENTS`` each) and comes in sessions of a
  few minutes (geometric length, mean ``SESSION_LENGTH``);
- items arrive over time (``ARRIVING`` of them during the span; an event only picks items
  that exist by then) and new items are briefly in fashion (``TRENDING`` of the events pick
  among the items of the last 30 days): the popular set drifts;
- each user prefers one category (``TASTE`` of their events), and within a session the
  next event often follows the previous item to a related one (``FOLLOW``);
- three event types (click, view, purchase), item metadata with a category, a price and
  a description text, user metadata with an age and a membership.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from pypersonalize.sqlkit import quote_literal

START = 1_600_000_000                 # 2020-09-13: the span's first event
SPAN = 2 * 365 * 86_400               # two years of events
ZIPF = 1.0
MIN_EVENTS = 5
SESSION_LENGTH = 8
ARRIVING = 0.3
TRENDING = 0.10
TASTE = 0.30
FOLLOW = 0.15
EVENT_TYPES = ("click", "view", "purchase")
EVENT_SHARES = (0.65, 0.25, 0.10)
CATEGORIES = ("electronics", "books", "garden", "toys", "kitchen", "sports", "beauty", "music", "games",
              "office", "pets", "tools", "fashion", "baby", "auto", "health", "crafts", "travel")
CATEGORY_WORDS = {c: [f"{c}-{w}" for w in ("classic", "pro", "mini", "deluxe", "eco", "smart", "basic", "max")]
                  for c in CATEGORIES}
WORDS = ("new", "best", "light", "strong", "blue", "red", "green", "soft", "fast", "quiet", "compact",
         "premium", "value", "family", "outdoor", "indoor", "travel", "gift", "daily", "limited")
MEMBERSHIPS = ("free", "plus", "premium")

SCHEMAS = {
    "Interactions": {"type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
                     "version": "1.0", "fields": [
                         {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                         {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}]},
    "Items": {"type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
              "version": "1.0", "fields": [
                  {"name": "ITEM_ID", "type": "string"},
                  {"name": "CATEGORY", "type": "string", "categorical": True},
                  {"name": "PRICE", "type": "float"},
                  {"name": "DESCRIPTION", "type": "string", "textual": True},
                  {"name": "CREATION_TIMESTAMP", "type": "long"}]},
    "Users": {"type": "record", "name": "Users", "namespace": "com.amazonaws.personalize.schema",
              "version": "1.0", "fields": [
                  {"name": "USER_ID", "type": "string"}, {"name": "AGE", "type": ["null", "int"]},
                  {"name": "MEMBERSHIP", "type": "string", "categorical": True}]},
}
FILES = {"Interactions": "interactions", "Items": "items", "Users": "users"}


def sizes(interactions: int) -> tuple[int, int]:
    """(users, items) for ``interactions`` events: MovieLens-25M's 156 events a user, and a
    catalogue growing as interactions**0.6 up to its 60k items."""
    users = max(100, round(interactions / 156))
    items = max(100, round(60_000 * (interactions / 25_000_000) ** 0.6))
    return users, items


def label(interactions: int) -> str:
    """30K, 1M, 2.5M: the size as the tables name it."""
    if interactions >= 1_000_000:
        return f"{interactions / 1_000_000:g}M"
    return f"{interactions / 1000:g}K"


def frames(interactions: int, seed: int = 0) -> dict:
    """The three datasets as numpy columns (ids as integers; ``write`` makes them text)."""
    rng = np.random.default_rng(seed)
    n_users, n_items = sizes(interactions)
    items = _items(rng, n_items)
    users = _users(rng, n_users)
    events = _events(rng, interactions, items, users)
    return {"items": items, "users": users, "events": events}


def _items(rng, n: int) -> dict:
    arriving = rng.random(n) < ARRIVING
    created = np.where(arriving, START + rng.integers(0, SPAN, n), START - rng.integers(0, 3 * 365 * 86_400, n))
    created = np.sort(created)                      # item k is the k-th to arrive
    weight = (1.0 + rng.permutation(n)) ** -ZIPF    # popularity independent of arrival
    category = rng.choice(len(CATEGORIES), n, p=_category_shares())
    # the related item of a follow-up: the previous arrival of the same category (itself for the first)
    related = np.arange(n)
    for c in range(len(CATEGORIES)):
        members = np.flatnonzero(category == c)
        related[members[1:]] = members[:-1]
    price = np.round(np.exp(rng.normal(3.0, 1.0, n)), 2).astype(np.float32)
    return {"created": created, "weight": weight, "category": category, "related": related, "price": price}


def _category_shares() -> np.ndarray:
    shares = 1.0 / np.arange(1, len(CATEGORIES) + 1) ** 0.7
    return shares / shares.sum()


def _users(rng, n: int) -> dict:
    joined = START + (rng.random(n) ** 2 * SPAN * 0.8).astype(np.int64)    # more users early
    taste = rng.choice(len(CATEGORIES), n, p=_category_shares())
    age = rng.integers(18, 80, n)
    return {"joined": joined, "taste": taste, "age": age, "membership": rng.choice(3, n, p=[0.7, 0.2, 0.1])}


def _events(rng, total: int, items: dict, users: dict) -> dict:
    n_users = len(users["joined"])
    activity = rng.lognormal(0.0, 1.0, n_users)
    extra = max(0, total - MIN_EVENTS * n_users)
    counts = MIN_EVENTS + rng.multinomial(extra, activity / activity.sum())
    user = np.repeat(np.arange(n_users, dtype=np.int32), counts)
    n = len(user)
    first_of_user = np.zeros(n, dtype=bool)
    first_of_user[np.concatenate(([0], np.cumsum(counts)[:-1]))] = True
    starts = first_of_user | (rng.random(n) < 1.0 / SESSION_LENGTH)
    session = np.cumsum(starts) - 1
    n_sessions = int(session[-1]) + 1
    # a session starts at a uniform time between its user's joining and the span's end
    session_user = user[starts]
    joined = users["joined"][session_user]
    session_start = joined + (rng.random(n_sessions) * (START + SPAN - joined)).astype(np.int64)
    gaps = rng.exponential(90.0, n).astype(np.int64)
    gaps[starts] = 0
    within = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[starts], np.diff(np.append(np.flatnonzero(starts), n)))
    ts = session_start[session] + within

    item = _popular(rng, ts, items)
    mix = rng.random(n)
    taste = mix < TASTE
    item[taste] = _in_category(rng, ts[taste], users["taste"][user[taste]], items, item[taste])
    trend = (mix >= TASTE) & (mix < TASTE + TRENDING)
    item[trend] = _recent(rng, ts[trend], items, item[trend])
    follow = (mix >= 1.0 - FOLLOW) & ~starts
    previous = np.flatnonzero(follow) - 1
    item[follow] = items["related"][item[previous]]
    etype = rng.choice(len(EVENT_TYPES), n, p=EVENT_SHARES).astype(np.int8)
    return {"user": user, "item": item.astype(np.int32), "etype": etype, "ts": ts}


def _popular(rng, ts, items) -> np.ndarray:
    """Items by popularity among those that exist at each event's time."""
    cum = np.cumsum(items["weight"])
    available = np.maximum(np.searchsorted(items["created"], ts, side="right"), 1)
    return np.minimum(np.searchsorted(cum, rng.random(len(ts)) * cum[available - 1]), available - 1)


def _in_category(rng, ts, category, items, fallback) -> np.ndarray:
    out = fallback.copy()
    for c in range(len(CATEGORIES)):
        rows = np.flatnonzero(category == c)
        members = np.flatnonzero(items["category"] == c)
        if not len(rows) or not len(members):
            continue
        cum = np.cumsum(items["weight"][members])
        available = np.searchsorted(items["created"][members], ts[rows], side="right")
        ok = available > 0
        pick = np.searchsorted(cum, rng.random(ok.sum()) * cum[available[ok] - 1])
        out[rows[ok]] = members[np.minimum(pick, available[ok] - 1)]
    return out


def _recent(rng, ts, items, fallback) -> np.ndarray:
    """Items that arrived in the 30 days before each event, by popularity."""
    cum = np.concatenate(([0.0], np.cumsum(items["weight"])))
    hi = np.searchsorted(items["created"], ts, side="right")
    lo = np.searchsorted(items["created"], ts - 30 * 86_400, side="left")
    ok = hi > lo
    target = cum[lo[ok]] + rng.random(ok.sum()) * (cum[hi[ok]] - cum[lo[ok]])
    out = fallback.copy()
    out[ok] = np.clip(np.searchsorted(cum, target, side="right") - 1, lo[ok], hi[ok] - 1)
    return out


def _descriptions(rng, items: dict) -> list[str]:
    n = len(items["category"])
    own = rng.integers(0, 8, (n, 2))
    common = rng.integers(0, len(WORDS), (n, 4))
    words = np.array(WORDS, dtype=object)
    return [" ".join((CATEGORY_WORDS[CATEGORIES[c]][a], CATEGORY_WORDS[CATEGORIES[c]][b], *words[w]))
            for c, (a, b), w in zip(items["category"], own, common)]


def write(interactions: int, folder: str | Path, seed: int = 0) -> dict:
    """Write the datasets for ``interactions`` events into ``folder``; their paths and counts."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = frames(interactions, seed)
    rng = np.random.default_rng(seed + 1)
    events, items, users = data["events"], data["items"], data["users"]
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = false")
        ev = pd.DataFrame(events)                                       # noqa: F841 - read by the COPY
        types = ", ".join(f"'{t}'" for t in EVENT_TYPES)
        con.execute(f"COPY (SELECT 'u' || user AS USER_ID, 'i' || item AS ITEM_ID, "
                    f"[{types}][etype + 1] AS EVENT_TYPE, ts AS TIMESTAMP FROM ev) "
                    f"TO {quote_literal(str(folder / 'interactions.parquet'))} (FORMAT parquet)")
        it = pd.DataFrame({"item": np.arange(len(items["created"])), "category": items["category"],  # noqa: F841
                           "price": items["price"], "description": _descriptions(rng, items),
                           "created": items["created"]})
        cats = ", ".join(f"'{c}'" for c in CATEGORIES)
        con.execute(f"COPY (SELECT 'i' || item AS ITEM_ID, [{cats}][category + 1] AS CATEGORY, "
                    f"price::FLOAT AS PRICE, description AS DESCRIPTION, created AS CREATION_TIMESTAMP FROM it) "
                    f"TO {quote_literal(str(folder / 'items.parquet'))} (FORMAT parquet)")
        missing = rng.random(len(users["age"])) < 0.2
        us = pd.DataFrame({"user": np.arange(len(users["age"])),                                     # noqa: F841
                           "age": pd.array(np.where(missing, 0, users["age"]), dtype="Int32"),
                           "missing": missing, "membership": users["membership"]})
        kinds = ", ".join(f"'{m}'" for m in MEMBERSHIPS)
        con.execute(f"COPY (SELECT 'u' || user AS USER_ID, CASE WHEN missing THEN NULL ELSE age END AS AGE, "
                    f"[{kinds}][membership + 1] AS MEMBERSHIP FROM us) "
                    f"TO {quote_literal(str(folder / 'users.parquet'))} (FORMAT parquet)")
    finally:
        con.close()
    for kind, stem in FILES.items():
        (folder / f"{stem}.schema.json").write_text(json.dumps(SCHEMAS[kind], indent=1))
    return {"interactions": len(events["user"]), "users": len(users["age"]), "items": len(items["created"]),
            "files": {kind: str(folder / f"{stem}.parquet") for kind, stem in FILES.items()}}


__all__ = ["SCHEMAS", "frames", "label", "sizes", "write"]
