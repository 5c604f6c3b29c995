"""The catalog: settings and one record per object, with Personalize-style ARNs.

Objects are referred to by name or by ARN (the ARN is the object's id). ARNs use the
project's configured region and account id, e.g.
``arn:aws:personalize:local:000000000000:dataset-group/shop``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import duckdb

from .errors import InvalidInput, ResourceNotFound
from .sqlkit import render, statements

DEFAULT_REGION = "local"
DEFAULT_ACCOUNT = "000000000000"
FORMAT_VERSION = "1"

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
_REGION = re.compile(r"^[a-z0-9-]{1,32}$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")


@dataclass(frozen=True)
class Record:
    arn: str
    kind: str
    name: str
    dataset_group_arn: str | None
    parent_arn: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    config: dict
    failure_reason: str | None


def now() -> datetime:
    return datetime.now(timezone.utc)


def check_name(name: Any, what: str) -> str:
    """Personalize's resource-name rule: 1-63 chars of ``[a-zA-Z0-9-_]``, alphanumeric first."""
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 63:
        raise InvalidInput(f"invalid {what} name {name!r}: use 1-63 letters, digits, '-' or '_', "
                           "starting with a letter or digit")
    return name


class Catalog:
    """Object records over ``connection()``: the calling thread's DuckDB connection."""

    def __init__(self, connection):
        self._connection = connection

    @property
    def con(self):
        return self._connection()

    def install(self, region: str | None, account_id: str | None) -> None:
        for statement in statements(render("catalog/00_tables.sql")):
            self.con.execute(statement)
        if not self._settings():
            region = region or DEFAULT_REGION
            account_id = account_id or DEFAULT_ACCOUNT
            if not _REGION.match(region):
                raise InvalidInput(f"invalid region {region!r}: use lower-case letters, digits and '-'")
            if not _ACCOUNT.match(account_id):
                raise InvalidInput(f"invalid account id {account_id!r}: use 12 digits")
            self.con.executemany("INSERT INTO pypersonalize.settings VALUES (?, ?)",
                                 [("format_version", FORMAT_VERSION), ("region", region),
                                  ("account_id", account_id)])
        self.load(region, account_id)

    def load(self, region: str | None, account_id: str | None) -> None:
        """Read the ARN settings, refusing a region/account that differs from the file's."""
        current = self._settings()
        if "region" not in current:
            raise InvalidInput("this DuckDB file is not a pypersonalize project (it has no "
                               "pypersonalize.settings); open it read-write once to make it one")
        for key, value in (("region", region), ("account_id", account_id)):
            if value is not None and value != current[key]:
                raise InvalidInput(f"this project was created with {key} {current[key]!r}; "
                                   f"it cannot be opened with {value!r}")
        self.region, self.account_id = current["region"], current["account_id"]

    def _settings(self) -> dict:
        try:
            return dict(self.con.execute("SELECT key, value FROM pypersonalize.settings").fetchall())
        except duckdb.CatalogException:
            return {}

    def setting(self, key: str) -> str | None:
        return self._settings().get(key)

    def set_setting(self, key: str, value: str) -> None:
        self.con.execute("DELETE FROM pypersonalize.settings WHERE key = $k", {"k": key})
        self.con.execute("INSERT INTO pypersonalize.settings VALUES ($k, $v)", {"k": key, "v": value})

    def arn(self, kind: str, *path: str) -> str:
        return f"arn:aws:personalize:{self.region}:{self.account_id}:{kind}/" + "/".join(path)

    def add(self, *, arn: str, kind: str, name: str, config: dict, dataset_group_arn=None,
            parent_arn=None, status: str = "ACTIVE", failure_reason: str | None = None) -> None:
        self.con.execute(render("catalog/insert_object.sql"), {
            "arn": arn, "kind": kind, "name": name, "dg": dataset_group_arn, "parent": parent_arn,
            "status": status, "now": now(), "config": json.dumps(config),
            "failure": failure_reason})

    def update(self, record: Record, *, status: str | None = None, config: dict | None = None,
               failure_reason: str | None = None) -> None:
        self.con.execute(render("catalog/update_object.sql"), {
            "arn": record.arn, "status": status or record.status,
            "config": json.dumps(config if config is not None else record.config),
            "now": now(), "failure": failure_reason})

    def remove(self, record: Record) -> None:
        self.con.execute(render("catalog/delete_object.sql"), {"arn": record.arn})

    def select(self, kind: str, *, arn=None, name=None, dataset_group_arn=None,
               parent_arn=None) -> list[Record]:
        rows = self.con.execute(render("catalog/select_objects.sql"), {
            "kind": kind, "arn": arn, "name": name, "dg": dataset_group_arn,
            "parent": parent_arn}).fetchall()
        return [Record(*row[:8], json.loads(row[8]), row[9]) for row in rows]

    def get(self, kind: str, ref: Any, *, dataset_group_arn: str | None = None) -> Record:
        """The object of ``kind`` named or ARN-ed ``ref``; an ambiguous name is an error."""
        if isinstance(ref, Record):
            return ref
        if not isinstance(ref, str) or not ref:
            raise InvalidInput(f"expected the name or ARN of a {kind}, got {ref!r}")
        if ref.startswith("arn:"):
            found = self.select(kind, arn=ref)
        else:
            found = self.select(kind, name=ref, dataset_group_arn=dataset_group_arn)
        if not found:
            known = [r.name for r in self.select(kind, dataset_group_arn=dataset_group_arn)]
            raise ResourceNotFound(f"no {kind} {ref!r}" + (f"; known: {', '.join(known)}"
                                                           if known else f"; there is no {kind} yet"))
        if len(found) > 1:
            raise InvalidInput(f"{kind} name {ref!r} is ambiguous; use one of the ARNs: "
                               + ", ".join(r.arn for r in found))
        return found[0]
