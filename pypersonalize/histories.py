"""Users' histories in memory: what a real-time request reads instead of the interactions table.

One :class:`HistoryStore` per dataset group holds every user's events (oldest first) as
dense ints of a growing item :class:`Vocab`, their event types, the impressions they carry
(explicit ``IMPRESSION`` lists and, through ``RECOMMENDATION_ID``, the logged lists of the
recommendations they answer) and the users' attributes. It is loaded once from the
project file and kept current by the writers of this process (``put_events`` appends
after its transaction commits); the engine reloads it when its data stamp says that
anything else changed the group's data. The file stays the truth.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
_NO_TYPE = -1
# Recommendation lists held until an event names them; the engine writes lists to the file
# in batches far smaller than this, so an older one is read back from the file when named.
RECENT_LISTS = 1000


class Vocab:
    """Item ids <-> dense ints of one dataset group; new ids are appended, never renumbered."""

    def __init__(self, ids=()):
        self.ids: list[str] = list(ids)
        self.index: dict[str, int] = {item: i for i, item in enumerate(self.ids)}
        self._array: np.ndarray | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    def lookup(self, item: str | None) -> int | None:
        return None if item is None else self.index.get(item)

    def code(self, item: str) -> int:
        found = self.index.get(item)
        if found is not None:
            return found
        with self._lock:
            found = self.index.get(item)
            if found is None:
                found = len(self.ids)
                self.ids.append(item)
                self.index[item] = found
                self._array = None
            return found

    def codes(self, items) -> np.ndarray:
        """Codes of ids that may be new (they are added)."""
        return np.fromiter((self.code(i) for i in items), dtype=np.int64, count=len(items))

    def known(self, items) -> np.ndarray:
        """Codes of ids, -1 for ids the vocabulary does not hold (nothing is added)."""
        get = self.index.get
        return np.fromiter((get(i, -1) for i in items), dtype=np.int64, count=len(items))

    def strings(self, codes: np.ndarray) -> np.ndarray:
        array = self._array
        if array is None or len(array) != len(self.ids):
            array = self._array = np.array(self.ids, dtype=object)
        return array[codes]


@dataclass
class History:
    """One user's events, oldest first, as the scorers read them."""

    items: np.ndarray                     # int64 vocabulary codes
    types: np.ndarray                     # int64 codes into HistoryStore.type_names, -1 = none
    impressions: list = field(default_factory=list)   # int64 code arrays shown with the events
    attributes: list = field(default_factory=list)    # (field, value) of the Users dataset
    type_names: list = field(default_factory=list)    # the store's event type names (shared)

    @property
    def has_events(self) -> bool:
        return len(self.items) > 0


class HistoryStore:
    """Every user's history of one dataset group (see the module docstring)."""

    def __init__(self, group: str, has_impression: bool = False, has_recommendation_id: bool = False):
        self.group = group
        self.has_impression = has_impression
        self.has_recommendation_id = has_recommendation_id
        self.vocab = Vocab()
        self.type_names: list[str] = []
        self._type_index: dict[str, int] = {}
        self._users: dict[str, int] = {}
        self._offsets = np.zeros(1, dtype=np.int64)
        self._items = np.zeros(0, dtype=np.int64)
        self._types = np.zeros(0, dtype=np.int64)
        self._ts = np.zeros(0, dtype=np.int64)
        self._added: dict[str, list[tuple[int, int, int]]] = {}   # user -> (ts, item, type) after load
        self._event_items: set[int] = set()                        # codes of items with events
        self._shown: dict[str, list[np.ndarray]] = {}              # explicit impressions per user
        self._answered: dict[str, list[str]] = {}                  # recommendation ids per user
        self._logged: dict[str, np.ndarray] = {}                   # lists events answered: id -> items
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # the newest lists no event named yet
        self.attributes: dict[str, list[tuple[str, str]]] = {}
        self.shown_counts = np.zeros(0, dtype=np.int64)            # explicit impressions per item, all users
        self.version = 0                                           # bumped by every append
        self._lock = threading.Lock()

    # -- loading --------------------------------------------------------------------

    @classmethod
    def load(cls, con, group: str, has_impression: bool, has_recommendation_id: bool,
             vocab: Vocab | None = None, events_from: str = "pypersonalize.interactions_all") -> HistoryStore:
        """Read the group's interactions, implicit-impression log and user attributes.

        ``vocab``: the group's vocabulary from an earlier load, kept so that the codes of
        models bound to it stay valid. ``events_from``: a relation with the columns of
        ``interactions_all`` to read instead (offline metrics: test users' older events)."""
        store = cls(group, has_impression, has_recommendation_id)
        if vocab is not None:
            store.vocab = vocab
        columns = "user_id, item, event_type, ts" + (", impression" if has_impression else "") + \
            (", recommendation_id" if has_recommendation_id else "")
        data = con.execute(f"SELECT {columns} FROM {events_from} WHERE dataset_group = $g "
                           "ORDER BY user_id, ts, seq", {"g": group}).fetchnumpy()
        users = np.asarray(data["user_id"], dtype=object)
        n = len(users)
        items, item_ids = pd.factorize(pd.Series(np.asarray(data["item"], dtype=object)), sort=False)
        items = store.vocab.codes(list(item_ids))[items] if len(items) else np.zeros(0, dtype=np.int64)
        types = pd.Series(np.asarray(data["event_type"], dtype=object))
        type_codes, type_names = pd.factorize(types, sort=True)
        store.type_names = [str(t) for t in type_names]
        store._type_index = {t: i for i, t in enumerate(store.type_names)}
        store._items = items.astype(np.int64)
        store._event_items = set(np.unique(store._items).tolist())
        store._types = type_codes.astype(np.int64)            # factorize gives -1 for NULL
        store._ts = np.asarray(data["ts"], dtype=np.int64)
        if n:
            cut = np.flatnonzero(users[1:] != users[:-1]) + 1
            starts = np.concatenate(([0], cut))
            store._offsets = np.concatenate((starts, [n])).astype(np.int64)
            store._users = {u: k for k, u in enumerate(users[starts])}
        store.shown_counts = np.zeros(len(store.vocab), dtype=np.int64)
        if has_impression:
            for row in np.flatnonzero(pd.notna(pd.Series(data["impression"], dtype=object)).to_numpy()):
                codes = store.vocab.codes(list(data["impression"][row]))
                store._shown.setdefault(users[row], []).append(codes)
                store._count_shown(codes)
        if has_recommendation_id:
            rids = np.asarray(data["recommendation_id"], dtype=object)
            for row in np.flatnonzero(pd.notna(pd.Series(rids)).to_numpy()):
                store._answered.setdefault(users[row], []).append(rids[row])
            # only the lists some event names (the log keeps every list ever made)
            logged_lists = con.execute(
                "SELECT recommendation_id, items FROM pypersonalize.recommendation_log "
                "WHERE dataset_group = $g AND recommendation_id IN (SELECT recommendation_id "
                "FROM pypersonalize.interactions_all WHERE dataset_group = $g)", {"g": group}).fetchall()
            for rid, logged in logged_lists:
                store._logged[rid] = store.vocab.codes(list(logged))
        try:
            attributes = con.execute(
                "SELECT uid, field, value FROM pypersonalize.user_attributes_all WHERE dataset_group = $g "
                "ORDER BY uid, field, value", {"g": group}).fetchall()
        except duckdb.Error as exc:      # a Users table dropped behind our back: serve without
            log.warning("user attributes of %s unreadable: %s", group, exc)
            attributes = []
        for uid, fld, value in attributes:
            store.attributes.setdefault(uid, []).append((fld, value))
        return store

    def _count_shown(self, codes: np.ndarray) -> None:
        if len(self.shown_counts) < len(self.vocab):
            self.shown_counts = np.concatenate(
                (self.shown_counts, np.zeros(len(self.vocab) - len(self.shown_counts), dtype=np.int64)))
        np.add.at(self.shown_counts, codes, 1)

    def type_code(self, name) -> int:
        if not isinstance(name, str):
            return _NO_TYPE
        found = self._type_index.get(name)
        if found is None:
            found = self._type_index[name] = len(self.type_names)
            self.type_names.append(name)
        return found

    # -- keeping current --------------------------------------------------------------

    def has_ids(self, rows: list[dict]) -> bool:
        """Whether every USER_ID and ITEM_ID of ``rows`` already has events here (and so a
        number in the group's id maps, which every import and put_events extends)."""
        return all((row["USER_ID"] in self._users or row["USER_ID"] in self._added)
                   and self.vocab.lookup(row["ITEM_ID"]) in self._event_items for row in rows)

    def append(self, rows: list[dict], fetch_lists=None) -> None:
        """Events a writer of this process has just committed (Interactions columns).
        ``fetch_lists(ids)``: the logged lists of recommendation ids memory no longer holds."""
        with self._lock:
            for row in rows:
                user = row["USER_ID"]
                item = self.vocab.code(row["ITEM_ID"])
                self._event_items.add(item)
                etype = self.type_code(row.get("EVENT_TYPE"))
                self._added.setdefault(user, []).append((int(row["TIMESTAMP"]), item, etype))
                shown = row.get("IMPRESSION")
                if self.has_impression and shown is not None and not (isinstance(shown, float)):
                    ids = shown.split("|") if isinstance(shown, str) else list(shown)
                    codes = self.vocab.codes([i for i in ids if i])
                    self._shown.setdefault(user, []).append(codes)
                    self._count_shown(codes)
                self.version += 1
                rid = row.get("RECOMMENDATION_ID")
                if self.has_recommendation_id and isinstance(rid, str):
                    self._answered.setdefault(user, []).append(rid)
                    if rid not in self._logged:
                        found = self._recent.pop(rid, None)
                        if found is None and fetch_lists is not None:
                            items = fetch_lists([rid]).get(rid)
                            found = None if items is None else self.vocab.codes(list(items))
                        if found is not None:
                            self._logged[rid] = found

    def log(self, recommendation_id: str, items: list[str]) -> None:
        """A recommendation list whose later events count its other items as shown; the
        newest RECENT_LISTS are held (older ones are in the file by then)."""
        with self._lock:
            self._recent[recommendation_id] = self.vocab.codes(items)
            while len(self._recent) > RECENT_LISTS:
                self._recent.popitem(last=False)

    # -- reading ----------------------------------------------------------------------

    def history(self, user_id: str | None) -> History | None:
        """The user's history, or None for a user with neither events nor attributes."""
        if user_id is None:
            return None
        k = self._users.get(user_id)
        added = self._added.get(user_id)
        attributes = self.attributes.get(user_id, [])
        if k is None and not added:
            return History(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), [], attributes,
                           self.type_names) if attributes else None
        if k is not None:
            lo, hi = self._offsets[k], self._offsets[k + 1]
            items, types, ts = self._items[lo:hi], self._types[lo:hi], self._ts[lo:hi]
        else:
            items = types = ts = np.zeros(0, dtype=np.int64)
        if added:
            more = np.array(list(added), dtype=np.int64).reshape(-1, 3)
            ts = np.concatenate((ts, more[:, 0]))
            items = np.concatenate((items, more[:, 1]))
            types = np.concatenate((types, more[:, 2]))
            order = np.argsort(ts, kind="stable")       # ties keep arrival order, as seq does
            items, types = items[order], types[order]
        shown = list(self._shown.get(user_id, ()))
        for rid in self._answered.get(user_id, ()):
            logged = self._logged.get(rid)
            if logged is not None:
                shown.append(logged)
        return History(items, types, shown, attributes, self.type_names)

    def all_events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(item codes, timestamps, event-type codes) of every event of the group."""
        added = [e for events in list(self._added.values()) for e in events]
        if not added:
            return self._items, self._ts, self._types
        more = np.array(added, dtype=np.int64).reshape(-1, 3)
        return (np.concatenate((self._items, more[:, 1])), np.concatenate((self._ts, more[:, 0])),
                np.concatenate((self._types, more[:, 2])))

    def users(self) -> list[str]:
        """Every user with events, in the order of the file's user ids."""
        return list(self._users) + [u for u in self._added if u not in self._users]

    @property
    def events(self) -> int:
        return len(self._items) + sum(len(v) for v in self._added.values())


__all__ = ["History", "HistoryStore", "Vocab"]
