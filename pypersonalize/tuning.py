"""Hyperparameter optimisation and AutoML: Personalize's ``hpoConfig`` / ``autoMLConfig``.

A trial trains the recipe with one set of hyperparameters on the *validation* split
(``evaluation.user_split(role="validation")``: 10% of the users carved from the training
users, never the test users the version's metrics use) and scores it with the same code as
the offline metrics. Configurations come in two waves of half the jobs each (from 4 jobs):
the first starts with the solution's own hyperparameters (when the ranges hold them), then
alternates neighbours of them (one or two redrawn) with whole random draws; once the first
wave has trained on a quarter of the users, the second is neighbours of its best. Then one of
two searches decides which go on to more users:

- ``RANDOM`` (the default) with median early stopping: one below the median of the quarter
  budget stops there (``STOPPED_EARLY``), the others train on all the training users.
- ``SUCCESSIVE_HALVING``: the better half goes on to half of the users, the better half of
  those to all of them. On MovieLens 100K (benchmarks, section tuning) it found nothing
  better for the same budget, so the simpler search is the default.

``maxNumberOfTrainingJobs`` is the number of configurations; ``maxParallelTrainingJobs``
trials run at once, each on its own DuckDB cursor and holdout schema (numpy and DuckDB
release the GIL for part of the work, so threads use the cores a little better).
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from . import evaluation
from .errors import InvalidInput, PypersonalizeError
from .metrics import METRIC_NAMES
from .recipes import RECIPES, get_recipe
from .recipes.base import Recipe, RecipeType

DEFAULT_METRIC = "normalized_discounted_cumulative_gain_at_25"
DEFAULT_JOBS, MAX_JOBS = 8, 40
DEFAULT_PARALLEL, MAX_PARALLEL = 2, 10
METHODS = ("RANDOM", "SUCCESSIVE_HALVING")     # the first is the default
RUNGS = (0.25, 0.5, 1.0)            # shares of the training users a trial trains on
HPO_KEYS = {"hpoObjective", "hpoResourceConfig", "algorithmHyperParameterRanges", "searchMethod"}
RANGE_LISTS = {"integerHyperParameterRanges": "integer", "continuousHyperParameterRanges": "continuous",
               "categoricalHyperParameterRanges": "categorical"}


@dataclass(frozen=True)
class Range:
    name: str
    kind: str                       # integer | continuous | categorical
    low: float | None = None
    high: float | None = None
    values: tuple = ()
    log: bool = False

    def holds(self, value) -> bool:
        if self.kind == "categorical":
            return value in self.values
        return self.low <= value <= self.high

    def sample(self, rng: np.random.Generator):
        if self.kind == "categorical":
            return self.values[int(rng.integers(len(self.values)))]
        log = self.log and self.low > 0
        if self.kind == "integer":
            if log:
                drawn = math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1)))
                return int(min(max(math.floor(drawn), self.low), self.high))
            return int(rng.integers(int(self.low), int(self.high) + 1))
        drawn = math.exp(rng.uniform(math.log(self.low), math.log(self.high))) if log \
            else rng.uniform(self.low, self.high)
        # four significant digits: finer steps change nothing measurable and read badly
        return float(min(max(float(f"{drawn:.4g}"), self.low), self.high))


@dataclass(frozen=True)
class HpoPlan:
    metric: str
    jobs: int
    parallel: int
    ranges: tuple[Range, ...]
    method: str

    def as_config(self) -> dict:
        return {"metricName": self.metric, "maxNumberOfTrainingJobs": self.jobs,
                "maxParallelTrainingJobs": self.parallel, "searchMethod": self.method,
                "ranges": [{"name": r.name, "kind": r.kind, "low": r.low, "high": r.high,
                            "values": list(r.values), "log": r.log} for r in self.ranges]}

    @classmethod
    def from_config(cls, c: dict) -> HpoPlan:
        return cls(c["metricName"], c["maxNumberOfTrainingJobs"], c["maxParallelTrainingJobs"],
                   tuple(Range(r["name"], r["kind"], r["low"], r["high"], tuple(r["values"]), r["log"])
                         for r in c["ranges"]), c["searchMethod"])


# -- the config -----------------------------------------------------------------------------

def _count(value, what: str, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError
        real = float(str(value).strip())
        if not math.isfinite(real) or real != int(real):
            raise ValueError
        n = int(real)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"hpoConfig.hpoResourceConfig.{what} must be a whole number, got {value!r}") from None
    if not low <= n <= high:
        raise InvalidInput(f"hpoConfig.hpoResourceConfig.{what} must be from {low} to {high}, got {n}")
    return n


def _metric_name(value, what: str) -> str:
    if value is None:
        return DEFAULT_METRIC
    if value not in METRIC_NAMES:
        raise InvalidInput(f"{what} must be one of {', '.join(METRIC_NAMES)}, got {value!r}")
    return value


def _default_range(hp) -> Range:
    if hp.type is bool:
        return Range(hp.name, "categorical", values=(True, False))
    if hp.type is str:
        return Range(hp.name, "categorical", values=tuple(hp.choices))
    low, high, log = hp.search if hp.search else (hp.low, hp.high, False)
    return Range(hp.name, "integer" if hp.type is int else "continuous", low, high, log=log)


def _given_range(kind: str, entry, recipe: Recipe, where: str) -> Range:
    if not isinstance(entry, dict) or "name" not in entry:
        raise InvalidInput(f"{where}: each range is an object with a name")
    tunable = {h.name: h for h in recipe.hyperparameters if h.tunable}
    hp = next((h for h in recipe.hyperparameters if entry["name"] in (h.name, *h.aliases)), None)
    if hp is None or hp.name not in tunable:
        raise InvalidInput(f"{where}: {entry['name']!r} is not an HPO-tunable hyperparameter of {recipe.name} "
                           f"(tunable: {', '.join(sorted(tunable)) or 'none'})")
    allowed = {"categorical": {"name", "values"}}.get(kind, {"name", "minValue", "maxValue"})
    extra = set(entry) - allowed
    if extra:
        raise InvalidInput(f"{where}: unknown key(s) {', '.join(sorted(extra))} for {hp.name}")
    if kind == "categorical":
        values = entry.get("values")
        if not isinstance(values, list) or not values:
            raise InvalidInput(f"{where}: {hp.name} needs a non-empty list of values")
        parsed = tuple(dict.fromkeys(hp.parse(v) for v in values))
        return Range(hp.name, kind, values=parsed)
    expected = int if kind == "integer" else float
    if hp.type is not expected:
        right = {int: "integer", float: "continuous"}.get(hp.type, "categorical")
        raise InvalidInput(f"{where}: {hp.name} is {hp.type.__name__}; give it in {right}HyperParameterRanges")
    if "minValue" not in entry or "maxValue" not in entry:
        raise InvalidInput(f"{where}: {hp.name} needs minValue and maxValue")
    low, high = hp.parse(entry["minValue"]), hp.parse(entry["maxValue"])
    if low > high:
        raise InvalidInput(f"{where}: {hp.name} minValue {low} is above maxValue {high}")
    return Range(hp.name, kind, low, high)


def _object(config: dict, key: str) -> dict:
    value = config.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"hpoConfig.{key} must be an object, got {type(value).__name__}")
    return value


def _canonical(recipe: Recipe, names) -> set[str]:
    """Hyperparameter names as the recipe spells them (aliases such as apply_recency_bias mapped)."""
    known = {a: h.name for h in recipe.hyperparameters for a in (h.name, *h.aliases)}
    return {known.get(n, n) for n in names}


def hpo_plan(config, recipe: Recipe, fixed: dict) -> HpoPlan:
    """Check Personalize's ``hpoConfig`` against the recipe and return the search it asks for.

    ``fixed``: the hyperparameters the user set explicitly, which cannot be searched too."""
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise InvalidInput("solution_config.hpoConfig must be an object")
    unknown = set(config) - HPO_KEYS
    if unknown:
        raise InvalidInput(f"solution_config.hpoConfig: unknown key(s) {', '.join(sorted(unknown))}")
    objective = _object(config, "hpoObjective")
    if set(objective) - {"type", "metricName", "metricRegex"}:
        raise InvalidInput("hpoConfig.hpoObjective takes type, metricName and metricRegex")
    if objective.get("metricRegex") is not None:
        raise InvalidInput("hpoConfig.hpoObjective.metricRegex is not supported yet: give metricName")
    if objective.get("type", "Maximize") != "Maximize":
        raise InvalidInput(f"hpoConfig.hpoObjective.type must be Maximize (every metric is better higher), "
                           f"got {objective.get('type')!r}")
    metric = _metric_name(objective.get("metricName"), "hpoConfig.hpoObjective.metricName")
    resources = _object(config, "hpoResourceConfig")
    if set(resources) - {"maxNumberOfTrainingJobs", "maxParallelTrainingJobs"}:
        raise InvalidInput("hpoConfig.hpoResourceConfig takes maxNumberOfTrainingJobs and maxParallelTrainingJobs")
    jobs = _count(resources.get("maxNumberOfTrainingJobs"), "maxNumberOfTrainingJobs", 1, MAX_JOBS, DEFAULT_JOBS)
    parallel = _count(resources.get("maxParallelTrainingJobs"), "maxParallelTrainingJobs", 1, MAX_PARALLEL,
                      DEFAULT_PARALLEL)
    method = config.get("searchMethod", METHODS[0])
    if method not in METHODS:
        raise InvalidInput(f"hpoConfig.searchMethod must be one of {', '.join(METHODS)}, got {method!r}")
    tunable = [h for h in recipe.hyperparameters if h.tunable]
    if not tunable:
        raise InvalidInput(f"recipe {recipe.name} has no HPO-tunable hyperparameters")
    ranges_cfg = config.get("algorithmHyperParameterRanges")
    ranges: list[Range] = []
    if ranges_cfg is not None:
        if not isinstance(ranges_cfg, dict) or set(ranges_cfg) != set(RANGE_LISTS):
            raise InvalidInput("hpoConfig.algorithmHyperParameterRanges needs all three lists "
                               f"({', '.join(RANGE_LISTS)}), each possibly empty")
        for key, kind in RANGE_LISTS.items():
            if not isinstance(ranges_cfg[key], list):
                raise InvalidInput(f"hpoConfig.algorithmHyperParameterRanges.{key} must be a list")
            ranges += [_given_range(kind, e, recipe, f"hpoConfig.algorithmHyperParameterRanges.{key}")
                       for e in ranges_cfg[key]]
    names = [r.name for r in ranges]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInput(f"hpoConfig: {', '.join(twice)} given more than one range")
    fixed = _canonical(recipe, fixed)
    if not ranges:
        ranges = [_default_range(h) for h in tunable if h.name not in fixed]
    both = sorted(set(r.name for r in ranges) & fixed)
    if both:
        raise InvalidInput(f"{', '.join(both)}: set in algorithmHyperParameters and searched by hpoConfig; "
                           "give one or the other")
    if not ranges:
        raise InvalidInput("hpoConfig: every HPO-tunable hyperparameter is fixed; nothing to search")
    return HpoPlan(metric, jobs, parallel, tuple(ranges), method)


def automl_candidates(config, requested: str | None) -> tuple[str, list[str]]:
    """Check Personalize's ``autoMLConfig``: (its metricName or None, candidate recipe names)."""
    config = {} if config is None else config
    if not isinstance(config, dict) or set(config) - {"metricName", "recipeList"}:
        raise InvalidInput("solution_config.autoMLConfig takes metricName and recipeList")
    if requested is not None:
        raise InvalidInput("perform_auto_ml chooses the recipe: leave recipe out (give autoMLConfig.recipeList)")
    metric = None if config.get("metricName") is None else \
        _metric_name(config["metricName"], "autoMLConfig.metricName")
    given = config.get("recipeList")
    if given is None:
        names = [n for n, r in RECIPES.items() if r.recipe_type == RecipeType.USER_PERSONALIZATION
                 and r.name in ("aws-user-personalization", "aws-hrnn", "aws-hrnn-metadata")]
    else:
        if not isinstance(given, list) or not given:
            raise InvalidInput("autoMLConfig.recipeList must be a non-empty list of recipe ARNs")
        names = []
        for ref in given:
            r = get_recipe(ref)
            if r.recipe_type != RecipeType.USER_PERSONALIZATION:
                raise InvalidInput(f"autoMLConfig.recipeList: {r.name} is a {r.recipe_type} recipe; AutoML "
                                   "chooses among USER_PERSONALIZATION recipes")
            if r.name not in names:
                names.append(r.name)
    return metric, names


# -- the search -----------------------------------------------------------------------------

class _TrialProject:
    """The project as one trial sees it: the worker thread's cursor, nothing logged."""

    read_only = True

    def __init__(self, pp, con):
        self._pp, self.con = pp, con

    def __getattr__(self, name):
        return getattr(self._pp, name)


@dataclass
class Trial:
    number: int
    hyperparameters: dict
    rungs: list
    status: str = "COMPLETED"
    seconds: float = 0.0
    reason: str | None = None

    @property
    def metric(self) -> float | None:
        return self.rungs[-1][1] if self.rungs else None

    def as_dict(self, metric: str) -> dict:
        out = {"trialNumber": self.number,
               "hyperparameters": {k: str(v).lower() if isinstance(v, bool) else str(v)
                                   for k, v in sorted(self.hyperparameters.items())},
               "metricName": metric, "validationMetric": self.metric, "status": self.status,
               "budget": self.rungs[-1][0] if self.rungs else 0.0, "seconds": round(self.seconds, 3),
               "rungs": [{"budget": b, "validationMetric": m} for b, m in self.rungs]}
        if self.reason:
            out["failureReason"] = self.reason
        return out


class Search:
    """One HPO run over a recipe (``run`` returns the best hyperparameters and every trial)."""

    def __init__(self, pp, *, group, recipe_name: str, base: dict, plan: HpoPlan, event_type, threshold,
                 settings: dict, schemas: dict, session_gap=None, seed: int = evaluation.SEED, progress=None):
        self.pp, self.group, self.recipe, self.base, self.plan = pp, group, RECIPES[recipe_name], base, plan
        self.kw = dict(group=group, recipe_name=recipe_name, event_type=event_type, threshold=threshold,
                       settings=settings, schemas=schemas, session_gap=session_gap)
        self.seed, self.progress = seed, progress
        self.ev = evaluation.training_events(pp.con, group.name, schemas, event_type, threshold,
                                             settings.get("eventsConfig"))
        evaluation.user_split(self.ev, seed, role="validation")     # SkipMetrics early when too small

    def configurations(self, center: dict | None = None, count: int | None = None, seen: set | None = None,
                       wave: int = 0) -> list[dict]:
        """``count`` distinct configurations around ``center`` (default: the given hyperparameters,
        which come first when the ranges hold them, so HPO never keeps something worse on
        validation than no HPO): half neighbours of it, half random draws; a second wave
        (``wave=1``) draws only neighbours of the first wave's best."""
        count = self.plan.jobs if count is None else count
        rng = np.random.default_rng([self.seed, wave])
        seen = set() if seen is None else seen
        out = []
        first = center is None
        start = {r.name: self.base[r.name] for r in self.plan.ranges} if first else center
        near = all(r.holds(start[r.name]) for r in self.plan.ranges)
        if first and near:
            seen.add(tuple(sorted(start.items())))
            out.append(start)
        for k in range(count * 20):
            if len(out) == count:
                break
            if near and (wave or k % 2 == 0) and len(self.plan.ranges) > 1:
                # a neighbour: one or two hyperparameters of the centre redrawn (defaults are
                # usually close to good; a random point in 7 dimensions rarely is)
                moved = rng.choice(len(self.plan.ranges), size=int(rng.integers(1, 3)), replace=False)
                hps = dict(start)
                for j in moved:
                    hps[self.plan.ranges[j].name] = self.plan.ranges[j].sample(rng)
            else:
                hps = {r.name: r.sample(rng) for r in self.plan.ranges}
            key = tuple(sorted(hps.items()))
            if key in seen:
                continue             # a small categorical space has fewer distinct points
            seen.add(key)
            out.append(hps)
        return out

    def _score(self, trial: Trial, budget: float) -> float:
        """Train and score one configuration at one budget, on a cursor of its own."""
        hps = self.recipe.resolve_hyperparameters({**self.base, **trial.hyperparameters})
        start = time.perf_counter()
        try:          # pp.con is this worker thread's own cursor (connection.py)
            result = evaluation.evaluate(_TrialProject(self.pp, self.pp.con), hyperparameters=hps,
                                         role="validation", budget=budget, seed=self.seed, ev=self.ev,
                                         full=False, schema=f"pp#trial{trial.number}", **self.kw)
        finally:
            trial.seconds += time.perf_counter() - start
        value = float(result["metrics"].get(self.plan.metric, 0.0))
        trial.rungs.append((budget, value))
        return value

    def _run_rung(self, trials: list[Trial], budget: float, pool) -> None:
        def one(t: Trial):
            try:
                self._score(t, budget)
            except (PypersonalizeError, evaluation.SkipMetrics) as exc:
                t.status, t.reason = "FAILED", " ".join(str(exc).split())
            if self.progress is not None:
                self.progress.step(f"trial {t.number} at {budget:.0%} of the users: "
                                   f"{t.metric if t.metric is not None else t.status}")
        list(pool.map(one, trials))

    def _first_rung(self, pool) -> list[Trial]:
        """Every configuration at the lowest budget: a first wave around the given
        hyperparameters, then (from 4 jobs) a second wave of neighbours of the first's best."""
        seen: set = set()
        first = 1 if self.plan.jobs < 4 or len(self.plan.ranges) < 2 else 2
        wave1 = self.configurations(count=math.ceil(self.plan.jobs / first), seen=seen)
        trials = [Trial(k + 1, hps, []) for k, hps in enumerate(wave1)]
        self._run_rung(trials, RUNGS[0], pool)
        ok = [t for t in trials if t.status != "FAILED"]
        if first == 2 and ok and len(trials) < self.plan.jobs:
            best = max(ok, key=lambda t: (t.metric, -t.number))
            wave2 = self.configurations(center=best.hyperparameters, count=self.plan.jobs - len(trials),
                                        seen=seen, wave=1)
            more = [Trial(len(trials) + k + 1, hps, []) for k, hps in enumerate(wave2)]
            self._run_rung(more, RUNGS[0], pool)
            trials += more
        return trials

    def run(self) -> tuple[dict, list[dict], float]:
        workers = max(1, min(self.plan.parallel, self.plan.jobs, os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            trials = self._first_rung(pool)
            if self.plan.method == "SUCCESSIVE_HALVING":
                alive = trials
                for k, budget in enumerate(RUNGS):
                    if k:
                        self._run_rung(alive, budget, pool)
                    alive = [t for t in alive if t.status != "FAILED"]
                    if k < len(RUNGS) - 1:
                        keep = max(1, math.ceil(len(alive) / 2))
                        ranked = sorted(alive, key=lambda t: (-t.metric, t.number))
                        for t in ranked[keep:]:
                            t.status = "STOPPED_EARLY"
                        alive = ranked[:keep]
            else:
                seen = [t.metric for t in trials if t.status != "FAILED"]
                if not seen:
                    alive = []
                else:
                    median = float(np.median(seen))
                    alive = []
                    for t in trials:
                        if t.status == "FAILED":
                            continue
                        if t.metric < median:
                            t.status = "STOPPED_EARLY"
                        else:
                            alive.append(t)
                    self._run_rung(alive, 1.0, pool)
        done = [t for t in trials if t.status == "COMPLETED"]
        if not done:
            reasons = "; ".join(sorted({t.reason for t in trials if t.reason})) or "no trial finished"
            raise PypersonalizeError(f"hyperparameter optimisation found no working configuration: {reasons}")
        best = max(done, key=lambda t: (t.metric, -t.number))
        tuned = self.recipe.resolve_hyperparameters({**self.base, **best.hyperparameters})
        return tuned, [t.as_dict(self.plan.metric) for t in trials], best.metric


def tune(pp, *, owner, group, recipe_name: str, hyperparameters: dict, event_type, threshold, schemas: dict,
         session_gap=None) -> tuple[str, dict, dict]:
    """A FULL training's HPO / AutoML step: (recipe, hyperparameters, what the version records).

    Raises ``evaluation.SkipMetrics`` when the data is too small for a validation split."""
    c = owner.config
    explicit = c.get("explicitHyperparameters") or {}
    candidates = [get_recipe(a).name for a in c["autoMLConfig"]["recipeList"]] if c.get("performAutoML") \
        else [recipe_name]
    progress = getattr(pp, "progress", None)
    results = []
    for name in candidates:
        recipe = RECIPES[name]
        base = recipe.resolve_hyperparameters(explicit) if c.get("performAutoML") else hyperparameters
        plan = hpo_plan(c.get("hpoConfig"), recipe, explicit)
        if c.get("performAutoML") and not ((c.get("hpoConfig") or {}).get("hpoObjective") or {}).get("metricName"):
            plan = replace(plan, metric=c["autoMLConfig"]["metricName"])
        start = time.perf_counter()
        try:
            search = Search(pp, group=group, recipe_name=name, base=base, plan=plan, event_type=event_type,
                            threshold=threshold, settings=c, schemas=schemas, session_gap=session_gap,
                            progress=progress)
            best, trials, value = search.run()
            results.append({"recipe": name, "plan": plan, "best": best, "trials": trials, "value": value,
                            "seconds": time.perf_counter() - start})
        except PypersonalizeError as exc:
            if not c.get("performAutoML"):
                raise
            results.append({"recipe": name, "plan": plan, "failure": " ".join(str(exc).split())})
    done = [r for r in results if "failure" not in r]
    if not done:
        raise PypersonalizeError("AutoML: no candidate recipe trained: "
                                 + "; ".join(f"{r['recipe']}: {r['failure']}" for r in results))
    metric = c["autoMLConfig"]["metricName"] if c.get("performAutoML") else done[0]["plan"].metric
    chosen = max(done, key=lambda r: r["value"])
    extra = {"tunedHPOParams": tuned_params(chosen["best"], chosen["plan"]), "hpoTrials": chosen["trials"],
             "hpo": {**chosen["plan"].as_config(), "bestValidationMetric": chosen["value"],
                     "seconds": round(chosen["seconds"], 3)}}
    if c.get("performAutoML"):
        extra["autoMLResult"] = {"bestRecipeArn": RECIPES[chosen["recipe"]].arn}
        extra["autoMLCandidates"] = [
            {"recipeArn": RECIPES[r["recipe"]].arn, "metricName": metric,
             **({"failureReason": r["failure"]} if "failure" in r else
                {"validationMetric": r["value"], "hpoMetricName": r["plan"].metric,
                 "hyperparameters": tuned_params(r["best"], r["plan"])["algorithmHyperParameters"],
                 "seconds": round(r["seconds"], 3)})}
            for r in results]
    return chosen["recipe"], chosen["best"], extra


def tuned_params(hyperparameters: dict, plan: HpoPlan) -> dict:
    """Personalize's ``tunedHPOParams``: the searched hyperparameters' chosen values, as strings."""
    return {"algorithmHyperParameters": {r.name: str(hyperparameters[r.name]).lower()
                                         if isinstance(hyperparameters[r.name], bool)
                                         else str(hyperparameters[r.name]) for r in plan.ranges}}


__all__ = ["DEFAULT_METRIC", "METHODS", "HpoPlan", "Range", "Search", "automl_candidates", "hpo_plan", "tune",
           "tuned_params"]
