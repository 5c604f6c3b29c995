"""Seeded synthetic datasets shaped like Amazon Personalize's two domain dataset groups.

:func:`video_on_demand` and :func:`ecommerce` return ``{"interactions", "items",
"users"}`` DataFrames whose columns follow :data:`SCHEMAS`; :func:`write_csv` and
:func:`write_schemas` save them the way Personalize imports them. The same arguments
always give byte-identical files. The data has structure a recommender can find: power-law
item popularity, per-user genre/category tastes, sessions, and a few cold items.

Example::

    from pypersonalize import sample_data

    frames = sample_data.video_on_demand(n_users=200, n_items=100, seed=1)
    sample_data.write_csv(frames, "vod")
    sample_data.write_schemas("VIDEO_ON_DEMAND", "vod")
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["SCHEMAS", "ecommerce", "video_on_demand", "write_csv", "write_schemas"]

# Fixed, so that output never depends on the clock: 2025-01-01T00:00:00Z.
END_EPOCH = 1735689600
DAY = 86_400
HISTORY_DAYS = 180
COLD_DAYS = 30
COLD_SHARE = 0.06

_NS = "com.amazonaws.personalize.schema"


def _record(name: str, fields: list[dict]) -> dict:
    return {"type": "record", "name": name, "namespace": _NS, "fields": fields,
            "version": "1.0"}


SCHEMAS: dict[str, dict[str, dict]] = {
    "VIDEO_ON_DEMAND": {
        "Interactions": _record("Interactions", [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "EVENT_VALUE", "type": ["null", "float"]},
            {"name": "TIMESTAMP", "type": "long"},
            {"name": "IMPRESSION", "type": ["null", "string"]},
        ]),
        "Items": _record("Items", [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "GENRES", "type": "string", "categorical": True},
            {"name": "GENRE_L2", "type": ["null", "string"], "categorical": True},
            {"name": "CREATION_TIMESTAMP", "type": "long"},
            {"name": "CONTENT_CLASSIFICATION", "type": ["null", "string"],
             "categorical": True},
            {"name": "DURATION", "type": ["null", "float"]},
            {"name": "PRODUCT_DESCRIPTION", "type": ["null", "string"], "textual": True},
        ]),
        "Users": _record("Users", [
            {"name": "USER_ID", "type": "string"},
            {"name": "SUBSCRIPTION_MODEL", "type": "string", "categorical": True},
            {"name": "AGE", "type": ["null", "int"]},
        ]),
    },
    "ECOMMERCE": {
        "Interactions": _record("Interactions", [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "EVENT_VALUE", "type": ["null", "float"]},
            {"name": "TIMESTAMP", "type": "long"},
            {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
        ]),
        "Items": _record("Items", [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "PRICE", "type": "float"},
            {"name": "CATEGORY_L1", "type": "string", "categorical": True},
            {"name": "CATEGORY_L2", "type": ["null", "string"], "categorical": True},
            {"name": "CATEGORY_L3", "type": ["null", "string"], "categorical": True},
            {"name": "CREATION_TIMESTAMP", "type": "long"},
            {"name": "PRODUCT_DESCRIPTION", "type": ["null", "string"], "textual": True},
            {"name": "ADULT", "type": ["null", "string"], "categorical": True},
            {"name": "IN_STOCK", "type": ["null", "boolean"]},
        ]),
        "Users": _record("Users", [
            {"name": "USER_ID", "type": "string"},
            {"name": "MEMBERSHIP_STATUS", "type": "string", "categorical": True},
            {"name": "AGE", "type": ["null", "int"]},
            {"name": "GENDER", "type": ["null", "string"], "categorical": True},
        ]),
    },
}

_FILES = (("interactions", "Interactions"), ("items", "Items"), ("users", "Users"))


# --------------------------------------------------------------------------- helpers

def _check_sizes(n_users: int, n_items: int) -> None:
    for name, n in (("n_users", n_users), ("n_items", n_items)):
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.array([f"{prefix}{i}" for i in range(1, n + 1)], dtype=object)


def _norm(w) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    return w / w.sum()


def _pick_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (rows, k) probability matrix."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cdf[:, -1]
    return np.minimum((u[:, None] >= cdf).sum(axis=1), probs.shape[1] - 1)


def _zipf_weights(rng: np.random.Generator, n: int, alpha: float) -> np.ndarray:
    # Ranks are shuffled so that popularity is not tied to the id number.
    ranks = rng.permutation(n)
    return 1.0 / (ranks + 1.0) ** alpha


def _offsets_within(groups: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Running sum of ``gaps`` (each the wait before its row), restarting for each run
    of equal ``groups``."""
    total = np.cumsum(gaps)
    starts = _first_of_group(groups)
    base = np.maximum.accumulate(np.where(starts, total - gaps, 0))
    return total - base


def _first_of_group(groups: np.ndarray) -> np.ndarray:
    return np.r_[True, groups[1:] != groups[:-1]]


def _sample_in_pools(rng, pool_of_row, pools, pool_probs, fallback_probs):
    """Draw one item per row from the pool ``pool_of_row`` names (-1: whole catalog).

    Pools are visited in index order and each draws its rows in row order, so the
    result depends only on the generator state.
    """
    n_items = len(fallback_probs)
    out = np.empty(len(pool_of_row), dtype=np.int64)
    for p in range(-1, len(pools)):
        rows = np.flatnonzero(pool_of_row == p)
        if len(rows) == 0:
            continue
        if p == -1 or len(pools[p]) == 0:
            out[rows] = rng.choice(n_items, size=len(rows), p=fallback_probs)
        else:
            out[rows] = pools[p][rng.choice(len(pools[p]), size=len(rows), p=pool_probs[p])]
    return out


def _pools(memberships: list[np.ndarray], weights: np.ndarray, n_pools: int):
    """Item pools per category: items whose membership list holds that category."""
    members: list[list[int]] = [[] for _ in range(n_pools)]
    for item, cats in enumerate(memberships):
        for c in cats:
            members[int(c)].append(item)
    pools = [np.array(m, dtype=np.int64) for m in members]
    probs = [_norm(weights[p]) if len(p) else p.astype(float) for p in pools]
    return pools, probs


def _cold_items(rng, n_items: int) -> np.ndarray:
    n_cold = int(n_items * COLD_SHARE) if n_items > 1 else 0
    cold = np.zeros(n_items, dtype=bool)
    cold[rng.choice(n_items, size=n_cold, replace=False)] = True
    return cold


def _creation_times(rng, cold: np.ndarray) -> np.ndarray:
    n = len(cold)
    window_start = END_EPOCH - HISTORY_DAYS * DAY
    old = window_start - rng.integers(1, 5 * 365 * DAY, size=n)
    new = END_EPOCH - rng.integers(DAY, COLD_DAYS * DAY, size=n)
    return np.where(cold, new, old).astype(np.int64)


def _substitutes(cold, primary, weights) -> np.ndarray:
    """Map each item to itself, or a cold item to the most popular old item sharing its
    primary category, used in sessions that start before the cold item existed."""
    sub = np.arange(len(cold))
    old = np.flatnonzero(~cold)
    best_overall = old[np.argmax(weights[old])]
    for item in np.flatnonzero(cold):
        same = old[primary[old] == primary[item]]
        sub[item] = same[np.argmax(weights[same])] if len(same) else best_overall
    return sub


def _sessions(rng, activity, mean_sessions, mean_extra_events, min_first):
    """Sessions per user and events per session; each user's first session holds at
    least ``min_first`` events so every user has enough history to split."""
    n_users = len(activity)
    per_user = 1 + rng.poisson(mean_sessions * activity)
    sess_user = np.repeat(np.arange(n_users), per_user)
    n_sess = len(sess_user)
    size = 1 + rng.poisson(mean_extra_events, size=n_sess)
    first = _first_of_group(sess_user)
    size = np.where(first, np.maximum(size, min_first), size)
    start = END_EPOCH - HISTORY_DAYS * DAY + rng.integers(0, (HISTORY_DAYS - 1) * DAY,
                                                            size=n_sess)
    return sess_user, size, start.astype(np.int64)


def _activity(rng, n_users: int, sigma: float = 0.8) -> np.ndarray:
    # Log-normal with mean 1: a few heavy users, many light ones.
    return rng.lognormal(-sigma * sigma / 2, sigma, size=n_users)


def _ages(rng, n_users: int, null_share: float) -> pd.Series:
    age = np.clip(np.round(rng.normal(38, 13, size=n_users)), 18, 85).astype(np.int64)
    missing = rng.random(n_users) < null_share
    return pd.Series(pd.array(np.where(missing, 0, age), dtype="Int64")).mask(missing)


def _nullable(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    out = values.astype(object)
    out[missing] = None
    return out


def _sort_events(ts: np.ndarray, user: np.ndarray, user_ids: np.ndarray,
                 seq: np.ndarray) -> np.ndarray:
    # USER_ID ties are ordered as strings (as SQL would), then by generation order.
    string_rank = np.empty(len(user_ids), dtype=np.int64)
    string_rank[np.argsort(user_ids.astype(str), kind="stable")] = np.arange(len(user_ids))
    return np.lexsort((seq, string_rank[user], ts))


def _article(word: str) -> str:
    return "An" if word[0].lower() in "aeiou" else "A"


def _join_words(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


# ------------------------------------------------------------------- video on demand

_GENRES = ("Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama",
           "Family", "Fantasy", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
           "Thriller")
_GENRE_WEIGHTS = (9, 5, 4, 10, 6, 3, 12, 4, 4, 5, 2, 4, 6, 5, 7)
_SUBGENRES = (
    ("Martial Arts", "Superhero"), ("Survival", "Treasure Hunt"), ("Anime", "Stop Motion"),
    ("Satire", "Romantic Comedy"), ("Heist", "Noir"), ("Nature", "True Crime"),
    ("Period", "Legal"), ("Holiday", "Coming of Age"), ("Sword and Sorcery", "Fairy Tale"),
    ("Slasher", "Supernatural"), ("Jukebox", "Dance"), ("Whodunit", "Detective"),
    ("Period Romance", "Teen Romance"), ("Space Opera", "Cyberpunk"),
    ("Psychological", "Spy"),
)
_CLASSES = ("G", "PG", "PG-13", "R", "NC-17", "unrated")
_CLASS_PROBS = np.array([
    (0.08, 0.18, 0.32, 0.30, 0.04, 0.08),   # most genres
    (0.55, 0.40, 0.05, 0.00, 0.00, 0.00),   # Animation, Family
    (0.00, 0.00, 0.15, 0.65, 0.10, 0.10),   # Horror
])
_FORMS = ("film", "film", "film", "series", "mini-series")
_ADJECTIVES = ("gripping", "heartfelt", "offbeat", "dark", "witty", "sweeping", "quiet",
               "fast-paced", "haunting", "uplifting", "epic", "intimate", "absurd",
               "tender", "explosive")
_SUBJECTS = ("a detective chasing a forger", "two rivals forced to work together",
             "a family on the run", "a chef with one last chance", "an heir to a fortune",
             "a crew stranded far from home", "a teacher who keeps a secret",
             "a band on its final tour", "a town that hides its past",
             "an unlikely friendship", "a robot learning to lie",
             "a courier who sees too much", "three sisters and an inheritance",
             "a rookie pilot", "a village under a curse")
_PLACES = ("Lisbon", "a small coastal town", "the near future", "1970s Chicago",
           "a remote island", "Tokyo", "the Scottish highlands", "a crumbling palace")


def video_on_demand(n_users: int = 2000, n_items: int = 800,
                    seed: int = 7) -> dict[str, pd.DataFrame]:
    """Interactions (Watch/Click), Items and Users for a VIDEO_ON_DEMAND dataset group.

    About 25 interactions per user; ids are ``"u1"``.. and ``"m1"``...
    """
    _check_sizes(n_users, n_items)
    rng = np.random.default_rng(seed)
    n_genres = len(_GENRES)
    genre_p = _norm(_GENRE_WEIGHTS)

    # Items: a primary genre and up to two more, picked without replacement by
    # weighted keys (log(u) / w is largest for likely genres).
    primary = rng.choice(n_genres, size=n_items, p=genre_p)
    keys = np.log(rng.random((n_items, n_genres))) / genre_p
    keys[np.arange(n_items), primary] = np.inf
    order = np.argsort(-keys, axis=1, kind="stable")
    n_genres_item = 1 + _pick_rows(rng, np.tile([0.5, 0.35, 0.15], (n_items, 1)))
    item_genres = [order[i, :n_genres_item[i]] for i in range(n_items)]

    weights = _zipf_weights(rng, n_items, alpha=1.05)
    cold = _cold_items(rng, n_items)
    # Cold items are niche as well as new, so they stay cold.
    weights = np.where(cold, weights * 0.2, weights)
    created = _creation_times(rng, cold)
    substitute = _substitutes(cold, primary, weights)
    pools, pool_probs = _pools(item_genres, weights, n_genres)
    global_p = _norm(weights)

    has_l2 = rng.random(n_items) < 0.6
    two_l2 = rng.random(n_items) < 0.15
    l2_first = rng.integers(0, 2, size=n_items)
    class_row = np.where(np.isin(primary, (2, 7)), 1, np.where(primary == 9, 2, 0))
    classification = np.array(_CLASSES, dtype=object)[_pick_rows(rng, _CLASS_PROBS[class_row])]
    classification[rng.random(n_items) < 0.03] = None
    form = np.array(_FORMS)[rng.integers(0, len(_FORMS), size=n_items)]
    minutes = np.where(form == "film", rng.uniform(80, 180, size=n_items),
                       rng.uniform(22, 60, size=n_items))
    duration = np.where(rng.random(n_items) < 0.04, np.nan, np.round(minutes, 1))
    adjective = rng.integers(0, len(_ADJECTIVES), size=n_items)
    subject = rng.integers(0, len(_SUBJECTS), size=n_items)
    place = np.where(rng.random(n_items) < 0.35,
                     rng.integers(0, len(_PLACES), size=n_items), -1)
    no_description = rng.random(n_items) < 0.03

    genres_col, l2_col, description = [], [], []
    for i in range(n_items):
        names = [_GENRES[g] for g in item_genres[i]]
        genres_col.append("|".join(names))
        subs = _SUBGENRES[primary[i]]
        if not has_l2[i]:
            l2_col.append(None)
        elif two_l2[i]:
            l2_col.append(f"{subs[l2_first[i]]}|{subs[1 - l2_first[i]]}")
        else:
            l2_col.append(subs[l2_first[i]])
        if no_description[i]:
            description.append(None)
            continue
        adj = _ADJECTIVES[adjective[i]]
        text = (f"{_article(adj)} {adj} {_join_words([n.lower() for n in names])} "
                f"{form[i]} about {_SUBJECTS[subject[i]]}")
        if place[i] >= 0:
            text += f", set in {_PLACES[place[i]]}"
        description.append(text + ".")

    items = pd.DataFrame({
        "ITEM_ID": _ids("m", n_items),
        "GENRES": genres_col,
        "GENRE_L2": l2_col,
        "CREATION_TIMESTAMP": created,
        "CONTENT_CLASSIFICATION": classification,
        "DURATION": duration,
        "PRODUCT_DESCRIPTION": description,
    })

    # Users: 1-3 favourite genres; premium subscribers watch more.
    user_ids = _ids("u", n_users)
    plan = rng.choice(3, size=n_users, p=[0.5, 0.3, 0.2])
    n_tastes = 1 + rng.choice(3, size=n_users, p=[0.35, 0.45, 0.2])
    taste_keys = np.log(rng.random((n_users, n_genres))) / genre_p
    tastes = np.argsort(-taste_keys, axis=1, kind="stable")[:, :3]
    activity = _activity(rng, n_users) * np.array([0.8, 1.1, 1.4])[plan]
    users = pd.DataFrame({
        "USER_ID": user_ids,
        "SUBSCRIPTION_MODEL": np.array(["free", "basic", "premium"], dtype=object)[plan],
        "AGE": _ages(rng, n_users, null_share=0.1),
    })

    # Sessions -> engagements (one title each) -> Click and/or Watch events.
    sess_user, sess_size, sess_start = _sessions(rng, activity, 3.0, 2.5, min_first=2)
    eng_sess = np.repeat(np.arange(len(sess_user)), sess_size)
    eng_user = sess_user[eng_sess]
    n_eng = len(eng_sess)
    on_taste = rng.random(n_eng) < 0.8
    slot = (rng.random(n_eng) * n_tastes[eng_user]).astype(np.int64)
    eng_genre = np.where(on_taste, tastes[eng_user, slot], -1)
    eng_item = _sample_in_pools(rng, eng_genre, pools, pool_probs, global_p)
    before_release = sess_start[eng_sess] < created[eng_item]
    eng_item = np.where(before_release, substitute[eng_item], eng_item)

    clicked = rng.random(n_eng) < 0.75
    watched = ~clicked | (rng.random(n_eng) < 0.8)
    # Gaps exceed the longest Click->Watch delay so a title's two events stay adjacent.
    gaps = np.where(_first_of_group(eng_sess), 0, 60 + rng.exponential(150, size=n_eng))
    eng_time = sess_start[eng_sess] + _offsets_within(eng_sess, np.round(gaps)).astype(np.int64)
    watch_delay = rng.integers(3, 45, size=n_eng)
    fraction = np.where(on_taste, rng.beta(3.0, 1.2, size=n_eng), rng.beta(1.4, 2.0, size=n_eng))
    fraction = np.where(rng.random(n_eng) < 0.2, 1.0, fraction)
    fraction = np.clip(np.round(fraction, 2), 0.01, 1.0)

    shown = 5 + rng.integers(0, 6, size=n_eng)
    position = (rng.random(n_eng) * shown).astype(np.int64)
    # Popular titles repeat among draws; 30 leave enough distinct ones for 9 slots.
    candidates = rng.choice(n_items, size=(n_eng, 30), p=global_p)
    candidates = np.where(sess_start[eng_sess][:, None] < created[candidates],
                          substitute[candidates], candidates)
    item_ids = items["ITEM_ID"].to_numpy(dtype=object)
    impression = np.full(n_eng, None, dtype=object)
    for e in np.flatnonzero(clicked):
        others = [c for c in dict.fromkeys(candidates[e].tolist()) if c != eng_item[e]]
        k = min(shown[e] - 1, len(others))
        row = others[:k]
        row.insert(min(position[e], k), int(eng_item[e]))
        impression[e] = "|".join(item_ids[row])

    c, w = np.flatnonzero(clicked), np.flatnonzero(watched)
    ev_eng = np.r_[c, w]
    is_watch = np.r_[np.zeros(len(c), bool), np.ones(len(w), bool)]
    ev_time = eng_time[ev_eng] + np.where(is_watch & clicked[ev_eng], watch_delay[ev_eng], 0)
    order = _sort_events(ev_time, eng_user[ev_eng], user_ids, 2 * ev_eng + is_watch)
    ev_eng, is_watch, ev_time = ev_eng[order], is_watch[order], ev_time[order]
    interactions = pd.DataFrame({
        "USER_ID": user_ids[eng_user[ev_eng]],
        "ITEM_ID": item_ids[eng_item[ev_eng]],
        "EVENT_TYPE": np.where(is_watch, "Watch", "Click").astype(object),
        "EVENT_VALUE": np.where(is_watch, fraction[ev_eng], np.nan),
        "TIMESTAMP": ev_time.astype(np.int64),
        "IMPRESSION": np.where(is_watch, None, impression[ev_eng]),
    })
    return {"interactions": interactions, "items": items, "users": users}


# ------------------------------------------------------------------------- ecommerce

# (L1, weight, median price, ((L2, (L3, ...)), ...))
_TAXONOMY = (
    ("Electronics", 10, 80.0, (("Audio", ("Headphones", "Speakers")),
                               ("Computers", ("Laptops", "Mice", "Keyboards")),
                               ("Phones", ("Smartphones", "Chargers")),
                               ("Cameras", ("Digital Cameras", "Lenses")))),
    ("Home & Kitchen", 9, 45.0, (("Cookware", ("Pans", "Knives")),
                                 ("Appliances", ("Blenders", "Coffee Makers")),
                                 ("Furniture", ("Chairs", "Desks")),
                                 ("Bedding", ("Sheets", "Pillows")))),
    ("Clothing", 11, 35.0, (("Men", ("Shirts", "Jackets")),
                            ("Women", ("Dresses", "Sweaters")),
                            ("Shoes", ("Sneakers", "Boots")),
                            ("Accessories", ("Hats", "Scarves")))),
    ("Beauty", 6, 18.0, (("Skincare", ("Moisturizers", "Cleansers")),
                         ("Makeup", ("Lipstick", "Mascara")),
                         ("Fragrance", ("Perfume", "Cologne")),
                         ("Hair Care", ("Shampoo", "Conditioner")))),
    ("Sports & Outdoors", 6, 40.0, (("Fitness", ("Yoga Mats", "Dumbbells")),
                                    ("Camping", ("Tents", "Sleeping Bags")),
                                    ("Cycling", ("Helmets", "Bike Lights")),
                                    ("Running", ("Running Shoes", "Water Bottles")))),
    ("Books", 7, 15.0, (("Fiction", ("Mystery", "Science Fiction")),
                        ("Nonfiction", ("Biography", "History")),
                        ("Children", ("Picture Books", "Early Readers")),
                        ("Cookbooks", ("Baking", "Vegetarian")))),
    ("Toys & Games", 5, 25.0, (("Board Games", ("Strategy", "Party")),
                               ("Puzzles", ("Jigsaw", "3D Puzzles")),
                               ("Building Sets", ("Bricks", "Models")),
                               ("Dolls", ("Fashion Dolls", "Action Figures")))),
    ("Grocery", 8, 8.0, (("Snacks", ("Chips", "Cookies")),
                         ("Beverages", ("Coffee", "Tea", "Wine")),
                         ("Pantry", ("Pasta", "Spices")),
                         ("Baby", ("Diapers", "Baby Food")))),
)
# Shoppers browse across these neighbouring departments within a session.
_RELATED = ((1, 6), (7, 0), (3, 4), (2, 7), (2, 7), (6, 1), (5, 0), (1, 3))
_BRANDS = ("Northwind", "Acme", "Bluebird", "Lumen", "Oakridge", "Vireo", "Kestrel",
           "Tidewater", "Harbor & Co", "Pinecrest")
_QUALITIES = ("premium", "everyday", "classic", "bestselling", "eco-friendly", "popular",
              "customer-favourite", "new-season", "essential", "budget")
_FEATURES = ("ideal as a gift", "great value", "ships in two days", "limited edition",
             "rated 4.5 stars", "with free returns", "sold in a 2-pack")
_DEVICES = ("Mobile", "Desktop", "Tablet")


def ecommerce(n_users: int = 2000, n_items: int = 1000,
              seed: int = 11) -> dict[str, pd.DataFrame]:
    """Interactions (View/Purchase), Items and Users for an ECOMMERCE dataset group.

    About 25 interactions per user; ids are ``"c1"``.. and ``"p1"``...
    """
    _check_sizes(n_users, n_items)
    rng = np.random.default_rng(seed)
    n_l1 = len(_TAXONOMY)
    l1_p = _norm([t[1] for t in _TAXONOMY])

    # Items.
    l1 = rng.choice(n_l1, size=n_items, p=l1_p)
    l2 = (rng.random(n_items) * np.array([len(t[3]) for t in _TAXONOMY])[l1]).astype(int)
    l3_u = rng.random(n_items)
    l2_missing = rng.random(n_items) < 0.03
    l3_missing = l2_missing | (rng.random(n_items) < 0.15)
    median = np.array([t[2] for t in _TAXONOMY])[l1]
    raw = median * rng.lognormal(0.0, 0.6, size=n_items)
    # Shop prices end in .99; the second round removes binary noise such as 4.989999.
    price = np.round(np.maximum(np.round(raw), 1.0) - 0.01, 2)
    in_stock = rng.random(n_items)
    adult_missing = rng.random(n_items) < 0.03
    brand = rng.integers(0, len(_BRANDS), size=n_items)
    quality = rng.integers(0, len(_QUALITIES), size=n_items)
    feature = np.where(rng.random(n_items) < 0.5,
                       rng.integers(0, len(_FEATURES), size=n_items), -1)
    no_description = rng.random(n_items) < 0.03

    weights = _zipf_weights(rng, n_items, alpha=0.9)
    cold = _cold_items(rng, n_items)
    weights = np.where(cold, weights * 0.2, weights)
    created = _creation_times(rng, cold)
    substitute = _substitutes(cold, l1, weights)
    pools, pool_probs = _pools([[c] for c in l1], weights, n_l1)
    global_p = _norm(weights)

    l2_col, l3_col, adult, description = [], [], [], []
    for i in range(n_items):
        dept, _, _, subs = _TAXONOMY[l1[i]]
        l2_name, l3_names = subs[l2[i]]
        l3_name = l3_names[int(l3_u[i] * len(l3_names))]
        l2_col.append(None if l2_missing[i] else l2_name)
        l3_col.append(None if l3_missing[i] else l3_name)
        adult.append(None if adult_missing[i] else ("yes" if l3_name == "Wine" else "no"))
        if no_description[i]:
            description.append(None)
            continue
        q = _QUALITIES[quality[i]]
        text = f"{q.capitalize()} {l3_name} from {_BRANDS[brand[i]]}"
        if feature[i] >= 0:
            text += f", {_FEATURES[feature[i]]}"
        description.append(text + ".")

    stock = np.where(in_stock < 0.02, None, in_stock >= 0.10)
    items = pd.DataFrame({
        "ITEM_ID": _ids("p", n_items),
        "PRICE": price,
        "CATEGORY_L1": np.array([t[0] for t in _TAXONOMY], dtype=object)[l1],
        "CATEGORY_L2": l2_col,
        "CATEGORY_L3": l3_col,
        "CREATION_TIMESTAMP": created,
        "PRODUCT_DESCRIPTION": description,
        "ADULT": adult,
        "IN_STOCK": pd.array(stock.tolist(), dtype="boolean"),
    })

    # Users: 1-3 favourite departments, a usual device; gold members buy more often.
    user_ids = _ids("c", n_users)
    status = rng.choice(3, size=n_users, p=[0.6, 0.3, 0.1])
    n_tastes = 1 + rng.choice(3, size=n_users, p=[0.4, 0.4, 0.2])
    taste_keys = np.log(rng.random((n_users, n_l1))) / l1_p
    tastes = np.argsort(-taste_keys, axis=1, kind="stable")[:, :3]
    device = rng.choice(3, size=n_users, p=[0.55, 0.35, 0.10])
    gender = np.array(["female", "male", "other"], dtype=object)[
        rng.choice(3, size=n_users, p=[0.49, 0.47, 0.04])]
    users = pd.DataFrame({
        "USER_ID": user_ids,
        "MEMBERSHIP_STATUS": np.array(["bronze", "silver", "gold"], dtype=object)[status],
        "AGE": _ages(rng, n_users, null_share=0.12),
        "GENDER": _nullable(gender, rng.random(n_users) < 0.15),
    })
    activity = _activity(rng, n_users)
    buy_rate = np.array([0.08, 0.10, 0.14])[status]

    # Sessions: a focus department, views mostly there or next door, then checkout.
    sess_user, sess_size, sess_start = _sessions(rng, activity, 3.8, 4.0, min_first=2)
    n_sess = len(sess_user)
    on_taste = rng.random(n_sess) < 0.85
    slot = (rng.random(n_sess) * n_tastes[sess_user]).astype(np.int64)
    focus = np.where(on_taste, tastes[sess_user, slot], rng.choice(n_l1, size=n_sess, p=l1_p))
    sess_device = np.where(rng.random(n_sess) < 0.85, device[sess_user],
                           rng.integers(0, 3, size=n_sess))
    device_names = np.array(_DEVICES, dtype=object)
    sess_device_name = _nullable(device_names[sess_device], rng.random(n_sess) < 0.01)

    view_sess = np.repeat(np.arange(n_sess), sess_size)
    n_views = len(view_sess)
    related = np.array(_RELATED)[focus[view_sess], rng.integers(0, 2, size=n_views)]
    where = rng.random(n_views)
    view_pool = np.where(where < 0.7, focus[view_sess], np.where(where < 0.9, related, -1))
    view_item = _sample_in_pools(rng, view_pool, pools, pool_probs, global_p)
    view_item = np.where(sess_start[view_sess] < created[view_item],
                         substitute[view_item], view_item)
    gaps = np.where(_first_of_group(view_sess), 0, 15 + rng.exponential(70, size=n_views))
    view_time = sess_start[view_sess] + _offsets_within(view_sess, np.round(gaps)).astype(
        np.int64)

    buys = (rng.random(n_views) < buy_rate[sess_user[view_sess]]) & (
        items["IN_STOCK"].fillna(True).to_numpy(dtype=bool)[view_item])
    # One purchase per item per session, even if it was viewed twice.
    buy_idx = np.flatnonzero(buys)
    _, first = np.unique(view_sess[buy_idx] * n_items + view_item[buy_idx], return_index=True)
    buy_idx = buy_idx[np.sort(first)]
    buy_sess = view_sess[buy_idx]
    last_view = np.full(n_sess, 0, dtype=np.int64)
    np.maximum.at(last_view, view_sess, view_time)
    checkout = rng.integers(30, 300, size=n_sess)
    buy_gap = rng.integers(5, 60, size=len(buy_idx)).astype(float)
    buy_time = (last_view[buy_sess] + checkout[buy_sess]
                + _offsets_within(buy_sess, buy_gap).astype(np.int64))
    discount = rng.choice([0.0, 0.1, 0.2], size=len(buy_idx), p=[0.8, 0.12, 0.08])
    paid = np.round(price[view_item[buy_idx]] * (1 - discount), 2)

    ev_sess = np.r_[view_sess, buy_sess]
    ev_item = np.r_[view_item, view_item[buy_idx]]
    ev_time = np.r_[view_time, buy_time]
    is_buy = np.r_[np.zeros(n_views, bool), np.ones(len(buy_idx), bool)]
    value = np.r_[np.full(n_views, np.nan), paid]
    ev_user = sess_user[ev_sess]
    order = _sort_events(ev_time, ev_user, user_ids, np.arange(len(ev_time)))
    item_ids = items["ITEM_ID"].to_numpy(dtype=object)
    interactions = pd.DataFrame({
        "USER_ID": user_ids[ev_user[order]],
        "ITEM_ID": item_ids[ev_item[order]],
        "EVENT_TYPE": np.where(is_buy[order], "Purchase", "View").astype(object),
        "EVENT_VALUE": value[order],
        "TIMESTAMP": ev_time[order].astype(np.int64),
        "DEVICE": sess_device_name[ev_sess[order]],
    })
    return {"interactions": interactions, "items": items, "users": users}


# ----------------------------------------------------------------------------- output

def _float_text(v: float) -> str:
    # repr is the shortest text that reads back to the same double: compact and stable.
    return "" if math.isnan(v) else repr(float(v))


def _cell(v) -> str:
    if v is None or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return _float_text(float(v))
    if isinstance(v, pd.Timestamp):
        return str(int(v.timestamp()))
    if isinstance(v, (list, tuple, np.ndarray)):
        return "|".join(_cell(x) for x in v)
    return str(v)


def _column_text(s: pd.Series) -> list[str]:
    if pd.api.types.is_datetime64_any_dtype(s):
        secs = s.dt.tz_convert("UTC").dt.tz_localize(None) if s.dt.tz is not None else s
        secs = (secs - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
        return ["" if pd.isna(v) else str(int(v)) for v in secs]
    if pd.api.types.is_bool_dtype(s):
        return ["" if v is pd.NA else ("true" if v else "false") for v in s.tolist()]
    if pd.api.types.is_integer_dtype(s):
        return ["" if v is pd.NA or v is None else str(int(v)) for v in s.tolist()]
    if pd.api.types.is_float_dtype(s):
        return [_float_text(float(v)) if v is not pd.NA else "" for v in s.tolist()]
    return [_cell(None if (isinstance(v, float) and math.isnan(v)) else v)
            for v in s.tolist()]


def write_csv(frames: dict, folder) -> None:
    """Write ``interactions.csv``, ``items.csv``, ``users.csv`` in Personalize's CSV format.

    Only the keys present in ``frames`` are written; columns keep their frame order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for key, _ in _FILES:
        if key not in frames:
            continue
        df = frames[key]
        columns = [_column_text(df[c]) for c in df.columns]
        with open(folder / f"{key}.csv", "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
            writer.writerow([str(c) for c in df.columns])
            writer.writerows(zip(*columns))


def _domain_key(domain: str) -> str:
    key = str(domain).upper().replace("-", "_")
    if key not in SCHEMAS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join(SCHEMAS)}")
    return key


def write_schemas(domain: str, folder) -> None:
    """Write the domain's ``interactions/items/users.schema.json`` into ``folder``."""
    schemas = SCHEMAS[_domain_key(domain)]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for key, dataset_type in _FILES:
        text = json.dumps(schemas[dataset_type], indent=2) + "\n"
        (folder / f"{key}.schema.json").write_text(text, encoding="utf-8", newline="\n")
