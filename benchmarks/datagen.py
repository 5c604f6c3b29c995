"""Seeded generated datasets for the benchmarks, written as Personalize CSV files.

``ml1m_like``: MovieLens-1M-sized interactions (6,040 users, 3,700 items, 1M events by
default) with an Items dataset (GENRES, YEAR, CREATION_TIMESTAMP). Item popularity is a
power law, each user prefers one genre, users' activity is heavy-tailed (at least 20 events
each, as in MovieLens) and every user's events come in sessions spread over three years.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd

# MovieLens-1M's 18 genres, with weights for how often a genre is an item's first genre.
GENRES = ("Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
          "Thriller", "War", "Western")
GENRE_WEIGHTS = np.array([8, 4, 2, 3, 18, 3, 2, 22, 1, 1, 5, 2, 2, 6, 4, 8, 2, 1], dtype=float)

START = 956_700_000                   # 2000-04-25, where MovieLens-1M starts
SPAN = 3 * 365 * 86_400               # three years of events
MIN_EVENTS = 20                       # every MovieLens user has at least 20 ratings
SESSION_LENGTH = 8                    # mean events per session (geometric)
TASTE = 0.6                           # share of a user's events drawn from the preferred genre
RATE_SHARE = 0.15                     # events of type "rate"; the rest are "watch"
NEW_ITEMS = 0.05                      # items created in the last 30 days (cold items to explore)

SCHEMAS = {
    "Interactions": {"type": "record", "name": "Interactions", "version": "1.0", "fields": [
        {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}]},
    "Items": {"type": "record", "name": "Items", "version": "1.0", "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": "string", "categorical": True},
        {"name": "YEAR", "type": "int"},
        {"name": "CREATION_TIMESTAMP", "type": "long"}]},
}


def _items(rng: np.random.Generator, n: int) -> pd.DataFrame:
    first = rng.choice(len(GENRES), n, p=GENRE_WEIGHTS / GENRE_WEIGHTS.sum())
    # up to two more genres; a draw equal to the first genre (or to each other) is dropped
    extra = rng.choice(len(GENRES), (n, 2), p=GENRE_WEIGHTS / GENRE_WEIGHTS.sum())
    extra[rng.random((n, 2)) < np.array([0.45, 0.8])] = -1
    names = np.array(GENRES, dtype=object)
    genres = [names[f] + "".join("|" + names[e] for e in dict.fromkeys(row) if e >= 0 and e != f)
              for f, row in zip(first, extra)]
    year = np.clip(2000 - rng.exponential(12, n).astype(int), 1919, 2000)
    created = START - rng.integers(0, 5 * 365 * 86_400, n)
    new = rng.random(n) < NEW_ITEMS
    created[new] = START + SPAN - rng.integers(0, 30 * 86_400, new.sum())
    return pd.DataFrame({"ITEM_ID": np.arange(1, n + 1).astype(str), "GENRES": genres,
                         "YEAR": year, "CREATION_TIMESTAMP": created, "genre": first})


def _activity(rng: np.random.Generator, users: int, interactions: int) -> np.ndarray:
    """Events per user: a floor plus a lognormal share of the rest, summing to ``interactions``."""
    floor = min(MIN_EVENTS, interactions // users)
    share = rng.lognormal(0.0, 1.1, users)
    counts = floor + np.floor(share / share.sum() * (interactions - floor * users)).astype(np.int64)
    counts += np.bincount(rng.choice(users, interactions - counts.sum()), minlength=users)
    return counts


def _timestamps(rng: np.random.Generator, user: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sessions: gaps of 30 s to 10 min inside a session, days between sessions; each
    user's events start at a random time and are squeezed to end inside the window."""
    n = len(user)
    offsets = np.r_[0, np.cumsum(counts)[:-1]]
    first = np.zeros(n, dtype=bool)
    first[offsets] = True
    new_session = rng.random(n) < 1 / SESSION_LENGTH
    gap = np.where(new_session, rng.exponential(3 * 86_400, n), rng.uniform(30, 600, n))
    gap[first] = 0.0
    total = np.cumsum(gap)
    rel = total - total[offsets][user]                       # seconds since the user's first event
    begin = START + rng.uniform(0, 0.8 * SPAN, len(counts))
    span = rel[np.r_[offsets[1:], n] - 1]                    # each user's last offset
    squeeze = np.minimum(1.0, (START + SPAN - begin) / np.maximum(span, 1.0))
    return (begin[user] + rel * squeeze[user]).astype(np.int64)


def ml1m_like(folder, seed: int = 0, users: int = 6040, items: int = 3700,
              interactions: int = 1_000_000) -> tuple[dict[str, Path], dict[str, dict]]:
    """Write ``interactions.csv`` and ``items.csv`` into ``folder``; returns ({dataset type:
    path}, {dataset type: Personalize schema dict})."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    catalogue = _items(rng, items)
    # power-law popularity over a random order of the items (offset: a less steep head)
    weight = 1.0 / (rng.permutation(items) + 50.0)
    counts = _activity(rng, users, interactions)
    user = np.repeat(np.arange(users), counts)
    favourite = rng.choice(len(GENRES), users, p=GENRE_WEIGHTS / GENRE_WEIGHTS.sum())
    item = rng.choice(items, interactions, p=weight / weight.sum())
    taste = rng.random(interactions) < TASTE     # a genre without items leaves them global
    for g in np.unique(favourite):
        pick = np.flatnonzero(taste & (favourite[user] == g))
        pool = np.flatnonzero(catalogue["genre"].to_numpy() == g)
        if len(pick) and len(pool):
            item[pick] = rng.choice(pool, len(pick), p=weight[pool] / weight[pool].sum())
    ts = _timestamps(rng, user, counts)
    # nobody sees an item before it exists: such events move after its creation
    created = catalogue["CREATION_TIMESTAMP"].to_numpy()[item]
    early = ts < created
    ts[early] = created[early] + rng.integers(0, np.maximum(START + SPAN - created[early], 1))
    events = pd.DataFrame({"USER_ID": (user + 1).astype(str), "ITEM_ID": (item + 1).astype(str),
                           "EVENT_TYPE": np.where(rng.random(interactions) < RATE_SHARE, "rate", "watch"),
                           "TIMESTAMP": ts})
    paths = {"Interactions": folder / "interactions.csv", "Items": folder / "items.csv"}
    events.to_csv(paths["Interactions"], index=False)
    catalogue.drop(columns="genre").to_csv(paths["Items"], index=False)
    return paths, copy.deepcopy(SCHEMAS)
