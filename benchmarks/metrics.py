"""Top-n metrics for leave-last-out evaluation, vectorised over a dense score matrix.

Every evaluated user has exactly one relevant item (the held-out one). Scores are a
``users x items`` array; items to leave out (the user's training items) are set to -inf
by :func:`mask_seen` before ranking. Ranks are 0-based and pessimistic: a target ranks
behind every item with the same score, so tied scores never flatter a model.

Pure numpy on purpose: ``tests/unit/test_quality_metrics.py`` checks each function
against a plain per-user loop without DuckDB or implicit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["coverage_at", "mask_seen", "mrr_at", "ndcg_at", "pessimistic_ranks", "recall_at",
           "top_k"]


def mask_seen(scores: np.ndarray, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Set ``scores[u, i]`` to -inf for every item ``i`` of row ``u`` of a CSR structure.

    ``indptr``/``indices`` are the CSR arrays of the users' training items, one row per
    row of ``scores``. NaN scores become -inf too, so every comparison is defined.
    Works in place and returns ``scores``.
    """
    scores[np.isnan(scores)] = -np.inf
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    scores[rows, indices] = -np.inf
    return scores


def pessimistic_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """0-based rank of each row's target: (items scoring >= the target's score) - 1."""
    target_scores = scores[np.arange(len(targets)), targets]
    return (scores >= target_scores[:, None]).sum(axis=1) - 1


def ndcg_at(ranks: np.ndarray, k: int) -> float:
    """Mean NDCG@k with one relevant item: 1 / log2(rank + 2) when rank < k, else 0."""
    gains = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(gains.mean()) if len(ranks) else 0.0


def recall_at(ranks: np.ndarray, k: int) -> float:
    """Mean Recall@k with one relevant item (= hit rate): share of ranks below k."""
    return float((ranks < k).mean()) if len(ranks) else 0.0


def mrr_at(ranks: np.ndarray, k: int) -> float:
    """Mean reciprocal rank cut at k: 1 / (rank + 1) when rank < k, else 0."""
    rr = np.where(ranks < k, 1.0 / (ranks + 1.0), 0.0)
    return float(rr.mean()) if len(ranks) else 0.0


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's k best columns, best first; ties go to the lower column index."""
    k = min(k, scores.shape[1])
    # A stable sort of the negated scores keeps tied columns in index order, so the
    # result does not depend on the sort algorithm (argpartition's choice among ties would).
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def coverage_at(scores: np.ndarray, k: int) -> float:
    """Catalogue coverage@k: distinct items in all rows' top k / number of items.

    Only finite scores count as recommended (a masked item is never recommended).
    """
    if scores.size == 0:
        return 0.0
    top = top_k(scores, k)
    finite = np.isfinite(np.take_along_axis(scores, top, axis=1))
    return len(np.unique(top[finite])) / scores.shape[1]
