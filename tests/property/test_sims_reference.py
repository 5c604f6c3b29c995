"""SIMS against an independent reference: every related item, rank and score, and serving.

The reference implementation below is written from the definition (the docstring of
``pypersonalize/recipes/sims.py`` and the SQL under ``sql/recipes/sims``), in plain Python
loops over users, sharing no code with the package. A synthetic dataset group is built so
that every cut-off bites: a bot user far longer than everybody, a user with one item, an
item with a single user, an item nearly everybody has (capped by
``max_item_interaction_count_percentile``, with a timestamp tie right at the cap), item
pairs that co-occur only in the bot's history or only among the oldest users of the
popular item, repeated user-item pairs and two event types with values.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import pypersonalize

SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}
COLUMNS = ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]
T0 = 1_600_000_000
TOL = 1e-12

# Amazon Personalize's documented SIMS defaults (restated here, not imported).
DEFAULTS = {
    "popularity_discount_factor": 0.5,
    "min_cointeraction_count": 3,
    "min_user_history_length_percentile": 0.005,
    "max_user_history_length_percentile": 0.995,
    "min_item_interaction_count_percentile": 0.01,
    "max_item_interaction_count_percentile": 0.9,
    "max_related_items": 500,
}
NO_FILTER = {"min_user_history_length_percentile": 0.0, "max_user_history_length_percentile": 1.0,
             "min_item_interaction_count_percentile": 0.0, "max_item_interaction_count_percentile": 1.0}
TIGHT = {"min_user_history_length_percentile": 0.2, "max_user_history_length_percentile": 0.8,
         "min_item_interaction_count_percentile": 0.2, "max_item_interaction_count_percentile": 0.8}
SKEWED = {"min_user_history_length_percentile": 0.1, "max_user_history_length_percentile": 0.95,
          "min_item_interaction_count_percentile": 0.05, "max_item_interaction_count_percentile": 0.5}
PERCENTILES = {"defaults": {}, "nofilter": NO_FILTER, "tight": TIGHT, "skewed": SKEWED}


# -- the reference ------------------------------------------------------------------------

@dataclass
class Reference:
    related: dict[str, list[tuple[str, float]]]      # item -> [(related, score)] by rank
    popular: list[tuple[str, float]]                   # [(item, score)] by rank
    cutoffs: dict[str, list[float]]
    kept_users: set[str] = field(default_factory=set)
    n: dict[str, int] = field(default_factory=dict)    # kept users per item
    pairs: int = 0                                     # item pairs passing min_cointeraction_count


def reference(df: pd.DataFrame, hp: dict, event_type=None, threshold=None) -> Reference:
    hp = {**DEFAULTS, **hp}
    rows = df
    if event_type is not None:
        rows = rows[rows.EVENT_TYPE == event_type]
    if threshold is not None:
        rows = rows[rows.EVENT_VALUE >= threshold]          # NaN (null) never passes

    latest: dict[tuple[str, str], int] = {}
    for user, item, ts in zip(rows.USER_ID, rows.ITEM_ID, rows.TIMESTAMP):
        key = (user, item)
        if key not in latest or ts > latest[key]:
            latest[key] = int(ts)
    items_of: dict[str, set[str]] = defaultdict(set)
    users_of: dict[str, set[str]] = defaultdict(set)
    for user, item in latest:
        items_of[user].add(item)
        users_of[item].add(user)

    # popularity: distinct users per item, share of all users, ties by item id
    total = len(items_of)
    popular = sorted(((item, len(users)) for item, users in users_of.items()), key=lambda p: (-p[1], p[0]))
    popular_scored = [(item, count / total) for item, count in popular]

    lengths = np.array([len(s) for s in items_of.values()], dtype=float)
    counts = np.array([len(s) for s in users_of.values()], dtype=float)
    b_lo, b_hi = (float(x) for x in np.quantile(lengths, [hp["min_user_history_length_percentile"],
                                                          hp["max_user_history_length_percentile"]]))
    i_lo, i_hi = (float(x) for x in np.quantile(counts, [hp["min_item_interaction_count_percentile"],
                                                         hp["max_item_interaction_count_percentile"]]))
    basket_id = {user: k for k, user in enumerate(sorted(items_of))}
    kept_users = {user for user, items in items_of.items() if b_lo <= len(items) <= b_hi}

    basket: dict[str, set[str]] = defaultdict(set)
    n: dict[str, int] = {}
    for item, users in users_of.items():
        if len(users) < i_lo:
            continue
        candidates = sorted((u for u in users if u in kept_users),
                            key=lambda u: (-latest[(u, item)], basket_id[u]))
        chosen = [u for position, u in enumerate(candidates, start=1) if position <= i_hi]
        for u in chosen:
            basket[u].add(item)
        if chosen:
            n[item] = len(chosen)

    cooc: Counter = Counter()
    for items in basket.values():
        for a, b in itertools.combinations(sorted(items), 2):
            cooc[(a, b)] += 1
    alpha = float(hp["popularity_discount_factor"])
    minimum = max(1, int(hp["min_cointeraction_count"]))
    scored: dict[str, list[tuple[str, float]]] = defaultdict(list)
    pairs = 0
    for (a, b), c in cooc.items():
        if c < minimum:
            continue
        pairs += 1
        score = c / (float(n[a]) ** alpha * float(n[b]) ** alpha)
        scored[a].append((b, score))
        scored[b].append((a, score))
    related = {}
    for item, candidates in scored.items():
        candidates.sort(key=lambda r: (-r[1], r[0]))
        related[item] = candidates[: int(hp["max_related_items"])]
    return Reference(related=related, popular=popular_scored,
                     cutoffs={"basketLength": [b_lo, b_hi], "itemCount": [i_lo, i_hi]},
                     kept_users={u for u in kept_users if basket.get(u)}, n=n, pairs=pairs)


# -- reading a trained version back ---------------------------------------------------------

def stored_related(pp, version: str) -> dict[str, list[tuple[int, str, float]]]:
    out: dict[str, list] = defaultdict(list)
    for item, related, score, rank in pp.con.execute(
            "SELECT item, related, score, rank FROM pypersonalize.related_items "
            "WHERE version_arn = $v ORDER BY item, rank", {"v": version}).fetchall():
        out[item].append((rank, related, score))
    return dict(out)


def stored_popular(pp, version: str) -> list[tuple[int, str, float]]:
    return [tuple(r) for r in pp.con.execute(
        "SELECT rank, item, score FROM pypersonalize.popular_items WHERE version_arn = $v ORDER BY rank",
        {"v": version}).fetchall()]


def assert_version_matches(pp, version: str, ref: Reference) -> None:
    got = stored_related(pp, version)
    problems = []
    for item in sorted(set(got) | set(ref.related)):
        have, want = got.get(item, []), ref.related.get(item, [])
        if [r for r, _, _ in have] != list(range(1, len(have) + 1)):
            problems.append(f"{item}: ranks {[r for r, _, _ in have]}")
        if [rel for _, rel, _ in have] != [rel for rel, _ in want]:
            problems.append(f"{item}: related {[rel for _, rel, _ in have]} != reference "
                            f"{[rel for rel, _ in want]}")
            continue
        for (rank, rel, score), (_, expected) in zip(have, want):
            if not abs(score - expected) <= TOL:
                problems.append(f"{item} -> {rel} (rank {rank}): score {score!r} != reference {expected!r}")
    assert not problems, f"{len(problems)} mismatches, first: " + "; ".join(problems[:5])

    popular = stored_popular(pp, version)
    assert [(rank, item) for rank, item, _ in popular] == \
        [(k, item) for k, (item, _) in enumerate(ref.popular, start=1)]
    for (_, item, score), (_, expected) in zip(popular, ref.popular):
        assert abs(score - expected) <= TOL, (item, score, expected)

    stats = pp.describe_solution_version(version)["solutionVersion"]["modelStats"]
    for key, bounds in ref.cutoffs.items():
        assert stats["cutoffs"][key] == pytest.approx(bounds, abs=TOL), key
    assert stats["baskets"] == len(ref.kept_users)
    assert stats["items"] == len(ref.n)
    assert stats["itemPairs"] == ref.pairs
    assert stats["relatedItems"] == sum(len(v) for v in ref.related.values())
    assert stats["popularItems"] == len(ref.popular)


# -- the synthetic dataset group --------------------------------------------------------------

HOT_KEPT = 50          # the cap the targeted test sets for "hot": it keeps its 50 latest users
BOT, SOLO = "zz-bot", "a-solo"
TIE_KEPT, TIE_DROPPED = "u10", "u9"   # same latest "hot" timestamp; "u10" < "u9" as strings


def build_world(seed: int = 11) -> pd.DataFrame:
    """About 2,500 interactions of 60 users on 40 items, shaped as the module docstring says."""
    rng = np.random.default_rng(seed)
    normal = [f"u{k}" for k in range(58)]
    background = [f"b{k:02d}" for k in range(33)]
    weights = 1.0 / np.arange(1, len(background) + 1) ** 0.6
    weights /= weights.sum()
    history: dict[str, dict[str, int | None]] = {}     # user -> item -> designed latest ts (None: random)
    for user in normal:
        size = int(rng.integers(4, 24))
        history[user] = {str(i): None for i in rng.choice(background, size=size, replace=False, p=weights)}
    history[BOT] = {item: None for item in background}
    history[SOLO] = {"b00": None}
    for user in ("u1", "u2", "u3"):
        history[user]["x1"] = None
    for user in ("u4", "u5", "u6"):
        history[user]["x2"] = None
    history[BOT].update(x1=None, x2=None, tieA=None, tieB=None)
    history["u7"]["rare"] = None
    history[TIE_KEPT]["tieA"] = None
    history[TIE_DROPPED]["tieB"] = None

    # "hot": every normal user and the bot, newest first; positions 50 and 51 tie.
    others = [u for u in normal if u not in (TIE_KEPT, TIE_DROPPED)]
    order = [others[k] for k in rng.permutation(len(others))]
    newest, oldest = order[:HOT_KEPT - 1], order[HOT_KEPT - 1:]
    ranking = newest + [TIE_KEPT, TIE_DROPPED] + oldest + [BOT]
    for position, user in enumerate(ranking, start=1):
        position = HOT_KEPT if user == TIE_DROPPED else position
        history[user]["hot"] = T0 + 5_000_000 - 1000 * position
    for user in oldest[-3:]:                       # the three oldest normal users of "hot"
        history[user]["old"] = None

    rows = []
    for user, items in history.items():
        for item, latest in items.items():
            if latest is None:
                latest = T0 + 3600 * int(rng.integers(0, 400))      # coarse: ties happen
            repeats = 3 if user == SOLO else int(rng.integers(1, 5))
            stamps = [latest] + [latest - int(rng.integers(1, 200_000)) for _ in range(repeats - 1)]
            for ts in stamps:
                kind = "click" if rng.random() < 0.75 else "purchase"
                value = rng.choice([np.nan, 0.25, 0.5, 0.75, 1.0], p=[0.1, 0.15, 0.25, 0.25, 0.25])
                rows.append((user, item, kind, float(value), ts))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def new_group(pp, name: str, frame: pd.DataFrame) -> None:
    pp.create_dataset_group(name=name)
    if not pp.catalog.select("schema", name="sims-interactions"):
        pp.create_schema(name="sims-interactions", schema=SCHEMA)
    pp.create_dataset(name=f"{name}-interactions", dataset_group=name, dataset_type="Interactions",
                      schema="sims-interactions")
    pp.create_dataset_import_job(dataset="Interactions", dataset_group=name, data_source=frame)


class World:
    """One project with the synthetic group; trains each configuration once."""

    def __init__(self, pp, frame: pd.DataFrame):
        self.pp, self.frame = pp, frame
        self.versions: dict = {}
        self.references: dict = {}
        new_group(pp, "world", frame)

    @staticmethod
    def key(hp, event_type, threshold):
        return tuple(sorted(hp.items())), event_type, threshold

    def train(self, hp: dict, event_type=None, threshold=None) -> str:
        key = self.key(hp, event_type, threshold)
        if key not in self.versions:
            name = f"sims-{len(self.versions) + 1}"
            self.pp.create_solution(name=name, dataset_group="world", recipe="aws-sims", hyperparameters=hp,
                                    event_type=event_type, event_value_threshold=threshold)
            self.versions[key] = self.pp.create_solution_version(name)["solutionVersionArn"]
        return self.versions[key]

    def reference(self, hp: dict, event_type=None, threshold=None) -> Reference:
        key = self.key(hp, event_type, threshold)
        if key not in self.references:
            self.references[key] = reference(self.frame, hp, event_type, threshold)
        return self.references[key]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("sims") / "project.duckdb"
    with pypersonalize.open(path, quiet=True) as pp:
        yield World(pp, build_world())


def lengths_and_counts(frame: pd.DataFrame):
    pairs = frame[["USER_ID", "ITEM_ID"]].drop_duplicates()
    return pairs.groupby("USER_ID").size(), pairs.groupby("ITEM_ID").size()


def test_world_has_the_designed_shape(world):
    frame = world.frame
    lengths, counts = lengths_and_counts(frame)
    assert 2000 <= len(frame) <= 3000 and len(lengths) == 60 and counts.size == 40
    assert frame.duplicated(["USER_ID", "ITEM_ID"]).sum() > 500            # repeated pairs
    ordered = lengths.sort_values()
    assert ordered.index[-1] == BOT and ordered.iloc[-1] > ordered.iloc[-2]  # one longest user
    assert ordered.index[0] == SOLO and ordered.iloc[0] == 1 < ordered.iloc[1]
    by_count = counts.sort_values()
    assert by_count.index[0] == "rare" and by_count.iloc[0] == 1 < by_count.iloc[1]
    assert by_count.index[-1] == "hot" and by_count.iloc[-1] == 59 and by_count.iloc[-2] < HOT_KEPT
    clicks = frame[(frame.EVENT_TYPE == "click") & (frame.EVENT_VALUE >= 0.5)]
    assert len(clicks) >= 1100 and (clicks.groupby("USER_ID").size() >= 2).sum() >= 25
    assert frame.EVENT_VALUE.isna().sum() > 50


# -- every hyperparameter combination of the grid agrees with the reference -----------------

def _grid():
    cases = []
    for alpha, min_cooc, pct, cap in itertools.product((0.0, 0.5, 1.0), (0, 1, 3, 6),
                                                      ("defaults", "nofilter", "tight"), (3, 500)):
        hp = {"popularity_discount_factor": alpha, "min_cointeraction_count": min_cooc,
              "max_related_items": cap, **PERCENTILES[pct]}
        cases.append(pytest.param(hp, None, None, id=f"a{alpha}-c{min_cooc}-{pct}-max{cap}"))
    for (event_type, threshold), pct, min_cooc in itertools.product(
            (("click", None), ("click", 0.5), (None, 0.5), (None, 0.25)),
            ("defaults", "nofilter", "tight", "skewed"), (1, 3)):
        hp = {"min_cointeraction_count": min_cooc, **PERCENTILES[pct]}
        cases.append(pytest.param(hp, event_type, threshold,
                                  id=f"{event_type}-t{threshold}-{pct}-c{min_cooc}"))
    for alpha, cap in ((0.25, 1), (0.75, 7), (1.0, 10_000)):
        hp = {"popularity_discount_factor": alpha, "min_cointeraction_count": 0, "max_related_items": cap,
              **SKEWED}
        cases.append(pytest.param(hp, None, 0.75, id=f"a{alpha}-t0.75-skewed-max{cap}"))
    return cases


@pytest.mark.parametrize("hp,event_type,threshold", _grid())
def test_related_and_popular_items_match_the_reference(world, hp, event_type, threshold):
    version = world.train(hp, event_type, threshold)
    ref = world.reference(hp, event_type, threshold)
    assert ref.related, "the configuration should leave some related items"
    assert_version_matches(world.pp, version, ref)


# -- the percentile filters drop exactly what they should -----------------------------------

def _quantile_for(values, target_low: float, target_high: float) -> float:
    """A q in [0, 1] whose linear quantile of ``values`` falls in (target_low, target_high)."""
    ordered = np.sort(np.asarray(values, dtype=float))
    m = len(ordered)
    for k in range(m - 1):
        lo, hi = ordered[k], ordered[k + 1]
        if lo < hi and lo <= target_low < hi:
            # position k + f gives lo + f * (hi - lo); aim at the middle of the target range
            wanted = (max(target_low, lo) + min(target_high, hi)) / 2
            q = (k + (wanted - lo) / (hi - lo)) / (m - 1)
            got = float(np.quantile(ordered, q))
            assert target_low < got < target_high, (q, got)
            return q
    raise AssertionError("no quantile in range")


def _related_pairs(pp, version):
    return {(item, rel) for item, rows in stored_related(pp, version).items() for _, rel, _ in rows}


def test_max_user_percentile_drops_exactly_the_longest_user(world):
    lengths, _ = lengths_and_counts(world.frame)
    ordered = lengths.sort_values()
    q = _quantile_for(lengths.values, ordered.iloc[-2], ordered.iloc[-1])
    base = {**NO_FILTER, "min_cointeraction_count": 1, "popularity_discount_factor": 0.0}
    cut = {**base, "max_user_history_length_percentile": q}
    ref = world.reference(cut)
    assert set(lengths.index) - ref.kept_users == {BOT}
    assert world.reference(base).kept_users == set(lengths.index)

    on, off = world.train(cut), world.train(base)
    assert_version_matches(world.pp, on, ref)
    with_bot, without_bot = _related_pairs(world.pp, off), _related_pairs(world.pp, on)
    # x1 and x2 meet only in the bot's history; tieA and tieB too
    for a, b in (("x1", "x2"), ("tieA", "tieB")):
        assert {(a, b), (b, a)} <= with_bot
        assert not {(a, b), (b, a)} & without_bot
    # x1 and x2 themselves stay (their item counts are those of all users)
    assert any(item == "x1" for item, _ in without_bot) and any(item == "x2" for item, _ in without_bot)
    # the bot held every background item: without it, no pair gains
    scores_off = {(i, r): s for i, rows in stored_related(world.pp, off).items() for _, r, s in rows}
    scores_on = {(i, r): s for i, rows in stored_related(world.pp, on).items() for _, r, s in rows}
    assert all(scores_on[p] <= scores_off[p] for p in scores_on)
    assert sum(scores_off[p] - scores_on.get(p, 0) for p in scores_off) > 0


def test_min_user_percentile_drops_the_one_item_user(world):
    lengths, _ = lengths_and_counts(world.frame)
    ordered = lengths.sort_values()
    q = _quantile_for(lengths.values, ordered.iloc[0], ordered.iloc[1])
    hp = {**NO_FILTER, "min_user_history_length_percentile": q, "min_cointeraction_count": 0}
    ref = world.reference(hp)
    assert set(lengths.index) - ref.kept_users == {SOLO}
    assert_version_matches(world.pp, world.train(hp), ref)


def test_min_item_percentile_drops_the_rare_item(world):
    _, counts = lengths_and_counts(world.frame)
    ordered = counts.sort_values()
    q = _quantile_for(counts.values, ordered.iloc[0], ordered.iloc[1])
    base = {**NO_FILTER, "min_cointeraction_count": 1}
    cut = {**base, "min_item_interaction_count_percentile": q}
    on, off = world.train(cut), world.train(base)
    assert_version_matches(world.pp, on, world.reference(cut))
    kept, everything = stored_related(world.pp, on), stored_related(world.pp, off)
    assert "rare" in everything and any(rel == "rare" for rows in everything.values() for _, rel, _ in rows)
    assert "rare" not in kept
    assert not any(rel == "rare" for rows in kept.values() for _, rel, _ in rows)
    assert set(kept) == set(everything) - {"rare"}
    # the two-user items right above the cut-off stay
    assert {"tieA", "tieB"} <= set(kept)


def test_max_item_percentile_caps_the_popular_item_at_its_latest_users(world):
    _, counts = lengths_and_counts(world.frame)
    ordered = counts.sort_values()
    q = _quantile_for(counts.values, HOT_KEPT, HOT_KEPT + 1)
    assert math.floor(np.quantile(counts.values.astype(float), q)) == HOT_KEPT
    base = {**NO_FILTER, "min_cointeraction_count": 1, "popularity_discount_factor": 1.0}
    cut = {**base, "max_item_interaction_count_percentile": q}
    ref = world.reference(cut)
    assert ref.n["hot"] == HOT_KEPT and ordered.index[-1] == "hot"
    assert all(ref.n[i] == counts[i] for i in ref.n if i != "hot")       # nothing else is capped
    on, off = world.train(cut), world.train(base)
    assert_version_matches(world.pp, on, ref)

    capped, full = stored_related(world.pp, on), stored_related(world.pp, off)
    hot_capped = {rel: score for _, rel, score in capped["hot"]}
    hot_full = {rel: score for _, rel, score in full["hot"]}
    # "old" is shared only by the three oldest users of "hot": gone with the cap
    assert "old" in hot_full and "old" not in hot_capped
    assert "hot" not in {rel for _, rel, _ in capped["old"]}
    # u10 and u9 tie at the cap's boundary; u10 sorts first, so tieA (u10 + bot) keeps its pair
    # with hot and tieB (u9 + bot) loses it (the bot's "hot" is the oldest of all)
    assert "tieB" in hot_full and "tieB" not in hot_capped
    assert "tieA" in hot_capped
    # a = 1: score = cooc / (n_hot * n_tieA) with cooc 1 (u10) and n_tieA 2 (u10, bot)
    assert 1 / (hot_capped["tieA"] * 2) == pytest.approx(HOT_KEPT, abs=1e-9)
    assert 2 / (hot_full["tieA"] * 2) == pytest.approx(59, abs=1e-9)


# -- serving through a campaign ----------------------------------------------------------------

SERVING = {
    "defaults": ({}, None, None),
    "few-related": ({"max_related_items": 3, "min_cointeraction_count": 1}, None, None),
    "tight-clicks": ({**TIGHT, "min_cointeraction_count": 0}, "click", 0.5),
}


def expected_recommendations(ref: Reference, item: str | None, k: int) -> list[tuple[str, float]]:
    related = list(ref.related.get(item, []))
    listed = {rel for rel, _ in related}
    fill = [(i, s) for i, s in ref.popular if i not in listed]
    # popular items after related ones are scaled to half the lowest related score at most
    # (the current item's own popularity counts: the cut comes before it is left out)
    if related and fill and max(s for _, s in fill) >= min(s for _, s in related) and max(s for _, s in fill) > 0:
        factor = min(s for _, s in related) / (2 * max(s for _, s in fill))
        fill = [(i, s * factor) for i, s in fill]
    return (related + [(i, s) for i, s in fill if i != item])[:k]


@pytest.mark.parametrize("config", list(SERVING))
def test_campaign_serves_related_then_popular_items(world, config):
    hp, event_type, threshold = SERVING[config]
    version = world.train(hp, event_type, threshold)
    ref = world.reference(hp, event_type, threshold)
    world.pp.create_campaign(name=f"related-{config}", solution_version=version)
    items = sorted({"hot", "b00", "x1", "rare", "old", "tieA", "b20"} & {i for i, _ in ref.popular})
    assert any(len(ref.related.get(i, [])) >= 3 for i in items)
    for item in items + ["no-such-item"]:
        known = item in {i for i, _ in ref.popular}
        available = len(ref.popular) - (1 if known else 0)
        for k in (1, 2, 5, 10, 25, 500):
            got = world.pp.get_recommendations(campaign=f"related-{config}", item_id=item, num_results=k)
            got = [(r["itemId"], r["score"]) for r in got["itemList"]]
            want = expected_recommendations(ref, item, k)
            assert len(got) == min(k, available)
            assert [i for i, _ in got] == [i for i, _ in want], (config, item, k)
            assert all(abs(a - b) <= TOL for (_, a), (_, b) in zip(got, want)), (config, item, k)
            if not known:
                assert [i for i, _ in got] == [i for i, _ in ref.popular[:k]]


# -- too little data after filtering: the version fails, earlier ones keep serving -----------

def test_filtering_too_much_records_a_failed_version(world):
    good = world.train({})
    world.pp.create_campaign(name="still-serving", solution_version=good)
    before = world.pp.get_recommendations(campaign="still-serving", item_id="hot", num_results=10)["itemList"]
    world.pp.create_solution(name="too-few", dataset_group="world", recipe="aws-sims",
                             event_type="purchase", event_value_threshold=1.0)
    with pytest.raises(pypersonalize.InvalidInput, match="not enough data"):
        world.pp.create_solution_version("too-few")
    (failed,) = world.pp.list_solution_versions("too-few")["solutionVersions"]
    assert failed["status"] == "CREATE FAILED" and "not enough data" in failed["failureReason"]
    assert stored_related(world.pp, failed["solutionVersionArn"]) == {}
    assert stored_popular(world.pp, failed["solutionVersionArn"]) == []
    assert world.pp.describe_solution_version(good)["solutionVersion"]["status"] == "ACTIVE"
    after = world.pp.get_recommendations(campaign="still-serving", item_id="hot", num_results=10)["itemList"]
    assert after == before
    assert_version_matches(world.pp, good, world.reference({}))


def test_retraining_on_shrunk_data_fails_and_the_active_version_keeps_serving(tmp_path):
    frame = build_world()
    with pypersonalize.open(tmp_path / "project.duckdb", quiet=True) as pp:
        new_group(pp, "shrinking", frame)
        pp.create_solution(name="s", dataset_group="shrinking", recipe="aws-sims",
                           hyperparameters={"min_cointeraction_count": 1})
        v1 = pp.create_solution_version("s")["solutionVersionArn"]
        pp.create_campaign(name="c", solution_version=v1)
        before = {item: pp.get_recommendations(campaign="c", item_id=item, num_results=15)["itemList"]
                  for item in ("hot", "b05", "no-such-item")}
        # keep only the clicks of value >= 0.75 (about 550 rows): below the 1,000 minimum
        pp.create_dataset_import_job(dataset="Interactions", dataset_group="shrinking", import_mode="FULL",
                                     data_source=frame[(frame.EVENT_TYPE == "click") & (frame.EVENT_VALUE >= 0.75)])
        with pytest.raises(pypersonalize.InvalidInput, match="not enough data"):
            pp.create_solution_version("s")
        versions = {v["solutionVersionArn"]: v for v in pp.list_solution_versions("s")["solutionVersions"]}
        v2 = next(arn for arn in versions if arn != v1)
        assert versions[v1]["status"] == "ACTIVE"
        assert versions[v2]["status"] == "CREATE FAILED" and "not enough data" in versions[v2]["failureReason"]
        assert pp.describe_campaign("c")["campaign"]["solutionVersionArn"] == v1
        with pytest.raises(pypersonalize.InvalidInput):
            pp.update_campaign("c", solution_version=v2)
        for item, items in before.items():
            assert pp.get_recommendations(campaign="c", item_id=item, num_results=15)["itemList"] == items
        assert_version_matches(pp, v1, reference(frame, {"min_cointeraction_count": 1}))


# -- random data sets -----------------------------------------------------------------------

def random_interactions(seed: int, n_users: int, n_items: int, n_rows: int, n_noise: int,
                        ts_span: int, skew: float) -> pd.DataFrame:
    """``n_rows`` events that pass every event filter, ``n_noise`` that some filters drop."""
    rng = np.random.default_rng(seed)
    users = [f"u{k}" for k in range(n_users)]
    items = [f"i{k}" for k in rng.permutation(n_items)]
    user_w = rng.pareto(1.5, n_users) + 0.2
    user_w /= user_w.sum()
    item_w = 1.0 / np.arange(1, n_items + 1) ** skew
    item_w /= item_w.sum()
    who = np.concatenate([np.repeat(np.arange(n_users), 2),
                          rng.choice(n_users, size=n_rows - 2 * n_users, p=user_w)])
    what = rng.choice(n_items, size=n_rows, p=item_w)
    rows = [(users[u], items[i], "click", float(rng.choice([0.5, 1.0])), T0 + int(rng.integers(0, ts_span)))
            for u, i in zip(who, what)]
    for _ in range(n_noise):
        rows.append((users[int(rng.integers(n_users))], items[int(rng.integers(n_items))],
                     str(rng.choice(["click", "view"])), float(rng.choice([np.nan, 0.25, 1.0])),
                     T0 + int(rng.integers(0, ts_span))))
    return pd.DataFrame(rows, columns=COLUMNS).sample(frac=1.0, random_state=seed)


@st.composite
def sims_hyperparameters(draw):
    return {
        "popularity_discount_factor": draw(st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0, 1)),
        "min_cointeraction_count": draw(st.integers(0, 10)),
        "min_user_history_length_percentile": draw(st.floats(0, 0.6)),
        "max_user_history_length_percentile": draw(st.floats(0.4, 1)),
        "min_item_interaction_count_percentile": draw(st.floats(0, 0.6)),
        "max_item_interaction_count_percentile": draw(st.floats(0.4, 1)),
        "max_related_items": draw(st.integers(1, 40)),
    }


_random_groups = itertools.count(1)


# No shrinking: the data come from a seed, so a smaller failing example says little more,
# and each example trains a model.
@settings(max_examples=15, deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n_users=st.integers(30, 40), n_items=st.integers(20, 30),
       n_rows=st.integers(1000, 1200), n_noise=st.integers(0, 200),
       ts_span=st.sampled_from([3, 40, 10**6]), skew=st.floats(0, 1.5), hp=sims_hyperparameters(),
       events=st.sampled_from([(None, None), ("click", None), ("click", 0.5), (None, 0.5)]))
def test_random_interactions_match_the_reference(world, seed, n_users, n_items, n_rows, n_noise,
                                                 ts_span, skew, hp, events):
    frame = random_interactions(seed, n_users, n_items, n_rows, n_noise, ts_span, skew)
    number = next(_random_groups)
    pp = world.pp
    new_group(pp, f"random{number}", frame)
    pp.create_solution(name=f"random{number}", dataset_group=f"random{number}", recipe="aws-sims",
                       hyperparameters=hp, event_type=events[0], event_value_threshold=events[1])
    version = pp.create_solution_version(f"random{number}")["solutionVersionArn"]
    assert_version_matches(pp, version, reference(frame, hp, *events))
