"""Personalize's offline metrics as pure numpy functions of recommendation lists and truth.

Every function takes ``recs``, an ``(n_users, K)`` integer matrix of item codes in rank
order (``-1`` pads a short list), and the truth as parallel arrays ``truth_rows`` (the row
of ``recs`` the event belongs to) and ``truth_items`` (the item's code; a negative code is
an item the model cannot know, which counts as relevant but can never be hit). A user is
averaged over only when they have truth; an item recommended twice counts once, at its
first position; an item in a user's truth several times is one relevant item.

Definitions (Personalize's, see PERSONALIZE.md "Metrics"): rank 1 is the top;
``DCG@K = sum over hits 1 / log2(1 + rank)``, normalised by the DCG of the ideal list with
``min(#relevant, K)`` hits; ``precision@K = hits in top K / K``; ``MRR@25`` is the mean of
``1 / rank`` of the first hit in the top 25 (0 when none).

>>> import numpy as np
>>> recs = np.array([[7, 3, 8, 9, 4]])
>>> round(ranking_metrics(recs, np.array([0, 0]), np.array([3, 4]))["normalized_discounted_cumulative_gain_at_5"], 4)
0.6241
"""

from __future__ import annotations

import numpy as np

K = 25
CUTOFFS = (5, 10, 25)
METRIC_NAMES = ("mean_reciprocal_rank_at_25",
                *(f"normalized_discounted_cumulative_gain_at_{k}" for k in CUTOFFS),
                *(f"precision_at_{k}" for k in CUTOFFS))


def _first_occurrences(recs: np.ndarray) -> np.ndarray:
    """Mask of the slots that hold an item's first appearance in its row (padding excluded)."""
    n, k = recs.shape
    keep = np.zeros((n, k), dtype=bool)
    if recs.size == 0:
        return keep
    order = np.argsort(recs, axis=1, kind="stable")
    ranked = np.take_along_axis(recs, order, axis=1)
    first = np.ones((n, k), dtype=bool)
    first[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    np.put_along_axis(keep, order, first, axis=1)
    return keep & (recs >= 0)


def _truth_table(truth_rows: np.ndarray, truth_items: np.ndarray, values: np.ndarray | None):
    """Distinct (row, item) pairs of the truth with the largest value of each."""
    rows = np.asarray(truth_rows, dtype=np.int64)
    items = np.asarray(truth_items, dtype=np.int64)
    vals = np.ones(len(rows)) if values is None else np.asarray(values, dtype=np.float64)
    if len(rows) == 0:
        return rows, items, vals
    # unknown items (negative codes) stay distinct from each other: each is its own item
    unknown = items < 0
    items = np.where(unknown, -1 - np.arange(len(items)), items)
    order = np.lexsort((-vals, items, rows))
    rows, items, vals = rows[order], items[order], vals[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (items[1:] != items[:-1])
    return rows[first], items[first], vals[first]


def _hit_values(recs: np.ndarray, rows: np.ndarray, items: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """``(n_users, K)`` value of each slot: the truth value of a first-time hit, else 0."""
    out = np.zeros(recs.shape, dtype=np.float64)
    if recs.size == 0 or len(rows) == 0:
        return out
    base = max(int(recs.max()), int(items.max()), 0) + 2
    known = items >= 0
    truth_key = rows[known] * base + items[known]
    slot_key = (np.arange(recs.shape[0], dtype=np.int64)[:, None] * base + recs).ravel()
    if len(truth_key) == 0:
        return out
    order = np.argsort(truth_key)
    sorted_keys = truth_key[order]
    pos = np.minimum(np.searchsorted(sorted_keys, slot_key), len(sorted_keys) - 1)
    valid = _first_occurrences(recs).ravel() & (sorted_keys[pos] == slot_key)
    flat = np.zeros(len(slot_key))
    flat[valid] = vals[known][order][pos[valid]]
    return flat.reshape(recs.shape)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _ideal_dcg(rows: np.ndarray, vals: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """Per row: the DCG of its ``min(#relevant, k)`` largest values in the top slots."""
    ideal = np.zeros(n_rows)
    if len(rows) == 0:
        return ideal
    order = np.lexsort((-vals, rows))
    r, v = rows[order], vals[order]
    start = np.searchsorted(r, r, side="left")
    position = np.arange(len(r)) - start
    inside = position < k
    np.add.at(ideal, r[inside], v[inside] * _discounts(k)[position[inside]])
    return ideal


def ranking_metrics(recs: np.ndarray, truth_rows: np.ndarray, truth_items: np.ndarray) -> dict[str, float]:
    """MRR@25, NDCG@5/10/25 and precision@5/10/25 averaged over the rows that have truth.

    >>> import numpy as np
    >>> ranking_metrics(np.array([[1, 2, 3, 4, 5]]), np.array([0]), np.array([2]))["precision_at_5"]
    0.2
    """
    recs = np.asarray(recs, dtype=np.int64)
    rows, items, ones = _truth_table(truth_rows, truth_items, None)
    n_rows = recs.shape[0]
    users = np.unique(rows)
    if len(users) == 0:
        return {name: 0.0 for name in METRIC_NAMES}
    width = max(recs.shape[1], K)
    padded = np.full((n_rows, width), -1, dtype=np.int64)
    padded[:, :recs.shape[1]] = recs
    hit = _hit_values(padded, rows, items, ones) > 0
    out: dict[str, float] = {}
    first = np.where(hit[:, :25].any(axis=1), hit[:, :25].argmax(axis=1) + 1, 0)
    reciprocal = np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0)
    out["mean_reciprocal_rank_at_25"] = float(reciprocal[users].mean())
    for k in CUTOFFS:
        dcg = (hit[:, :k] * _discounts(k)).sum(axis=1)
        ideal = _ideal_dcg(rows, ones, n_rows, k)
        out[f"normalized_discounted_cumulative_gain_at_{k}"] = float((dcg[users] / ideal[users]).mean())
        out[f"precision_at_{k}"] = float(hit[users, :k].sum(axis=1).mean() / k)
    return out


def weighted_ndcg(recs: np.ndarray, truth_rows: np.ndarray, truth_items: np.ndarray,
                  weights: np.ndarray, k: int = K) -> float:
    """NDCG@k where a hit gains its event type's weight (the largest when an item was
    interacted with through several types); rows whose truth weighs nothing are left out.

    Only the ratio of weights matters: scaling every weight leaves the value unchanged.
    """
    recs = np.asarray(recs, dtype=np.int64)[:, :k]
    rows, items, vals = _truth_table(truth_rows, truth_items, np.maximum(np.asarray(weights, float), 0.0))
    gain = _hit_values(recs, rows, items, vals)
    dcg = (gain * _discounts(recs.shape[1])).sum(axis=1) if recs.shape[1] else np.zeros(recs.shape[0])
    ideal = _ideal_dcg(rows, vals, recs.shape[0], k)
    users = np.flatnonzero(ideal > 0)
    return float((dcg[users] / ideal[users]).mean()) if len(users) else 0.0


def average_rewards(recs: np.ndarray, truth_rows: np.ndarray, truth_items: np.ndarray,
                    rewards: np.ndarray, k: int = K) -> float:
    """``average_rewards_at_k``: per user, the rewards (the objective's item attribute) of the
    truth items hit in the top k over the best rewards any top-k list could have hit;
    negative rewards count as none; users whose truth earns nothing are left out."""
    recs = np.asarray(recs, dtype=np.int64)[:, :k]
    rows, items, vals = _truth_table(truth_rows, truth_items, np.maximum(np.asarray(rewards, float), 0.0))
    got = _hit_values(recs, rows, items, vals).sum(axis=1)
    best = np.zeros(recs.shape[0])
    if len(rows):
        order = np.lexsort((-vals, rows))
        r, v = rows[order], vals[order]
        position = np.arange(len(r)) - np.searchsorted(r, r, side="left")
        np.add.at(best, r[position < k], v[position < k])
    users = np.flatnonzero(best > 0)
    return float((got[users] / best[users]).mean()) if len(users) else 0.0


def coverage(recs: np.ndarray, n_items: int) -> float:
    """Distinct items recommended to anyone over the catalogue's size."""
    recs = np.asarray(recs)
    if n_items <= 0:
        return 0.0
    return float(len(np.unique(recs[recs >= 0])) / n_items)


def segment_k(n_users: int) -> int:
    """USER_SEGMENTATION's K: the top 1% of the users, at least one."""
    return max(1, int(round(0.01 * n_users)))


def segment_metrics(predicted: list[np.ndarray], actual: list[np.ndarray], k: int) -> dict[str, float]:
    """``hit`` (how many of an item's top-k predicted users did interact with it) and
    ``recall`` (that over ``min(k, #actual users)``, so a perfect segment scores 1), averaged
    over the items with at least one actual user."""
    hits, recalls = [], []
    for pred, act in zip(predicted, actual):
        truth = set(np.asarray(act).tolist())
        if not truth:
            continue
        top = [u for u in dict.fromkeys(np.asarray(pred).tolist()) if u >= 0][:k]
        hit = sum(1 for u in top if u in truth)
        hits.append(hit)
        recalls.append(hit / min(k, len(truth)))
    if not hits:
        return {"hit": 0.0, "recall": 0.0}
    return {"hit": float(np.mean(hits)), "recall": float(np.mean(recalls))}


__all__ = ["CUTOFFS", "K", "METRIC_NAMES", "average_rewards", "coverage", "ranking_metrics",
           "segment_k", "segment_metrics", "weighted_ndcg"]
