"""Keeping models current: recommenders' retraining, solutions' automatic training and updates.

Nothing here runs on its own: ``refresh_recommenders`` and ``refresh_solutions`` (CLI
``refresh``, for cron) do, on each call, what Personalize's schedulers would have done
since the last one:

* domain recommenders: one whose data changed since its model was trained, or whose model
  is older than its ``retrainingIntervalDays`` (default weekly), is retrained and its
  endpoint moved to the new model (``_retrain_recommender``, also its first training);
* automatic training: a solution with ``perform_auto_training`` gets a new version
  (training mode ``AUTOTRAIN``, a full retrain) when its newest version is older than its
  ``rate(N days)``; campaigns with ``syncWithLatestSolutionVersion`` move to it;
* automatic updates (User-Personalization, HRNN-Coldstart): when data arrived since the
  newest version of a solution that a campaign serves and that version is older than
  ``UPDATE_HOURS``, an ``UPDATE`` version brings in the new items and the campaigns serving
  that solution move to it (Personalize updates the deployed model in place every 2 hours).
"""

from __future__ import annotations

from datetime import timedelta

from .base import ProjectBase
from .catalog import Record, now
from .connection import writes
from .recipes import get_recipe
from .serving import RETRAIN_DAYS
from .usecases import USE_CASES

UPDATE_HOURS = 2


class RefreshAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    # -- solutions ------------------------------------------------------------------

    @writes
    def refresh_solutions(self, dataset_group: str | None = None, force: bool = False) -> dict:
        """Run the automatic training and automatic updates that are due (``force``: all).

        >>> pp.refresh_solutions()  # doctest: +SKIP
        {'trained': [{'name': 'up', 'trainingMode': 'UPDATE', ...}], 'upToDate': ['sims']}
        """
        group_arn = self.catalog.get("dataset-group", dataset_group).arn if dataset_group else None
        trained, current = [], []
        for sol in self.catalog.select("solution", dataset_group_arn=group_arn):
            action = self._due(sol, force)
            if action is None:
                current.append(sol.name)
                continue
            mode, reason = action
            arn = self._train(owner=sol, group=self.catalog.get("dataset-group", sol.dataset_group_arn),
                              recipe_name=sol.config["recipe"], hyperparameters=sol.config["hyperparameters"],
                              event_type=sol.config.get("eventType"),
                              threshold=sol.config.get("eventValueThreshold"),
                              mode=mode, base_version=self._update_base(sol) if mode == "UPDATE" else None)
            moved = self._follow(sol, arn, every=mode == "UPDATE")
            trained.append({"name": sol.name, "trainingMode": mode, "reason": reason,
                            "solutionVersionArn": arn, "campaigns": moved})
        return {"trained": trained, "upToDate": current}

    def _due(self, sol, force: bool) -> tuple[str, str] | None:
        versions = [v for v in self.catalog.select("solution-version", parent_arn=sol.arn) if v.status == "ACTIVE"]
        latest = versions[-1] if versions else None
        if sol.config.get("performAutoTraining"):
            days = sol.config.get("autoTrainingDays", 7)
            if force or latest is None or now() - latest.created_at > timedelta(days=days):
                return "AUTOTRAIN", "forced" if force else f"automatic training every {days} days"
        if latest is None or not get_recipe(sol.config["recipe"]).updatable:
            return None
        served = {c.config["solutionVersionArn"] for c in self.catalog.select("campaign")}
        if not served & {v.arn for v in versions}:
            return None
        changed = self._data_state(self.catalog.get("dataset-group", sol.dataset_group_arn)) \
            != latest.config.get("dataState")
        if changed and (force or now() - latest.created_at > timedelta(hours=UPDATE_HOURS)):
            return "UPDATE", "automatic update: new data"
        return None

    def _update_base(self, sol) -> str:
        fulls = [v for v in self.catalog.select("solution-version", parent_arn=sol.arn)
                 if v.status == "ACTIVE" and v.config.get("trainingMode") in ("FULL", "AUTOTRAIN")]
        return fulls[-1].arn

    def _follow(self, sol, version_arn: str, every: bool) -> list[str]:
        """Move the solution's campaigns to the new version: all of them after an automatic
        update, those with syncWithLatestSolutionVersion after automatic training."""
        moved = []
        versions = {v.arn for v in self.catalog.select("solution-version", parent_arn=sol.arn)}
        for c in self.catalog.select("campaign"):
            if c.config["solutionVersionArn"] in versions and c.config["solutionVersionArn"] != version_arn \
                    and (every or (c.config.get("campaignConfig") or {}).get("syncWithLatestSolutionVersion")):
                self.update_campaign(c.arn, solution_version=version_arn)
                moved.append(c.name)
        return moved

    # -- recommenders ---------------------------------------------------------------

    @writes
    def refresh_recommenders(self, dataset_group: str | None = None, force: bool = False) -> dict:
        """Retrain every recommender whose data changed or whose interval passed."""
        group_arn = self.catalog.get("dataset-group", dataset_group).arn if dataset_group else None
        refreshed, skipped = [], []
        for rec in self.catalog.select("recommender", dataset_group_arn=group_arn):
            desc = self.describe_recommender(rec.arn)["recommender"]
            if force or desc.get("stale", True):
                self._retrain_recommender(self.catalog.get("recommender", rec.arn))
                refreshed.append({"name": rec.name, "reasons": desc.get("staleReasons") or ["forced"]})
            else:
                skipped.append(rec.name)
        return {"refreshed": refreshed, "upToDate": skipped}

    def _retrain_recommender(self, rec: Record) -> str:
        uc = USE_CASES[rec.config["useCase"]]
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        recipe = get_recipe(uc.recipe)
        uc.check_datasets(group.name, self._schemas_of(group))
        version_arn = self._train(owner=rec, group=group, recipe_name=recipe.name,
                                  hyperparameters=recipe.resolve_hyperparameters(dict(uc.hyperparameters)),
                                  event_type=uc.event_type, threshold=None, mode="FULL",
                                  session_gap=uc.session_gap)
        version = self.catalog.get("solution-version", version_arn)
        with self._transaction():
            old = self.con.execute("SELECT version_arn FROM pypersonalize.endpoints WHERE arn = $a",
                                   {"a": rec.arn}).fetchall()
            self._point(rec.name, rec.arn, "recommender", version, exclude=uc.exclude_event_type,
                        requires=(uc.requires_user, uc.requires_item))
            # A recommender serves only its newest model; older rows are dead weight.
            for (old_arn,) in old:
                self._drop_model_rows(old_arn)
                self.catalog.update(self.catalog.get("solution-version", old_arn), status="INACTIVE")
            self.catalog.update(self.catalog.get("recommender", rec.arn), status="ACTIVE",
                                config={**rec.config, "modelVersionArn": version_arn})
        return version_arn

    def _staleness(self, rec: Record, version: Record) -> tuple[bool, list[str]]:
        reasons = []
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        if self._data_state(group) != version.config.get("dataState"):
            reasons.append("data changed since training")
        days = rec.config["recommenderConfig"].get("retrainingIntervalDays", RETRAIN_DAYS)
        if now() - version.created_at > timedelta(days=days):
            reasons.append(f"trained more than {days:g} days ago")
        return bool(reasons), reasons


__all__ = ["RefreshAPI", "UPDATE_HOURS"]
