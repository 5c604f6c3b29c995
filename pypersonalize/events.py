"""Real-time events: Personalize's PutEvents, appending to a dataset group's interactions.

Every row is checked by an import's rules (``event_rows.py``) before one transaction
writes them, so a bad event leaves the interactions exactly as they were; the serving
engine's histories are updated right after the commit, so the next recommendation
already reflects the events.
"""

from __future__ import annotations

import json
import math

from . import event_log
from .base import ProjectBase
from .connection import writes
from .errors import InvalidInput
from .event_rows import check_rows, ensure_ids
from .event_rows import write as write_rows
from .event_trackers import tracked_group
from .numbers import epoch_seconds
from .texts import text

MAX_EVENTS = 10          # Personalize's eventList limit
# Keys Personalize refuses in an event's properties (case-insensitive; botocore's Event
# shape), each of which would otherwise overwrite a field the request states elsewhere;
# compared without "_". sentAt and eventId are not among them: a schema field SENT_AT or
# EVENT_ID is the user's own and the event's sentAt/eventId go elsewhere (TIMESTAMP, the log).
RESERVED_PROPERTIES = ("userId", "sessionId", "eventType", "timestamp", "recommendationId",
                       "impression")
# Allowed in properties only when the event does not give them itself (the older API form).
TOP_LEVEL_PROPERTIES = {"itemid": "itemId", "eventvalue": "eventValue"}


class _Repeated(ValueError):
    pass


def _unique_keys(pairs: list) -> dict:
    """json's object hook: an object, refusing a repeated key (plain json keeps the last)."""
    found: dict = {}
    for key, value in pairs:
        if key in found:
            raise _Repeated(key)
        found[key] = value
    return found


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def _timestamp(value, where: str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{where}: sentAt must be epoch seconds or a datetime, got {value!r}")
    return epoch_seconds(value, f"{where}: sentAt")


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


# Personalize's limits (botocore's service model): ids and names, recommendationId, the
# properties JSON text, an impression list, an attribution source
ID_LIMIT, RECOMMENDATION_ID_LIMIT, PROPERTIES_LIMIT, IMPRESSION_LIMIT, SOURCE_LIMIT = 256, 40, 1024, 25, 1024
EVENT_KEYS = {"eventId", "eventType", "eventValue", "itemId", "sentAt", "properties", "recommendationId",
              "impression", "metricAttribution"}


def event_rows(user_id: str, session_id: str, event_list: list, fields: set[str]) -> list[dict]:
    """Personalize's event objects as rows of the Interactions schema's columns (dicts).

    ``user_id`` is the USER_ID the rows get (an anonymous call's sessionId); an event's
    eventType is left out where the schema has no EVENT_TYPE field, as Personalize does."""
    if not isinstance(user_id, str) or not user_id:
        raise InvalidInput("put_events: user_id must be a non-empty string")
    if not isinstance(session_id, str) or not session_id:
        raise InvalidInput("put_events: session_id must be a non-empty string")
    text(user_id, "put_events: user_id", limit=ID_LIMIT)
    text(session_id, "put_events: session_id", limit=ID_LIMIT)
    if not isinstance(event_list, list) or not 1 <= len(event_list) <= MAX_EVENTS:
        raise InvalidInput(f"put_events: event_list must hold 1 to {MAX_EVENTS} events")
    rows = []
    for n, event in enumerate(event_list, 1):
        where = f"put_events: event {n}"
        if not isinstance(event, dict):
            raise InvalidInput(f"{where}: expected an object, got {type(event).__name__}")
        unknown = set(event) - EVENT_KEYS
        if unknown:
            raise InvalidInput(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))[:200]}")
        for key in ("eventType", "sentAt"):
            if key not in event:
                raise InvalidInput(f"{where}: {key} is required")
        for key in ("itemId", "eventType", "eventId"):
            value = text(event.get(key), f"{where}: {key}", optional=key != "eventType", limit=ID_LIMIT)
            if value == "":
                raise InvalidInput(f"{where}: {key} must not be empty")
        text(event.get("recommendationId"), f"{where}: recommendationId", optional=True,
             limit=RECOMMENDATION_ID_LIMIT)
        _attribution(event.get("metricAttribution"), where)
        row = {"USER_ID": user_id, "ITEM_ID": event.get("itemId"),
               "TIMESTAMP": _timestamp(event["sentAt"], where)}
        if "EVENT_TYPE" in fields:
            row["EVENT_TYPE"] = event["eventType"]
        if "eventValue" in event:
            row["EVENT_VALUE"] = _event_value(event["eventValue"], where)
        if "impression" in event:
            if not isinstance(event["impression"], list) or not 1 <= len(event["impression"]) <= IMPRESSION_LIMIT:
                raise InvalidInput(f"{where}: impression must be a list of 1 to {IMPRESSION_LIMIT} item ids")
            ids = event["impression"]
            if not all(isinstance(i, str) and i and "|" not in i for i in ids):
                raise InvalidInput(f"{where}: impression must list non-empty item ids without '|'")
            for i in ids:
                text(i, f"{where}: impression", limit=ID_LIMIT)
            row["IMPRESSION"] = "|".join(ids)
        if "recommendationId" in event:
            row["RECOMMENDATION_ID"] = event["recommendationId"]
        props = event.get("properties") or {}
        if isinstance(props, str):
            text(props, f"{where}: properties", limit=PROPERTIES_LIMIT)
            try:
                props = json.loads(props, object_pairs_hook=_unique_keys)
            except _Repeated as exc:
                raise InvalidInput(f"{where}: properties gives {exc.args[0][:80]!r} twice; give each "
                                   "property once") from None
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{where}: properties is not valid JSON: {exc}") from None
            except (ValueError, RecursionError) as exc:     # thousands of digits, deep nesting
                raise InvalidInput(f"{where}: properties cannot be read as JSON: {str(exc)[:100]}") from None
        if not isinstance(props, dict):
            raise InvalidInput(f"{where}: properties must be a JSON object")
        for key, value in props.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{where}: property names must be strings, got {type(key).__name__}")
            if _key(key) in {_key(r) for r in RESERVED_PROPERTIES}:
                raise InvalidInput(f"{where}: property {key[:80]!r} is reserved (Personalize refuses "
                                   f"{', '.join(RESERVED_PROPERTIES)} in properties); give it as "
                                   "the event's own key or the call's argument")
            if _key(key) in TOP_LEVEL_PROPERTIES and TOP_LEVEL_PROPERTIES[_key(key)] in event:
                raise InvalidInput(f"{where}: property {key!r} repeats the event's "
                                   f"{TOP_LEVEL_PROPERTIES[_key(key)]}; give it once")
            # Personalize's properties use camelCase names of the schema's fields
            name = next((f for f in fields if _key(f) == _key(key)), None)
            if name is None or name == "EVENT_TYPE":
                raise InvalidInput(f"{where}: property {key[:80]!r} is not a field of the Interactions schema")
            if row.get(name) is not None:
                raise InvalidInput(f"{where}: property {key!r} sets {name} twice")
            row[name] = _event_value(value, where) if name == "EVENT_VALUE" else _property(value, key, where)
        rows.append(row)
    extra = list(dict.fromkeys(c for row in rows for c in row if c not in fields))
    if extra:
        raise InvalidInput(f"put_events: the Interactions schema has no {', '.join(extra)} field")
    # every field of the schema, in name order, None where the event gives nothing
    return [{name: row.get(name) for name in sorted(fields)} for row in rows]


def _attribution(value, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or set(value) != {"eventAttributionSource"}:
        raise InvalidInput(f"{where}: metricAttribution must be {{\"eventAttributionSource\": SOURCE}}")
    source = text(value["eventAttributionSource"], f"{where}: metricAttribution.eventAttributionSource",
                  limit=SOURCE_LIMIT)
    if not source:
        raise InvalidInput(f"{where}: metricAttribution.eventAttributionSource must not be empty")


class EventsAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    @writes
    def put_events(self, dataset_group: str | None, user_id: str | None, session_id: str, event_list: list,
                   tracking_id: str | None = None) -> dict:
        """Append up to 10 events of one user (or one anonymous session) in one transaction.

        ``tracking_id`` (an event tracker's, see :meth:`create_event_tracker`) must be the
        group's tracker's; with ``dataset_group=None`` it names the group. An event's
        ``eventId`` is kept in ``pypersonalize.event_log``; an event whose eventId the group
        has seen is logged but never trained on (an event without one gets a generated id). With
        ``user_id=None`` the events are the session's: they count as the user ``session_id``
        until a later call of the session names its user, which takes them over.

        >>> pp.put_events("movies", "u1", "s1", [{"eventType": "Watch", "itemId": "m7",
        ...                                        "sentAt": 1700000000}])  # doctest: +SKIP
        """
        if tracking_id is not None:
            # a catalog scan costs more than the rest of the call: once per catalog stamp
            tracked = self._engine.memo(("tracker", tracking_id), lambda: tracked_group(self.catalog, tracking_id))
            if dataset_group is None:
                dataset_group = tracked.name
            elif self._engine.memo(("group", dataset_group),
                                   lambda: self.catalog.get("dataset-group", dataset_group)).arn != tracked.arn:
                raise InvalidInput(f"trackingId {tracking_id!r} is the event tracker of dataset group "
                                   f"{tracked.name!r}, not of {dataset_group!r}")
        elif dataset_group is None:
            raise InvalidInput("put_events needs a dataset_group or an event tracker's tracking_id")
        text(dataset_group, "put_events: dataset_group")
        if user_id is not None and (not isinstance(user_id, str) or not user_id):
            raise InvalidInput("put_events: user_id must be a non-empty string (or None: an anonymous session)")
        group_name, schema = self._engine.memo(("events", dataset_group),
                                               lambda: self._events_target(dataset_group))
        if not isinstance(session_id, str) or not session_id:
            raise InvalidInput("put_events: session_id must be a non-empty string")
        with self._engine.lock:
            seen = self._engine.seen_events(self.con, group_name)
            # an anonymous event of a session whose user is known goes to that user at once
            owner = user_id if user_id is not None else seen.owner.get(session_id)
            rows = event_rows(owner or session_id, session_id, event_list, set(schema.names))
            ids = [e.get("eventId") or event_log.new_event_id() for e in event_list]
            duplicate = seen.duplicates(self.con, ids)
            kept = [row for row, dup in zip(rows, duplicate) if not dup]
            checked = check_rows(schema, kept) if kept else None   # every row checked before anything is written
            takes_over = user_id is not None and session_id in seen.waiting
            logged = event_log.needed(event_list, user_id is None,
                                      session_id in seen.waiting or session_id in seen.owner)
            # Held across commit and memory update, so the engine never loads the histories
            # in between (it would count the events twice, or miss them).
            held = self._engine.stores.get(group_name)
            current = held is not None and held[0] == self._engine.data_stamps.get(group_name, 0)
            # ids the histories already hold are in the id maps: no look-up needed
            known = current and bool(kept) and held[1].has_ids(kept)
            outer = self._connections.in_transaction()
            with self._transaction(changes=False):
                if checked is not None:
                    write_rows(self.con, group_name, schema, checked, id_maps=not known)
                if logged:
                    event_log.record(self.con, group_name, session_id, owner, user_id is None, event_list,
                                     [row["TIMESTAMP"] for row in rows], ids, duplicate)
                if takes_over:
                    event_log.attribute(self.con, group_name, session_id, user_id)
                    ensure_ids(self.con, group_name, users=[user_id], items=[])
            # remembered even if an outer transaction rolls back: a remembered id is
            # confirmed in the log before an event counts as a repeat
            if logged:
                seen.remember(ids)
            if user_id is None and owner is None:
                seen.waiting.add(session_id)
            if outer or takes_over:
                # the session's events changed users (or an outer transaction may still roll
                # back): the histories and the log's memory are read again
                self._data_changed(group_name)
            else:
                if current and kept:
                    held[1].append(kept, lambda rids: dict(self.con.execute(
                        "SELECT recommendation_id, items FROM pypersonalize.recommendation_log "
                        "WHERE dataset_group = $g AND recommendation_id IN (SELECT unnest($r::VARCHAR[]))",
                        {"g": group_name, "r": rids}).fetchall()))
                # histories not loaded (or stale) are read from the file when next needed,
                # which now holds these rows: nothing to invalidate (a bump would make every
                # call of a process that only writes events re-read the catalog)
        return {"eventsRecorded": len(kept), "duplicates": sum(duplicate), "eventIds": ids,
                "trackingId": tracking_id, "sessionId": session_id}

    def _events_target(self, dataset_group: str):
        """(group name, Interactions schema) that events of ``dataset_group`` go to."""
        group = self.catalog.get("dataset-group", dataset_group)
        schema = self._schemas_of(group).get("Interactions")
        if schema is None:
            raise InvalidInput(f"dataset group {group.name!r} has no Interactions dataset")
        return group.name, schema


__all__ = ["EventsAPI", "event_rows"]
