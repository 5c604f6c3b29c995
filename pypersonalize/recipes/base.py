"""The recipe contract: what every recipe declares and implements.

A recipe module defines one :class:`Recipe` named ``RECIPE``: its Personalize name and
type, its hyperparameters (default, range, HPO-tunable), and ``train``, which writes the
model rows of one solution version. Serving reads those rows through the SQL macros in
``sql/serving``; ``serving`` tells the macros which model table a version fills.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from ..numbers import finite

RECIPE_TYPES = ("USER_PERSONALIZATION", "POPULAR_ITEMS", "RELATED_ITEMS", "PERSONALIZED_RANKING")


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

    def event_params(self) -> dict:
        out = {}
        if self.has_event_type:
            out["event_type"] = self.event_type
        if self.has_event_value:
            out["threshold"] = self.event_value_threshold
        return out


@dataclass(frozen=True)
class Recipe:
    name: str                      # e.g. "aws-sims"
    recipe_type: str
    description: str
    serving: str                   # popular | related | personalized | ranking
    train: Callable[[TrainContext], dict]
    hyperparameters: tuple[Hyperparameter, ...] = ()
    aliases: tuple[str, ...] = ()
    sql_files: tuple[str, ...] = field(default=())

    @property
    def arn(self) -> str:
        return f"arn:aws:personalize:::recipe/{self.name}"

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
