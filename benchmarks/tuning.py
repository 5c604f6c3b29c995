"""Offline metrics, HPO, AutoML and the solution-config steering keys, measured.

MovieLens 100K (when present): what the offline metrics cost next to training; HPO on
User-Personalization with successive halving and with random search + median stopping,
each over three seeds (the seed draws the validation users and the configurations), scored
on validation and on the fixed test users against the defaults; parallel trials vs one at a
time; AutoML over User-Personalization and HRNN. The generated shop of
``tests/sql/test_solution_config_effects.py``: optimizationObjective OFF..HIGH and
eventsConfig weightings, read from get_solution_metrics and from the served lists.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, Section, format_table

import pypersonalize
from pypersonalize import evaluation, tuning
from pypersonalize.recipes import RECIPES

ML100K = ROOT.parent / "shared" / "data" / "ml-100k"
RECIPE = "aws-user-personalization"
SEEDS = (42, 7, 2024)
JOBS, JOBS_QUICK = 16, 4
NDCG10, NDCG25 = "normalized_discounted_cumulative_gain_at_10", "normalized_discounted_cumulative_gain_at_25"

INTRO = """\
Offline metrics and tuning (README "Offline metrics", "Tuning"). MovieLens 100K imported as in
`tests/sql/test_movielens.py`. *Metrics cost*: a User-Personalization version's training
seconds (final model, all data) next to the seconds its offline metrics took (held-out model
+ scoring). *HPO*: `tuning.Search` on User-Personalization's HPO-tunable hyperparameters
(their default ranges), {jobs} configurations, 2 in parallel, NDCG@25 on the validation
users (10% carved from the training users); the chosen hyperparameters are then scored on the
test users (Personalize's 10%) exactly as `get_solution_metrics` scores a version, beside the
defaults. Three seeds; the seed draws the validation users and the configurations, so the
defaults' validation score moves with it too. Successive halving and random search get the
same number of configurations (about the same cost: 12 full trainings' worth each at 16)."""


def build_movielens(db: Path) -> None:
    from tests.sql.test_movielens import SCHEMAS, to_personalize_csv
    folder = db.parent
    to_personalize_csv(folder)
    with pypersonalize.open(db, quiet=True) as pp:
        pp.create_dataset_group(name="ml")
        for dtype, schema in SCHEMAS.items():
            pp.create_schema(name=f"ml-{dtype.lower()}", schema=schema)
            pp.create_dataset(name=f"ml-{dtype.lower()}", dataset_group="ml", dataset_type=dtype,
                              schema=f"ml-{dtype.lower()}")
            pp.create_dataset_import_job(dataset=dtype, dataset_group="ml",
                                         data_source=folder / f"{dtype.lower()}.csv")


def _context(pp):
    group = pp.catalog.get("dataset-group", "ml")
    return group, pp._schemas_of(group)


def _score(pp, hps: dict, role: str, seed: int) -> float:
    group, schemas = _context(pp)
    out = evaluation.evaluate(pp, group=group, recipe_name=RECIPE, hyperparameters=hps, event_type=None,
                              threshold=None, settings={}, schemas=schemas, role=role, seed=seed, full=False)
    return out["metrics"]


def _search(pp, method: str, seed: int, jobs: int, parallel: int = 2):
    group, schemas = _context(pp)
    recipe = RECIPES[RECIPE]
    plan = tuning.hpo_plan({"searchMethod": method, "hpoResourceConfig": {
        "maxNumberOfTrainingJobs": str(jobs), "maxParallelTrainingJobs": str(parallel)}}, recipe, {})
    search = tuning.Search(pp, group=group, recipe_name=RECIPE, base=recipe.resolve_hyperparameters({}),
                           plan=plan, event_type=None, threshold=None, settings={}, schemas=schemas, seed=seed)
    start = time.perf_counter()
    best, trials, value = search.run()
    return best, trials, value, time.perf_counter() - start


def movielens_tables(quick: bool, log) -> tuple[list[str], dict]:
    jobs = JOBS_QUICK if quick else JOBS
    seeds = SEEDS[:1] if quick else SEEDS
    tables, facts = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "tuning.duckdb"
        build_movielens(db)
        with pypersonalize.open(db, quiet=True) as pp:
            rows = []
            for recipe in ("aws-user-personalization", "aws-sims", "aws-popularity-count"):
                pp.create_solution(name=recipe, dataset_group="ml", recipe=recipe)
                v = pp.describe_solution_version(pp.create_solution_version(recipe)["solutionVersionArn"])
                v = v["solutionVersion"]
                train_s, eval_s = v["trainingSeconds"] - v["evaluation"]["seconds"], v["evaluation"]["seconds"]
                m = pp.get_solution_metrics(v["solutionVersionArn"])["metrics"]
                rows.append([recipe, f"{train_s:.2f}", f"{eval_s:.2f}", f"{eval_s / train_s:.2f}x",
                             f"{m[NDCG10]:.4f}", f"{m['precision_at_10']:.4f}", f"{m['coverage']:.3f}"])
                log(rows[-1])
            # Popularity-Count trains in hundredths of a second: its ratio says nothing
            facts["overhead"] = max(float(r[3][:-1]) for r in rows if float(r[1]) >= 0.2)
            tables.append(format_table(["recipe", "train s (final)", "metrics s", "metrics/train", "NDCG@10 (test)",
                                        "precision@10", "coverage"], rows))
            base = RECIPES[RECIPE].resolve_hyperparameters({})
            rows, gains = [], {m: [] for m in tuning.METHODS}
            test_gain = {m: [] for m in tuning.METHODS}
            for seed in seeds:
                default_val = _score(pp, base, "validation", seed)[NDCG25]
                default_test = _score(pp, base, "test", evaluation.SEED)
                for method in tuning.METHODS:
                    best, trials, value, seconds = _search(pp, method, seed, jobs)
                    test = _score(pp, best, "test", evaluation.SEED)
                    gains[method].append(value - default_val)
                    test_gain[method].append(test[NDCG25] - default_test[NDCG25])
                    stopped = sum(t["status"] == "STOPPED_EARLY" for t in trials)
                    rows.append([str(seed), method, f"{default_val:.4f}", f"{value:.4f}",
                                 f"{default_test[NDCG25]:.4f}", f"{test[NDCG25]:.4f}",
                                 f"{default_test[NDCG10]:.4f}", f"{test[NDCG10]:.4f}", str(stopped), f"{seconds:.1f}"])
                    log(rows[-1])
            tables.append(format_table(["seed", "search", "val default", "val tuned", "test@25 default",
                                        "test@25 tuned", "test@10 default", "test@10 tuned", "stopped early",
                                        "seconds"], rows))
            summary = []
            for method in tuning.METHODS:
                g, t = np.array(gains[method]), np.array(test_gain[method])
                summary.append([method, f"{g.mean():+.4f}", f"{g.min():+.4f}", f"{g.std():.4f}",
                                f"{g.max() - g.min():.4f}", f"{t.mean():+.4f}", f"{t.min():+.4f}"])
            facts["gains"], facts["test_gain"] = gains, test_gain
            tables.append(format_table(["search", "mean val gain", "smallest val gain", "std of val gain",
                                        "range of val gain", "mean test gain (NDCG@25)", "smallest test gain"],
                                       summary))
            timing = []
            for parallel in (1, 2):
                *_x, seconds = _search(pp, "RANDOM", SEEDS[0], jobs, parallel)
                timing.append([str(parallel), f"{seconds:.1f}"])
            facts["parallel"] = float(timing[0][1]) / float(timing[1][1])
            tables.append(format_table(["maxParallelTrainingJobs", f"seconds, {jobs} configurations (random, the default)"],
                                       timing + [["speed-up", f"{facts['parallel']:.2f}x"]]))
            pp.create_solution(name="automl", dataset_group="ml", perform_auto_ml=True, solution_config={
                "autoMLConfig": {"metricName": NDCG25, "recipeList": [
                    "arn:aws:personalize:::recipe/aws-user-personalization", "arn:aws:personalize:::recipe/aws-hrnn"]},
                "hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": str(max(2, jobs // 4))}}})
            v = pp.describe_solution_version(pp.create_solution_version("automl")["solutionVersionArn"])
            cands = v["solutionVersion"]["autoMLCandidates"]
            best = pp.describe_solution("automl")["solution"]["autoMLResult"]["bestRecipeArn"]
            tables.append(format_table(["AutoML candidate", "validation NDCG@25", "seconds", "chosen"],
                                       [[c["recipeArn"].rsplit("/", 1)[-1], f"{c.get('validationMetric', 0):.4f}",
                                         f"{c.get('seconds', 0):.1f}", "yes" if c["recipeArn"] == best else ""]
                                        for c in cands]))
            facts["automl_ok"] = best == max(cands, key=lambda c: c.get("validationMetric", -1))["recipeArn"]
            from pypersonalize.report import write_report
            page = Path(tmp) / "automl.html"
            write_report(pp, "automl", page)
            html = page.read_text()
            facts["report_ok"] = 'id="automl"' in html and all(
                c["recipeArn"].rsplit("/", 1)[-1] in html for c in cands)
    return tables, facts


def steering_tables(log) -> list[str]:
    from tests.sql.test_solution_config_effects import make_group, shop_data
    events, items = shop_data(seed=1)
    # the shop's "view" items (v0..v9) close every user's history: left in, they would be the
    # held-out truth of every test user and the metrics would measure nothing else
    events = events[events.EVENT_TYPE != "view"].reset_index(drop=True)
    price = items.set_index("ITEM_ID")["PRICE"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, pypersonalize.open(Path(tmp) / "steering.duckdb", quiet=True) as pp:
        make_group(pp, "shop", events, items)
        users = [f"u{k}" for k in range(0, 240, 3)]
        for level in ("OFF", "LOW", "MEDIUM", "HIGH"):
            config = {} if level == "OFF" else {"optimizationObjective": {"itemAttribute": "PRICE",
                                                                            "objectiveSensitivity": level}}
            pp.create_solution(name=f"o-{level}", dataset_group="shop", recipe=RECIPE, solution_config=config)
            arn = pp.create_solution_version(f"o-{level}")["solutionVersionArn"]
            pp.create_campaign(name=f"o-{level}", solution_version=arn, campaign_config={
                "itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"}})
            m = pp.get_solution_metrics(arn)["metrics"]
            mean_price = np.mean([price[[r["itemId"] for r in pp.get_recommendations(
                campaign=f"o-{level}", user_id=u, num_results=10)["itemList"]]].mean() for u in users])
            rows.append([f"optimizationObjective PRICE {level}", f"{mean_price:.1f}", f"{m[NDCG10]:.4f}",
                         f"{m.get('average_rewards_at_k', float('nan')):.4f}", ""])
            log(rows[-1])
        for label, weights in (("eventsConfig click 1 / purchase 0.1", (1.0, 0.1)),
                               ("eventsConfig click 0.1 / purchase 1", (0.1, 1.0))):
            name = f"events-{len(rows)}"
            pp.create_solution(name=name, dataset_group="shop", recipe=RECIPE + "-v2", solution_config={
                "eventsConfig": {"eventParametersList": [{"eventType": "click", "weight": weights[0]},
                                                         {"eventType": "purchase", "weight": weights[1]}]}})
            arn = pp.create_solution_version(name)["solutionVersionArn"]
            pp.create_campaign(name=name, solution_version=arn)
            m = pp.get_solution_metrics(arn)["metrics"]
            genre = items.set_index("ITEM_ID")["GENRE"]
            share = np.mean([np.mean([genre[r["itemId"]] == f"g{(int(u[1:]) + 1) % 6}" for r in pp.get_recommendations(
                campaign=name, user_id=u, num_results=10)["itemList"]]) for u in users])
            rows.append([label, "", f"{m[NDCG10]:.4f}", "",
                         f"{m['normalized_discounted_cumulative_gain_with_event_weights_at_k']:.4f} / {share:.2f}"])
            log(rows[-1])
    return [format_table(["setting (generated shop, 240 users)", "mean PRICE top-10", "NDCG@10",
                          "average_rewards_at_k", "weighted NDCG / purchase-genre share of top-10"], rows)]


def run(quick: bool = False, repeat: int = 3, log=print) -> Section:
    del repeat                      # every figure here is one search; seeds give the spread
    jobs = JOBS_QUICK if quick else JOBS
    section = Section("tuning", "Offline metrics, HPO, AutoML, objective and events config",
                      INTRO.format(jobs=jobs))
    readings = []
    if (ML100K / "u.data").exists():
        tables, facts = movielens_tables(quick, log)
        section.tables += tables
        for method in tuning.METHODS:
            g, t = np.array(facts["gains"][method]), np.array(facts["test_gain"][method])
            readings.append(f"{method}: validation NDCG@25 {g.mean():+.4f} over the defaults (every seed "
                            f"{g.min():+.4f} or more; std over seeds {g.std():.4f}, range {g.max() - g.min():.4f}), "
                            f"test users {t.mean():+.4f} (every seed {t.min():+.4f} or more)")
        readings.append(f"the metrics cost at most {facts['overhead']:.2f}x the final training (recipes training "
                        f"0.2 s or more); parallel trials "
                        f"{facts['parallel']:.2f}x faster on 2 workers; AutoML kept the best candidate: "
                        f"{facts['automl_ok']}, and its report lists every candidate: {facts['report_ok']}")
    else:
        readings.append(f"MovieLens 100K not found at {ML100K}: its tables are skipped.")
    section.tables += steering_tables(log)
    section.reading = "; ".join(readings) + "."
    return section
