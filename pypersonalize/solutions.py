"""Recipes, solutions and solution versions, as a part of the :class:`Project` facade.

A solution fixes a recipe, its hyperparameters and the events it learns from; each
solution version is an immutable, numbered snapshot whose model rows live in the project
file beside its catalog record. Training itself (``training.py``) runs in one transaction:
a failed version leaves earlier versions (and the campaigns serving them) untouched.
"""

from __future__ import annotations

import re

from .base import ProjectBase
from .catalog import Record, check_name
from .configs import AUTO_TRAINING_CONFIG, SOLUTION_CONFIG, SOLUTION_UPDATE_CONFIG, check_keys
from .connection import writes
from .errors import InvalidInput, ResourceAlreadyExists, ResourceInUse
from .numbers import finite
from .recipes import RECIPES, get_recipe, summaries, summary
from .solution_config import events_config, optimization_objective, training_data_config
from .tuning import DEFAULT_METRIC, automl_candidates, hpo_plan

TRAINING_MODES = ("FULL", "UPDATE")
AUTO_TRAINING_DAYS = 7       # Personalize's default schedulingExpression rate(7 days)


def auto_training_days(config: dict | None) -> int:
    """Days of Personalize's ``autoTrainingConfig.schedulingExpression`` (``rate(N days)``, N 1..30)."""
    expression = check_keys(config, AUTO_TRAINING_CONFIG,
                            "solution_config.autoTrainingConfig").get("schedulingExpression")
    if expression is None:
        return AUTO_TRAINING_DAYS
    match = re.fullmatch(r"rate\((\d+) days?\)", str(expression).strip())
    if not match or not 1 <= int(match.group(1)) <= 30:
        raise InvalidInput(f"schedulingExpression must be rate(N days) with N from 1 to 30, got {expression!r}")
    return int(match.group(1))


class SolutionsAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    # -- recipes --------------------------------------------------------------------

    def list_recipes(self) -> dict:
        return {"recipes": summaries()}

    def describe_recipe(self, recipe: str) -> dict:
        r = get_recipe(recipe)
        name = recipe.rsplit("/", 1)[-1]
        return {"recipe": {**summary(r, name if name in r.aliases else None), "sqlFiles": list(r.sql_files),
                           "hyperparameters": [h.describe() for h in r.hyperparameters]}}

    # -- solutions ------------------------------------------------------------------

    @writes
    def create_solution(self, name: str, dataset_group: str, recipe: str | None = None,
                        hyperparameters: dict | None = None, event_type: str | None = None,
                        event_value_threshold: float | str | None = None,
                        solution_config: dict | None = None, perform_auto_training: bool = False,
                        perform_hpo: bool = False, perform_auto_ml: bool = False) -> dict:
        """Create a solution: a recipe with fixed hyperparameters over a dataset group.

        ``perform_auto_training`` with ``solution_config={"autoTrainingConfig":
        {"schedulingExpression": "rate(7 days)"}}`` makes ``refresh`` train a new version when
        the interval has passed (see :meth:`refresh_solutions`).

        ``hyperparameters`` may also come as Personalize's ``solution_config``
        (``algorithmHyperParameters``, ``featureTransformationParameters``,
        ``eventValueThreshold``), values as strings or numbers.

        ``perform_hpo`` searches the HPO-tunable hyperparameters on a validation split at each
        FULL training (``solution_config.hpoConfig``, see README "Tuning");
        ``perform_auto_ml`` (``recipe`` left out) trains every recipe of
        ``autoMLConfig.recipeList`` with HPO and keeps the best.

        >>> pp.create_solution("tuned", "shop", "aws-user-personalization", perform_hpo=True,
        ...     solution_config={"hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "8"}}})  # doctest: +SKIP
        """
        check_name(name, "solution")
        for flag, value in (("perform_hpo", perform_hpo), ("perform_auto_ml", perform_auto_ml),
                            ("perform_auto_training", perform_auto_training)):
            if not isinstance(value, bool):
                raise InvalidInput(f"{flag} must be true or false")
        group = self.catalog.get("dataset-group", dataset_group)
        config = check_keys(solution_config, SOLUTION_CONFIG, "solution_config")
        if "hpoConfig" in config and not (perform_hpo or perform_auto_ml):
            raise InvalidInput("solution_config.hpoConfig is given but perform_hpo is false")
        if "autoMLConfig" in config and not perform_auto_ml:
            raise InvalidInput("solution_config.autoMLConfig is given but perform_auto_ml is false")
        candidates = None
        if perform_auto_ml:
            automl_metric, candidates = automl_candidates(config.get("autoMLConfig"), recipe)
            recipe = candidates[0]
        elif recipe is None:
            raise InvalidInput("create_solution needs a recipe (or perform_auto_ml=True to choose one)")
        r = get_recipe(recipe)
        for key in ("algorithmHyperParameters", "featureTransformationParameters"):
            if not isinstance(config.get(key, {}), dict):
                raise InvalidInput(f"solution_config.{key} must be an object of name -> value")
        merged = {**config.get("featureTransformationParameters", {}),
                  **config.get("algorithmHyperParameters", {}), **(hyperparameters or {})}
        resolved = r.resolve_hyperparameters(merged)
        tuning = {}
        if perform_hpo or perform_auto_ml:
            for candidate in candidates or [r.name]:
                get_recipe(candidate).resolve_hyperparameters(merged)
                hpo_plan(config.get("hpoConfig"), get_recipe(candidate), merged)
            tuning = {"performHPO": True, "hpoConfig": config.get("hpoConfig") or {},
                      "explicitHyperparameters": merged}
        if perform_auto_ml:
            hpo_metric = ((config.get("hpoConfig") or {}).get("hpoObjective") or {}).get("metricName")
            if automl_metric is None:
                automl_metric = hpo_metric or DEFAULT_METRIC
            elif hpo_metric is not None and hpo_metric != automl_metric:
                raise InvalidInput(f"autoMLConfig.metricName {automl_metric!r} and hpoConfig.hpoObjective.metricName "
                                   f"{hpo_metric!r} differ: AutoML compares its candidates by one metric")
            tuning.update(performAutoML=True, autoMLConfig={"metricName": automl_metric,
                                                            "recipeList": [get_recipe(c).arn for c in candidates]})
        threshold = event_value_threshold if event_value_threshold is not None \
            else config.get("eventValueThreshold")
        if threshold is not None:
            threshold = finite(threshold, "event_value_threshold")
        self._check_event_fields(group, event_type, threshold)
        days = auto_training_days(config.get("autoTrainingConfig"))
        requested = str(recipe).rsplit("/", 1)[-1]
        schemas = self._schemas_of(group)
        steering = {
            "eventsConfig": events_config(config.get("eventsConfig"), schemas, requested),
            "optimizationObjective": optimization_objective(config.get("optimizationObjective"), schemas,
                                                            requested),
            "excludedColumns": training_data_config(config.get("trainingDataConfig"), schemas,
                                                    group.config.get("domain")),
            "trainingDataConfig": config.get("trainingDataConfig")}
        if steering["eventsConfig"] and event_type is not None:
            raise InvalidInput("give either event_type or solution_config.eventsConfig, not both")
        if steering["eventsConfig"] and threshold is not None:
            raise InvalidInput("give either eventValueThreshold or solution_config.eventsConfig (its per-type "
                               "eventValueThreshold), not both")
        if self.catalog.select("solution", name=name):
            raise ResourceAlreadyExists(f"solution {name!r} already exists")
        arn = self.catalog.arn("solution", name)
        self.catalog.add(arn=arn, kind="solution", name=name, dataset_group_arn=group.arn, config={
            "recipeArn": r.arn, "recipe": r.name, "hyperparameters": resolved,
            "requestedRecipe": requested,
            "eventType": event_type, "eventValueThreshold": threshold,
            "performAutoTraining": perform_auto_training, "autoTrainingDays": days,
            **{k: v for k, v in steering.items() if v}, **tuning})
        return {"solutionArn": arn}

    @writes
    def update_solution(self, solution: str, perform_auto_training: bool | None = None,
                        solution_update_config: dict | None = None) -> dict:
        """Change what Personalize lets UpdateSolution change: automatic training and its
        interval, and a -v2 solution's eventsConfig. The next version trains with the new
        settings; versions trained before keep theirs.

        >>> pp.update_solution("s", solution_update_config={"eventsConfig": {"eventParametersList": [
        ...     {"eventType": "purchase", "weight": 0.9}, {"eventType": "click", "weight": 0.1}]}})  # doctest: +SKIP
        """
        rec = self.catalog.get("solution", solution)
        config = check_keys(solution_update_config, SOLUTION_UPDATE_CONFIG, "solution_update_config")
        if perform_auto_training is None and not config:
            raise InvalidInput("nothing to update: give perform_auto_training or solution_update_config")
        c = dict(rec.config)
        if perform_auto_training is not None:
            if not isinstance(perform_auto_training, bool):
                raise InvalidInput("perform_auto_training must be true or false")
            c["performAutoTraining"] = perform_auto_training
        if "autoTrainingConfig" in config:
            c["autoTrainingDays"] = auto_training_days(config["autoTrainingConfig"])
        if "eventsConfig" in config:
            group = self.catalog.get("dataset-group", rec.dataset_group_arn)
            events = events_config(config["eventsConfig"], self._schemas_of(group),
                                   c.get("requestedRecipe", c["recipe"]))
            if events and c.get("eventType") is not None:
                raise InvalidInput(f"solution {rec.name!r} trains on event type {c['eventType']!r}; "
                                   "an eventsConfig cannot be added to it")
            if events and c.get("eventValueThreshold") is not None:
                raise InvalidInput(f"solution {rec.name!r} has an eventValueThreshold; an eventsConfig "
                                   "(with per-type thresholds) cannot be added to it")
            c["eventsConfig"] = events
        with self._transaction():
            self.catalog.update(rec, config=c)
        return {"solutionArn": rec.arn}

    def _check_event_fields(self, group: Record, event_type, threshold) -> None:
        schemas = self._schemas_of(group)
        inter = schemas.get("Interactions")
        if inter is None:
            raise InvalidInput(f"dataset group {group.name!r} has no Interactions dataset")
        if event_type is not None and inter.field("EVENT_TYPE") is None:
            raise InvalidInput("event_type given, but the Interactions schema has no EVENT_TYPE field")
        if threshold is not None and inter.field("EVENT_VALUE") is None:
            raise InvalidInput("event_value_threshold given, but the Interactions schema has no "
                               "EVENT_VALUE field")

    def describe_solution(self, solution: str) -> dict:
        return {"solution": self._solution_dict(self.catalog.get("solution", solution))}

    def list_solutions(self, dataset_group: str | None = None) -> dict:
        group_arn = self.catalog.get("dataset-group", dataset_group).arn if dataset_group else None
        return {"solutions": [self._solution_dict(s)
                              for s in self.catalog.select("solution", dataset_group_arn=group_arn)]}

    @writes
    def delete_solution(self, solution: str) -> None:
        """Delete a solution and its versions' model rows; refused while a campaign serves one."""
        rec = self.catalog.get("solution", solution)
        versions = self.catalog.select("solution-version", parent_arn=rec.arn)
        users = [c.name for c in self.catalog.select("campaign")
                 if c.config["solutionVersionArn"] in {v.arn for v in versions}]
        if users:
            raise ResourceInUse(f"solution {rec.name!r} is served by campaign(s) {', '.join(users)}")
        arns = {v.arn for v in versions}
        jobs = [j.name for kind in ("batch-inference-job", "batch-segment-job") for j in self.catalog.select(kind)
                if j.parent_arn in arns and j.status in ("CREATE PENDING", "CREATE IN_PROGRESS")]
        if jobs:
            raise ResourceInUse(f"solution {rec.name!r} has unfinished batch job(s) {', '.join(jobs)}: "
                                "let them finish (create them again to take them up) first")
        with self._transaction():
            for v in versions:
                self._drop_model_rows(v.arn)
                self.catalog.remove(v)
            self.catalog.remove(rec)

    def _solution_dict(self, rec: Record) -> dict:
        c = rec.config
        out = {"name": rec.name, "solutionArn": rec.arn, "recipeArn": c["recipeArn"],
               "datasetGroupArn": rec.dataset_group_arn, "status": rec.status,
               "creationDateTime": rec.created_at, "lastUpdatedDateTime": rec.updated_at,
               "solutionConfig": {"algorithmHyperParameters": {k: _hp_text(v) for k, v in c["hyperparameters"].items()}}}
        out["performAutoTraining"] = bool(c.get("performAutoTraining"))
        out["performHPO"] = bool(c.get("performHPO"))
        out["performAutoML"] = bool(c.get("performAutoML"))
        if c.get("performHPO"):
            out["solutionConfig"]["hpoConfig"] = c.get("hpoConfig") or {}
        if c.get("performAutoML"):
            out["solutionConfig"]["autoMLConfig"] = c["autoMLConfig"]
            if c.get("autoMLResult"):
                out["autoMLResult"] = c["autoMLResult"]
                out["autoMLCandidates"] = c.get("autoMLCandidates", [])     # ours: the latest run's
        if c.get("performAutoTraining"):
            out["solutionConfig"]["autoTrainingConfig"] = {
                "schedulingExpression": f"rate({c.get('autoTrainingDays', AUTO_TRAINING_DAYS)} days)"}
        if c.get("eventType") is not None:
            out["eventType"] = c["eventType"]
        if c.get("eventValueThreshold") is not None:
            out["solutionConfig"]["eventValueThreshold"] = str(c["eventValueThreshold"])
        out["solutionConfig"].update(_steering(c))
        versions = self.catalog.select("solution-version", parent_arn=rec.arn)
        if versions:
            latest = versions[-1]
            out["latestSolutionVersion"] = {"solutionVersionArn": latest.arn, "status": latest.status,
                                            "creationDateTime": latest.created_at}
        return out

    # -- solution versions ----------------------------------------------------------

    @writes
    def create_solution_version(self, solution: str, training_mode: str = "FULL") -> dict:
        """Train a new version; raises (after recording the failed version) when it fails."""
        rec = self.catalog.get("solution", solution)
        mode = str(training_mode).upper()
        if mode not in TRAINING_MODES:
            raise InvalidInput(f"unknown training_mode {training_mode!r}; expected FULL or UPDATE")
        recipe = get_recipe(rec.config["recipe"])
        base = None
        if mode == "UPDATE":
            if not recipe.updatable:
                names = ", ".join(r.name for r in RECIPES.values() if r.updatable)
                raise InvalidInput(f"training_mode UPDATE is for {names}, not {recipe.name}")
            fulls = [v for v in self.catalog.select("solution-version", parent_arn=rec.arn)
                     if v.status == "ACTIVE" and v.config.get("trainingMode") in ("FULL", "AUTOTRAIN")]
            if not fulls:
                raise InvalidInput(f"solution {rec.name!r} has no ACTIVE FULL version to update; "
                                   "train one with training_mode FULL first")
            base = fulls[-1].arn
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        arn = self._train(owner=rec, group=group, recipe_name=recipe.name,
                          hyperparameters=rec.config["hyperparameters"],
                          event_type=rec.config.get("eventType"),
                          threshold=rec.config.get("eventValueThreshold"), mode=mode, base_version=base)
        return {"solutionVersionArn": arn}

    def get_solution_metrics(self, solution_version: str) -> dict:
        """Personalize's GetSolutionMetrics: the offline metrics taken when the version trained
        (see README "Offline metrics"); an empty map when the data could not give them
        (``describe_solution_version``'s ``evaluation.skipped`` says why).

        >>> pp.get_solution_metrics(arn)["metrics"]["normalized_discounted_cumulative_gain_at_10"]  # doctest: +SKIP
        0.1834
        """
        rec = self.catalog.get("solution-version", solution_version)
        if rec.status != "ACTIVE" and rec.status != "INACTIVE":
            raise InvalidInput(f"solution version {rec.name!r} is {rec.status}; it has no metrics")
        return {"solutionVersionArn": rec.arn, "metrics": dict(rec.config.get("metrics") or {})}

    def describe_solution_version(self, solution_version: str) -> dict:
        return {"solutionVersion": self._version_dict(self.catalog.get("solution-version", solution_version))}

    def list_solution_versions(self, solution: str | None = None) -> dict:
        parent = self.catalog.get("solution", solution).arn if solution else None
        versions = [v for v in self.catalog.select("solution-version", parent_arn=parent)
                    if parent or ":solution/" in v.arn]
        return {"solutionVersions": [self._version_dict(v) for v in versions]}

    @staticmethod
    def _version_dict(rec: Record) -> dict:
        c = rec.config
        out = {"solutionVersionArn": rec.arn, "solutionArn": rec.parent_arn, "recipeArn": c["recipeArn"],
               "datasetGroupArn": rec.dataset_group_arn, "status": rec.status,
               "trainingMode": c["trainingMode"], "creationDateTime": rec.created_at,
               "lastUpdatedDateTime": rec.updated_at,
               "solutionConfig": {"algorithmHyperParameters": {k: _hp_text(v) for k, v in c["hyperparameters"].items()}}}
        out["solutionConfig"].update(_steering(c))
        for key in ("eventType", "trainingSeconds", "dataCounts", "modelStats", "evaluation", "tunedHPOParams",
                    "hpoTrials", "hpo", "autoMLCandidates", "autoMLResult"):
            if c.get(key) is not None:
                out[key] = c[key]
        if rec.failure_reason:
            out["failureReason"] = rec.failure_reason
        return out


def _hp_text(value) -> str:
    """A hyperparameter as Personalize's string maps hold it ("true", not "True")."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _steering(c: dict) -> dict:
    """eventsConfig / optimizationObjective / trainingDataConfig as describe_* shows them."""
    out = {}
    if c.get("eventsConfig"):
        out["eventsConfig"] = {"eventParametersList": [{k: v for k, v in e.items() if v is not None}
                                                       for e in c["eventsConfig"]]}
    if c.get("optimizationObjective"):
        out["optimizationObjective"] = dict(c["optimizationObjective"])
    if c.get("trainingDataConfig"):
        out["trainingDataConfig"] = c["trainingDataConfig"]
    return out


__all__ = ["SolutionsAPI"]
