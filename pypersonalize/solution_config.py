"""The parts of Personalize's SolutionConfig that steer training: checked once, stored normalised.

``eventsConfig`` (the -v2 recipes: per event type a value threshold and a weight; only the
ratio of the weights matters), ``optimizationObjective`` (User-Personalization and
Personalized-Ranking: a numeric, non-nullable Items column to favour) and
``trainingDataConfig`` (dataset columns left out of training; filters still see them).
Each function takes the user's value and the dataset group's parsed schemas and returns
what ``training._train`` hands the recipe through its ``TrainContext``.
"""

from __future__ import annotations

import re
from typing import Any

from . import domains
from .errors import InvalidInput
from .numbers import finite
from .schemas import Schema

V2_RECIPES = ("aws-user-personalization-v2", "aws-personalized-ranking-v2")
OBJECTIVE_RECIPES = ("aws-user-personalization", "aws-personalized-ranking") + V2_RECIPES
SENSITIVITIES = ("OFF", "LOW", "MEDIUM", "HIGH")
NUMERIC = ("int", "long", "float", "double")
MAX_EVENT_TYPES = 10
DATASET_TYPES = {"INTERACTIONS": "Interactions", "ITEMS": "Items", "USERS": "Users"}
COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,149}")


def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be an object (a dict), got {type(value).__name__}")
    return value


def _known_keys(value: dict, keys: tuple[str, ...], what: str) -> None:
    for key in value:
        if key not in keys:
            raise InvalidInput(f"{what} has no key {key!r}; known: {', '.join(keys)}")


def events_config(value: Any, schemas: dict[str, Schema], requested_recipe: str) -> list[dict] | None:
    """``eventsConfig.eventParametersList`` as [{"eventType", "eventValueThreshold", "weight"}].

    >>> events_config({"eventParametersList": [{"eventType": "click", "weight": 0.1}]}, {}, "aws-sims")
    Traceback (most recent call last):
    ...
    pypersonalize.errors.InvalidInput: solution_config.eventsConfig is for aws-user-personalization-v2, aws-personalized-ranking-v2, not aws-sims
    """
    if value is None:
        return None
    what = "solution_config.eventsConfig"
    if requested_recipe not in V2_RECIPES:
        raise InvalidInput(f"{what} is for {', '.join(V2_RECIPES)}, not {requested_recipe}")
    _known_keys(_object(value, what), ("eventParametersList",), what)
    entries = value.get("eventParametersList")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_EVENT_TYPES:
        raise InvalidInput(f"{what}.eventParametersList must be a list of 1 to {MAX_EVENT_TYPES} event types")
    inter = schemas.get("Interactions")
    if inter is None or inter.field("EVENT_TYPE") is None:
        raise InvalidInput(f"{what} needs an EVENT_TYPE field in the Interactions schema")
    out, seen = [], set()
    for k, entry in enumerate(entries):
        where = f"{what}.eventParametersList[{k}]"
        _known_keys(_object(entry, where), ("eventType", "eventValueThreshold", "weight"), where)
        event_type = entry.get("eventType")
        if not isinstance(event_type, str) or not 1 <= len(event_type) <= 256:
            raise InvalidInput(f"{where}.eventType must be a string of 1 to 256 characters")
        if event_type in seen:
            raise InvalidInput(f"{where}: event type {event_type!r} is listed twice")
        seen.add(event_type)
        threshold = entry.get("eventValueThreshold")
        if threshold is not None:
            if inter.field("EVENT_VALUE") is None:
                raise InvalidInput(f"{where}.eventValueThreshold given, but the Interactions schema has no "
                                   "EVENT_VALUE field")
            threshold = finite(threshold, f"{where}.eventValueThreshold")
        weight = finite(entry.get("weight", 1.0), f"{where}.weight")
        if not 0.0 <= weight <= 1.0:
            raise InvalidInput(f"{where}.weight must be from 0.0 to 1.0, got {weight}")
        out.append({"eventType": event_type, "eventValueThreshold": threshold, "weight": weight})
    if not any(e["weight"] > 0 for e in out):
        raise InvalidInput(f"{what}: at least one event type needs a weight above 0")
    return out


def optimization_objective(value: Any, schemas: dict[str, Schema], recipe: str) -> dict | None:
    """``optimizationObjective`` as {"itemAttribute": field name, "objectiveSensitivity"}; None when OFF."""
    if value is None:
        return None
    what = "solution_config.optimizationObjective"
    _known_keys(_object(value, what), ("itemAttribute", "objectiveSensitivity"), what)
    if recipe not in OBJECTIVE_RECIPES:
        raise InvalidInput(f"{what} is for User-Personalization and Personalized-Ranking, not {recipe}")
    sensitivity = value.get("objectiveSensitivity", "MEDIUM")
    if sensitivity not in SENSITIVITIES:
        raise InvalidInput(f"{what}.objectiveSensitivity must be one of {', '.join(SENSITIVITIES)}, "
                           f"got {sensitivity!r}")
    attribute = value.get("itemAttribute")
    if not isinstance(attribute, str) or not attribute:
        raise InvalidInput(f"{what}.itemAttribute must name a numeric column of the Items dataset")
    items = schemas.get("Items")
    if items is None:
        raise InvalidInput(f"{what}.itemAttribute {attribute!r}: the dataset group has no Items dataset")
    found = items.field(attribute) or next((f for f in items.fields if f.name.upper() == attribute.upper()), None)
    if found is None:
        raise InvalidInput(f"{what}.itemAttribute {attribute!r} is not a field of the Items schema")
    if found.type not in NUMERIC or found.nullable or found.is_list:
        raise InvalidInput(f"{what}.itemAttribute {found.name!r} must be a numeric, non-nullable Items "
                           f"field (int, long, float or double), not {found.to_avro()['type']}")
    if sensitivity == "OFF":
        return None
    return {"itemAttribute": found.name, "objectiveSensitivity": sensitivity}


def training_data_config(value: Any, schemas: dict[str, Schema], domain: str | None,
                         what: str = "solution_config.trainingDataConfig") -> dict[str, list[str]]:
    """``trainingDataConfig`` as dataset type -> the field names training leaves out.

    ``includedDatasetColumns`` leaves out every other optional field of that dataset type.
    Required fields (ids, TIMESTAMP, a domain's required fields) cannot be left out.
    """
    if value is None:
        return {}
    _known_keys(_object(value, what), ("excludedDatasetColumns", "includedDatasetColumns"), what)
    out: dict[str, list[str]] = {}
    for key in ("excludedDatasetColumns", "includedDatasetColumns"):
        given = value.get(key)
        if given is None:
            continue
        if not isinstance(given, dict) or len(given) > 3:
            raise InvalidInput(f"{what}.{key} must map at most 3 dataset types (INTERACTIONS, ITEMS, USERS) "
                               "to lists of column names")
        for dtype, columns in given.items():
            where = f"{what}.{key}.{dtype}"
            kind = DATASET_TYPES.get(str(dtype).upper())
            if kind is None:
                raise InvalidInput(f"{what}.{key}: unknown dataset type {dtype!r}; expected INTERACTIONS, "
                                   "ITEMS or USERS")
            if kind in out:
                raise InvalidInput(f"{where}: columns of {kind} are both excluded and included; give one")
            if not isinstance(columns, list) or len(columns) > 50:
                raise InvalidInput(f"{where} must be a list of at most 50 column names")
            schema = schemas.get(kind)
            if schema is None:
                raise InvalidInput(f"{where}: the dataset group has no {kind} dataset")
            required = set(domains.required_for(kind, domain)) | {schema.id_field, "USER_ID", "ITEM_ID"}
            named = []
            for column in columns:
                if not isinstance(column, str) or not COLUMN.fullmatch(column):
                    raise InvalidInput(f"{where}: {column!r} is not a column name ([A-Za-z_][A-Za-z0-9_]*, "
                                       "at most 150 characters)")
                field = schema.field(column) or next((f for f in schema.fields
                                                      if f.name.upper() == column.upper()), None)
                if field is None:
                    raise InvalidInput(f"{where}: {column!r} is not a field of the {kind} schema")
                if field.name in required:
                    raise InvalidInput(f"{where}: {field.name} is required by the {kind} schema and always "
                                       "used in training")
                named.append(field.name)
            if key == "excludedDatasetColumns":
                out[kind] = sorted(set(named))
            else:
                out[kind] = sorted(f.name for f in schema.fields
                                   if f.name not in required and f.name not in named)
    return out


def training_schemas(schemas: dict[str, Schema], excluded: dict[str, list[str]]) -> dict[str, Schema]:
    """The schemas a recipe trains with: ``excluded`` fields taken out (filters keep the full ones)."""
    if not excluded:
        return schemas
    out = dict(schemas)
    for kind, names in excluded.items():
        if kind in out:
            s = out[kind]
            out[kind] = Schema(s.dataset_type, tuple(f for f in s.fields if f.name not in names), s.domain)
    return out


__all__ = ["events_config", "optimization_objective", "training_data_config", "training_schemas"]
