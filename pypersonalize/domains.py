"""Field rules of Amazon Personalize's dataset types, custom and per domain.

One table of facts, read by :mod:`pypersonalize.schemas`: which fields each dataset type
requires, which names are reserved, and with which Avro types and attributes. Sources:
the Personalize developer guide pages "Custom datasets and schemas" and the
VIDEO_ON_DEMAND / ECOMMERCE "datasets and schemas" pages (see ../shared/PERSONALIZE.md).
"""

from __future__ import annotations

from dataclasses import dataclass

DATASET_TYPES = ("Interactions", "Items", "Users")
DOMAINS = ("VIDEO_ON_DEMAND", "ECOMMERCE")

ID_FIELD = {"Interactions": None, "Items": "ITEM_ID", "Users": "USER_ID"}


@dataclass(frozen=True)
class FieldRule:
    """What a reserved or required field must look like.

    ``types`` lists the accepted Avro primitive types; ``categorical``/``textual`` are
    True (must be set), False (must not be set) or None (either); ``nullable`` False
    forbids the ``"null"`` union member.
    """

    types: tuple[str, ...]
    categorical: bool | None = False
    textual: bool | None = False
    nullable: bool = True

    def describe(self) -> str:
        kind = " or ".join(f'"{t}"' for t in self.types)
        if self.categorical:
            kind = "categorical " + kind
        if self.textual:
            kind = "textual " + kind
        return kind + ("" if self.nullable else " (not nullable)")


_ID = FieldRule(("string",), nullable=False)
_TS = FieldRule(("long",), nullable=False)
_STR = FieldRule(("string",))
_CAT = FieldRule(("string",), categorical=True)
# The guide lists, per reserved keyword, whether it supports null; those it lists without
# null (and every required field) must not be nullable.
_STR_REQ = FieldRule(("string",), nullable=False)
_CAT_REQ = FieldRule(("string",), categorical=True, nullable=False)
_NUM_REQ = FieldRule(("float", "double"), nullable=False)
_TEXT = FieldRule(("string",), textual=True)
_NUM = FieldRule(("float", "double"))
# The ECOMMERCE items page types CREATION_TIMESTAMP as float while every other page says
# long; both are accepted so that schemas copied from either page work.
_CREATED = FieldRule(("long", "int", "float", "double"), nullable=False)

# Fields whose names are reserved in every dataset group, with their rules.
RESERVED = {
    "Interactions": {
        "USER_ID": _ID, "ITEM_ID": _ID, "TIMESTAMP": _TS,
        "EVENT_TYPE": _STR_REQ, "EVENT_VALUE": _NUM, "IMPRESSION": _STR,
        "RECOMMENDATION_ID": _STR, "EVENT_ATTRIBUTION_SOURCE": _STR,
    },
    "Items": {"ITEM_ID": _ID, "CREATION_TIMESTAMP": _CREATED},
    "Users": {"USER_ID": _ID},
}

REQUIRED = {
    "Interactions": ("USER_ID", "ITEM_ID", "TIMESTAMP"),
    "Items": ("ITEM_ID",),
    "Users": ("USER_ID",),
}

# Interactions fields that are not "metadata" for the 5-custom-field limit.
INTERACTIONS_SYSTEM = frozenset(RESERVED["Interactions"])

# Reserved keywords are "optional, non-metadata fields": they do not count toward the
# Items/Users metadata minimum and limits.
NON_METADATA = {"Items": frozenset({"ITEM_ID", "CREATION_TIMESTAMP"}), "Users": frozenset({"USER_ID"})}

# Multi-value string fields stored as VARCHAR[] besides categorical ones, per dataset type.
LIST_FIELDS = {"Interactions": frozenset({"IMPRESSION"}), "Items": frozenset(), "Users": frozenset()}

# Extra reserved fields and required fields that a domain dataset group adds.
DOMAIN_RESERVED = {
    "VIDEO_ON_DEMAND": {
        "Interactions": {},
        "Items": {
            "GENRES": _CAT_REQ, "PRICE": _NUM, "DURATION": _NUM, "GENRE_L2": _CAT,
            "GENRE_L3": _CAT, "AVERAGE_RATING": _NUM, "PRODUCT_DESCRIPTION": _TEXT,
            "CONTENT_OWNER": _CAT, "CONTENT_CLASSIFICATION": _CAT,
        },
        "Users": {"SUBSCRIPTION_MODEL": _CAT},
    },
    "ECOMMERCE": {
        "Interactions": {},
        "Items": {
            "PRICE": _NUM_REQ, "CATEGORY_L1": _CAT_REQ, "CATEGORY_L2": _CAT, "CATEGORY_L3": _CAT,
            "PRODUCT_DESCRIPTION": _TEXT, "AGE_GROUP": _CAT, "ADULT": _CAT, "GENDER": _CAT,
        },
        "Users": {},
    },
}

DOMAIN_REQUIRED = {
    "VIDEO_ON_DEMAND": {
        "Interactions": ("EVENT_TYPE",),
        "Items": ("GENRES", "CREATION_TIMESTAMP"),
        "Users": (),
    },
    "ECOMMERCE": {
        "Interactions": ("EVENT_TYPE",),
        "Items": ("PRICE", "CATEGORY_L1"),
        "Users": (),
    },
}

# Event types each domain's use cases read; reported by the data check.
DOMAIN_EVENT_TYPES = {
    "VIDEO_ON_DEMAND": ("Watch", "Click"),
    "ECOMMERCE": ("View", "Purchase"),
}

# Limits (current Personalize quota page).
MAX_METADATA = {"Users": 25, "Items": 100}
MAX_TEXTUAL_ITEMS = 1
MAX_INTERACTIONS_CUSTOM = 5
# Optional Interactions fields (EVENT_TYPE, EVENT_VALUE, custom metadata) plus the number
# of distinct event types in the data.
MAX_INTERACTIONS_OPTIONAL_PLUS_EVENT_TYPES = 10
MAX_FIELD_NAME = 150


def normalize_dataset_type(value: str) -> str:
    """``"INTERACTIONS"`` or ``"interactions"`` -> ``"Interactions"``."""
    for t in DATASET_TYPES:
        if isinstance(value, str) and value.replace("_", "").lower() == t.lower():
            return t
    from .errors import InvalidInput

    raise InvalidInput(
        f"unknown dataset type {value!r}; expected one of {', '.join(DATASET_TYPES)}")


def normalize_domain(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    up = str(value).upper().replace("-", "_")
    if up in DOMAINS:
        return up
    from .errors import InvalidInput

    raise InvalidInput(f"unknown domain {value!r}; expected one of {', '.join(DOMAINS)} "
                       "(or none for a custom dataset group)")


def rules_for(dataset_type: str, domain: str | None) -> dict[str, FieldRule]:
    rules = dict(RESERVED[dataset_type])
    if domain:
        rules.update(DOMAIN_RESERVED[domain][dataset_type])
    return rules


def required_for(dataset_type: str, domain: str | None) -> tuple[str, ...]:
    req = REQUIRED[dataset_type]
    if domain:
        req = req + DOMAIN_REQUIRED[domain][dataset_type]
    return req
