"""The log of acknowledged events (``pypersonalize.event_log``): eventId dedup and anonymous sessions.

An event gets a row (``sql/events/00_tables.sql``) when it has an eventId, comes from an
anonymous session (or one that was) or names a metric attribution source (:func:`needed`). Two questions are asked of
it on each call, too often for a query each (a DuckDB look-up costs about as much as the
whole call): has this eventId been seen, and has this session anonymous events waiting
for their user. :class:`SeenEvents` answers both from memory: 64-bit hashes of the group's
event ids (a hit is confirmed by a query, so a hash collision costs a look-up, never a
lost event) and the sessions with unattributed events. It is loaded once per data stamp
of the group and kept current by the calls that write the log.
"""

from __future__ import annotations

import hashlib
import uuid

import numpy as np

from .sqlkit import execute_all, render

_INSERT = ("INSERT INTO pypersonalize.event_log (dataset_group, event_id, session_id, user_id, anonymous, "
           "item_id, event_type, sent_at, duplicate, attribution_source, id_hash, received_at) VALUES ")
_WIDTH = 11             # received_at is now()


def id_hash(event_id: str) -> int:
    """The signed 64-bit hash an event id is remembered by (stored with it as ``id_hash``)."""
    return int.from_bytes(hashlib.blake2b(event_id.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


class SeenEvents:
    """What the log holds for one group, in memory (see the module docstring)."""

    def __init__(self, con, group: str):
        self.group = group
        hashes = con.execute("SELECT id_hash FROM pypersonalize.event_log WHERE dataset_group = $g",
                             {"g": group}).fetchnumpy()["id_hash"]
        self._loaded = np.unique(np.asarray(hashes, dtype=np.int64))
        self._added: set[int] = set()
        rows = con.execute(
            "SELECT session_id, bool_or(user_id IS NULL), arg_max(user_id, received_at) "
            "FILTER (WHERE user_id IS NOT NULL) FROM pypersonalize.event_log "
            "WHERE dataset_group = $g AND anonymous GROUP BY session_id", {"g": group}).fetchall()
        # sessions with anonymous events not yet given their user, and the users of those given one
        self.waiting = {s for s, pending, _u in rows if pending}
        self.owner = {s: u for s, pending, u in rows if u is not None and not pending}

    def _maybe_seen(self, h: int) -> bool:
        if h in self._added:
            return True
        k = np.searchsorted(self._loaded, h)
        return bool(k < len(self._loaded) and self._loaded[k] == h)

    def duplicates(self, con, event_ids: list[str]) -> list[bool]:
        """For each id, whether the group (or an earlier event of this call) already has it."""
        out, here = [], set()
        for event_id in event_ids:
            if event_id in here:
                out.append(True)
                continue
            here.add(event_id)
            out.append(self._maybe_seen(id_hash(event_id)) and con.execute(
                "SELECT count(*) > 0 FROM pypersonalize.event_log WHERE dataset_group = $g AND id_hash = $h "
                "AND event_id = $e", {"g": self.group, "h": id_hash(event_id), "e": event_id}).fetchone()[0])
        return out

    def remember(self, event_ids: list[str]) -> None:
        self._added.update(id_hash(e) for e in event_ids)


def new_event_id() -> str:
    return str(uuid.uuid4())


def needed(event_list: list, anonymous: bool, session_known: bool) -> bool:
    """Whether a call's events go to the log: an eventId the caller may send again, an
    anonymous session (or one that was), or a metric attribution source. An id we generate
    is never sent again, so plain events skip the log's insert (it costs a third of a call)."""
    return anonymous or session_known or any("eventId" in e or "metricAttribution" in e for e in event_list)


def record(con, group: str, session_id: str, user_id: str | None, anonymous: bool, events: list[dict],
           sent_at: list[int], ids: list[str], duplicate: list[bool]) -> None:
    """Append one log row per event (the caller holds the transaction)."""
    params = []
    for event, ts, event_id, dup in zip(events, sent_at, ids, duplicate):
        source = (event.get("metricAttribution") or {}).get("eventAttributionSource")
        params += [group, event_id, session_id, user_id, anonymous, event.get("itemId"), event["eventType"],
                   ts, dup, source, id_hash(event_id)]
    values = ", ".join("(" + ", ".join(f"${r * _WIDTH + c + 1}" for c in range(_WIDTH)) + ", now())"
                       for r in range(len(events)))
    con.execute(_INSERT + values, params)


def attribute(con, group: str, session_id: str, user_id: str) -> None:
    """Give the session's anonymous events to ``user_id``: their interactions rows (written
    under the sessionId) and their log rows (the caller holds the transaction)."""
    execute_all(con, render("events/attribute.sql", schema_name=group), {"g": group, "s": session_id, "u": user_id})


__all__ = ["SeenEvents", "attribute", "id_hash", "needed", "new_event_id", "record"]
