"""The recipe contract: what every recipe declares and implements.

A recipe is one module here, one SQL folder ``sql/recipes/<folder>/`` and one line in the
registry (``recipes/__init__.py``). The module defines a :class:`Recipe`: its Personalize
name and :class:`RecipeType`, its hyperparameters (default, range, HPO-tunable), the
request inputs its endpoints need, whether it supports UPDATE training, ``train`` (writes
the model rows of one solution version) and a :class:`Scorer` (loads those rows into
memory and scores requests in process). The folder holds ``00_tables.sql`` (its model
tables, every one keyed by ``version_arn``), its training templates and, when it ranks
candidates of its own, ``candidates.sql`` (a jinja macro ``candidates()`` that the plain-SQL
recommend pipeline, ``sql/serving/pipeline.sql``, calls). Everything else (exclusions,
filters, promotions, the popular-items fallback, the top-n cut) is the shared pipeline's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from ..errors import InvalidInput
from ..numbers import finite


class RecipeType(str, Enum):
    """Personalize's recipe types (``describe_recipe``'s ``recipeType``)."""

    USER_PERSONALIZATION = "USER_PERSONALIZATION"
    POPULAR_ITEMS = "POPULAR_ITEMS"
    RELATED_ITEMS = "RELATED_ITEMS"
    PERSONALIZED_RANKING = "PERSONALIZED_RANKING"
    USER_SEGMENTATION = "USER_SEGMENTATION"
    PERSONALIZED_ACTIONS = "PERSONALIZED_ACTIONS"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Hyperparameter:
    name: str
    type: type                     # int, float or bool
    default: Any
    low: float | None = None
    high: float | None = None
    tunable: bool = False          # Personalize's "HPO tunable"
    kind: str = "algorithm"        # algorithm | featurization (Personalize's two maps)
    doc: str = ""
    choices: tuple = ()            # for str hyperparameters: the allowed values
    aliases: tuple = ()            # other names accepted for it (e.g. a -v2 recipe's name)
    search: tuple | None = None    # HPO's range (low, high, log scale) when hpoConfig gives none

    def parse(self, value: Any) -> Any:
        """Accept Personalize's string form ("0.5", "true") or a Python value."""
        if self.type is str:
            if str(value) not in self.choices:
                raise InvalidInput(f"hyperparameter {self.name}: expected one of "
                                   f"{', '.join(self.choices)}, got {value!r}")
            return str(value)
        try:
            if self.type is bool:
                if isinstance(value, str):
                    if value.lower() not in ("true", "false"):
                        raise ValueError
                    return value.lower() == "true"
                if isinstance(value, bool):
                    return value
                raise ValueError
            if isinstance(value, bool):
                raise ValueError
            real = finite(value, f"hyperparameter {self.name}")
            if self.type is int and not real.is_integer():
                raise ValueError          # 2.7 is not an integer; never truncate silently
            number = self.type(real) if self.type is int else self.type(value)
        except (TypeError, ValueError, OverflowError) as exc:
            if isinstance(exc, InvalidInput):
                raise
            raise InvalidInput(f"hyperparameter {self.name}: expected {self.type.__name__}, "
                               f"got {value!r}") from None
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise InvalidInput(f"hyperparameter {self.name}: {number} is outside "
                               f"[{self.low}, {self.high}]")
        return number

    def describe(self) -> dict:
        out = {"name": self.name, "type": self.type.__name__, "default": self.default,
               "range": list(self.choices) if self.choices else [self.low, self.high],
               "hpoTunable": self.tunable, "kind": self.kind, "description": self.doc}
        if self.tunable and self.search:
            out["hpoDefaultRange"] = list(self.search[:2])
        if self.aliases:
            out["aliases"] = list(self.aliases)
        return out


@dataclass
class TrainContext:
    """Everything ``train`` needs: where the data is and what to write."""

    con: Any
    schema_name: str               # the dataset group's DuckDB schema
    version_arn: str
    hyperparameters: dict
    event_type: str | None
    event_value_threshold: float | None
    has_event_type: bool
    has_event_value: bool
    session_gap: int | None = None  # seconds; baskets are sessions instead of users
    progress: Any = None
    schemas: dict = field(default_factory=dict)   # dataset type -> parsed schema
    base_version: str | None = None               # UPDATE training: the FULL version to extend
    # solution_config (solution_config.py): the -v2 recipes' eventsConfig [{"eventType",
    # "eventValueThreshold", "weight"}], an optimizationObjective {"itemAttribute",
    # "objectiveSensitivity" LOW|MEDIUM|HIGH}, and trainingDataConfig's left-out columns
    # (dataset type -> field names; already taken out of ``schemas``)
    events_config: list | None = None
    objective: dict | None = None
    excluded_columns: dict = field(default_factory=dict)

    def event_params(self) -> dict:
        out = {}
        if self.has_event_type:
            out["event_type"] = self.event_type
        if self.has_event_value:
            out["threshold"] = self.event_value_threshold
        return out


@dataclass
class Request:
    """One users -> items request as a scorer sees it (ids are the serving vocabulary's ints)."""

    history: Any = None            # histories.History of the user, or None (unknown / no user)
    item: int | None = None        # the current item (RELATED_ITEMS), None when not given or unknown
    context: dict | None = None    # the request's context map
    group: Any = None              # the dataset group's histories.HistoryStore (everyone's events)
    influence: dict | None = None  # the campaign's rankingInfluence, e.g. {"FRESHNESS": 0.3}


@dataclass
class Ranked:
    """A scorer's own candidates for one request, best first (the pipeline adds the rest)."""

    items: Any                     # int64 vocabulary ids
    scores: Any                    # float64, same length
    universe: Any = None           # every id this ranking covers when ``items`` holds only the best
    floor: float | None = None     # the lowest score of the whole ranking (None: the last of ``scores``)


class Scorer(Protocol):
    """The in-process half of a recipe (``engine.py`` calls it).

    ``load`` reads one version's model rows into memory once (the engine caches the result
    per version; UPDATE training reuses the same reader); ``recommend`` scores many users ->
    items requests at once and returns, per request, at least the ``limit`` best of its own
    candidates (all of them when ``limit`` is None), best first, ties broken by item id, in
    the order and with the scores of the recipe's ``candidates.sql``. The engine adds the
    version's popular items after them, scaled so that no score rises down the list.

    Optional methods, used when the recipe declares the matching ability:
    ``rank(model, request, items, codes, popularity)`` (``ranks_lists``: Personalized
    ranking), ``raw_scores(model, requests)`` / ``probabilities(model, raw)`` (``ranks_lists``:
    ``score_users``), ``cold_items(model, age_days, cold_max, reference)`` and
    ``exploration_relevance(model, seen, cold, shown)`` (exploration),
    ``recommend(..., allowed=mask)`` with ``masks_items = True`` (batch jobs with an Items
    filter: rank only the items of a mask over vocabulary codes, scores unchanged),
    ``explain(model, request, codes, scores) -> list[dict]`` (``get_recommendations(explain=True)``:
    one dict per item of ``codes``, the request's items in response order with their scores,
    saying why it is there: ``{"text": words, "kind": a short name, ...numbers}``, e.g. User-
    Personalization's ``contributions`` [{"itemId", "value"}] and ``rest``; items the recipe did
    not rank itself (the popular fill) get ``{"kind": "popular", ...}``; without the method,
    ``explain=True`` is refused as not supported yet; promoted and exploration items are
    explained by the engine). USER_SEGMENTATION recipes (items -> users) implement
    ``segment(model, rows, n, allowed) -> (user indices, scores)`` instead of ``recommend``
    (``recipes/item_affinity.py``; batch segment jobs call it); users -> actions for
    Next-Best-Action will be a further method of the same object.
    """

    def load(self, con, version_arn: str, vocab) -> Any: ...     # vocab: histories.Vocab of the group

    def recommend(self, model: Any, requests: list[Request], limit: int | None) -> list[Ranked]: ...


INPUTS = ("user", "item")
RANKING_FACTORS = ("FRESHNESS", "POPULARITY")    # Personalize's rankingInfluence keys


@dataclass(frozen=True)
class Recipe:
    name: str                      # e.g. "aws-sims"
    recipe_type: RecipeType
    description: str
    folder: str                    # sql/recipes/<folder>: 00_tables.sql, training, candidates.sql
    train: Callable[[TrainContext], dict]
    scorer: Scorer
    inputs: tuple[str, ...] = ()   # what a request must give: "user", "item"
    hyperparameters: tuple[Hyperparameter, ...] = ()
    aliases: tuple[str, ...] = ()
    updatable: bool = False        # supports training_mode UPDATE (Personalize: UP, HRNN-Coldstart)
    ranks_lists: bool = False      # get_personalized_ranking works on its campaigns
    logs_recommendations: bool = False   # its lists are logged as implicit impressions
    sql_dir: Path | None = None    # the SQL folder when it is not under the package's sql/recipes
    ranking_factors: tuple[str, ...] = ()   # rankingInfluence factors its scorer applies

    def __post_init__(self):
        if not isinstance(self.recipe_type, RecipeType):
            raise InvalidInput(f"recipe {self.name}: recipe_type must be a RecipeType, got {self.recipe_type!r}")
        odd = set(self.ranking_factors) - set(RANKING_FACTORS)
        if odd:
            raise InvalidInput(f"recipe {self.name}: ranking_factors are among {', '.join(RANKING_FACTORS)}")
        unknown = set(self.inputs) - set(INPUTS)
        if unknown:
            raise InvalidInput(f"recipe {self.name}: inputs are among {', '.join(INPUTS)}, got "
                               f"{', '.join(sorted(unknown))}")
        if self.segments and not hasattr(self.scorer, "segment"):
            raise InvalidInput(f"recipe {self.name}: a USER_SEGMENTATION recipe needs a scorer with segment")
        if self.ranks_lists and not all(hasattr(self.scorer, m) for m in ("rank", "raw_scores", "probabilities")):
            raise InvalidInput(f"recipe {self.name}: ranks_lists needs a scorer with rank, raw_scores and "
                               "probabilities")

    @property
    def arn(self) -> str:
        return f"arn:aws:personalize:::recipe/{self.name}"

    @property
    def segments(self) -> bool:
        """It finds users for items (USER_SEGMENTATION): batch segment jobs only, no campaign."""
        return self.recipe_type == RecipeType.USER_SEGMENTATION

    @property
    def explores(self) -> bool:
        """Its campaigns explore cold items (Personalize's itemExplorationConfig): it has the
        exploration hyperparameters and a scorer that can pick cold items."""
        return any(h.name == "exploration_weight" for h in self.hyperparameters) and \
            hasattr(self.scorer, "cold_items") and hasattr(self.scorer, "exploration_relevance")

    @property
    def sql_files(self) -> tuple[str, ...]:
        """The templates of its folder, as ``recipes/<folder>/<file>``."""
        root = self.sql_root()
        return tuple(f"recipes/{self.folder}/{p.name}" for p in sorted(root.glob("*.sql")))

    def sql_root(self) -> Path:
        if self.sql_dir is not None:
            return Path(self.sql_dir)
        from ..sqlkit import sql_dir
        return sql_dir() / "recipes" / self.folder

    @property
    def model_tables(self) -> tuple[str, ...]:
        """The tables its ``00_tables.sql`` creates in schema ``pypersonalize``."""
        path = self.sql_root() / "00_tables.sql"
        if not path.exists():
            return ()
        return tuple(re.findall(r"CREATE TABLE IF NOT EXISTS pypersonalize\.(\w+)", path.read_text()))

    @property
    def has_sql_candidates(self) -> bool:
        return (self.sql_root() / "candidates.sql").exists()

    def resolve_hyperparameters(self, given: dict | None) -> dict:
        """Defaults overlaid with ``given``; unknown names and bad values are errors."""
        known = {h.name: h for h in self.hyperparameters}
        known.update({a: h for h in self.hyperparameters for a in h.aliases})
        out = {h.name: h.default for h in self.hyperparameters}
        for key, value in (given or {}).items():
            if key not in known:
                raise InvalidInput(f"recipe {self.name} has no hyperparameter {key!r}; known: "
                                   + (", ".join(known) or "none"))
            out[known[key].name] = known[key].parse(value)
        return out
