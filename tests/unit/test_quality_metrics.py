"""benchmarks/metrics.py against a plain per-user loop, on random data with many ties."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import metrics  # noqa: E402


def naive_rank(row: list[float], target: int) -> int:
    """Position of the target in the row sorted best first, placed after all its ties."""
    order = sorted(range(len(row)), key=lambda i: (-row[i], i == target))
    return order.index(target)


def naive(scores: np.ndarray, seen: list[set[int]], targets: np.ndarray, k: int, mrr_k: int):
    ndcg = recall = mrr = 0.0
    recommended = set()
    for u in range(scores.shape[0]):
        row = [-math.inf if (i in seen[u] or math.isnan(s)) else float(s)
               for i, s in enumerate(scores[u])]
        rank = naive_rank(row, int(targets[u]))
        if rank < k:
            ndcg += 1 / math.log2(rank + 2)
            recall += 1
        if rank < mrr_k:
            mrr += 1 / (rank + 1)
        best = sorted(range(len(row)), key=lambda i: (-row[i], i))[:k]
        recommended |= {i for i in best if row[i] != -math.inf}
    n = scores.shape[0]
    return ndcg / n, recall / n, mrr / n, len(recommended) / scores.shape[1]


def random_case(seed: int, users: int, items: int, levels: int | None):
    rng = np.random.default_rng(seed)
    if levels is None:
        scores = rng.standard_normal((users, items))
    else:                                    # few distinct values: ties everywhere
        scores = rng.integers(0, levels, (users, items)).astype(np.float64)
    scores[rng.random((users, items)) < 0.02] = np.nan
    seen, targets = [], []
    for _ in range(users):
        n_seen = int(rng.integers(0, items // 2))
        perm = rng.permutation(items)
        seen.append(set(perm[:n_seen].tolist()))
        targets.append(int(perm[n_seen]))            # never one of the seen items
    indptr = np.r_[0, np.cumsum([len(s) for s in seen])]
    indices = np.array([i for s in seen for i in sorted(s)], dtype=np.int64)
    return scores, seen, np.array(targets), indptr, indices


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [None, 2, 5])
def test_vectorised_metrics_match_a_per_user_loop(seed, levels):
    scores, seen, targets, indptr, indices = random_case(seed, users=40, items=30, levels=levels)
    expected = naive(scores, seen, targets, k=10, mrr_k=25)
    masked = metrics.mask_seen(scores.copy(), indptr, indices)
    ranks = metrics.pessimistic_ranks(masked, targets)
    got = (metrics.ndcg_at(ranks, 10), metrics.recall_at(ranks, 10), metrics.mrr_at(ranks, 25),
           metrics.coverage_at(masked, 10))
    assert got == pytest.approx(expected, abs=1e-12)


def test_ties_are_pessimistic():
    scores = np.zeros((1, 50))                       # a model that cannot tell items apart
    ranks = metrics.pessimistic_ranks(scores, np.array([0]))
    assert ranks.tolist() == [49]
    assert metrics.ndcg_at(ranks, 10) == metrics.recall_at(ranks, 10) == metrics.mrr_at(ranks, 25) == 0.0


def test_a_perfect_model_scores_one():
    scores = np.tile(np.arange(20.0), (3, 1))
    ranks = metrics.pessimistic_ranks(scores, np.array([19, 19, 19]))
    assert ranks.tolist() == [0, 0, 0]
    assert metrics.ndcg_at(ranks, 10) == metrics.recall_at(ranks, 10) == metrics.mrr_at(ranks, 25) == 1.0
    assert metrics.coverage_at(scores, 10) == 0.5
