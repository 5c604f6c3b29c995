"""Campaigns, domain recommenders and recommendations, as a part of the Project facade.

Every campaign and recommender is a row of ``pypersonalize.endpoints`` naming the solution
version it serves and its recipe. Python answers requests from memory (``engine.py``); a
plain DuckDB client gets the same answer from the persistent macro ``pp_recommend``
(``sql/serving/pipeline.sql``).
"""

from __future__ import annotations

import uuid

import pandas as pd

from .base import ProjectBase
from .catalog import Record, check_name
from .configs import CAMPAIGN_CONFIG, RECOMMENDER_CONFIG, check_keys
from .connection import writes
from .errors import InvalidInput, ResourceAlreadyExists
from .numbers import finite
from .recipes import RecipeType, get_recipe
from .recipes.base import RANKING_FACTORS
from .solution_config import training_data_config
from .sqlkit import execute_all, render
from .texts import text
from .usecases import get_use_case

MAX_RESULTS = 500
DEFAULT_RESULTS = 25
MAX_METADATA_RESULTS = 50     # numResults (and inputList) when metadataColumns is given
MAX_METADATA_COLUMNS = 10
RETRAIN_DAYS = 7     # Personalize retrains domain recommenders weekly (refresh.py)


def context_params(context: dict | None) -> dict:
    """A request's ``context`` (Personalize's map of contextual fields) as bound lists."""
    if context is None:
        context = {}
    if not isinstance(context, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in context.items()):
        raise InvalidInput("context must map field names to string values, e.g. {\"DEVICE\": \"Tablet\"}")
    return {"context_keys": list(context), "context_values": list(context.values())}


def check_exploration(config: dict | None) -> None:
    """Personalize's itemExplorationConfig: explorationWeight 0..1, explorationItemAgeCutOff >= 1."""
    explore = (config or {}).get("itemExplorationConfig")
    if explore is None:
        return
    if not isinstance(explore, dict) or set(explore) - {"explorationWeight", "explorationItemAgeCutOff"}:
        raise InvalidInput("itemExplorationConfig takes explorationWeight and explorationItemAgeCutOff")
    for key, low, high in (("explorationWeight", 0.0, 1.0), ("explorationItemAgeCutOff", 1.0, None)):
        if key in explore:
            value = finite(explore[key], key)
            if value < low or (high is not None and value > high):
                raise InvalidInput(f"{key} must be within [{low:g}, {high if high is not None else 'inf'}], "
                                   f"got {value:g}")


def check_ranking_influence(config: dict | None, recipe) -> dict | None:
    """Personalize's rankingInfluence ({"FRESHNESS"|"POPULARITY": 0..1}) for ``recipe``, or None."""
    influence = (config or {}).get("rankingInfluence")
    if influence is None:
        return None
    if not isinstance(influence, dict):
        raise InvalidInput("rankingInfluence must map FRESHNESS and/or POPULARITY to a number in [0, 1]")
    out = {}
    for key, value in influence.items():
        if key not in RANKING_FACTORS:
            raise InvalidInput(f"rankingInfluence has no factor {key!r}; known: {', '.join(RANKING_FACTORS)}")
        if key not in recipe.ranking_factors:
            raise InvalidInput(f"rankingInfluence {key} is not supported yet for {recipe.name}"
                               + (f" (it applies {', '.join(recipe.ranking_factors)})" if recipe.ranking_factors
                                  else ""))
        if isinstance(value, bool):
            raise InvalidInput(f"rankingInfluence {key} must be a number in [0, 1], got {value!r}")
        number = finite(value, f"rankingInfluence {key}")
        if not 0.0 <= number <= 1.0:
            raise InvalidInput(f"rankingInfluence {key} must be within [0, 1], got {number:g}")
        out[key] = number
    return out


def check_metadata_flag(config: dict) -> None:
    flag = config.get("enableMetadataWithRecommendations")
    if flag is not None and not isinstance(flag, bool):
        raise InvalidInput(f"enableMetadataWithRecommendations must be true or false, got {flag!r}")


def metadata_columns_of(engine, ep, kind: str, metadata_columns, count: int, what: str) -> list[str] | None:
    """Personalize's metadataColumns ({"ITEMS": [column, ...]}) checked against the endpoint and
    its group's Items dataset: the Items column names to read, or None when not asked."""
    if metadata_columns is None:
        return None
    if not isinstance(metadata_columns, dict) or set(metadata_columns) != {"ITEMS"}:
        raise InvalidInput('metadata_columns must be {"ITEMS": [column names of the Items dataset]}')
    names = metadata_columns["ITEMS"]
    if not isinstance(names, list) or not 1 <= len(names) <= MAX_METADATA_COLUMNS \
            or not all(isinstance(c, str) for c in names):
        raise InvalidInput(f"metadata_columns ITEMS must be a list of 1 to {MAX_METADATA_COLUMNS} column names")
    if not engine.metadata_enabled(ep):
        raise InvalidInput(f"{kind} {ep.name!r} was not created with enableMetadataWithRecommendations; "
                           "set it (update_campaign) to get metadata_columns")
    if count > MAX_METADATA_RESULTS:
        raise InvalidInput(f"{what} is at most {MAX_METADATA_RESULTS} when metadata_columns is given, got {count}")
    known = engine.item_columns(ep.group)
    if not known:
        raise InvalidInput(f"dataset group {ep.group!r} has no Items dataset to read metadata_columns from")
    out = []
    for name in names:
        text(name, "metadata column", limit=150)
        column = known.get(name.upper())
        if column is None or column.upper() == "ITEM_ID":
            raise InvalidInput(f"metadata column {name!r} is not a column of the Items dataset; known: "
                               + ", ".join(c for c in known.values() if c.upper() != "ITEM_ID"))
        out.append(column)
    return out


class ServingAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    # -- campaigns ------------------------------------------------------------------

    @writes
    def create_campaign(self, name: str, solution_version: str, min_provisioned_tps: int = 1,
                        campaign_config: dict | None = None) -> dict:
        """Deploy a solution version; ``min_provisioned_tps`` is recorded (see README)."""
        check_name(name, "campaign")
        version = self._active_version(solution_version)
        self._check_endpoint_name(name)
        tps = self._tps(min_provisioned_tps, "min_provisioned_tps")
        campaign_config = self._campaign_config(campaign_config, version)
        arn = self.catalog.arn("campaign", name)
        with self._transaction():
            self.catalog.add(arn=arn, kind="campaign", name=name,
                             dataset_group_arn=version.dataset_group_arn, parent_arn=version.parent_arn,
                             config={"solutionVersionArn": version.arn, "minProvisionedTPS": tps,
                                     "campaignConfig": campaign_config or {}})
            self._point(name, arn, "campaign", version, exclude=None)
        return {"campaignArn": arn}

    @writes
    def update_campaign(self, campaign: str, solution_version: str | None = None,
                        min_provisioned_tps: int | None = None,
                        campaign_config: dict | None = None) -> dict:
        """Switch a campaign to another version of its solution, atomically."""
        rec = self.catalog.get("campaign", campaign)
        config = dict(rec.config)
        with self._transaction():
            if solution_version is not None:
                version = self._active_version(solution_version)
                if version.parent_arn != rec.parent_arn:
                    raise InvalidInput(f"{version.arn} is not a version of the campaign's solution "
                                       f"{rec.parent_arn}")
                config["solutionVersionArn"] = version.arn
                self._point(rec.name, rec.arn, "campaign", version, exclude=None)
            if min_provisioned_tps is not None:
                config["minProvisionedTPS"] = self._tps(min_provisioned_tps, "min_provisioned_tps")
            if campaign_config is not None:
                config["campaignConfig"] = self._campaign_config(
                    campaign_config, self.catalog.get("solution-version", config["solutionVersionArn"]))
            self.catalog.update(rec, config=config)
        return {"campaignArn": rec.arn}

    def describe_campaign(self, campaign: str) -> dict:
        rec = self.catalog.get("campaign", campaign)
        return {"campaign": {"name": rec.name, "campaignArn": rec.arn,
                             "solutionVersionArn": rec.config["solutionVersionArn"],
                             "minProvisionedTPS": rec.config["minProvisionedTPS"],
                             "campaignConfig": rec.config["campaignConfig"], "status": rec.status,
                             "creationDateTime": rec.created_at, "lastUpdatedDateTime": rec.updated_at}}

    def list_campaigns(self, solution: str | None = None) -> dict:
        parent = self.catalog.get("solution", solution).arn if solution else None
        return {"campaigns": [self.describe_campaign(c.arn)["campaign"]
                              for c in self.catalog.select("campaign", parent_arn=parent)]}

    @writes
    def delete_campaign(self, campaign: str) -> None:
        rec = self.catalog.get("campaign", campaign)
        with self._transaction():
            self.con.execute("DELETE FROM pypersonalize.endpoints WHERE arn = $a", {"a": rec.arn})
            self._create_pipeline_macro()
            self.catalog.remove(rec)

    @staticmethod
    def _campaign_config(campaign_config, version: Record) -> dict:
        config = check_keys(campaign_config, CAMPAIGN_CONFIG, "campaign_config")
        check_exploration(config)
        explore = config.get("itemExplorationConfig") or {}
        # weight 0 asks for no exploration, which is what every other recipe does anyway
        if explore and finite(explore.get("explorationWeight", 0.3), "explorationWeight") > 0 \
                and "exploration_weight" not in version.config["hyperparameters"]:
            raise InvalidInput(f"itemExplorationConfig is for User-Personalization campaigns; "
                               f"{version.config['recipe']} does not explore")
        check_ranking_influence(config, get_recipe(version.config["recipe"]))
        check_metadata_flag(config)
        sync = config.get("syncWithLatestSolutionVersion")
        if sync is not None and not isinstance(sync, bool):
            raise InvalidInput(f"syncWithLatestSolutionVersion must be true or false, got {sync!r}")
        return config

    def _active_version(self, ref: str) -> Record:
        version = self.catalog.get("solution-version", ref)
        if version.status != "ACTIVE":
            raise InvalidInput(f"solution version {version.arn} is {version.status}, not ACTIVE")
        if get_recipe(version.config["recipe"]).segments:
            raise InvalidInput(f"{version.arn} is a {version.config['recipe']} version: USER_SEGMENTATION "
                               "models make user segments with create_batch_segment_job, not campaigns")
        return version

    def _check_endpoint_name(self, name: str) -> None:
        # Campaigns and recommenders share the SQL macros' namespace.
        taken = self.con.execute("SELECT kind FROM pypersonalize.endpoints WHERE name = $n",
                                 {"n": name}).fetchall()
        if taken:
            raise ResourceAlreadyExists(f"a {taken[0][0]} named {name!r} already exists "
                                        "(campaigns and recommenders share names)")

    @staticmethod
    def _tps(value, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInput(f"{what} must be an integer >= 1, got {value!r}")
        return value

    def _point(self, name, arn, kind, version: Record, *, exclude, requires=None) -> None:
        recipe = get_recipe(version.config["recipe"])
        group = self.catalog.get("dataset-group", version.dataset_group_arn)
        requires_user, requires_item = requires or ("user" in recipe.inputs, "item" in recipe.inputs)
        execute_all(self.con, render("serving/endpoint_upsert.sql"), {
            "name": name, "arn": arn, "kind": kind, "version": version.arn, "group": group.name,
            "serving": str(recipe.recipe_type), "requires_user": requires_user,
            "requires_item": requires_item, "exclude": exclude, "recipe": recipe.name})
        self._create_pipeline_macro()

    # -- recommenders ---------------------------------------------------------------

    @writes
    def create_recommender(self, name: str, dataset_group: str, use_case: str | None = None,
                           recommender_config: dict | None = None, recipe: str | None = None) -> dict:
        """Create a domain recommender for a use case (title, recipe id or ARN) and train it."""
        check_name(name, "recommender")
        group = self.catalog.get("dataset-group", dataset_group)
        uc = get_use_case(use_case or recipe or "")
        if group.config.get("domain") != uc.domain:
            raise InvalidInput(f"use case {uc.title!r} is for {uc.domain} dataset groups; "
                               f"{group.name!r} is {group.config.get('domain') or 'custom'}")
        if self.catalog.select("recommender", name=name):
            raise ResourceAlreadyExists(f"recommender {name!r} already exists")
        self._check_endpoint_name(name)
        config = check_keys(recommender_config, RECOMMENDER_CONFIG, "recommender_config")
        check_exploration(config)
        check_metadata_flag(config)
        if "itemExplorationConfig" in config and not get_recipe(uc.recipe).explores:
            raise InvalidInput(f"itemExplorationConfig is only for personalized use cases, not {uc.title!r}")
        if "minRecommendationRequestsPerSecond" in config:
            self._tps(config["minRecommendationRequestsPerSecond"], "minRecommendationRequestsPerSecond")
        interval = config.get("retrainingIntervalDays", RETRAIN_DAYS)
        if not isinstance(interval, (int, float)) or not 0 < finite(interval, "retrainingIntervalDays") <= 36500:
            raise InvalidInput(f"retrainingIntervalDays must be a positive number of days up to 36500, "
                               f"got {interval!r}")
        self._check_event_fields(group, uc.event_type, None)
        uc.check_datasets(group.name, self._schemas_of(group))
        arn = self.catalog.arn("recommender", name)
        rec_config = {"recipeArn": uc.arn, "useCase": uc.name, "recommenderConfig": config}
        excluded = training_data_config(config.get("trainingDataConfig"), self._schemas_of(group),
                                        group.config.get("domain"), "recommender_config.trainingDataConfig")
        if excluded:
            rec_config["excludedColumns"] = excluded
        self.catalog.add(arn=arn, kind="recommender", name=name, dataset_group_arn=group.arn,
                         config=rec_config, status="CREATE IN_PROGRESS")
        rec = self.catalog.get("recommender", arn)
        try:
            self._retrain_recommender(rec)
        except Exception:
            self.catalog.update(self.catalog.get("recommender", arn), status="CREATE FAILED",
                                failure_reason="training failed; see its solution version")
            raise
        return {"recommenderArn": arn}

    def describe_recommender(self, recommender: str) -> dict:
        rec = self.catalog.get("recommender", recommender)
        out = {"name": rec.name, "recommenderArn": rec.arn, "datasetGroupArn": rec.dataset_group_arn,
               "recipeArn": rec.config["recipeArn"], "recommenderConfig": rec.config["recommenderConfig"],
               "status": rec.status, "creationDateTime": rec.created_at,
               "lastUpdatedDateTime": rec.updated_at}
        if rec.failure_reason:
            out["failureReason"] = rec.failure_reason
        version_arn = rec.config.get("modelVersionArn")
        if version_arn:
            version = self.catalog.get("solution-version", version_arn)
            stale, reasons = self._staleness(rec, version)
            out["modelMetrics"] = dict(version.config.get("metrics") or {})
            out.update(modelVersionArn=version_arn, lastTrainedDateTime=version.created_at,
                       stale=stale, staleReasons=reasons)
        return {"recommender": out}

    def list_recommenders(self, dataset_group: str | None = None) -> dict:
        group_arn = self.catalog.get("dataset-group", dataset_group).arn if dataset_group else None
        return {"recommenders": [self.describe_recommender(r.arn)["recommender"]
                                 for r in self.catalog.select("recommender", dataset_group_arn=group_arn)]}

    @writes
    def delete_recommender(self, recommender: str) -> None:
        rec = self.catalog.get("recommender", recommender)
        with self._transaction():
            self.con.execute("DELETE FROM pypersonalize.endpoints WHERE arn = $a", {"a": rec.arn})
            self._create_pipeline_macro()
            for v in self.catalog.select("solution-version", parent_arn=rec.arn):
                self._drop_model_rows(v.arn)
                self.catalog.remove(v)
            self.catalog.remove(rec)

    # -- recommendations ------------------------------------------------------------

    def get_recommendations(self, campaign: str | None = None, recommender: str | None = None,
                            user_id: str | None = None, item_id: str | None = None,
                            num_results: int = DEFAULT_RESULTS, filter: str | None = None,
                            filter_values: dict | None = None, promotions: list | None = None,
                            seed: int | None = None, context: dict | None = None,
                            metadata_columns: dict | None = None, explain: bool = False) -> dict:
        """Personalize's GetRecommendations: ``{"itemList": [{"itemId", "score"}], "recommendationId"}``.

        ``metadata_columns={"ITEMS": [...]}`` adds each item's ``"metadata"`` (Items columns as
        text; the endpoint needs enableMetadataWithRecommendations); ``explain=True`` adds each
        item's ``"explanation"`` (see README, "Explanations").

        >>> pp.get_recommendations(recommender="top-movies", user_id="u1", num_results=3)  # doctest: +SKIP
        """
        if (campaign is None) == (recommender is None):
            raise InvalidInput("give exactly one of campaign or recommender")
        kind = "campaign" if campaign else "recommender"
        ref = campaign or recommender
        if isinstance(num_results, bool) or not isinstance(num_results, int) or not 1 <= num_results <= MAX_RESULTS:
            raise InvalidInput(f"num_results must be an integer from 1 to {MAX_RESULTS}, got {num_results!r}")
        text(ref, kind)
        for value, what in ((user_id, "user_id"), (item_id, "item_id")):
            text(value, what, optional=True, limit=256)
        with self._engine.serving:
            return self._recommendations(kind, ref, user_id, item_id, num_results, filter, filter_values,
                                         promotions, seed, context, metadata_columns, explain)

    def _recommendations(self, kind, ref, user_id, item_id, num_results, filter, filter_values,
                         promotions, seed, context, metadata_columns=None, explain=False) -> dict:
        ep = self.engine.endpoint(kind, ref)
        if ep.recipe.recipe_type == RecipeType.PERSONALIZED_RANKING:
            raise InvalidInput(f"{kind} {ep.name!r} serves a Personalized-Ranking model: use "
                               "get_personalized_ranking")
        if ep.requires_user and user_id is None:
            raise InvalidInput(f"{kind} {ep.name!r} needs user_id")
        if ep.requires_item and item_id is None:
            raise InvalidInput(f"{kind} {ep.name!r} needs item_id")
        context_params(context)
        columns = metadata_columns_of(self.engine, ep, kind, metadata_columns, num_results, "num_results")
        if not isinstance(explain, bool):
            raise InvalidInput(f"explain must be true or false, got {explain!r}")
        items = self.engine.recommend(ep, user_id, item_id, num_results, filter, filter_values,
                                      promotions, seed, context, explain=explain)
        rid = f"RID-{uuid.uuid4()}"
        self.engine.log(ep, user_id, items, rid)
        if columns is not None:
            self.engine.add_metadata(ep, items, columns)
        return {"itemList": items, "recommendationId": rid}

    def recommend_batch(self, campaign: str | None = None, recommender: str | None = None,
                        user_ids: list | None = None, num_results: int = DEFAULT_RESULTS) -> pd.DataFrame:
        """Top ``num_results`` for many users at once: a DataFrame (user_id, rank, item_id, score).

        The same items and scores as one get_recommendations per user (no filter, no
        exploration), scored in blocks of users. All users with events when ``user_ids`` is None.

        >>> pp.recommend_batch(campaign="up", num_results=10).head()  # doctest: +SKIP
        """
        if (campaign is None) == (recommender is None):
            raise InvalidInput("give exactly one of campaign or recommender")
        kind = "campaign" if campaign else "recommender"
        if isinstance(num_results, bool) or not isinstance(num_results, int) or not 1 <= num_results <= MAX_RESULTS:
            raise InvalidInput(f"num_results must be an integer from 1 to {MAX_RESULTS}, got {num_results!r}")
        ep = self.engine.endpoint(kind, text(campaign or recommender, kind))
        if ep.requires_item:
            raise InvalidInput(f"{kind} {ep.name!r} needs item_id for every request; recommend_batch "
                               "takes users only")
        if user_ids is None:
            user_ids = self.engine._parts(ep)[0].users()
        if not isinstance(user_ids, list) or not all(isinstance(u, str) and u for u in user_ids):
            raise InvalidInput("user_ids must be a list of non-empty strings")
        for u in user_ids:
            text(u, "user_ids")
        store, (users, ranks, codes, scores) = self.engine.recommend_batch(ep, user_ids, num_results)
        return pd.DataFrame({"user_id": pd.array([user_ids[i] for i in users], dtype="string"),
                             "rank": ranks.astype("int32"),
                             "item_id": pd.array(store.vocab.strings(codes), dtype="string"),
                             "score": scores})
