"""pypersonalize/metrics.py: the documentation's worked examples, edge cases, and an
independent reference implementation compared on random data.

The reference below is written from the definitions only (the module docstring and the
function docstrings of ``pypersonalize/metrics.py``, PERSONALIZE.md 7.1): truth is deduped
with pandas, every user is then walked in plain Python. It shares no code with the package.
Conventions restated from those docstrings:

* ``recs`` is ``(n_users, width)`` in rank order, rank 1 first; any negative code is padding
  and never matches; an item recommended twice counts once, at its first position (later
  positions are not compacted);
* truth is parallel ``truth_rows`` / ``truth_items``; a negative truth code is an item the
  model cannot know: it is relevant (it counts in the ideal list) but is never hit, and each
  such truth row is its own unknown item; a known item in a user's truth several times is
  one relevant item (with the largest of its values, for the weighted metrics);
* ranking metrics are averaged over the users that have truth; ``weighted_ndcg`` and
  ``average_rewards`` over the users whose ideal is positive (negative values clipped to 0).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pypersonalize import metrics
from pypersonalize.metrics import (
    METRIC_NAMES,
    average_rewards,
    coverage,
    ranking_metrics,
    segment_k,
    segment_metrics,
    weighted_ndcg,
)

TOL = 1e-9
CUTOFFS = (5, 10, 25)
NAMES = ("mean_reciprocal_rank_at_25",
         *(f"normalized_discounted_cumulative_gain_at_{k}" for k in CUTOFFS),
         *(f"precision_at_{k}" for k in CUTOFFS))


def arr(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def row(*items: int, width: int = 25) -> list[int]:
    """A rec row: the given items, then -1 padding up to ``width``."""
    return list(items) + [-1] * (width - len(items))


def placed(positions: dict[int, int], width: int = 25, filler_start: int = 1000) -> list[int]:
    """A rec row of distinct filler items with ``positions[rank] = item`` (rank 1 = top)."""
    out = [filler_start + i for i in range(width)]
    for rank, item in positions.items():
        out[rank - 1] = item
    return out


# -- the independent reference ------------------------------------------------------------

def ref_truth(truth_rows, truth_items, values=None) -> dict[int, dict[object, float]]:
    """user -> {item key: value}; unknown items get a key of their own per truth row."""
    n = len(truth_rows)
    frame = pd.DataFrame({
        "user": [int(u) for u in truth_rows],
        "item": [int(i) if int(i) >= 0 else ("unknown", j) for j, i in enumerate(truth_items)],
        "value": [1.0] * n if values is None else [max(float(v), 0.0) for v in values],
    })
    out: dict[int, dict[object, float]] = {}
    if n == 0:
        return out
    best = frame.groupby(["user", "item"], sort=False)["value"].max()
    for (user, item), value in best.items():
        out.setdefault(int(user), {})[item] = float(value)
    return out


def ref_hits(rec_row, known: dict[object, float]) -> list[tuple[int, float]]:
    """(rank, value) of every first-time recommendation of a known truth item."""
    seen: set[int] = set()
    hits = []
    for rank, item in enumerate(rec_row, start=1):
        item = int(item)
        if item < 0 or item in seen:
            continue
        seen.add(item)
        if item in known:
            hits.append((rank, known[item]))
    return hits


def ref_ranking(recs, truth_rows, truth_items) -> dict[str, float]:
    truth = ref_truth(truth_rows, truth_items)
    if not truth:
        return {name: 0.0 for name in NAMES}
    totals = {name: 0.0 for name in NAMES}
    for user, relevant in truth.items():
        known = {i: v for i, v in relevant.items() if isinstance(i, int)}
        ranks = [r for r, _v in ref_hits(list(recs[user]), known)]
        first = [r for r in ranks if r <= 25]
        totals["mean_reciprocal_rank_at_25"] += 1.0 / first[0] if first else 0.0
        for k in CUTOFFS:
            dcg = sum(1.0 / math.log2(1 + r) for r in ranks if r <= k)
            ideal = sum(1.0 / math.log2(1 + r) for r in range(1, min(len(relevant), k) + 1))
            totals[f"normalized_discounted_cumulative_gain_at_{k}"] += dcg / ideal
            totals[f"precision_at_{k}"] += sum(1 for r in ranks if r <= k) / k
    return {name: value / len(truth) for name, value in totals.items()}


def ref_weighted_ndcg(recs, truth_rows, truth_items, weights, k=25) -> float:
    scores = []
    for user, relevant in ref_truth(truth_rows, truth_items, weights).items():
        ordered = sorted(relevant.values(), reverse=True)[:k]
        ideal = sum(v / math.log2(1 + r) for r, v in enumerate(ordered, start=1))
        if ideal <= 0:
            continue
        known = {i: v for i, v in relevant.items() if isinstance(i, int)}
        dcg = sum(v / math.log2(1 + r) for r, v in ref_hits(list(recs[user])[:k], known))
        scores.append(dcg / ideal)
    return sum(scores) / len(scores) if scores else 0.0


def ref_average_rewards(recs, truth_rows, truth_items, rewards, k=25) -> float:
    scores = []
    for user, relevant in ref_truth(truth_rows, truth_items, rewards).items():
        best = sum(sorted(relevant.values(), reverse=True)[:k])
        if best <= 0:
            continue
        known = {i: v for i, v in relevant.items() if isinstance(i, int)}
        got = sum(v for _r, v in ref_hits(list(recs[user])[:k], known))
        scores.append(got / best)
    return sum(scores) / len(scores) if scores else 0.0


def ref_coverage(recs, n_items) -> float:
    if n_items <= 0:
        return 0.0
    return len({int(x) for x in np.asarray(recs).ravel() if int(x) >= 0}) / n_items


def ref_segment(predicted, actual, k) -> dict[str, float]:
    hits, recalls = [], []
    for pred, act in zip(predicted, actual):
        truth = {int(u) for u in act}
        if not truth:
            continue
        top: list[int] = []
        for u in pred:
            if int(u) not in top:
                top.append(int(u))
        top = top[:k]
        hit = len([u for u in top if u in truth])
        hits.append(hit)
        recalls.append(hit / min(k, len(truth)))
    if not hits:
        return {"hit": 0.0, "recall": 0.0}
    return {"hit": sum(hits) / len(hits), "recall": sum(recalls) / len(recalls)}


# -- the documentation's worked examples --------------------------------------------------

def test_metric_names_are_personalizes():
    assert METRIC_NAMES == NAMES
    assert metrics.K == 25 and metrics.CUTOFFS == CUTOFFS


def test_doc_example_hits_at_2_and_5():
    recs = arr([[7, 3, 8, 9, 4]])
    out = ranking_metrics(recs, arr([0, 0]), arr([3, 4]))
    exact = (1 / math.log2(3) + 1 / math.log2(6)) / (1 / math.log2(2) + 1 / math.log2(3))
    assert round(out["normalized_discounted_cumulative_gain_at_5"], 4) == 0.6241
    assert out["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(exact, abs=1e-12)
    # the log base does not matter: the natural-log form of the documentation gives the same
    natural = (1 / math.log(3) + 1 / math.log(6)) / (1 / math.log(2) + 1 / math.log(3))
    assert out["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(natural, abs=1e-12)
    assert out["mean_reciprocal_rank_at_25"] == pytest.approx(1 / 2, abs=1e-12)
    assert out["precision_at_5"] == pytest.approx(2 / 5, abs=1e-12)
    # with only two relevant items the longer cut-offs keep the same NDCG; precision divides by K
    assert out["normalized_discounted_cumulative_gain_at_10"] == pytest.approx(exact, abs=1e-12)
    assert out["normalized_discounted_cumulative_gain_at_25"] == pytest.approx(exact, abs=1e-12)
    assert out["precision_at_10"] == pytest.approx(2 / 10, abs=1e-12)
    assert out["precision_at_25"] == pytest.approx(2 / 25, abs=1e-12)


def test_doc_example_mrr_three_users():
    ranks = [(4, 10), (2, 4, 12), (6,)]
    recs, truth_rows, truth_items = [], [], []
    for user, hits in enumerate(ranks):
        positions = {rank: 100 * user + j for j, rank in enumerate(hits)}
        recs.append(placed(positions))
        truth_rows += [user] * len(hits)
        truth_items += list(positions.values())
    out = ranking_metrics(arr(recs), arr(truth_rows), arr(truth_items))
    assert out["mean_reciprocal_rank_at_25"] == pytest.approx((1 / 4 + 1 / 2 + 1 / 6) / 3, abs=1e-12)
    assert round(out["mean_reciprocal_rank_at_25"], 4) == 0.3056
    # precision@25 counts all seven hits, precision@5 only ranks 4, 2, 4
    assert out["precision_at_25"] == pytest.approx((2 + 3 + 1) / 25 / 3, abs=1e-12)
    assert out["precision_at_5"] == pytest.approx((1 + 2 + 0) / 5 / 3, abs=1e-12)


def test_mrr_ignores_hits_below_25():
    recs = arr([placed({26: 5}, width=30)])
    out = ranking_metrics(recs, arr([0]), arr([5]))
    assert out["mean_reciprocal_rank_at_25"] == 0.0
    assert out["precision_at_25"] == 0.0
    recs = arr([placed({25: 5}, width=30)])
    out = ranking_metrics(recs, arr([0]), arr([5]))
    assert out["mean_reciprocal_rank_at_25"] == pytest.approx(1 / 25, abs=1e-12)


def weighted_example(purchase: float, click: float) -> float:
    # user 0: a clicked item at rank 1, a purchased one at rank 3, a purchased one never shown;
    # user 1: one item clicked and purchased (largest weight counts), recommended at rank 2
    recs = arr([row(10, 99, 11, 98), row(97, 20, 96)])
    truth_rows = arr([0, 0, 0, 1, 1])
    truth_items = arr([10, 11, 12, 20, 20])
    weights = np.array([click, purchase, purchase, click, purchase])
    return weighted_ndcg(recs, truth_rows, truth_items, weights)


def test_weighted_ndcg_doc_weights_and_ratio_invariance():
    value = weighted_example(0.3, 0.1)
    user0 = (0.1 / math.log2(2) + 0.3 / math.log2(4)) / (0.3 / math.log2(2) + 0.3 / math.log2(3)
                                                      + 0.1 / math.log2(4))
    user1 = (0.3 / math.log2(3)) / 0.3
    assert value == pytest.approx((user0 + user1) / 2, abs=1e-12)
    assert weighted_example(0.6, 0.2) == pytest.approx(value, abs=1e-12)
    # the rewards of the documentation (1.5 vs 0.5) are the weights over their mean
    assert weighted_example(1.5, 0.5) == pytest.approx(value, abs=1e-12)
    # a different ratio gives a different value: the weights do matter
    assert abs(weighted_example(0.1, 0.3) - value) > 1e-3


def test_weighted_ndcg_equal_weights_is_plain_ndcg():
    recs = arr([[7, 3, 8, 9, 4]])
    plain = ranking_metrics(recs, arr([0, 0]), arr([3, 4]))["normalized_discounted_cumulative_gain_at_5"]
    assert weighted_ndcg(recs, arr([0, 0]), arr([3, 4]), np.array([2.0, 2.0]), k=5) == pytest.approx(
        plain, abs=1e-12)


# -- edge cases ---------------------------------------------------------------------------

def test_duplicate_recommendation_counts_once_at_its_first_position():
    out = ranking_metrics(arr([row(3, 3, 3, 3, 3)]), arr([0]), arr([3]))
    assert out["precision_at_5"] == pytest.approx(1 / 5)
    assert out["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(1.0)
    # the duplicate keeps its slot: the second relevant item is at rank 3, not 2
    out = ranking_metrics(arr([row(3, 3, 4)]), arr([0, 0]), arr([3, 4]))
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert out["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(expected, abs=1e-12)
    assert out["precision_at_5"] == pytest.approx(2 / 5)
    # a duplicate of a non-hit before the hit does not hide it
    out = ranking_metrics(arr([row(8, 8, 4)]), arr([0]), arr([4]))
    assert out["mean_reciprocal_rank_at_25"] == pytest.approx(1 / 3)


def test_duplicates_count_once_in_weighted_and_rewards():
    recs = arr([row(3, 3, 3)])
    assert weighted_ndcg(recs, arr([0, 0]), arr([3, 4]), np.array([1.0, 1.0])) == pytest.approx(
        1 / (1 + 1 / math.log2(3)), abs=1e-12)
    assert average_rewards(recs, arr([0, 0]), arr([3, 4]), np.array([2.0, 2.0])) == pytest.approx(0.5)


def test_padding_never_matches():
    recs = arr([row(), row(-1, 5)])
    # a truth code of -1 (an unknown item) is not matched by the -1 padding
    out = ranking_metrics(recs, arr([0, 1]), arr([-1, -1]))
    assert all(value == 0.0 for value in out.values())
    assert weighted_ndcg(recs, arr([0, 1]), arr([-1, -1]), np.array([1.0, 1.0])) == 0.0
    assert average_rewards(recs, arr([0, 1]), arr([-1, -1]), np.array([1.0, 1.0])) == 0.0
    # padding in the middle of a list keeps its slot
    out = ranking_metrics(arr([row(-1, -1, 7)]), arr([0]), arr([7]))
    assert out["mean_reciprocal_rank_at_25"] == pytest.approx(1 / 3)


def test_unknown_truth_items_are_relevant_but_never_hit():
    recs = arr([row(1, 2, 3, 4, 5)])
    out = ranking_metrics(recs, arr([0, 0]), arr([1, -1]))
    assert out["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert out["precision_at_5"] == pytest.approx(1 / 5)
    assert out["mean_reciprocal_rank_at_25"] == pytest.approx(1.0)
    # only unknown items: the user is averaged (with 0), not left out
    two = ranking_metrics(arr([row(1), row(1)]), arr([0, 1]), arr([1, -7]))
    assert two["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(0.5)
    assert two["mean_reciprocal_rank_at_25"] == pytest.approx(0.5)
    # each unknown truth row is its own relevant item
    three = ranking_metrics(recs, arr([0, 0, 0]), arr([1, -1, -1]))
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert three["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(1 / ideal, abs=1e-12)
    # in the weighted metrics an unknown item's weight raises the ideal only
    assert weighted_ndcg(recs, arr([0, 0]), arr([1, -1]), np.array([1.0, 3.0])) == pytest.approx(
        1 / (3 + 1 / math.log2(3)), abs=1e-12)
    assert average_rewards(recs, arr([0, 0]), arr([1, -1]), np.array([1.0, 3.0])) == pytest.approx(0.25)


def test_item_twice_in_truth_is_one_relevant_item():
    recs = arr([row(1, 2, 3, 4, 5)])
    out = ranking_metrics(recs, arr([0, 0, 0]), arr([1, 1, 1]))
    assert out["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(1.0)
    assert out["precision_at_5"] == pytest.approx(1 / 5)
    out = ranking_metrics(recs, arr([0, 0, 0]), arr([9, 9, 1]))
    assert out["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(1 / (1 + 1 / math.log2(3)))
    # weighted: the largest of its weights, counted once in the ideal
    assert weighted_ndcg(recs, arr([0, 0, 0]), arr([2, 2, 9]), np.array([0.5, 4.0, 1.0])) == pytest.approx(
        (4.0 / math.log2(3)) / (4.0 + 1.0 / math.log2(3)), abs=1e-12)


def test_users_without_truth_are_not_averaged():
    perfect = ranking_metrics(arr([row(1, 2)]), arr([0, 0]), arr([1, 2]))
    # two more users with no truth (and no hits) must not dilute the average
    wider = ranking_metrics(arr([row(5), row(1, 2), row()]), arr([1, 1]), arr([1, 2]))
    for name in NAMES:
        assert wider[name] == pytest.approx(perfect[name], abs=1e-12)
    assert wider["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(1.0)
    assert wider["mean_reciprocal_rank_at_25"] == pytest.approx(1.0)
    assert wider["precision_at_5"] == pytest.approx(2 / 5)
    # no truth at all: every metric 0
    empty = ranking_metrics(arr([row(1, 2)]), arr([]), arr([]))
    assert empty == {name: 0.0 for name in NAMES}
    assert weighted_ndcg(arr([row(1, 2)]), arr([]), arr([]), np.array([])) == 0.0
    assert average_rewards(arr([row(1, 2)]), arr([]), arr([]), np.array([])) == 0.0


def test_weighted_ndcg_leaves_out_users_whose_truth_weighs_nothing():
    recs = arr([row(1), row(2)])
    # user 1's only event has weight 0 (and a negative weight is no weight): not a 0 in the mean
    assert weighted_ndcg(recs, arr([0, 1]), arr([1, 5]), np.array([1.0, 0.0])) == pytest.approx(1.0)
    assert weighted_ndcg(recs, arr([0, 1]), arr([1, 5]), np.array([1.0, -2.0])) == pytest.approx(1.0)
    # a zero-weight hit gains nothing
    assert weighted_ndcg(recs, arr([0, 0]), arr([1, 3]), np.array([0.0, 1.0])) == 0.0


def test_weighted_ndcg_cutoff():
    recs = arr([placed({3: 1})])
    assert weighted_ndcg(recs, arr([0]), arr([1]), np.array([1.0]), k=2) == 0.0
    assert weighted_ndcg(recs, arr([0]), arr([1]), np.array([1.0]), k=3) == pytest.approx(1 / math.log2(4))


def test_average_rewards():
    recs = arr([row(10, 11, 12), row(20, 21), row(30, 31)])
    truth_rows = arr([0, 0, 0, 1, 1, 2])
    truth_items = arr([10, 11, 13, 20, 21, 39])
    rewards = np.array([10.0, -5.0, 2.0, 0.0, -1.0, 4.0])
    # user 0: hits 10 (10) and 11 (negative, counts 0) in the top 2 over the best two (10 + 2);
    # user 1: no reward to earn, left out; user 2: earns 0 of 4
    value = average_rewards(recs, truth_rows, truth_items, rewards, k=2)
    assert value == pytest.approx((10 / 12 + 0.0) / 2, abs=1e-12)
    # with k=1 the best list holds only the reward 10 and user 0 gets it
    assert average_rewards(recs, truth_rows, truth_items, rewards, k=1) == pytest.approx(0.5)
    # a hit below k does not count
    assert average_rewards(arr([row(99, 13)]), arr([0]), arr([13]), np.array([3.0]), k=1) == 0.0
    # every user without a reward: 0
    assert average_rewards(recs, arr([0, 1]), arr([10, 20]), np.array([0.0, -3.0])) == 0.0


def test_coverage():
    recs = arr([[0, 1, -1], [1, 2, -1], [2, 2, 1]])
    assert coverage(recs, 4) == pytest.approx(3 / 4)
    assert coverage(recs, 3) == pytest.approx(1.0)
    assert coverage(arr([[-1, -1]]), 10) == 0.0
    assert coverage(recs, 0) == 0.0
    assert coverage(np.zeros((0, 25), dtype=np.int64), 10) == 0.0


@pytest.mark.parametrize(("n_users", "k"), [(0, 1), (1, 1), (49, 1), (100, 1), (149, 1), (151, 2),
                                            (199, 2), (1000, 10), (12_345, 123), (99_960, 1000)])
def test_segment_k_is_one_percent_at_least_one(n_users, k):
    assert segment_k(n_users) == k


def test_segment_k_is_monotone():
    values = [segment_k(n) for n in range(0, 5000)]
    assert values == sorted(values)
    assert all(abs(v - max(1.0, n / 100)) <= 0.5 + 1e-9 for n, v in enumerate(values))


def test_segment_metrics_hit_and_recall():
    predicted = [arr([1, 2, 3, 4]), arr([5, 5, 6]), arr([7, 8]), arr([1, 2, 3])]
    actual = [arr([2, 4, 9]), arr([6, 5]), arr([]), arr([3, 3])]
    out = segment_metrics(predicted, actual, k=2)
    # item 0: top 2 = [1, 2], one hit over min(2, 3); item 1: deduped top 2 = [5, 6], two hits
    # over 2; item 2 has no actual users and is left out; item 3: [1, 2], 0 hits over min(2, 1)
    assert out["hit"] == pytest.approx((1 + 2 + 0) / 3)
    assert out["recall"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    # recall is over min(k, |actual|): a perfect segment of a one-user item scores 1
    assert segment_metrics([arr([3, 9, 8])], [arr([3])], k=3) == {"hit": 1.0, "recall": 1.0}
    assert segment_metrics([arr([3, 9, 8])], [arr([3, 8, 7, 6])], k=3) == pytest.approx(
        {"hit": 2.0, "recall": 2 / 3})
    assert segment_metrics([arr([1])], [arr([])], k=1) == {"hit": 0.0, "recall": 0.0}
    assert segment_metrics([], [], k=1) == {"hit": 0.0, "recall": 0.0}
    # unknown actual users (negative codes, as evaluation.py writes them) are never predicted
    assert segment_metrics([arr([0, 1])], [arr([-1, -2])], k=2) == {"hit": 0.0, "recall": 0.0}


def test_wide_recs_cut_at_each_cutoff():
    recs = arr([placed({4: 1, 8: 2, 20: 3, 30: 4}, width=40)])
    out = ranking_metrics(recs, arr([0, 0, 0, 0]), arr([1, 2, 3, 4]))
    assert out["precision_at_5"] == pytest.approx(1 / 5)
    assert out["precision_at_10"] == pytest.approx(2 / 10)
    assert out["precision_at_25"] == pytest.approx(3 / 25)
    assert out["normalized_discounted_cumulative_gain_at_25"] == pytest.approx(
        (1 / math.log2(5) + 1 / math.log2(9) + 1 / math.log2(21))
        / sum(1 / math.log2(1 + r) for r in range(1, 5)), abs=1e-12)
    assert out == pytest.approx(ref_ranking(recs, [0, 0, 0, 0], [1, 2, 3, 4]), abs=TOL)


# -- the reference on random data ---------------------------------------------------------

def random_case(seed: int, n_users: int, width: int, n_items: int):
    rng = np.random.default_rng(seed)
    recs = rng.integers(0, n_items, size=(n_users, width))          # duplicates within rows
    if width:
        short = rng.random(n_users) < 0.4                           # short lists, -1 padded
        lengths = rng.integers(0, width + 1, size=n_users)
        for u in np.flatnonzero(short):
            recs[u, lengths[u]:] = -1
        recs[rng.random((n_users, width)) < 0.05] = -1              # padding in the middle
    with_truth = rng.random(n_users) < 0.75
    truth_rows, truth_items = [], []
    for u in np.flatnonzero(with_truth):
        count = int(rng.integers(1, 12))
        items = rng.integers(0, n_items + 3, size=count)             # some never recommendable
        if width and rng.random() < 0.7:                              # make hits likely
            items[: count // 2] = rng.choice(recs[u], size=count // 2)
        items[rng.random(count) < 0.1] = -1                           # unknown items (even -1)
        items[rng.random(count) < 0.05] = -3
        truth_rows += [u] * count
        truth_items += items.tolist()
    order = rng.permutation(len(truth_rows))                          # truth in no order
    truth_rows = arr(truth_rows)[order] if truth_rows else arr([])
    truth_items = arr(truth_items)[order] if truth_items else arr([])
    weights = rng.choice([0.0, 0.1, 0.3, 1.0, 2.5, -1.0], size=len(truth_rows))
    rewards = np.round(rng.normal(3.0, 4.0, size=len(truth_rows)), 2)
    return recs.astype(np.int64), truth_rows, truth_items, weights, rewards


SHAPES = [(1, 5, 4), (3, 0, 5), (7, 25, 12), (20, 10, 30), (40, 40, 15), (15, 30, 60),
          (60, 25, 25), (5, 3, 3), (30, 26, 8)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("n_users", "width", "n_items"), SHAPES)
def test_against_reference(seed, n_users, width, n_items):
    recs, truth_rows, truth_items, weights, rewards = random_case(seed * 1000 + n_users, n_users, width,
                                                                 n_items)
    assert len(truth_rows) or n_users < 3  # the case is not trivially empty
    got = ranking_metrics(recs, truth_rows, truth_items)
    want = ref_ranking(recs, truth_rows, truth_items)
    assert set(got) == set(NAMES)
    for name in NAMES:
        assert got[name] == pytest.approx(want[name], abs=TOL), name
    for k in (1, 5, 25, 30):
        assert weighted_ndcg(recs, truth_rows, truth_items, weights, k) == pytest.approx(
            ref_weighted_ndcg(recs, truth_rows, truth_items, weights, k), abs=TOL)
        assert average_rewards(recs, truth_rows, truth_items, rewards, k) == pytest.approx(
            ref_average_rewards(recs, truth_rows, truth_items, rewards, k), abs=TOL)
    assert weighted_ndcg(recs, truth_rows, truth_items, weights) == pytest.approx(
        ref_weighted_ndcg(recs, truth_rows, truth_items, weights), abs=TOL)
    assert average_rewards(recs, truth_rows, truth_items, rewards) == pytest.approx(
        ref_average_rewards(recs, truth_rows, truth_items, rewards), abs=TOL)
    for catalogue in (0, n_items, n_items + 7):
        assert coverage(recs, catalogue) == pytest.approx(ref_coverage(recs, catalogue), abs=TOL)


def test_reference_cases_are_not_degenerate():
    """The random cases exercise hits, duplicates, padding and unknown items, and the metrics
    come out strictly between 0 and 1 for some of them (so a constant would not pass)."""
    hits = dups = pads = unknown = between = 0
    for seed in range(6):
        for n_users, width, n_items in SHAPES:
            recs, rows, items, _w, _r = random_case(seed * 1000 + n_users, n_users, width, n_items)
            truth = set(zip(rows.tolist(), items.tolist()))
            hits += sum((u, int(i)) in truth for u in range(n_users) for i in recs[u] if i >= 0)
            dups += sum(len(set(r[r >= 0].tolist())) < int((r >= 0).sum()) for r in recs)
            pads += int((recs < 0).sum())
            unknown += int((items < 0).sum())
            value = ranking_metrics(recs, rows, items)["normalized_discounted_cumulative_gain_at_10"]
            between += 0.0 < value < 1.0
    assert hits > 100 and dups > 50 and pads > 50 and unknown > 20 and between > 20


@pytest.mark.parametrize("seed", range(5))
def test_segment_metrics_against_reference(seed):
    rng = np.random.default_rng(seed)
    n_items = int(rng.integers(1, 30))
    predicted = [rng.integers(0, 40, size=int(rng.integers(0, 15))) for _ in range(n_items)]
    actual = [np.concatenate([rng.integers(0, 40, size=int(rng.integers(0, 10))),
                              -1 - rng.integers(0, 5, size=int(rng.integers(0, 3)))])
              for _ in range(n_items)]
    for k in (1, 3, 8, 20):
        got = segment_metrics(predicted, actual, k)
        want = ref_segment(predicted, actual, k)
        assert got["hit"] == pytest.approx(want["hit"], abs=TOL)
        assert got["recall"] == pytest.approx(want["recall"], abs=TOL)
