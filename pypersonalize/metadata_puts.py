"""Items and users one by one: Personalize's PutItems and PutUsers, upserting into a dataset.

A record is ``{"itemId": ..., "properties": '{"genres": "Comedy|Drama", ...}'}`` (``userId``
for users). Its properties name the schema's fields in camelCase, read as events.py reads an
event's properties (case and "_" ignored: ``numberOfRatings`` is NUMBER_OF_RATINGS). Every
record of a call is checked by an import's rules (``event_rows.check_rows``) before one
transaction replaces the rows of those ids; a bad record anywhere leaves the dataset exactly
as it was. After the commit the serving engine reads the group's data again, so filters on
Items/Users fields and ``metadataColumns`` see the new values on the very next request.
"""

from __future__ import annotations

import json
import math
import numbers

import duckdb
import numpy as np

from .base import ProjectBase
from .connection import writes
from .datasets import TABLE_OF
from .errors import DataImportError, InvalidInput, quote_value
from .event_rows import check_rows, ensure_ids
from .event_rows import write as write_rows
from .events import _key
from .importer import duckdb_reason
from .texts import text

MAX_RECORDS = 10        # Personalize's items / users list limit per call
ID_LIMIT = 256
# botocore's service model (aws_model.json): the properties JSON text of an item / a user
PROPERTIES_LIMIT = {"Items": 32000, "Users": 24000}
# What each call writes: (dataset type, record list's name, record's id key)
_KINDS = {"put_items": ("Items", "item", "itemId"), "put_users": ("Users", "user", "userId")}


class _Pairs(list):
    """A JSON object as its (key, value) pairs in order, a repeated key kept (json's hook)."""


def _no_constant(name: str):
    raise _NotANumber(name)


class _NotANumber(ValueError):
    pass


def _camel(name: str) -> str:
    """A field's name as Personalize's properties spell it: NUMBER_OF_RATINGS -> numberOfRatings."""
    head, *rest = name.lower().split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _parse(props, where: str, limit: int) -> list[tuple]:
    """A record's properties (JSON object text, or a dict) as (key, value) pairs."""
    if isinstance(props, dict):
        pairs = list(props.items())
        for key, _ in pairs:
            if not isinstance(key, str):
                raise InvalidInput(f"{where}: property names must be strings, got {type(key).__name__}")
        return pairs
    text(props, f"{where}: properties", limit=limit)
    if not props:
        raise InvalidInput(f"{where}: properties must not be empty; leave it out, or give a JSON object")
    try:
        doc = json.loads(props, object_pairs_hook=_Pairs, parse_constant=_no_constant)
    except _NotANumber as exc:
        raise InvalidInput(f"{where}: properties holds {exc.args[0]}, which is not a JSON number; "
                           "values must be finite numbers, strings, true/false or null") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{where}: properties is not valid JSON ({exc.msg} at character {exc.pos + 1}); "
                           "expected a JSON object such as {\"genres\": \"Comedy|Drama\"}") from None
    except (ValueError, RecursionError) as exc:     # an integer of thousands of digits, deep nesting
        raise InvalidInput(f"{where}: properties cannot be read as JSON: {str(exc)[:100]}") from None
    if not isinstance(doc, _Pairs):
        kind = {list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(
            type(doc), "a number")
        raise InvalidInput(f"{where}: properties must be a JSON object of field values, got {kind}")
    return list(doc)


def _value(value, key: str, where: str):
    """A property value as the importer's DataFrame path takes it: text, a number, a boolean,
    None or a list of strings (a categorical field's values); anything nested is refused."""
    label = f"{where}: property {quote_value(key, 40)}"
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, str):
        return text(value, label)
    if isinstance(value, numbers.Integral):
        value = int(value)
        if value.bit_length() > 1024:       # past every Avro type's range (and str()'s digit limit)
            raise InvalidInput(f"{label} is a number too large for any field type")
        return value
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise InvalidInput(f"{label} must be a finite number, got {value!r}")
        return value
    if isinstance(value, list) and not isinstance(value, _Pairs):
        if not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"{label} must list strings only (a categorical field's values)")
        return [text(v, label) for v in value]
    kind = "an object" if isinstance(value, (dict, _Pairs)) else f"a {type(value).__name__}"
    raise InvalidInput(f"{label} must be a string, a number, true/false, null or a list of strings, "
                       f"not {kind}")


def record_rows(call: str, records, schema) -> list[dict]:
    """PutItems/PutUsers records as rows of the schema's fields (dicts, a missing field absent).

    ``call`` is ``put_items`` or ``put_users``; raises InvalidInput naming the record (1-based)."""
    dtype, noun, id_key = _KINDS[call]
    limit = PROPERTIES_LIMIT[dtype]
    if not isinstance(records, (list, tuple)) or not 1 <= len(records) <= MAX_RECORDS:
        got = f"{len(records)}" if isinstance(records, (list, tuple)) else f"a {type(records).__name__}"
        raise InvalidInput(f"{call}: {noun}s must be a list of 1 to {MAX_RECORDS} {noun}s, got {got}")
    by_key = {_key(f.name): f.name for f in schema.fields}
    rows = []
    for n, record in enumerate(records, 1):
        where = f"{call}: {noun} {n}"
        if not isinstance(record, dict):
            raise InvalidInput(f"{where}: expected an object {{\"{id_key}\": ..., \"properties\": ...}}, "
                               f"got {type(record).__name__}")
        unknown = [k for k in record if k not in (id_key, "properties")]
        if unknown:
            shown = ", ".join(quote_value(k, 40) for k in map(str, unknown[:5]))
            raise InvalidInput(f"{where}: unknown key(s) {shown}; a {noun} has {id_key} and properties")
        if id_key not in record:
            raise InvalidInput(f"{where}: {id_key} is required")
        record_id = text(record[id_key], f"{where}: {id_key}", limit=ID_LIMIT)
        if not record_id:
            raise InvalidInput(f"{where}: {id_key} must not be empty")
        row = {schema.id_field: record_id}
        props = record.get("properties")
        pairs = [] if props is None else _parse(props, where, limit)
        given = {}
        for key, value in pairs:
            text(key, f"{where}: a property name")
            name = by_key.get(_key(key))
            if name == schema.id_field:
                raise InvalidInput(f"{where}: property {quote_value(key, 40)} is reserved: the {noun}'s "
                                   f"{schema.id_field} is the record's {id_key}")
            if name is None:
                raise InvalidInput(
                    f"{where}: property {quote_value(key, 40)} is not a field of the {dtype} schema; its "
                    "properties are " + ", ".join(f"{_camel(f)} ({f})" for f in schema.names
                                                  if f != schema.id_field))
            if name in row:
                raise InvalidInput(f"{where}: property {quote_value(key, 40)} sets {name} twice")
            row[name] = given[key] = _value(value, key, where)
        if isinstance(props, dict) and len(json.dumps(given, ensure_ascii=False)) > limit:
            # a dict is held to the limit of the JSON text it stands for
            raise InvalidInput(f"{where}: properties must be at most {limit} characters as JSON text")
        rows.append(row)
    return rows


class MetadataPutsAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    @writes
    def put_items(self, dataset: str, items: list[dict]) -> dict:
        """Add or replace up to 10 items of an Items dataset (name or ARN) in one transaction.

        Each item is ``{"itemId": "m9", "properties": '{"genres": "Horror|Comedy", ...}'}``:
        properties is a JSON object's text whose keys are the schema's fields in camelCase
        (``creationTimestamp`` for CREATION_TIMESTAMP; case and "_" are ignored), values as
        an import takes them (numbers or their text, "a|b" or a list for categorical values).
        For convenience the Python API also takes properties as a dict. An item whose id the
        dataset holds replaces that row (in a call, the last record of an id wins); fields not
        given are empty. A bad item anywhere raises InvalidInput (DataImportError for a value
        an import would refuse, naming the item and field) and writes nothing. Filters and
        ``metadataColumns`` see the items on the next request.

        >>> pp.put_items("movies-items", [{"itemId": "m9", "properties": json.dumps(
        ...     {"genres": "Horror", "creationTimestamp": 1735689600})}])  # doctest: +SKIP
        {'recordsWritten': 1}
        """
        return self._put_records("put_items", dataset, items)

    @writes
    def put_users(self, dataset: str, users: list[dict]) -> dict:
        """Add or replace up to 10 users of a Users dataset (name or ARN) in one transaction.

        Each user is ``{"userId": "u7", "properties": '{"subscriptionModel": "premium"}'}``,
        read as :meth:`put_items` reads items (properties as JSON text or a dict, the last
        record of an id wins, nothing written unless every user is valid). Filters with
        ``CurrentUser`` conditions see the new values on the next request.

        >>> pp.put_users("movies-users", [{"userId": "u7", "properties": '{"age": 30, '
        ...                                '"subscriptionModel": "premium"}'}])  # doctest: +SKIP
        {'recordsWritten': 1}
        """
        return self._put_records("put_users", dataset, users)

    def _put_records(self, call: str, dataset: str, records) -> dict:
        dtype = _KINDS[call][0]
        text(dataset, f"{call}: dataset", limit=ID_LIMIT)
        group_name, schema = self._engine.memo((call, dataset), lambda: self._metadata_target(call, dataset))
        rows = record_rows(call, records, schema)
        try:
            checked = check_rows(schema, rows)        # every record checked before anything is written
        except DataImportError as exc:
            raise DataImportError(exc.reason, source=call, row=exc.row, column=exc.column,
                                  unit=_KINDS[call][1]) from None
        # the last record of an id wins: keep each id's last row, in the order of the calls' records
        at = checked.columns.index(schema.id_field)
        last = {row[at]: i for i, row in enumerate(checked.rows)}
        kept = type(checked)(checked.columns, [row for i, row in enumerate(checked.rows) if last[row[at]] == i])
        ids = [row[at] for row in kept.rows]
        with self._engine.lock:
            try:
                with self._transaction(changes=False):
                    write_rows(self.con, group_name, schema, kept, id_maps=False, table=TABLE_OF[dtype])
                    ensure_ids(self.con, group_name, users=ids if dtype == "Users" else [],
                               items=ids if dtype == "Items" else [])
                    # read again by the engine once this transaction commits
                    self._data_changed(group_name)
            except duckdb.Error as exc:
                raise DataImportError(f"cannot write the {dtype.lower()} into {group_name}."
                                      f"{TABLE_OF[dtype]}: {duckdb_reason(exc)}", source=call) from None
        return {"recordsWritten": len(ids)}

    def _metadata_target(self, call: str, dataset: str):
        """(group name, schema) of the dataset a put_items/put_users call writes."""
        dtype = _KINDS[call][0]
        rec = self.catalog.get("dataset", dataset)
        if rec.config["datasetType"] != dtype:
            other = {"Items": "put_items", "Users": "put_users"}.get(rec.config["datasetType"], "put_events")
            raise InvalidInput(f"{call} writes the {dtype} dataset of a dataset group; {rec.name!r} is "
                               f"the {rec.config['datasetType']} dataset (use {other})")
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        return group.name, self._parsed(self.catalog.get("schema", rec.config["schemaArn"]))


__all__ = ["MetadataPutsAPI", "record_rows"]
