"""Real-time events: Personalize's PutEvents, appending to a dataset group's interactions.

Every row is checked by an import's rules (``event_rows.py``) before one transaction
writes them, so a bad event leaves the interactions exactly as they were; the serving
engine's histories are updated right after the commit, so the next recommendation
already reflects the events.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from .base import ProjectBase
from .connection import writes
from .errors import InvalidInput
from .event_rows import check_rows
from .event_rows import write as write_rows
from .event_trackers import tracked_group
from .texts import text

MAX_EVENTS = 10          # Personalize's eventList limit
# Keys Personalize refuses in an event's properties (case-insensitive), each of which
# would otherwise overwrite a field the request states elsewhere; compared without "_".
RESERVED_PROPERTIES = ("userId", "sessionId", "eventType", "timestamp", "recommendationId",
                       "impression", "sentAt", "eventId")
# Allowed in properties only when the event does not give them itself (the older API form).
TOP_LEVEL_PROPERTIES = {"itemid": "itemId", "eventvalue": "eventValue"}


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def _timestamp(value, where: str) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{where}: sentAt must be a finite number of epoch seconds, got {value!r}")
        if not -2**63 < value < 2**63:
            raise InvalidInput(f"{where}: sentAt is out of range: expected epoch seconds")
        return int(value)
    raise InvalidInput(f"{where}: sentAt must be epoch seconds or a datetime, got {value!r}")


def _event_value(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{where}: eventValue must be a number, got {value!r}")
    try:
        finite_value = math.isfinite(value)
    except OverflowError:           # an int too large for a float
        finite_value = False
    if not finite_value:
        raise InvalidInput(f"{where}: eventValue must be a finite number, got {str(value)[:40]}")
    return value


def _property(value, key: str, where: str):
    """A property value as Personalize's string map holds it: a string, number or list of strings."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{where}: property {key!r} must be a finite number, got {value!r}")
    if isinstance(value, (dict, tuple)) or (isinstance(value, list)
                                            and not all(isinstance(v, str) for v in value)):
        raise InvalidInput(f"{where}: property {key!r} must be a string, a number or a list of "
                           "strings, not a nested value")
    return value


def event_rows(user_id: str, session_id: str, event_list: list, fields: set[str]) -> list[dict]:
    """Personalize's event objects as rows of the Interactions schema's columns (dicts)."""
    if not isinstance(user_id, str) or not user_id:
        raise InvalidInput("put_events: user_id must be a non-empty string")
    if not isinstance(session_id, str) or not session_id:
        raise InvalidInput("put_events: session_id must be a non-empty string")
    text(user_id, "put_events: user_id")
    text(session_id, "put_events: session_id")
    if not isinstance(event_list, list) or not 1 <= len(event_list) <= MAX_EVENTS:
        raise InvalidInput(f"put_events: event_list must hold 1 to {MAX_EVENTS} events")
    rows = []
    for n, event in enumerate(event_list, 1):
        where = f"put_events: event {n}"
        if not isinstance(event, dict):
            raise InvalidInput(f"{where}: expected an object, got {event!r}")
        unknown = set(event) - {"eventId", "eventType", "eventValue", "itemId", "sentAt", "properties",
                                "recommendationId", "impression"}
        if unknown:
            raise InvalidInput(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("eventType", "sentAt"):
            if key not in event:
                raise InvalidInput(f"{where}: {key} is required")
        for key in ("itemId", "eventType", "recommendationId", "eventId"):
            text(event.get(key), f"{where}: {key}", optional=key != "eventType")
        row = {"USER_ID": user_id, "ITEM_ID": event.get("itemId"),
               "TIMESTAMP": _timestamp(event["sentAt"], where), "EVENT_TYPE": event["eventType"]}
        if "eventValue" in event:
            row["EVENT_VALUE"] = _event_value(event["eventValue"], where)
        if "impression" in event:
            if not isinstance(event["impression"], list):
                raise InvalidInput(f"{where}: impression must be a list of item ids")
            ids = event["impression"]
            if not all(isinstance(i, str) and i and "|" not in i for i in ids):
                raise InvalidInput(f"{where}: impression must list non-empty item ids without '|'")
            for i in ids:
                text(i, f"{where}: impression")
            row["IMPRESSION"] = "|".join(ids)
        if "recommendationId" in event:
            row["RECOMMENDATION_ID"] = event["recommendationId"]
        if "eventId" in event:
            row["EVENT_ID"] = event["eventId"]
        props = event.get("properties") or {}
        if isinstance(props, str):
            try:
                props = json.loads(props)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{where}: properties is not valid JSON: {exc}") from None
        if not isinstance(props, dict):
            raise InvalidInput(f"{where}: properties must be a JSON object")
        for key, value in props.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{where}: property names must be strings, got {key!r}")
            if _key(key) in {_key(r) for r in RESERVED_PROPERTIES}:
                raise InvalidInput(f"{where}: property {key!r} is reserved (Personalize refuses "
                                   f"{', '.join(RESERVED_PROPERTIES)} in properties); give it as "
                                   "the event's own key or the call's argument")
            if _key(key) in TOP_LEVEL_PROPERTIES and TOP_LEVEL_PROPERTIES[_key(key)] in event:
                raise InvalidInput(f"{where}: property {key!r} repeats the event's "
                                   f"{TOP_LEVEL_PROPERTIES[_key(key)]}; give it once")
            # Personalize's properties use camelCase names of the schema's fields
            name = next((f for f in fields if _key(f) == _key(key)), None)
            if name is None:
                raise InvalidInput(f"{where}: property {key!r} is not a field of the Interactions schema")
            if row.get(name) is not None:
                raise InvalidInput(f"{where}: property {key!r} sets {name} twice")
            row[name] = _event_value(value, where) if name == "EVENT_VALUE" else _property(value, key, where)
        rows.append(row)
    extra = list(dict.fromkeys(c for row in rows for c in row if c not in fields))
    if extra:
        raise InvalidInput(f"put_events: the Interactions schema has no {', '.join(extra)} field")
    # every field of the schema, in name order, None where the event gives nothing
    return [{name: row.get(name) for name in sorted(fields)} for row in rows]


class EventsAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    @writes
    def put_events(self, dataset_group: str | None, user_id: str, session_id: str, event_list: list,
                   tracking_id: str | None = None) -> dict:
        """Append up to 10 events of one user to the interactions, in one transaction.

        ``tracking_id`` (an event tracker's, see :meth:`create_event_tracker`) must be the
        group's tracker's; with ``dataset_group=None`` it names the group.

        >>> pp.put_events("movies", "u1", "s1", [{"eventType": "Watch", "itemId": "m7",
        ...                                        "sentAt": 1700000000}])  # doctest: +SKIP
        """
        if tracking_id is not None:
            tracked = tracked_group(self.catalog, tracking_id)
            if dataset_group is None:
                dataset_group = tracked.name
            elif self.catalog.get("dataset-group", dataset_group).arn != tracked.arn:
                raise InvalidInput(f"trackingId {tracking_id!r} is the event tracker of dataset group "
                                   f"{tracked.name!r}, not of {dataset_group!r}")
        elif dataset_group is None:
            raise InvalidInput("put_events needs a dataset_group or an event tracker's tracking_id")
        text(dataset_group, "put_events: dataset_group")
        group_name, schema = self._engine.memo(("events", dataset_group),
                                               lambda: self._events_target(dataset_group))
        rows = event_rows(user_id, session_id, event_list, set(schema.names))
        checked = check_rows(schema, rows)           # every row checked before anything is written
        # Held across commit and memory update, so the engine never loads the histories
        # in between (it would count the events twice, or miss them).
        with self._engine.lock:
            held = self._engine.stores.get(group_name)
            current = held is not None and held[0] == self._engine.data_stamps.get(group_name, 0)
            # ids the histories already hold are in the id maps: no look-up needed
            known = current and held[1].has_ids(rows)
            with self._transaction(changes=False):
                write_rows(self.con, group_name, schema, checked, id_maps=not known)
            if current and not self._connections.in_transaction():
                held[1].append(rows, lambda rids: dict(self.con.execute(
                    "SELECT recommendation_id, items FROM pypersonalize.recommendation_log "
                    "WHERE dataset_group = $g AND recommendation_id IN (SELECT unnest($r::VARCHAR[]))",
                    {"g": group_name, "r": rids}).fetchall()))
            else:
                self._data_changed(group_name)
        return {"eventsRecorded": len(rows), "trackingId": tracking_id, "sessionId": session_id}

    def _events_target(self, dataset_group: str):
        """(group name, Interactions schema) that events of ``dataset_group`` go to."""
        group = self.catalog.get("dataset-group", dataset_group)
        schema = self._schemas_of(group).get("Interactions")
        if schema is None:
            raise InvalidInput(f"dataset group {group.name!r} has no Interactions dataset")
        return group.name, schema


__all__ = ["EventsAPI", "event_rows"]
