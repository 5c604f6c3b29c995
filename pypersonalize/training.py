"""Training: one new model version, as a part of the :class:`Project` facade.

``_train`` is shared by solutions (``create_solution_version``), automatic training and
updates (``refresh_solutions``) and domain recommenders (``create_recommender``,
``refresh_recommenders``): it checks Personalize's minimum data (``datacheck``), then runs
the recipe's ``train`` in one transaction with a :class:`TrainContext`, the recipe writing
model rows keyed by the new version's ARN. A failure is recorded as a ``CREATE FAILED``
version and changes nothing served.
"""

from __future__ import annotations

import os
import time
from typing import Any

import duckdb

from . import datacheck, evaluation, tuning
from .base import ProjectBase
from .catalog import Record
from .errors import InvalidInput, PypersonalizeError
from .recipes import RECIPES, TrainContext, model_tables
from .solution_config import training_schemas
from .sqlkit import quote_ident

# Offline metrics roughly double a FULL training's time; PYPERSONALIZE_OFFLINE_METRICS=0 skips them
# (the version then has empty metrics and says why in evaluation.skipped).
METRICS_SWITCH = "PYPERSONALIZE_OFFLINE_METRICS"


class TrainingAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    def _train(self, *, owner: Record, group: Record, recipe_name: str, hyperparameters: dict,
               event_type, threshold, mode: str, session_gap: int | None = None,
               base_version: str | None = None) -> str:
        recipe = RECIPES[recipe_name]
        number = len(self.catalog.select("solution-version", parent_arn=owner.arn)) + 1
        arn = f"{owner.arn}/{number}"
        schemas = self._schemas_of(group)
        config: dict[str, Any] = {"recipeArn": recipe.arn, "recipe": recipe.name, "trainingMode": mode,
                                  "hyperparameters": hyperparameters, "eventType": event_type,
                                  "eventValueThreshold": threshold, "number": number,
                                  "dataState": self._data_state(group), "baseVersion": base_version}
        for key in ("eventsConfig", "optimizationObjective", "excludedColumns", "trainingDataConfig"):
            if owner.config.get(key):
                config[key] = owner.config[key]
        start = time.perf_counter()
        try:
            report = datacheck.requirements(self.con, group.name, schemas, group.config.get("domain"),
                                            event_type, threshold)
            if not report["meetsMinimum"]:
                raise InvalidInput("not enough data to train: " + "; ".join(report["problems"]))
            if mode == "FULL" and owner.kind == "solution" and owner.config.get("performHPO"):
                recipe, hyperparameters = self._tune(owner, group, recipe, hyperparameters, event_type,
                                                     threshold, schemas, session_gap, config)
            inter = schemas["Interactions"]
            excluded = owner.config.get("excludedColumns") or {}
            config.update(self._offline_metrics(owner, group, recipe, hyperparameters, event_type, threshold,
                                                schemas, session_gap, mode, base_version))
            ctx = TrainContext(con=self.con, schema_name=group.name, version_arn=arn,
                               hyperparameters=hyperparameters, event_type=event_type,
                               event_value_threshold=threshold,
                               has_event_type=inter.field("EVENT_TYPE") is not None,
                               has_event_value=inter.field("EVENT_VALUE") is not None,
                               session_gap=session_gap, progress=self.progress,
                               schemas=training_schemas(schemas, excluded), base_version=base_version,
                               events_config=owner.config.get("eventsConfig"),
                               objective=owner.config.get("optimizationObjective"), excluded_columns=excluded)
            with self._transaction():
                with self.progress.bar(f"training {recipe.name} for {owner.name} (version {number})"):
                    stats = recipe.train(ctx)
                config.update(modelStats=stats, trainingSeconds=round(time.perf_counter() - start, 3),
                              dataCounts=report["interactions"])
                self.catalog.add(arn=arn, kind="solution-version", name=f"{owner.name}/{number}",
                                 dataset_group_arn=group.arn, parent_arn=owner.arn, config=config)
                if config.get("autoMLResult"):
                    explicit = owner.config.get("explicitHyperparameters") or {}
                    self.catalog.update(owner, config={
                        **owner.config, "recipe": recipe.name, "recipeArn": recipe.arn,
                        "hyperparameters": recipe.resolve_hyperparameters(explicit),
                        "autoMLResult": config["autoMLResult"], "autoMLCandidates": config["autoMLCandidates"]})
        except (PypersonalizeError, duckdb.Error) as exc:
            reason = " ".join(str(exc).split())
            self.catalog.add(arn=arn, kind="solution-version", name=f"{owner.name}/{number}",
                             dataset_group_arn=group.arn, parent_arn=owner.arn, config=config,
                             status="CREATE FAILED", failure_reason=reason)
            if isinstance(exc, PypersonalizeError):
                raise
            raise PypersonalizeError(f"training failed: {reason}") from None
        self.progress.step(f"trained {owner.name} version {number} in {config['trainingSeconds']}s")
        return arn

    def _tune(self, owner: Record, group: Record, recipe, hyperparameters: dict, event_type, threshold,
              schemas: dict, session_gap, config: dict):
        """HPO (and AutoML) before the version trains (tuning.py); ``config`` gets the trials."""
        with self.progress.bar(f"tuning {owner.name}"):
            try:
                name, tuned, extra = tuning.tune(self, owner=owner, group=group, recipe_name=recipe.name,
                                                 hyperparameters=hyperparameters, event_type=event_type,
                                                 threshold=threshold, schemas=schemas, session_gap=session_gap)
            except evaluation.SkipMetrics as exc:
                config["hpo"] = {"skipped": f"no validation split: {exc}; trained with the given hyperparameters"}
                return recipe, hyperparameters
        recipe = RECIPES[name]
        config.update(extra, recipeArn=recipe.arn, recipe=recipe.name, hyperparameters=tuned)
        self.progress.step(f"tuned {owner.name}: {recipe.name}, {extra['hpo']['metricName']} "
                           f"{extra['hpo']['bestValidationMetric']:.4f} on validation")
        return recipe, tuned

    def _offline_metrics(self, owner: Record, group: Record, recipe, hyperparameters: dict, event_type,
                         threshold, schemas: dict, session_gap, mode: str, base_version) -> dict:
        """The version's ``metrics`` and ``evaluation`` (evaluation.py), taken before the final
        model trains on all the data. UPDATE versions keep their FULL version's metrics, as
        Personalize's updates make none."""
        if os.environ.get(METRICS_SWITCH, "1").strip().lower() in ("0", "off", "false", "no"):
            return {"metrics": {}, "evaluation": {"skipped": f"offline metrics turned off ({METRICS_SWITCH}=0)"}}
        if mode == "UPDATE" and base_version:
            base = self.catalog.get("solution-version", base_version).config
            return {"metrics": base.get("metrics", {}),
                    "evaluation": {"fromVersion": base_version, **({"skipped": base["evaluation"]["skipped"]}
                                   if "skipped" in base.get("evaluation", {}) else {})}}
        with self.progress.bar(f"offline metrics of {recipe.name} for {owner.name}"):
            try:
                result = evaluation.evaluate(self, group=group, recipe_name=recipe.name,
                                             hyperparameters=hyperparameters, event_type=event_type,
                                             threshold=threshold, settings=owner.config, schemas=schemas,
                                             session_gap=session_gap)
            except evaluation.SkipMetrics as exc:
                return {"metrics": {}, "evaluation": {"skipped": str(exc)}}
            except (PypersonalizeError, duckdb.Error) as exc:
                reason = " ".join(str(exc).split())
                return {"metrics": {}, "evaluation": {"skipped": f"the held-out model did not train: {reason}"}}
        self.progress.step(f"offline metrics in {result['evaluation']['seconds']}s")
        return result

    def _data_state(self, group: Record) -> dict:
        """What a model was trained on: enough to tell later whether the data changed."""
        jobs = [j for j in self.catalog.select("dataset-import-job", dataset_group_arn=group.arn)
                if j.status == "ACTIVE"]
        has_inter = "Interactions" in self._schemas_of(group)
        count = self.con.execute(f"SELECT count(*) FROM {quote_ident(group.name)}.interactions"
                                 ).fetchall()[0][0] if has_inter else 0
        return {"interactions": count, "importJobs": len(jobs),
                "lastImport": jobs[-1].arn if jobs else None}

    def _drop_model_rows(self, version_arn: str) -> None:
        self._engine.forget(version_arn)
        for table in model_tables():
            self.con.execute(f"DELETE FROM pypersonalize.{table} WHERE version_arn = $v",
                             {"v": version_arn})


__all__ = ["TrainingAPI"]
