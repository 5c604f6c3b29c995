"""Amazon Personalize schema JSON (an Avro record) parsed and checked as Personalize does.

>>> s = parse_schema('''{"type": "record", "name": "Interactions",
...   "fields": [{"name": "USER_ID", "type": "string"},
...              {"name": "ITEM_ID", "type": "string"},
...              {"name": "TIMESTAMP", "type": "long"}], "version": "1.0"}''')
>>> [f.sql_type for f in s.fields]
['VARCHAR', 'VARCHAR', 'BIGINT']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import domains
from .errors import SchemaError

# Avro float is stored as DOUBLE: a FLOAT column holds 0.9 as 0.89999998, so a filter or
# an eventValueThreshold of 0.9 would silently miss values the user wrote as 0.9.
PRIMITIVES = {
    "string": "VARCHAR", "int": "INTEGER", "long": "BIGINT",
    "float": "DOUBLE", "double": "DOUBLE", "boolean": "BOOLEAN",
}
_NOT_FLAT = {"record", "array", "map", "enum", "fixed"}
# Field names DuckDB itself gives a meaning in every table (identifiers ignore case).
INTERNAL_NAMES = {"rowid": "rowid is the name of DuckDB's built-in row number column in every "
                           "table, so a field of that name would hide it"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD_KEYS = {"name", "type", "categorical", "textual", "itemName", "doc", "default", "aliases", "order"}
_RECORD_KEYS = {"type", "name", "namespace", "fields", "version", "doc", "aliases"}


@dataclass(frozen=True)
class Field:
    name: str
    type: str          # Avro primitive
    nullable: bool
    categorical: bool = False
    textual: bool = False
    multi_value: bool = False   # IMPRESSION in Interactions: a '|' list though not categorical
    item_name: bool = False     # "itemName": true: the item's title (Items; Semantic-Similarity)

    @property
    def is_list(self) -> bool:
        """Multi-value fields (``a|b|c``) are stored as ``VARCHAR[]``."""
        return self.type == "string" and (self.categorical or self.multi_value)

    @property
    def sql_type(self) -> str:
        return "VARCHAR[]" if self.is_list else PRIMITIVES[self.type]

    def to_avro(self) -> dict:
        out: dict[str, Any] = {"name": self.name,
                               "type": ["null", self.type] if self.nullable else self.type}
        if self.categorical:
            out["categorical"] = True
        if self.textual:
            out["textual"] = True
        if self.item_name:
            out["itemName"] = True
        return out


@dataclass(frozen=True)
class Schema:
    dataset_type: str
    fields: tuple[Field, ...]
    domain: str | None = None

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field | None:
        """The field named ``name``; case is ignored (as Personalize's filters ignore it, and no
        two fields of a schema differ only in case)."""
        for f in self.fields:
            if f.name == name:
                return f
        folded = name.upper() if isinstance(name, str) else None
        return next((f for f in self.fields if f.name.upper() == folded), None)

    @property
    def id_field(self) -> str | None:
        return domains.ID_FIELD[self.dataset_type]


def load_schema_text(schema: str | dict | Path) -> str:
    """The schema as JSON text, from a dict, a JSON string or a path to a file."""
    if isinstance(schema, dict):
        return json.dumps(schema)
    if isinstance(schema, str) and schema.lstrip().startswith("{"):
        return schema
    if isinstance(schema, (str, Path)):
        path = Path(schema)
        if path.exists() and not path.is_file():
            raise SchemaError(f"schema file {path} is not a regular file")
        if path.is_file():
            return _read_schema_file(path)
        try:
            json.loads(str(schema))
        except ValueError:
            raise SchemaError(f"schema is neither JSON text nor an existing file: "
                              f"{str(schema)[:80]!r}") from None
        return str(schema)   # JSON, but not an object: parse_schema says so
    raise SchemaError(f"schema must be JSON text, a dict or a file path, not {type(schema).__name__}")


def _read_schema_file(path: Path) -> str:
    """A schema file's text; its contents are never quoted back, only described."""
    data = path.read_bytes()[: 1_000_001]
    if len(data) > 1_000_000:
        raise SchemaError(f"schema file {path} is larger than 1 MB; a Personalize schema is a "
                          "small JSON document")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SchemaError(f"schema file {path} is not UTF-8 text; expected Personalize schema JSON") from None
    if not text.lstrip().startswith("{"):
        raise SchemaError(f"schema file {path} does not hold a JSON object; expected Personalize "
                          'schema JSON starting with {"type": "record", ...}')
    return text


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        # The developer guide's own Items example ends its field list with a trailing
        # comma; accept that one slip so that schemas copied from the guide work.
        relaxed = re.sub(r",(\s*[\]}])", r"\1", text)
        try:
            return json.loads(relaxed)
        except json.JSONDecodeError:
            raise SchemaError(f"schema is not valid JSON: {first.msg} at line {first.lineno} "
                              f"column {first.colno}") from None


def parse_schema(schema: str | dict | Path, domain: str | None = None,
                 dataset_type: str | None = None) -> Schema:
    """Parse and validate a Personalize schema; raise :class:`SchemaError` naming the rule."""
    doc = _loads(load_schema_text(schema)) if not isinstance(schema, dict) else schema
    domain = domains.normalize_domain(domain)
    if not isinstance(doc, dict):
        raise SchemaError("schema must be a JSON object (an Avro record)")
    unknown = sorted(set(doc) - _RECORD_KEYS)
    if unknown:
        raise SchemaError(f"schema has unknown top-level key(s) {', '.join(unknown)}; "
                          f"allowed: {', '.join(sorted(_RECORD_KEYS))}")
    if doc.get("type") != "record":
        raise SchemaError(f'schema "type" must be "record", got {doc.get("type")!r}')
    # Personalize reads the record name without regard to case (Amazon's own samples name it
    # "interactions"); the dataset type, not the name, decides the rules.
    given = doc.get("name")
    name = next((t for t in domains.DATASET_TYPES if isinstance(given, str) and given.lower() == t.lower()),
                None)
    if name is None:
        raise SchemaError(f'schema "name" must be the dataset type, one of '
                          f'{", ".join(domains.DATASET_TYPES)}; got {given!r}')
    if dataset_type is not None and name != domains.normalize_dataset_type(dataset_type):
        raise SchemaError(f'schema "name" is {name!r} but the dataset type is '
                          f'{domains.normalize_dataset_type(dataset_type)!r}')
    for key in ("namespace", "doc"):
        if key in doc and not isinstance(doc[key], str):
            raise SchemaError(f'schema "{key}" must be a string')
    # "version" is informational; Amazon's samples give it as "1.0" or as the number 1.0.
    if "version" in doc and (isinstance(doc["version"], bool)
                             or not isinstance(doc["version"], (str, int, float))):
        raise SchemaError('schema "version" must be a string like "1.0" (or a number)')
    raw_fields = doc.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise SchemaError('schema "fields" must be a non-empty list')
    fields = tuple(_parse_field(raw, i, name) for i, raw in enumerate(raw_fields))
    result = Schema(dataset_type=name, fields=fields, domain=domain)
    _check_names(result)
    _check_reserved(result)
    _check_counts(result)
    return result


def _parse_field(raw: Any, index: int, dataset_type: str) -> Field:
    if not isinstance(raw, dict):
        raise SchemaError(f"field #{index + 1}: each field must be a JSON object")
    fname = raw.get("name")
    if not isinstance(fname, str) or not fname:
        raise SchemaError(f'field #{index + 1}: "name" is missing or not a string')
    label = f'field "{fname}"'
    unknown = sorted(set(raw) - _FIELD_KEYS)
    if unknown:
        raise SchemaError(f"{label}: unknown attribute(s) {', '.join(unknown)}; allowed: "
                          f"{', '.join(sorted(_FIELD_KEYS))}")
    if not _NAME.fullmatch(fname):
        raise SchemaError(f"{label}: a field name must start with a letter or _ and hold only "
                          "letters, digits and _")
    if fname.lower() in INTERNAL_NAMES:
        raise SchemaError(f"{label}: {INTERNAL_NAMES[fname.lower()]}; choose another field name")
    if len(fname) > domains.MAX_FIELD_NAME:
        raise SchemaError(f"{label}: a field name may have at most {domains.MAX_FIELD_NAME} characters")
    ftype, nullable = _parse_type(raw.get("type"), label)
    cat, text = raw.get("categorical", False), raw.get("textual", False)
    name_flag = raw.get("itemName", False)
    for attr, val in (("categorical", cat), ("textual", text), ("itemName", name_flag)):
        if not isinstance(val, bool):
            raise SchemaError(f'{label}: "{attr}" must be true or false, got {val!r}')
    if cat and text:
        raise SchemaError(f"{label}: a field cannot be both categorical and textual")
    if (cat or text) and ftype != "string":
        attr = "categorical" if cat else "textual"
        raise SchemaError(f'{label}: only "string" fields can be {attr}, this one is "{ftype}"')
    if text and dataset_type != "Items":
        raise SchemaError(f"{label}: textual fields are allowed only in an Items schema, "
                          f"not in {dataset_type}")
    if name_flag:
        _check_item_name(label, fname, ftype, cat, text, dataset_type)
    multi = fname in domains.LIST_FIELDS[dataset_type]
    return Field(fname, ftype, nullable, cat, text, multi, name_flag)


def _check_item_name(label: str, fname: str, ftype: str, cat: bool, text: bool, dataset_type: str) -> None:
    """Personalize's ``"itemName": true``: the one string field of an Items schema holding the
    item's title (Semantic-Similarity reads it next to the textual description)."""
    if dataset_type != "Items":
        raise SchemaError(f'{label}: "itemName" marks the item title and is allowed only in an Items '
                          f"schema, not in {dataset_type}")
    if ftype != "string":
        raise SchemaError(f'{label}: only a "string" field can be the itemName, this one is "{ftype}"')
    if fname in domains.NON_METADATA["Items"]:
        raise SchemaError(f"{label}: {fname} cannot be the itemName; mark the field holding the item's title")
    if cat or text:
        raise SchemaError(f'{label}: the itemName field holds the plain title and cannot also be '
                          f'{"categorical" if cat else "textual"} (the description is a separate textual field)')


def _parse_type(t: Any, label: str) -> tuple[str, bool]:
    if isinstance(t, str):
        return _primitive(t, label), False
    if isinstance(t, list):
        members = list(t)
        for m in members:
            if not isinstance(m, str):
                raise SchemaError(f"{label}: a union may hold only primitive type names and "
                                  f'"null"; schemas must be flat records, got {json.dumps(t)}')
        if len(members) != len(set(members)):
            raise SchemaError(f"{label}: a union must not repeat a type: {t}")
        non_null = [m for m in members if m != "null"]
        if len(non_null) != 1 or len(members) > 2:
            raise SchemaError(f'{label}: a union must be one type plus "null", e.g. '
                              f'["null", "string"]; got {json.dumps(t)}')
        return _primitive(non_null[0], label), len(members) == 2
    if isinstance(t, dict):
        inner = t.get("type")
        if not isinstance(inner, str):
            raise SchemaError(f'{label}: a type object must name one primitive type, got {json.dumps(t)}')
        if inner in _NOT_FLAT:
            raise SchemaError(f'{label}: type "{inner}" is not supported; schemas must be flat '
                              "records of float, double, int, long, string or boolean")
        return _primitive(inner, label), False
    raise SchemaError(f'{label}: "type" is missing or not a type name')


def _primitive(t: Any, label: str) -> str:
    if t == "null":
        raise SchemaError(f'{label}: "null" alone is not a type; use a union like ["null", "string"]')
    if isinstance(t, str) and t in _NOT_FLAT:
        raise SchemaError(f'{label}: type "{t}" is not supported; schemas must be flat records')
    if not isinstance(t, str) or t not in PRIMITIVES:
        raise SchemaError(f"{label}: type {json.dumps(t)} is not supported; use one of "
                          f"{', '.join(PRIMITIVES)} (or a union with \"null\")")
    return t


def _check_names(schema: Schema) -> None:
    seen: dict[str, str] = {}
    for f in schema.fields:
        # Personalize treats GENRES_FIELD_1 and GENRESFIELD1 as the same name; DuckDB
        # column names are case-insensitive, so case is folded too.
        key = f.name.replace("_", "").upper()
        if key in seen:
            other = seen[key]
            rule = "is repeated" if other == f.name else (
                f'clashes with field "{other}" (names must differ in more than case and "_")')
            raise SchemaError(f'field "{f.name}": {rule}')
        seen[key] = f.name


def _check_reserved(schema: Schema) -> None:
    rules = domains.rules_for(schema.dataset_type, schema.domain)
    for f in schema.fields:
        rule = rules.get(f.name)
        if rule is None:
            continue
        where = f"reserved field {f.name}" + (f" of the {schema.domain} domain"
                                              if f.name not in domains.RESERVED[schema.dataset_type]
                                              else "")
        if f.type not in rule.types:
            raise SchemaError(f'field "{f.name}": {where} must be {rule.describe()}, got "{f.type}"')
        if rule.categorical is True and not f.categorical:
            raise SchemaError(f'field "{f.name}": {where} must have "categorical": true')
        if rule.categorical is False and f.categorical:
            raise SchemaError(f'field "{f.name}": {where} cannot be categorical')
        if rule.textual is True and not f.textual:
            raise SchemaError(f'field "{f.name}": {where} must have "textual": true')
        if rule.textual is False and f.textual:
            raise SchemaError(f'field "{f.name}": {where} cannot be textual')
        if not rule.nullable and f.nullable:
            raise SchemaError(f'field "{f.name}": {where} cannot be nullable (drop "null" from its type)')
    for req in domains.required_for(schema.dataset_type, schema.domain):
        if schema.field(req) is None:
            scope = (f"a {schema.domain} " if req not in domains.REQUIRED[schema.dataset_type]
                     else "every ")
            raise SchemaError(f'field "{req}": required in {scope}{schema.dataset_type} schema '
                              f"but missing ({rules[req].describe()})")


def _check_counts(schema: Schema) -> None:
    t = schema.dataset_type
    if t in ("Items", "Users"):
        meta = [f for f in schema.fields if f.name not in domains.NON_METADATA[t]]
        if not meta:
            raise SchemaError(f'field "{schema.id_field}": every {t} schema needs at least one '
                              "metadata field besides it and the reserved fields")
        limit = domains.MAX_METADATA[t]
        if len(meta) > limit:
            raise SchemaError(f'field "{meta[limit].name}": {t} schemas may have at most '
                              f"{limit} metadata fields, this one has {len(meta)}")
    if t == "Items":
        named = [f for f in schema.fields if f.item_name]
        if len(named) > 1:
            raise SchemaError(f'field "{named[1].name}": an Items schema may mark only one field with '
                              f'"itemName": true, "{named[0].name}" already is')
        textual = [f for f in schema.fields if f.textual]
        if len(textual) > domains.MAX_TEXTUAL_ITEMS:
            raise SchemaError(f'field "{textual[1].name}": an Items schema may have at most one '
                              "textual field")
    if t == "Interactions":
        custom = [f for f in schema.fields if f.name not in domains.INTERACTIONS_SYSTEM]
        if len(custom) > domains.MAX_INTERACTIONS_CUSTOM:
            raise SchemaError(f'field "{custom[domains.MAX_INTERACTIONS_CUSTOM].name}": an '
                              f"Interactions schema may have at most {domains.MAX_INTERACTIONS_CUSTOM} "
                              f"metadata fields besides the reserved ones, this one has {len(custom)}")


def check_evolution(old: Schema, new: Schema) -> None:
    """Personalize's rule for replacing a schema: keep every field, add only nullable ones."""
    if old.dataset_type not in ("Items", "Users"):
        raise SchemaError(f"only Items and Users schemas can be replaced, not {old.dataset_type}")
    if new.dataset_type != old.dataset_type:
        raise SchemaError(f'new schema is for {new.dataset_type}, the dataset holds {old.dataset_type}')
    for f in old.fields:
        g = new.field(f.name)
        if g is None:
            raise SchemaError(f'field "{f.name}": the new schema drops it; existing fields must be kept')
        if g != f:
            raise SchemaError(f'field "{f.name}": the new schema changes it from {f.to_avro()} to '
                              f"{g.to_avro()}; existing fields must stay unchanged")
    for g in new.fields:
        if old.field(g.name) is None and not g.nullable:
            raise SchemaError(f'field "{g.name}": a field added to an existing dataset must be '
                              f'nullable, e.g. ["null", "{g.type}"]')
