"""Filters: request latency with and without a filter, on MovieLens 100K.

A SIMS campaign (defaults) and a Popularity-Count campaign over MovieLens 100K; each
request asks for n = 25 through `get_recommendations`, once plainly and once with each
filter; the filtered answer is checked to be the plain ranking with failing items removed.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, Section, format_table

import pypersonalize

N = 25
REQUESTS, REQUESTS_QUICK = 300, 60
ML100K = ROOT.parent / "shared" / "data" / "ml-100k"

FILTERS = {
    "genre IN $G (Items)": ("INCLUDE ItemID WHERE Items.GENRES IN ($G)", {"G": '"Drama","Comedy"'}),
    "exclude rated (Interactions)": ('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("rating")', {}),
    "same genre as item (CurrentItem)": ("INCLUDE ItemID WHERE Items.GENRES IN CurrentItem.GENRES", {}),
}

INTRO = """\
Data: MovieLens 100K (100,000 ratings, 943 users, 1,682 movies with genres), imported as in
`tests/sql/test_movielens.py`. Endpoints: `sims` (aws-sims, defaults) and `popular`
(aws-popularity-count). Each filter runs through `get_recommendations(..., filter=...)`;
the plain request is the same call without it. Median latency over random (user, item)
pairs from the ratings; the last column is filtered / plain."""


def build(db: Path):
    from tuning import build_movielens
    build_movielens(db)
    with pypersonalize.open(db, quiet=True) as pp:
        for name, recipe in (("sims", "aws-sims"), ("popular", "aws-popularity-count")):
            pp.create_solution(name=name, dataset_group="ml", recipe=recipe)
            pp.create_campaign(name=name, solution_version=pp.create_solution_version(name)["solutionVersionArn"])
        for i, (expression, _values) in enumerate(FILTERS.values()):
            pp.create_filter(name=f"f{i}", dataset_group="ml", filter_expression=expression)
        return pp.con.execute("SELECT DISTINCT USER_ID, ITEM_ID FROM ml.interactions ORDER BY ALL").fetchall()


def run(quick: bool = False, repeat: int = 3, log=print) -> Section:
    section = Section("filters", "Filters: latency with and without a filter", INTRO)
    if not (ML100K / "u.data").exists():
        section.reading = f"Skipped: MovieLens 100K not found at {ML100K}."
        return section
    rng = np.random.default_rng(5)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "filters.duckdb"
        pairs = build(db)
        requests = [pairs[k] for k in rng.choice(len(pairs), REQUESTS_QUICK if quick else REQUESTS, replace=False)]
        with pypersonalize.open(db, quiet=True) as pp:
            for campaign in ("sims", "popular"):
                def call(user, item, campaign=campaign, **kw):
                    return pp.get_recommendations(campaign=campaign, user_id=user, item_id=item,
                                                  num_results=N, **kw)["itemList"]

                def median_ms(**kw):
                    best = None
                    for _ in range(repeat):
                        lat = []
                        for user, item in requests:
                            start = time.perf_counter()
                            call(user, item, **kw)
                            lat.append(time.perf_counter() - start)
                        med = statistics.median(lat)
                        best = med if best is None else min(best, med)
                    return 1000 * best
                plain = median_ms()
                rows.append([campaign, "no filter", f"{plain:.2f}", "1.00x"])
                for i, (label, (_expr, values)) in enumerate(FILTERS.items()):
                    user, item = requests[0]
                    filtered = call(user, item, filter=f"f{i}", filter_values=values or None)
                    # The filtered list is n items of the plain ranking, in its order.
                    everything = [x for (_r, x, _s) in pp.con.execute(
                        "SELECT * FROM pp_recommend($e, user_id := $u, item_id := $i, n := 100000)",
                        {"e": campaign, "u": user, "i": item}).fetchall()]
                    positions = [everything.index(r["itemId"]) for r in filtered]
                    assert len(filtered) == N and positions == sorted(positions), (campaign, label)
                    ms = median_ms(filter=f"f{i}", filter_values=values or None)
                    rows.append([campaign, label, f"{ms:.2f}", f"{ms / plain:.2f}x"])
                    log(f"  {campaign} {label}: {ms:.2f} ms vs {plain:.2f} ms")
    section.tables.append(f"# median ms per request, best of {repeat} passes, n = {N}\n" + format_table(
        ["campaign", "filter", "ms/request", "vs no filter"], rows, right={2, 3}))
    log(section.tables[-1])
    worst = max(float(r[3][:-1]) for r in rows)
    section.reading = (f"Reading: a filter costs at most {worst:.2f}x the unfiltered request here. "
                       "The filter is compiled per request into one predicate over all candidates "
                       "before the top-n cut, so its cost grows with the number of candidates "
                       "(every item with a score) rather than with n.")
    return section
