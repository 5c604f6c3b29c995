"""Training time: User-Personalization (create_solution_version) against implicit ALS.

The same generated ~1M-event data as the sims section (``sims.synthetic_frame``), split
as in the quality section (leave-last-out); both models train on the same training part
in the same run, and both are scored on the same sample of test users.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import Section, format_table
from quality import (
    UP_RECIPE,
    ProjectAdapters,
    als,
    evaluate,
    failure_text,
    implicit_missing,
    leave_last_out,
    popularity,
    prepare,
    user_personalization_missing,
)
from sims import SYNTH, SYNTH_QUICK, synthetic_frame

EVAL_USERS = 2000
ALS_CONFIG = {"factors": 64, "iterations": 15}     # implicit's other defaults: reg 0.01, alpha 1

INTRO = f"""\
Data: `sims.synthetic_frame` (uniform users, power-law items, one event per second; 1M
events, 50K users, 20K items; `--quick`: 100K events), the sims section's synthetic set.
Split as in the quality section: each (user, item) pair's first event, then each user's
latest item (users with >= 3 items) is held out; no tuning here. Timed, in the same run
on the same training part: `implicit ALS` = `AlternatingLeastSquares(factors=64,
iterations=15)` (`implicit.cpu`, other values implicit's defaults, BLAS on one thread via
threadpoolctl, implicit's own threads at their default), `fit` alone on the binary user x
item CSR; `User-Personalization (pypersonalize)` = `create_solution_version` of an
`{UP_RECIPE}` solution with the recipe's default hyperparameters, alone (the import into
the project file before it and the scoring after it are not timed). NDCG@10 on {EVAL_USERS}
test users drawn with a fixed seed (same users for both), pessimistic ties, training items
excluded (quality section's definitions). The data has popularity but no taste structure,
so the NDCG figures mostly tell whether a model finds the popular items (the popularity
count's row is the reference; it is not timed); the times are the point. Best of 1: one
training each."""


def run(quick: bool = False, repeat: int = 1, log=print) -> Section:
    """``repeat`` is ignored: each model is trained once (the runs are long)."""
    section = Section("training", "Training time: User-Personalization vs implicit ALS", INTRO)
    synth = SYNTH_QUICK if quick else SYNTH
    raw = synthetic_frame(**synth).rename(columns={"USER_ID": "user", "ITEM_ID": "item",
                                                   "TIMESTAMP": "timestamp"})
    events = prepare(raw)
    _validation, test = leave_last_out(events)
    sample = test.sample(EVAL_USERS)
    name = f"synthetic-{synth['interactions'] // 1000:,}K".replace(",000K", "M")
    log(f"  {name}: {len(raw):,} events, {len(test.train):,} training pairs, "
        f"{len(sample.users):,} of {len(test.users):,} test users scored")

    users = list(sample.users)
    ndcg, seconds, skipped = {}, {}, {}
    ndcg["pop"] = evaluate(popularity(test.train, users, {})[0], sample)["ndcg"]
    reason = implicit_missing()
    if reason:
        skipped["als"] = f"skipped: {reason}"
    else:
        scores, seconds["als"] = als(test.train, users, dict(ALS_CONFIG))
        ndcg["als"] = evaluate(scores, sample)["ndcg"]
        log(f"  implicit ALS: fit {seconds['als']:.2f}s, NDCG@10 {ndcg['als']:.4f}")
    reason = user_personalization_missing()
    if reason:
        skipped["up"] = f"skipped: not available ({reason})"
    else:
        with tempfile.TemporaryDirectory() as tmp, ProjectAdapters(Path(tmp)) as ours:
            start = time.perf_counter()
            ours.project(test.train)                     # the import, not timed
            log(f"  imported the training part in {time.perf_counter() - start:.1f}s (not timed)")
            try:
                scores, seconds["up"] = ours.user_personalization(test.train, users, {})
                ndcg["up"] = evaluate(scores, sample)["ndcg"]
            except Exception as exc:          # the code under test: report, do not crash the run
                skipped["up"] = "failed: " + failure_text(exc)
    if "up" in skipped:
        log(f"  User-Personalization: {skipped['up']}")
    else:
        log(f"  User-Personalization: create_solution_version {seconds['up']:.2f}s, NDCG@10 {ndcg['up']:.4f}")

    rows = [["Popularity count (reference)", "-", "-", f"{ndcg['pop']:.4f}", "-"]]
    for key, label, config in (("als", "implicit ALS", "factors=64, iterations=15"),
                               ("up", "User-Personalization (pypersonalize)", "recipe defaults")):
        if key in skipped:
            rows.append([label, skipped[key], "-", "-", "-"])
        else:
            ratio = f"{seconds[key] / seconds['als']:.2f}x" if "als" in seconds else "-"
            rows.append([label, config, f"{seconds[key]:.2f}", f"{ndcg[key]:.4f}", ratio])
    section.tables.append(f"# {name}, {len(test.train):,} training pairs, NDCG@10 on {len(users):,} "
                          "test users\n" + format_table(["model", "config", "train s", "NDCG@10", "time / ALS"],
                                                        rows))
    log(section.tables[-1])
    section.reading = _reading(name, seconds, ndcg, skipped)
    return section


def _reading(name: str, seconds: dict, ndcg: dict, skipped: dict) -> str:
    if skipped:
        return "Reading: no ratio: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()) + "."
    text = [f"Reading: on {name} User-Personalization's training takes {seconds['up'] / seconds['als']:.2f}x "
            f"implicit ALS's fit ({seconds['up']:.1f}s against {seconds['als']:.1f}s, same run, same data)."]
    text.append(f"NDCG@10: User-Personalization {ndcg['up']:.4f}, ALS {ndcg['als']:.4f}, popularity count "
                f"{ndcg['pop']:.4f}.")
    if ndcg["als"] < ndcg["pop"]:
        text.append("On data without tastes the popular items are all there is to learn; ALS at implicit's "
                    "default regularization (0.01) fits noise instead, so its NDCG here says little about "
                    "ALS on real data (the quality section tunes it).")
    return " ".join(text)
