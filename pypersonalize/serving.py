"""Campaigns, domain recommenders and recommendations, as a part of the Project facade.

Every campaign and recommender is a row of ``pypersonalize.endpoints`` naming the solution
version it serves. Recommendations come from the persistent SQL macro ``pp_recommend``
(``sql/serving/macros.sql``); Python runs the same steps (``serving/_candidates.sql``: the
macro's popular/related half, or its User-Personalization steps written out, which DuckDB
plans faster), so Python, the CLI and a plain DuckDB client give the same answer.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from .catalog import Record, check_name, now
from .configs import CAMPAIGN_CONFIG, RECOMMENDER_CONFIG, check_keys
from .connection import writes
from .errors import InvalidInput, ResourceAlreadyExists
from .numbers import finite
from .recipes import get_recipe
from .sqlkit import execute_all, render, used_params
from .usecases import USE_CASES, get_use_case

MAX_RESULTS = 500
DEFAULT_RESULTS = 25
RETRAIN_DAYS = 7     # Personalize retrains domain recommenders weekly


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


class ServingAPI:
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
        sync = config.get("syncWithLatestSolutionVersion")
        if sync is not None and not isinstance(sync, bool):
            raise InvalidInput(f"syncWithLatestSolutionVersion must be true or false, got {sync!r}")
        return config

    def _active_version(self, ref: str) -> Record:
        version = self.catalog.get("solution-version", ref)
        if version.status != "ACTIVE":
            raise InvalidInput(f"solution version {version.arn} is {version.status}, not ACTIVE")
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
        requires_user, requires_item = requires or (recipe.serving in ("personalized", "ranking"),
                                                    recipe.serving == "related")
        execute_all(self.con, render("serving/endpoint_upsert.sql"), {
            "name": name, "arn": arn, "kind": kind, "version": version.arn, "group": group.name,
            "serving": recipe.serving, "requires_user": requires_user,
            "requires_item": requires_item, "exclude": exclude})

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
        if "itemExplorationConfig" in config and uc.recipe != "aws-user-personalization":
            raise InvalidInput(f"itemExplorationConfig is only for personalized use cases, not {uc.title!r}")
        if "minRecommendationRequestsPerSecond" in config:
            self._tps(config["minRecommendationRequestsPerSecond"], "minRecommendationRequestsPerSecond")
        interval = config.get("retrainingIntervalDays", RETRAIN_DAYS)
        if not isinstance(interval, (int, float)) or not 0 < finite(interval, "retrainingIntervalDays") <= 36500:
            raise InvalidInput(f"retrainingIntervalDays must be a positive number of days up to 36500, "
                               f"got {interval!r}")
        self._check_event_fields(group, uc.event_type, None)
        arn = self.catalog.arn("recommender", name)
        rec_config = {"recipeArn": uc.arn, "useCase": uc.name, "recommenderConfig": config}
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

    def _retrain_recommender(self, rec: Record) -> str:
        uc = USE_CASES[rec.config["useCase"]]
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        recipe = get_recipe(uc.recipe)
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
            for v in self.catalog.select("solution-version", parent_arn=rec.arn):
                self._drop_model_rows(v.arn)
                self.catalog.remove(v)
            self.catalog.remove(rec)

    def _staleness(self, rec: Record, version: Record) -> tuple[bool, list[str]]:
        reasons = []
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        if self._data_state(group) != version.config.get("dataState"):
            reasons.append("data changed since training")
        days = rec.config["recommenderConfig"].get("retrainingIntervalDays", RETRAIN_DAYS)
        if now() - version.created_at > timedelta(days=days):
            reasons.append(f"trained more than {days:g} days ago")
        return bool(reasons), reasons

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

    # -- recommendations ------------------------------------------------------------

    def get_recommendations(self, campaign: str | None = None, recommender: str | None = None,
                            user_id: str | None = None, item_id: str | None = None,
                            num_results: int = DEFAULT_RESULTS, filter: str | None = None,
                            filter_values: dict | None = None, promotions: list | None = None,
                            seed: int | None = None, context: dict | None = None) -> dict:
        """Personalize's GetRecommendations: ``{"itemList": [{"itemId", "score"}], "recommendationId"}``.

        >>> pp.get_recommendations(recommender="top-movies", user_id="u1", num_results=3)  # doctest: +SKIP
        """
        if (campaign is None) == (recommender is None):
            raise InvalidInput("give exactly one of campaign or recommender")
        kind = "campaign" if campaign else "recommender"
        ref = campaign or recommender
        if isinstance(num_results, bool) or not isinstance(num_results, int) or not 1 <= num_results <= MAX_RESULTS:
            raise InvalidInput(f"num_results must be an integer from 1 to {MAX_RESULTS}, got {num_results!r}")
        for value, what in ((user_id, "user_id"), (item_id, "item_id")):
            if value is not None and (not isinstance(value, str) or len(value) > 256):
                raise InvalidInput(f"{what} must be a string of at most 256 characters")
        # The endpoints row answers the common case in one query; the catalog is asked only
        # to explain a miss (unknown name, or a recommender that is not ACTIVE).
        ep = self.con.execute("SELECT arn, name, requires_user, requires_item, dataset_group, serving "
                              "FROM pypersonalize.endpoints WHERE kind = $k AND (arn = $r OR name = $r)",
                              {"k": kind, "r": ref}).fetchall()
        if not ep:
            rec = self.catalog.get(kind, ref)
            raise InvalidInput(f"{kind} {rec.name!r} is {rec.status}, not serving")
        arn, name, needs_user, needs_item, group_name, serving = ep[0]
        if serving == "ranking":
            raise InvalidInput(f"{kind} {name!r} serves a Personalized-Ranking model: use "
                               "get_personalized_ranking")
        if needs_user and user_id is None:
            raise InvalidInput(f"{kind} {name!r} needs user_id")
        if needs_item and item_id is None:
            raise InvalidInput(f"{kind} {name!r} needs item_id")
        request = {"endpoint": arn, "user_id": user_id, "item_id": item_id, "n": num_results,
                   **context_params(context)}
        macro = "basic" if serving in ("popular", "related") else "personal"
        if promotions:
            out = self._promoted(request, group_name, filter, filter_values, promotions, seed, macro,
                                 related=serving == "related")
            out["recommendationId"] = self._recommendation_id(serving, group_name, user_id, out["itemList"])
            return out
        predicate, params = "true", {}
        if filter is None:
            if filter_values:
                raise InvalidInput("filter_values given without a filter")
            sql = render("serving/recommend.sql", kind=macro)
            rows = self.con.execute(sql, used_params(sql, request)).fetchall()
        else:
            predicate, params = self._filter_predicate(filter, group_name, filter_values, "r.item_id",
                                                       related=serving == "related")
            sql = render("serving/recommend_filtered.sql", predicate=predicate, kind=macro)
            rows = self.con.execute(sql, used_params(sql, {**request, **params})).fetchall()
        items = [{"itemId": item, "score": score} for _rank, item, score in rows]
        # only User-Personalization endpoints explore; others skip the catalog look-up
        exploration = self._exploration(kind, arn) if serving == "personalized" else None
        if exploration is not None and user_id is not None:
            version_arn, weight, age, cold_max, reference = exploration
            items = self._explore(arn, version_arn, group_name, user_id, items, num_results, weight,
                                  age, cold_max, predicate, params, seed, reference)
        return {"itemList": items,
                "recommendationId": self._recommendation_id(serving, group_name, user_id, items)}

    def _recommendation_id(self, serving: str, group_name: str, user_id, items: list[dict]) -> str:
        """A new recommendationId; for User-Personalization lists of a group whose
        interactions can carry RECOMMENDATION_ID, the list is logged (implicit impressions).
        A read-only project logs nothing: its lists teach the model no impressions."""
        rid = f"RID-{uuid.uuid4()}"
        if not self.read_only and serving == "personalized" and user_id is not None and items and self.con.execute(
                "SELECT count(*) FROM duckdb_columns() WHERE database_name = 'pp_project' "
                "AND schema_name = $g AND table_name = 'interactions' AND column_name = 'RECOMMENDATION_ID'",
                {"g": group_name}).fetchall()[0][0]:
            self.con.execute("INSERT INTO pypersonalize.recommendation_log VALUES ($r, $g, $u, $i, now())",
                             {"r": rid, "g": group_name, "u": user_id, "i": [r["itemId"] for r in items]})
        return rid

    def _exploration(self, kind: str, arn: str) -> tuple | None:
        """(version, weight, age cut-off days, cold interactions, reference time or None) when
        the endpoint explores. HRNN-Coldstart's cold items are its ``cold_start_*`` settings:
        created within ``cold_start_max_duration`` days of the newest item or of now."""
        rec = self.catalog.get(kind, arn)
        version_arn = rec.config.get("solutionVersionArn") or rec.config.get("modelVersionArn")
        if version_arn is None:
            return None
        version = self.catalog.get("solution-version", version_arn)
        hp = version.config["hyperparameters"]
        if "exploration_weight" not in hp:
            return None
        config = rec.config.get("campaignConfig") or rec.config.get("recommenderConfig") or {}
        explore = config.get("itemExplorationConfig") or {}
        weight = finite(explore.get("explorationWeight", hp["exploration_weight"]),
                        f"{kind} {rec.name!r}: explorationWeight")
        age = finite(explore.get("explorationItemAgeCutOff",
                                 hp.get("cold_start_max_duration", hp["exploration_item_age_cut_off"])),
                     f"{kind} {rec.name!r}: explorationItemAgeCutOff")
        if weight <= 0:
            return None
        reference = int(now().timestamp()) if hp.get("cold_start_relative_from") == "currentTime" else None
        return version_arn, weight, age, int(hp.get("cold_start_max_interactions", 15)), reference

    def _promoted(self, request: dict, group_name: str, filter, filter_values, promotions, seed,
                  macro: str = "personal", related: bool = False) -> dict:
        """Personalize's promotions: a share of the slots for the best items of another filter.

        Promoted items keep their order among themselves and take random positions among
        the others (reproducible with ``seed``); ``percentPromotedItems`` of ``n`` is
        rounded up, so any positive share gets at least one slot.
        """
        if not isinstance(promotions, list) or len(promotions) != 1 or not isinstance(promotions[0], dict):
            raise InvalidInput("promotions must be a list with exactly one promotion (Personalize's limit)")
        promo = promotions[0]
        name = check_name(promo.get("name"), "promotion")
        pct = promo.get("percentPromotedItems")
        if isinstance(pct, bool) or not isinstance(pct, int) or not 1 <= pct <= 100:
            raise InvalidInput(f"percentPromotedItems must be an integer from 1 to 100, got {pct!r}")
        promo_filter = promo.get("filterArn") or promo.get("filter")
        if not promo_filter:
            raise InvalidInput("a promotion needs a filterArn (or filter) naming its filter")
        n = request["n"]
        k = -(-n * pct // 100)
        promotion, params = self._filter_predicate(promo_filter, group_name, promo.get("filterValues"),
                                                   "r.item_id", prefix="q", related=related)
        if filter is not None:
            request_filter, more = self._filter_predicate(filter, group_name, filter_values, "r.item_id",
                                                          related=related)
            params.update(more)
        else:
            if filter_values:
                raise InvalidInput("filter_values given without a filter")
            request_filter = "true"
        sql = render("serving/recommend_promoted.sql", promotion=promotion, kind=macro,
                     request_filter=request_filter)
        rows = self.con.execute(sql, used_params(sql, {**request, "k": k, **params})).fetchall()
        promoted = [{"itemId": item, "score": score, "promotionName": name}
                    for is_promo, _rank, item, score in rows if is_promo]
        others = [{"itemId": item, "score": score} for is_promo, _rank, item, score in rows if not is_promo]
        total = len(promoted) + len(others)
        slots = sorted(random.Random(seed).sample(range(total), len(promoted)))
        merged, p, o = [], iter(promoted), iter(others)
        for position in range(total):
            merged.append(next(p) if slots and position == slots[0] else next(o))
            if slots and position == slots[0]:
                slots.pop(0)
        return {"itemList": merged, "recommendationId": f"RID-{uuid.uuid4()}"}
