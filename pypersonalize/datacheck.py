"""Personalize's minimum data requirements, checked and reported for a dataset group.

Training calls :func:`requirements` with the solution's event type and threshold and
refuses when ``meetsMinimum`` is false; ``validate_dataset_group`` shows the same report.
"""

from __future__ import annotations

from datetime import datetime, timezone

from . import domains
from .schemas import Schema
from .sqlkit import one, quote_ident, render

MIN_INTERACTIONS = 1000
MIN_USERS_2PLUS = 25
MIN_SHARE_USERS_2PLUS = 0.01
COLD_ITEM_INTERACTIONS = 5


def _iso(ts) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


def requirements(con, schema_name: str, datasets: dict[str, Schema], domain: str | None,
                 event_type: str | None = None,
                 event_value_threshold: float | None = None) -> dict:
    """Counts, event types, time range and cold items, and whether the minimum holds."""
    report: dict = {"meetsMinimum": False, "problems": [], "notes": [],
                    "minimum": {"interactions": MIN_INTERACTIONS, "usersWithTwoOrMore": MIN_USERS_2PLUS,
                                "shareOfUsersWithTwoOrMore": MIN_SHARE_USERS_2PLUS}}
    inter = datasets.get("Interactions")
    if inter is None:
        report["problems"].append("no Interactions dataset: create one and import data")
        return report
    has_type = inter.field("EVENT_TYPE") is not None
    has_value = inter.field("EVENT_VALUE") is not None
    if event_type is not None and not has_type:
        report["problems"].append("an event type was asked for but the Interactions schema "
                                  "has no EVENT_TYPE field")
    if event_value_threshold is not None and not has_value:
        report["problems"].append("an event value threshold was asked for but the Interactions "
                                  "schema has no EVENT_VALUE field")
    row = one(con.execute(render("datasets/requirements.sql", schema_name=schema_name,
                             has_event_type=has_type, has_event_value=has_value),
                      {**({"event_type": event_type} if has_type else {}),
                       **({"threshold": event_value_threshold} if has_value else {})}))
    n, users, users2, items, first, last = row
    report["interactions"] = {
        "count": n, "users": users, "usersWithTwoOrMore": users2, "items": items,
        "firstTimestamp": _iso(first), "lastTimestamp": _iso(last),
        "eventType": event_type, "eventValueThreshold": event_value_threshold,
    }
    if has_type:
        table = f"{quote_ident(schema_name)}.interactions"
        report["interactions"]["eventTypes"] = dict(con.execute(
            f"SELECT coalesce(EVENT_TYPE, ''), count(*) FROM {table} GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall())
    if n < MIN_INTERACTIONS:
        report["problems"].append(f"{n} interactions{_after(event_type, event_value_threshold)}; "
                                  f"Personalize needs at least {MIN_INTERACTIONS}")
    if users2 < MIN_USERS_2PLUS:
        report["problems"].append(f"{users2} users have 2 or more interactions; Personalize needs "
                                  f"at least {MIN_USERS_2PLUS}")
    elif users and users2 / users < MIN_SHARE_USERS_2PLUS:
        report["problems"].append(f"only {users2 / users:.2%} of users have 2 or more interactions; "
                                  f"Personalize needs at least {MIN_SHARE_USERS_2PLUS:.0%}")
    if has_type:
        optional = [f.name for f in inter.fields if f.name not in ("USER_ID", "ITEM_ID", "TIMESTAMP")
                    and f.name not in domains.LIST_FIELDS["Interactions"]]
        kinds = len(report["interactions"]["eventTypes"])
        if len(optional) + kinds > domains.MAX_INTERACTIONS_OPTIONAL_PLUS_EVENT_TYPES:
            report["problems"].append(
                f"{len(optional)} optional Interactions fields plus {kinds} event types exceed "
                f"Personalize's limit of {domains.MAX_INTERACTIONS_OPTIONAL_PLUS_EVENT_TYPES}")
    if domain and has_type:
        seen = report["interactions"]["eventTypes"]
        for wanted in domains.DOMAIN_EVENT_TYPES[domain]:
            if seen.get(wanted, 0) < MIN_INTERACTIONS:
                report["notes"].append(f"{seen.get(wanted, 0)} {wanted!r} events: {domain} use "
                                       f"cases built on {wanted} need at least {MIN_INTERACTIONS}")
    if "Items" in datasets:
        cat, never, cold, unknown = one(con.execute(
            render("datasets/item_coverage.sql", schema_name=schema_name),
            {"cold": COLD_ITEM_INTERACTIONS}))
        report["items"] = {"count": cat, "withoutInteractions": never,
                           "coldItems": cold, "coldThreshold": COLD_ITEM_INTERACTIONS,
                           "interactedButNotInItems": unknown}
    if "Users" in datasets:
        count = one(con.execute(f"SELECT count(*) FROM {quote_ident(schema_name)}.users"))[0]
        report["users"] = {"count": count}
    report["meetsMinimum"] = not report["problems"]
    return report


def _after(event_type, threshold) -> str:
    parts = []
    if event_type is not None:
        parts.append(f"event type {event_type!r}")
    if threshold is not None:
        parts.append(f"event value >= {threshold}")
    return f" (with {' and '.join(parts)})" if parts else ""
