"""Properties of pypersonalize/metrics.py on small random recommendation lists and truth.

Hypothesis draws a few users, each with a short list of item codes (duplicates and ``-1``
padding allowed) and maybe some truth (repeated items and unknown, negative, codes allowed),
with a weight and a reward per truth row. The properties follow from the definitions in
the module's docstrings: every metric is a fraction; a list that starts with the user's
truth is perfect; users are independent of their order; padding beyond the cut-offs is
invisible; only the ratio of the eventsConfig weights matters; one more hit never lowers a
metric.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pypersonalize.metrics import (
    METRIC_NAMES,
    average_rewards,
    coverage,
    ranking_metrics,
    segment_metrics,
    weighted_ndcg,
)

N_ITEMS = 12
FAST = settings(max_examples=80, deadline=None, derandomize=True, database=None)
ITEM = st.integers(-1, N_ITEMS - 1)                      # -1: padding in recs, unknown in truth


@dataclass
class Case:
    recs: np.ndarray          # (n_users, width) int64
    truth_rows: np.ndarray
    truth_items: np.ndarray
    weights: np.ndarray
    rewards: np.ndarray

    def ranking(self) -> dict[str, float]:
        return ranking_metrics(self.recs, self.truth_rows, self.truth_items)

    def all_metrics(self, k: int = 25) -> dict[str, float]:
        out = dict(self.ranking())
        out["weighted"] = weighted_ndcg(self.recs, self.truth_rows, self.truth_items, self.weights, k)
        out["rewards"] = average_rewards(self.recs, self.truth_rows, self.truth_items, self.rewards, k)
        return out


@st.composite
def cases(draw, max_users: int = 5, max_width: int = 30, known_only: bool = False) -> Case:
    n_users = draw(st.integers(1, max_users))
    width = draw(st.integers(0, max_width))
    recs = draw(st.lists(st.lists(ITEM, min_size=width, max_size=width), min_size=n_users,
                         max_size=n_users))
    truth_item = st.integers(0, N_ITEMS + 2) if known_only else st.integers(-3, N_ITEMS + 2)
    truth = draw(st.lists(st.tuples(st.integers(0, n_users - 1), truth_item,
                                    st.sampled_from([0.0, 0.1, 0.3, 1.0, 2.0, -1.0]),
                                    st.floats(-5, 10, allow_nan=False)), max_size=20))
    return Case(np.asarray(recs, dtype=np.int64).reshape(n_users, width),
                np.asarray([t[0] for t in truth], dtype=np.int64),
                np.asarray([t[1] for t in truth], dtype=np.int64),
                np.asarray([t[2] for t in truth], dtype=np.float64),
                np.asarray([t[3] for t in truth], dtype=np.float64))


def assert_same(a: dict[str, float], b: dict[str, float]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert math.isclose(a[name], b[name], rel_tol=1e-9, abs_tol=1e-12), (name, a[name], b[name])


@FAST
@given(cases(), st.sampled_from([1, 3, 5, 25, 40]))
def test_every_metric_is_a_fraction(case, k):
    out = case.all_metrics(k)
    assert set(METRIC_NAMES) <= out.keys()
    for name, value in out.items():
        assert 0.0 <= value <= 1.0 + 1e-12, (name, value)
    distinct = len(set(case.recs[case.recs >= 0].tolist()))
    assert 0.0 <= coverage(case.recs, max(distinct, 1)) <= 1.0
    predicted = [row for row in case.recs]
    actual = [case.truth_items[case.truth_rows == u] for u in range(len(case.recs))]
    seg = segment_metrics(predicted, actual, k)
    assert 0.0 <= seg["recall"] <= 1.0 + 1e-12
    assert 0.0 <= seg["hit"] <= k


@FAST
@given(cases(known_only=True), st.data())
def test_a_list_that_starts_with_the_truth_is_perfect(case, data):
    n_users = len(case.recs)
    width = max(case.recs.shape[1], 25)
    recs = np.full((n_users, width), -1, dtype=np.int64)
    relevant = {}
    for u in range(n_users):
        truth = list(dict.fromkeys(case.truth_items[case.truth_rows == u].tolist()))
        truth = data.draw(st.permutations(truth))
        # after the truth: anything that is not relevant (other items, duplicates, padding)
        rest = data.draw(st.lists(st.sampled_from([-1, 100, 101, *truth]), min_size=width - len(truth),
                                  max_size=width - len(truth)))
        recs[u] = truth + rest
        relevant[u] = len(truth)
    out = ranking_metrics(recs, case.truth_rows, case.truth_items)
    users = [u for u in range(n_users) if relevant[u]]
    if not users:
        assert all(v == 0.0 for v in out.values())
        return
    assert math.isclose(out["mean_reciprocal_rank_at_25"], 1.0)
    for k in (5, 10, 25):
        assert math.isclose(out[f"normalized_discounted_cumulative_gain_at_{k}"], 1.0)
        expected = sum(min(relevant[u], k) / k for u in users) / len(users)
        assert math.isclose(out[f"precision_at_{k}"], expected, abs_tol=1e-12)
    # the weighted metrics are perfect too when the list holds the truth in weight order
    for u in range(n_users):
        mine = case.truth_rows == u
        best: dict[int, float] = {}
        for item, w in zip(case.truth_items[mine].tolist(), case.weights[mine].tolist()):
            best[item] = max(best.get(item, 0.0), w)
        ordered = sorted(best, key=lambda i: -best[i])
        recs[u, :len(ordered)] = ordered
        recs[u, len(ordered):] = -1
    value = weighted_ndcg(recs, case.truth_rows, case.truth_items, case.weights)
    assert value == 0.0 or math.isclose(value, 1.0)
    assert (value == 0.0) == bool((np.maximum(case.weights, 0) == 0).all())


@FAST
@given(cases(), st.randoms(use_true_random=False))
def test_permuting_users_changes_nothing(case, rnd):
    n_users = len(case.recs)
    order = list(range(n_users))
    rnd.shuffle(order)
    new_row = np.empty(n_users, dtype=np.int64)
    new_row[order] = np.arange(n_users)                   # old user order[j] becomes row j
    shuffled_truth = list(range(len(case.truth_rows)))
    rnd.shuffle(shuffled_truth)
    t = np.asarray(shuffled_truth, dtype=np.int64)
    moved = Case(case.recs[order], new_row[case.truth_rows][t] if len(t) else case.truth_rows,
                 case.truth_items[t] if len(t) else case.truth_items,
                 case.weights[t] if len(t) else case.weights, case.rewards[t] if len(t) else case.rewards)
    for k in (5, 25):
        assert_same(case.all_metrics(k), moved.all_metrics(k))
    assert coverage(case.recs, N_ITEMS) == coverage(moved.recs, N_ITEMS)


@FAST
@given(cases(max_width=25), st.integers(1, 30))
def test_padding_beyond_25_changes_nothing(case, extra):
    n_users, width = case.recs.shape
    wide = np.full((n_users, 25 + extra), -1, dtype=np.int64)
    wide[:, :width] = case.recs
    padded = Case(wide, case.truth_rows, case.truth_items, case.weights, case.rewards)
    assert_same(case.all_metrics(25), padded.all_metrics(25))
    assert_same(case.all_metrics(25 + extra), padded.all_metrics(25 + extra))
    assert coverage(case.recs, N_ITEMS) == coverage(wide, N_ITEMS)


@FAST
@given(cases(), st.floats(1e-3, 1e3), st.sampled_from([5, 10, 25]))
def test_only_the_ratio_of_weights_matters(case, scale, k):
    before = weighted_ndcg(case.recs, case.truth_rows, case.truth_items, case.weights, k)
    after = weighted_ndcg(case.recs, case.truth_rows, case.truth_items, case.weights * scale, k)
    assert math.isclose(before, after, rel_tol=1e-9, abs_tol=1e-12)
    # the same holds for the rewards of average_rewards
    before = average_rewards(case.recs, case.truth_rows, case.truth_items, case.rewards, k)
    after = average_rewards(case.recs, case.truth_rows, case.truth_items, case.rewards * scale, k)
    assert math.isclose(before, after, rel_tol=1e-9, abs_tol=1e-12)


def first_hits(rec_row: list[int], known: set[int]) -> set[int]:
    """0-based slots holding a first-time recommendation of a truth item."""
    seen: set[int] = set()
    out = set()
    for j, item in enumerate(rec_row):
        if item >= 0 and item not in seen and item in known:
            out.add(j)
        if item >= 0:
            seen.add(item)
    return out


@FAST
@given(cases(max_width=30), st.data())
def test_adding_a_hit_never_lowers_precision(case, data):
    n_users, width = case.recs.shape
    candidates = []
    for u in range(n_users):
        known = {int(i) for i in case.truth_items[case.truth_rows == u] if i >= 0}
        missing = sorted(known - set(case.recs[u].tolist()))
        hits = first_hits(case.recs[u].tolist(), known)
        slots = [j for j in range(width) if j not in hits]
        if missing and slots:
            candidates.append((u, missing, slots))
    if not candidates:
        return
    u, missing, slots = data.draw(st.sampled_from(candidates))
    item = data.draw(st.sampled_from(missing))
    slot = data.draw(st.sampled_from(slots))
    recs = case.recs.copy()
    recs[u, slot] = item                                   # a new hit at rank slot + 1
    before = case.ranking()
    after = ranking_metrics(recs, case.truth_rows, case.truth_items)
    for name in METRIC_NAMES:
        assert after[name] >= before[name] - 1e-12, name
    n_truth_users = len(set(case.truth_rows.tolist()))
    for k in (5, 10, 25):
        gain = 1 / (k * n_truth_users) if slot < k else 0.0
        assert math.isclose(after[f"precision_at_{k}"], before[f"precision_at_{k}"] + gain, abs_tol=1e-12)
        if slot < k:
            assert after[f"normalized_discounted_cumulative_gain_at_{k}"] > \
                before[f"normalized_discounted_cumulative_gain_at_{k}"]
