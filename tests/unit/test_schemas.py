"""Schema JSON parsing and checking (pypersonalize.schemas) against Amazon Personalize's rules.

The rules come from the Personalize developer guide (see ../shared/PERSONALIZE.md sections
1.2-1.5 and 1.9); the example schemas under tests/data/schemas/personalize_docs/ are the
guide's own code blocks, verbatim (see SOURCES.md there).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pypersonalize import domains
from pypersonalize.errors import SchemaError
from pypersonalize.schemas import Field, Schema, check_evolution, parse_schema

DOCS = Path(__file__).resolve().parents[1] / "data" / "schemas" / "personalize_docs"


# --------------------------------------------------------------------------- helpers

def record(name: str, fields: list, **extra) -> dict:
    out = {"type": "record", "name": name,
           "namespace": "com.amazonaws.personalize.schema", "fields": fields, "version": "1.0"}
    out.update(extra)
    return out


def f(name: str, type_="string", **attrs) -> dict:
    return {"name": name, "type": type_, **attrs}


def cat(name: str, nullable: bool = False) -> dict:
    return f(name, ["null", "string"] if nullable else "string", categorical=True)


USER_ID, ITEM_ID, TIMESTAMP = f("USER_ID"), f("ITEM_ID"), f("TIMESTAMP", "long")


def interactions(*extra: dict, base=(USER_ID, ITEM_ID, TIMESTAMP)) -> dict:
    return record("Interactions", [*base, *extra])


def items(*extra: dict) -> dict:
    return record("Items", [ITEM_ID, *extra])


def users(*extra: dict) -> dict:
    return record("Users", [USER_ID, *extra])


def without(schema: dict, name: str) -> dict:
    return {**schema, "fields": [x for x in schema["fields"] if x.get("name") != name]}


def error_of(schema, **kwargs) -> str:
    with pytest.raises(SchemaError) as err:
        parse_schema(schema, **kwargs)
    return str(err.value)


VOD, ECOM = "VIDEO_ON_DEMAND", "ECOMMERCE"
VOD_ITEMS_OK = [ITEM_ID, cat("GENRES"), f("CREATION_TIMESTAMP", "long")]
ECOM_ITEMS_OK = [ITEM_ID, f("PRICE", "float"), cat("CATEGORY_L1")]
DOMAIN_INTERACTIONS_OK = [USER_ID, ITEM_ID, f("EVENT_TYPE"), TIMESTAMP]


# ------------------------------------------------------- the developer guide's examples

DOC_FILES = sorted(p.name for p in DOCS.glob("*.json"))
DOC_DOMAIN = {
    "custom_interactions_context.json": None,
    "custom_items_textual_trailing_comma.json": None,
    "custom_items_how_it_works.json": None,
    "custom_users.json": None,
    "vod_default_interactions.json": VOD,
    "vod_default_users.json": VOD,
    "ecommerce_default_interactions.json": ECOM,
    "ecommerce_default_items.json": ECOM,
    "ecommerce_default_users.json": ECOM,
    # vod_default_items.json: see test_vod_default_items_schema_* (GENRES_L1 vs GENRES).
}
VOD_DEFAULT_ITEMS = "vod_default_items.json"


def read_fields_independently(path: Path) -> tuple[str, list[tuple]]:
    """(name, type, nullable, categorical, textual) per field, read straight from the JSON."""
    text = path.read_text(encoding="utf-8")
    # item-dataset-requirements' example has one trailing comma before the closing "]".
    doc = json.loads(re.sub(r",(\s*\])", r"\1", text))
    out = []
    for raw in doc["fields"]:
        members = raw["type"] if isinstance(raw["type"], list) else [raw["type"]]
        base = [m for m in members if m != "null"]
        assert len(base) == 1, raw
        out.append((raw["name"], base[0], "null" in members,
                    raw.get("categorical", False), raw.get("textual", False)))
    return doc["name"], out


def as_tuples(schema: Schema) -> list[tuple]:
    return [(x.name, x.type, x.nullable, x.categorical, x.textual) for x in schema.fields]


def test_doc_examples_present_and_listed_in_sources():
    assert len(DOC_FILES) >= 8
    assert set(DOC_FILES) == set(DOC_DOMAIN) | {VOD_DEFAULT_ITEMS}
    sources = (DOCS / "SOURCES.md").read_text(encoding="utf-8")
    for name in DOC_FILES:
        assert f"`{name}`" in sources, f"{name} not described in SOURCES.md"
    for prefix in ("custom", "vod", "ecommerce"):
        for kind in ("interactions", "items", "users"):
            assert any(n.startswith(prefix + "_") and f"_{kind}" in n for n in DOC_FILES), (prefix, kind)


@pytest.mark.parametrize("name", sorted(DOC_DOMAIN))
def test_doc_example_parses_unchanged_with_its_domain(name):
    path = DOCS / name
    dtype, expected = read_fields_independently(path)
    schema = parse_schema(path, domain=DOC_DOMAIN[name], dataset_type=dtype)
    assert schema.dataset_type == dtype
    assert schema.domain == DOC_DOMAIN[name]
    assert as_tuples(schema) == expected
    # Same result from the text itself and from a str path.
    assert parse_schema(path.read_text(encoding="utf-8"), domain=DOC_DOMAIN[name]) == schema
    assert parse_schema(str(path), domain=DOC_DOMAIN[name]) == schema


@pytest.mark.parametrize("name", DOC_FILES)
def test_every_doc_example_also_parses_in_a_custom_dataset_group(name):
    dtype, expected = read_fields_independently(DOCS / name)
    schema = parse_schema(DOCS / name)
    assert schema.domain is None and schema.dataset_type == dtype
    assert as_tuples(schema) == expected


def test_doc_interactions_example_field_by_field():
    s = parse_schema(DOCS / "custom_interactions_context.json")
    assert s.names == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "LOCATION", "DEVICE",
                       "TIMESTAMP", "IMPRESSION"]
    assert s.field("EVENT_VALUE") == Field("EVENT_VALUE", "float", True)
    assert s.field("LOCATION") == Field("LOCATION", "string", False, categorical=True)
    assert s.field("DEVICE") == Field("DEVICE", "string", True, categorical=True)
    assert s.field("IMPRESSION") == Field("IMPRESSION", "string", False, multi_value=True)
    assert s.field("TIMESTAMP") == Field("TIMESTAMP", "long", False)
    assert s.id_field is None


def test_doc_items_example_with_trailing_comma_is_tolerated():
    path = DOCS / "custom_items_textual_trailing_comma.json"
    text = path.read_text(encoding="utf-8")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)  # the file really is the guide's invalid JSON
    s = parse_schema(text, dataset_type="Items")
    assert s.field("DESCRIPTION") == Field("DESCRIPTION", "string", True, textual=True)
    assert s.field("GENRES") == Field("GENRES", "string", True, categorical=True)
    assert s.id_field == "ITEM_ID"


def test_domain_default_schemas_read_one_member_union_as_not_nullable():
    s = parse_schema(DOCS / "ecommerce_default_items.json", domain=ECOM)
    assert s.field("CATEGORY_L1") == Field("CATEGORY_L1", "string", False, categorical=True)
    assert s.field("PRICE") == Field("PRICE", "float", False)


def test_vod_default_items_schema_is_rejected_in_the_vod_domain():
    """Documented choice: the VOD default Items schema names its field GENRES_L1 while the
    same page requires GENRES; pypersonalize follows the text (see SOURCES.md)."""
    msg = error_of(DOCS / VOD_DEFAULT_ITEMS, domain=VOD)
    assert '"GENRES"' in msg and "required" in msg and VOD in msg


def test_vod_default_items_schema_parses_as_custom_and_with_genres_renamed():
    s = parse_schema(DOCS / VOD_DEFAULT_ITEMS)
    assert s.field("GENRES_L1") == Field("GENRES_L1", "string", False, categorical=True)
    fixed = json.loads((DOCS / VOD_DEFAULT_ITEMS).read_text(encoding="utf-8"))
    fixed["fields"][1]["name"] = "GENRES"
    assert parse_schema(fixed, domain=VOD).field("GENRES").categorical


# ------------------------------------------------------------ one failing schema per rule

BAD_JSON = '{"type": "record", "name": "Users", "fields": [{"name": "USER_ID" "type": "string"}]}'
LONG_NAME = "A" * (domains.MAX_FIELD_NAME + 1)

FAIL = [
    # --- document level
    pytest.param(BAD_JSON, {}, "line 1", "JSON", id="invalid-json"),
    pytest.param(json.dumps({**users(cat("G")), "schema": 1}), {}, "schema", "unknown top-level",
                 id="unknown-top-level-key"),
    pytest.param({**users(cat("G")), "type": "enum"}, {}, '"type"', "record", id="type-not-record"),
    pytest.param({k: v for k, v in users(cat("G")).items() if k != "type"}, {}, '"type"', "record",
                 id="type-missing"),
    pytest.param({**users(cat("G")), "name": "Movies"}, {}, "'Movies'", "dataset type",
                 id="name-not-a-dataset-type"),
    pytest.param(items(cat("G")), {"dataset_type": "Users"}, "'Items'", "dataset type",
                 id="name-vs-requested-dataset-type"),
    pytest.param({**users(cat("G")), "version": [1]}, {}, '"version"', "string",
                 id="version-not-a-string"),
    pytest.param({**users(cat("G")), "namespace": 7}, {}, '"namespace"', "string",
                 id="namespace-not-a-string"),
    pytest.param({k: v for k, v in users().items() if k != "fields"}, {}, '"fields"', "non-empty list",
                 id="fields-missing"),
    pytest.param(record("Users", []), {}, '"fields"', "non-empty list", id="fields-empty"),
    pytest.param({**users(), "fields": {"USER_ID": "string"}}, {}, '"fields"', "non-empty list",
                 id="fields-not-a-list"),
    # --- field level
    pytest.param(record("Users", [USER_ID, "AGE"]), {}, "field #2", "object", id="field-not-an-object"),
    pytest.param(record("Users", [USER_ID, {"type": "int"}]), {}, "field #2", '"name"',
                 id="field-name-missing"),
    pytest.param(record("Users", [USER_ID, {"name": 5, "type": "int"}]), {}, "field #2", '"name"',
                 id="field-name-not-a-string"),
    pytest.param(record("Users", [USER_ID, {"name": "", "type": "int"}]), {}, "field #2", '"name"',
                 id="field-name-empty"),
    pytest.param(users(f("GENDER", categorial=True)), {}, '"GENDER"', "unknown attribute",
                 id="unknown-field-attribute-typo-categorial"),
    pytest.param(users(f("GENRE-L2", "int")), {}, '"GENRE-L2"', "letters", id="field-name-with-dash"),
    pytest.param(users(f("GENRE L2", "int")), {}, '"GENRE L2"', "letters", id="field-name-with-space"),
    pytest.param(users(f("2ND_GENRE", "int")), {}, '"2ND_GENRE"', "letters",
                 id="field-name-starts-with-digit"),
    pytest.param(users(f("GÉNERO", "int")), {}, '"GÉNERO"', "letters", id="field-name-non-ascii"),
    pytest.param(users(f(LONG_NAME, "int")), {}, f'"{LONG_NAME}"', "at most 150 characters",
                 id="field-name-over-150-chars"),
    pytest.param(users(f("BLOB", "bytes")), {}, '"BLOB"', "not supported", id="type-bytes"),
    pytest.param(users(f("WHEN", "date")), {}, '"WHEN"', "not supported", id="type-unknown-name"),
    pytest.param(users(f("AGE", "INT")), {}, '"AGE"', "not supported", id="type-wrong-case"),
    pytest.param(users(f("NOTHING", "null")), {}, '"NOTHING"', '"null" alone', id="type-null-alone"),
    pytest.param(users({"name": "AGE"}), {}, '"AGE"', "missing", id="type-missing"),
    pytest.param(users(f("AGE", 3)), {}, '"AGE"', "not a type name", id="type-not-a-name"),
    pytest.param(users(f("ADDRESS", {"type": "record", "name": "A", "fields": [f("CITY")]})), {},
                 '"ADDRESS"', "flat", id="nested-record"),
    pytest.param(users(f("TAGS", {"type": "array", "items": "string"})), {}, '"TAGS"', "flat",
                 id="array-type"),
    pytest.param(users(f("TAGS", "array")), {}, '"TAGS"', "flat", id="array-type-by-name"),
    pytest.param(users(f("PREFS", {"type": "map", "values": "string"})), {}, '"PREFS"', "flat",
                 id="map-type"),
    pytest.param(users(f("TIER", {"type": "enum", "name": "T", "symbols": ["A", "B"]})), {}, '"TIER"',
                 "flat", id="enum-type"),
    pytest.param(users(f("HASH", {"type": "fixed", "name": "H", "size": 16})), {}, '"HASH"', "flat",
                 id="fixed-type"),
    pytest.param(users(f("AGE", ["string", "int"])), {}, '"AGE"', "union", id="union-two-non-null"),
    pytest.param(users(f("AGE", ["null", "string", "int"])), {}, '"AGE"', "union",
                 id="union-three-members"),
    pytest.param(users(f("AGE", ["null"])), {}, '"AGE"', "union", id="union-only-null"),
    pytest.param(users(f("AGE", [])), {}, '"AGE"', "union", id="union-empty"),
    pytest.param(users(f("AGE", ["int", "int"])), {}, '"AGE"', "repeat", id="union-repeats-type"),
    pytest.param(users(f("AGE", ["null", "int", "null"])), {}, '"AGE"', "repeat", id="union-repeats-null"),
    pytest.param(users(f("GENDER", categorical="true")), {}, '"GENDER"', "true or false",
                 id="categorical-not-a-bool"),
    pytest.param(users(f("GENDER", categorical=1)), {}, '"GENDER"', "true or false",
                 id="categorical-number"),
    pytest.param(items(f("DESCRIPTION", textual="yes")), {}, '"DESCRIPTION"', "true or false",
                 id="textual-not-a-bool"),
    pytest.param(users(f("AGE", "int", categorical=True)), {}, '"AGE"', "categorical",
                 id="categorical-on-int"),
    pytest.param(users(f("RATING", ["null", "float"], categorical=True)), {}, '"RATING"', "categorical",
                 id="categorical-on-nullable-float"),
    pytest.param(items(f("SIZE", "long", textual=True)), {}, '"SIZE"', "textual", id="textual-on-long"),
    pytest.param(users(f("BIO", textual=True)), {}, '"BIO"', "only in an Items schema",
                 id="textual-in-users"),
    pytest.param(interactions(f("NOTE", textual=True)), {}, '"NOTE"', "only in an Items schema",
                 id="textual-in-interactions"),
    pytest.param(items(f("DESCRIPTION", categorical=True, textual=True)), {}, '"DESCRIPTION"', "both",
                 id="categorical-and-textual"),
    # --- names
    pytest.param(users(cat("GENDER"), f("GENDER", "int")), {}, '"GENDER"', "repeated",
                 id="duplicate-name"),
    pytest.param(items(cat("GENRES_FIELD_1"), cat("GENRESFIELD1")), {}, '"GENRESFIELD1"', "clashes",
                 id="names-equal-without-underscores"),
    pytest.param(items(cat("GENRES"), cat("genres")), {}, '"genres"', "clashes", id="names-differ-in-case"),
    pytest.param(interactions(f("USERID")), {}, '"USERID"', "clashes", id="reserved-name-clash"),
    # --- required fields
    pytest.param(without(interactions(), "USER_ID"), {}, '"USER_ID"', "required",
                 id="interactions-missing-USER_ID"),
    pytest.param(without(interactions(), "ITEM_ID"), {}, '"ITEM_ID"', "required",
                 id="interactions-missing-ITEM_ID"),
    pytest.param(without(interactions(), "TIMESTAMP"), {}, '"TIMESTAMP"', "required",
                 id="interactions-missing-TIMESTAMP"),
    pytest.param(record("Items", [cat("GENRES")]), {}, '"ITEM_ID"', "required", id="items-missing-ITEM_ID"),
    pytest.param(record("Users", [cat("GENDER")]), {}, '"USER_ID"', "required", id="users-missing-USER_ID"),
    # --- reserved fields: type, nullability, flags
    pytest.param(interactions(base=(USER_ID, ITEM_ID, f("TIMESTAMP"))), {}, '"TIMESTAMP"', "must be",
                 id="TIMESTAMP-string"),
    pytest.param(interactions(base=(USER_ID, ITEM_ID, f("TIMESTAMP", "int"))), {}, '"TIMESTAMP"',
                 "must be", id="TIMESTAMP-int"),
    pytest.param(interactions(f("EVENT_VALUE")), {}, '"EVENT_VALUE"', "must be", id="EVENT_VALUE-string"),
    pytest.param(interactions(f("EVENT_VALUE", "long")), {}, '"EVENT_VALUE"', "must be",
                 id="EVENT_VALUE-long"),
    pytest.param(interactions(f("EVENT_TYPE", "int")), {}, '"EVENT_TYPE"', "must be", id="EVENT_TYPE-int"),
    pytest.param(interactions(base=(f("USER_ID", "int"), ITEM_ID, TIMESTAMP)), {}, '"USER_ID"', "must be",
                 id="interactions-USER_ID-int"),
    pytest.param(record("Users", [f("USER_ID", "int"), cat("G")]), {}, '"USER_ID"', "must be",
                 id="users-USER_ID-int"),
    pytest.param(record("Items", [f("ITEM_ID", "long"), cat("G")]), {}, '"ITEM_ID"', "must be",
                 id="items-ITEM_ID-long"),
    pytest.param(items(cat("G"), f("CREATION_TIMESTAMP")), {}, '"CREATION_TIMESTAMP"', "must be",
                 id="CREATION_TIMESTAMP-string"),
    pytest.param(interactions(base=(f("USER_ID", ["null", "string"]), ITEM_ID, TIMESTAMP)), {}, '"USER_ID"',
                 "nullable", id="USER_ID-nullable"),
    pytest.param(interactions(base=(USER_ID, f("ITEM_ID", ["string", "null"]), TIMESTAMP)), {}, '"ITEM_ID"',
                 "nullable", id="ITEM_ID-nullable"),
    pytest.param(interactions(base=(USER_ID, ITEM_ID, f("TIMESTAMP", ["null", "long"]))), {}, '"TIMESTAMP"',
                 "nullable", id="TIMESTAMP-nullable"),
    pytest.param(record("Users", [f("USER_ID", ["null", "string"]), cat("G")]), {}, '"USER_ID"', "nullable",
                 id="users-USER_ID-nullable"),
    pytest.param(interactions(f("EVENT_TYPE", categorical=True)), {}, '"EVENT_TYPE"', "cannot be categorical",
                 id="EVENT_TYPE-categorical"),
    pytest.param(interactions(f("IMPRESSION", categorical=True)), {}, '"IMPRESSION"', "cannot be categorical",
                 id="IMPRESSION-categorical"),
    pytest.param(interactions(base=(cat("USER_ID"), ITEM_ID, TIMESTAMP)), {}, '"USER_ID"',
                 "cannot be categorical", id="USER_ID-categorical"),
    pytest.param(record("Items", [f("ITEM_ID", textual=True), cat("G")]), {}, '"ITEM_ID"',
                 "cannot be textual", id="ITEM_ID-textual"),
    # --- counts
    pytest.param(items(), {}, '"ITEM_ID"', "metadata", id="items-no-metadata"),
    pytest.param(users(), {}, '"USER_ID"', "metadata", id="users-no-metadata"),
    pytest.param(users(*[f(f"F{i}", "int") for i in range(26)]), {}, '"F25"', "at most 25",
                 id="users-26-metadata"),
    pytest.param(items(*[f(f"F{i}", "int") for i in range(101)]), {}, '"F100"', "at most 100",
                 id="items-101-metadata"),
    pytest.param(items(f("D1", textual=True), f("D2", ["null", "string"], textual=True)), {}, '"D2"',
                 "at most one textual", id="items-two-textual"),
    pytest.param(interactions(f("EVENT_TYPE"), f("IMPRESSION"), *[cat(f"C{i}") for i in range(6)]), {},
                 '"C5"', "at most 5", id="interactions-6-custom-metadata"),
    # --- VIDEO_ON_DEMAND
    pytest.param(items(cat("GENRE_L2"), f("CREATION_TIMESTAMP", "long")), {"domain": VOD}, '"GENRES"',
                 "required", id="vod-items-missing-GENRES"),
    pytest.param(items(cat("GENRES")), {"domain": VOD}, '"CREATION_TIMESTAMP"', "required",
                 id="vod-items-missing-CREATION_TIMESTAMP"),
    pytest.param(items(f("GENRES"), f("CREATION_TIMESTAMP", "long")), {"domain": VOD}, '"GENRES"',
                 "categorical", id="vod-items-GENRES-not-categorical"),
    pytest.param(items(f("GENRES", textual=True), f("CREATION_TIMESTAMP", "long")), {"domain": VOD},
                 '"GENRES"', "categorical", id="vod-items-GENRES-textual"),
    pytest.param(record("Items", [*VOD_ITEMS_OK, f("CONTENT_OWNER")]), {"domain": VOD}, '"CONTENT_OWNER"',
                 "categorical", id="vod-items-CONTENT_OWNER-not-categorical"),
    pytest.param(record("Items", [*VOD_ITEMS_OK, f("PRICE")]), {"domain": VOD}, '"PRICE"', "must be",
                 id="vod-items-PRICE-string"),
    pytest.param(record("Items", [*VOD_ITEMS_OK, f("DURATION", "long")]), {"domain": VOD}, '"DURATION"',
                 "must be", id="vod-items-DURATION-long"),
    pytest.param(record("Items", [*VOD_ITEMS_OK, f("PRODUCT_DESCRIPTION")]), {"domain": VOD},
                 '"PRODUCT_DESCRIPTION"', "textual", id="vod-items-PRODUCT_DESCRIPTION-not-textual"),
    pytest.param(interactions(), {"domain": VOD}, '"EVENT_TYPE"', "required",
                 id="vod-interactions-missing-EVENT_TYPE"),
    pytest.param(users(f("SUBSCRIPTION_MODEL")), {"domain": VOD}, '"SUBSCRIPTION_MODEL"', "categorical",
                 id="vod-users-SUBSCRIPTION_MODEL-not-categorical"),
    # --- ECOMMERCE
    pytest.param(items(cat("CATEGORY_L1")), {"domain": ECOM}, '"PRICE"', "required",
                 id="ecommerce-items-missing-PRICE"),
    pytest.param(items(f("PRICE", "float")), {"domain": ECOM}, '"CATEGORY_L1"', "required",
                 id="ecommerce-items-missing-CATEGORY_L1"),
    pytest.param(items(f("PRICE", "float"), f("CATEGORY_L1")), {"domain": ECOM}, '"CATEGORY_L1"',
                 "categorical", id="ecommerce-items-CATEGORY_L1-not-categorical"),
    pytest.param(items(f("PRICE"), cat("CATEGORY_L1")), {"domain": ECOM}, '"PRICE"', "must be",
                 id="ecommerce-items-PRICE-string"),
    pytest.param(items(f("PRICE", "int"), cat("CATEGORY_L1")), {"domain": ECOM}, '"PRICE"', "must be",
                 id="ecommerce-items-PRICE-int"),
    pytest.param(record("Items", [*ECOM_ITEMS_OK, f("PRODUCT_DESCRIPTION")]), {"domain": ECOM},
                 '"PRODUCT_DESCRIPTION"', "textual", id="ecommerce-items-PRODUCT_DESCRIPTION-not-textual"),
    pytest.param(record("Items", [*ECOM_ITEMS_OK, cat("PRODUCT_DESCRIPTION")]), {"domain": ECOM},
                 '"PRODUCT_DESCRIPTION"', "categorical",
                 id="ecommerce-items-PRODUCT_DESCRIPTION-categorical"),
    pytest.param(record("Items", [*ECOM_ITEMS_OK, f("GENDER")]), {"domain": ECOM}, '"GENDER"',
                 "categorical", id="ecommerce-items-GENDER-not-categorical"),
    pytest.param(record("Items", [*ECOM_ITEMS_OK, cat("CATEGORY_L2"), f("CATEGORY_L3")]), {"domain": ECOM},
                 '"CATEGORY_L3"', "categorical", id="ecommerce-items-CATEGORY_L3-not-categorical"),
    pytest.param(interactions(), {"domain": ECOM}, '"EVENT_TYPE"', "required",
                 id="ecommerce-interactions-missing-EVENT_TYPE"),
]


@pytest.mark.parametrize(("schema", "kwargs", "names", "rule"), FAIL)
def test_rule_violation_raises_schema_error_naming_field_and_rule(schema, kwargs, names, rule):
    msg = error_of(schema, **kwargs)
    assert names in msg, f"{names!r} not in {msg!r}"
    assert rule.lower() in msg.lower(), f"{rule!r} not in {msg!r}"


@pytest.mark.parametrize("domain", [VOD, ECOM])
def test_domain_required_field_message_names_the_domain(domain):
    msg = error_of(interactions(), domain=domain)
    assert domain in msg and "EVENT_TYPE" in msg


def test_names_clash_message_names_both_fields():
    msg = error_of(items(cat("GENRES_FIELD_1"), cat("GENRESFIELD1")))
    assert '"GENRES_FIELD_1"' in msg and '"GENRESFIELD1"' in msg


def test_not_an_object_from_a_file(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text('[{"type": "record", "name": "Users"}]', encoding="utf-8")
    msg = error_of(path)
    assert "object" in msg


def test_invalid_json_from_a_file_names_the_place(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(BAD_JSON, encoding="utf-8")
    msg = error_of(path)
    assert "JSON" in msg and "line 1 column" in msg


def test_text_that_is_neither_json_nor_a_file():
    msg = error_of("no/such/schema.json")
    assert "no/such/schema.json" in msg and "file" in msg


@pytest.mark.parametrize("value", [42, None, ["fields"]])
def test_schema_argument_of_wrong_python_type(value):
    with pytest.raises(SchemaError):
        parse_schema(value)


def test_schema_error_is_an_invalid_input():
    from pypersonalize.errors import InvalidInput, PypersonalizeError
    assert issubclass(SchemaError, InvalidInput) and issubclass(SchemaError, PypersonalizeError)


# ---------------------------------------------------------------- things that are accepted

DOC_INTERACTIONS = json.loads((DOCS / "custom_interactions_context.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("order", ["reversed", "rotated", "ids-last", "timestamp-first"])
def test_fields_in_any_order(order):
    fields = list(DOC_INTERACTIONS["fields"])
    if order == "reversed":
        fields.reverse()
    elif order == "rotated":
        fields = fields[3:] + fields[:3]
    elif order == "ids-last":
        fields = fields[2:] + fields[:2]
    else:
        fields.sort(key=lambda x: x["name"] != "TIMESTAMP")
    s = parse_schema({**DOC_INTERACTIONS, "fields": fields})
    assert s.names == [x["name"] for x in fields]
    ref = parse_schema(DOC_INTERACTIONS)
    assert {x.name: x for x in s.fields} == {x.name: x for x in ref.fields}


@pytest.mark.parametrize("union", [["null", "string"], ["string", "null"]])
def test_nullable_union_in_either_order(union):
    s = parse_schema(users(f("GENDER", union, categorical=True)))
    assert s.field("GENDER") == Field("GENDER", "string", True, categorical=True)


@pytest.mark.parametrize("type_", ["int", "long", "float", "double", "boolean", "string"])
@pytest.mark.parametrize("null_first", [True, False])
def test_nullable_union_of_every_primitive(type_, null_first):
    union = ["null", type_] if null_first else [type_, "null"]
    s = parse_schema(items(f("X", union)))
    assert s.field("X") == Field("X", type_, True)


def test_five_custom_interaction_metadata_fields_plus_all_reserved():
    s = parse_schema(interactions(
        f("EVENT_TYPE"), f("EVENT_VALUE", ["float", "null"]), f("IMPRESSION", ["null", "string"]),
        f("RECOMMENDATION_ID", ["null", "string"]), f("EVENT_ATTRIBUTION_SOURCE", ["null", "string"]),
        *[cat(f"C{i}") for i in range(domains.MAX_INTERACTIONS_CUSTOM)]))
    assert len(s.fields) == 3 + 5 + 5


def test_twenty_five_users_metadata_fields():
    s = parse_schema(users(*[f(f"F{i}", "int") for i in range(25)]))
    assert len(s.fields) == 26


def test_hundred_items_metadata_fields_with_one_textual():
    s = parse_schema(items(f("D", textual=True), *[f(f"F{i}", "int") for i in range(99)]))
    assert len(s.fields) == 101 and [x.name for x in s.fields if x.textual] == ["D"]


def test_custom_items_without_creation_timestamp():
    s = parse_schema(items(cat("GENRES")))
    assert s.field("CREATION_TIMESTAMP") is None


def test_custom_items_without_genres():
    s = parse_schema(items(f("PRICE", "float"), f("CREATION_TIMESTAMP", "long")))
    assert s.field("GENRES") is None


@pytest.mark.parametrize("schema", [
    items(f("TITLE")), users(f("NICKNAME", ["null", "string"])), interactions(f("PAGE")),
], ids=["items", "users", "interactions"])
def test_non_categorical_plain_string_metadata_field(schema):
    s = parse_schema(schema)
    plain = s.fields[-1]
    assert plain.type == "string" and not plain.categorical and not plain.textual
    assert plain.sql_type == "VARCHAR"


def test_domain_reserved_names_are_free_in_a_custom_group():
    s = parse_schema(items(f("PRODUCT_DESCRIPTION"), f("GENDER"), f("PRICE"), f("GENRES", "int")))
    assert [x.sql_type for x in s.fields] == ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "INTEGER"]


def test_full_vod_items_schema():
    s = parse_schema(record("Items", [
        *VOD_ITEMS_OK, f("PRICE", ["null", "float"]), f("DURATION", "double"), cat("GENRE_L2", True),
        cat("GENRE_L3", True), f("AVERAGE_RATING", ["null", "float"]),
        f("PRODUCT_DESCRIPTION", ["null", "string"], textual=True), cat("CONTENT_OWNER", True),
        cat("CONTENT_CLASSIFICATION", True), f("MY_OWN", "int")]), domain="video_on_demand")
    assert s.domain == VOD and len(s.fields) == 12


def test_full_ecommerce_items_schema_with_float_creation_timestamp():
    # ECOMMERCE-items-dataset types CREATION_TIMESTAMP as float (see SOURCES.md).
    s = parse_schema(record("Items", [
        *ECOM_ITEMS_OK, cat("CATEGORY_L2", True), cat("CATEGORY_L3", True),
        f("PRODUCT_DESCRIPTION", ["null", "string"], textual=True), f("CREATION_TIMESTAMP", "float"),
        cat("AGE_GROUP", True), cat("ADULT", True), cat("GENDER", True)]), domain=ECOM)
    assert s.field("CREATION_TIMESTAMP").type == "float"


@pytest.mark.parametrize("domain", [VOD, ECOM])
def test_domain_interactions_and_users(domain):
    assert parse_schema(record("Interactions", DOMAIN_INTERACTIONS_OK), domain=domain).domain == domain
    assert parse_schema(users(f("AGE", "int")), domain=domain).domain == domain


@pytest.mark.parametrize("dataset_type", ["Interactions", "INTERACTIONS", "interactions"])
def test_requested_dataset_type_is_case_insensitive(dataset_type):
    assert parse_schema(interactions(), dataset_type=dataset_type).dataset_type == "Interactions"


def test_optional_avro_attributes_are_accepted():
    s = parse_schema(record("Users", [
        f("USER_ID", doc="the user"), f("AGE", ["null", "int"], default=None, order="ascending"),
        f("GENDER", categorical=True, aliases=["SEX"])], doc="users"))
    assert s.names == ["USER_ID", "AGE", "GENDER"]


def test_explicit_false_flags_and_type_object():
    s = parse_schema(users(f("GENDER", {"type": "string"}, categorical=False, textual=False)))
    assert s.field("GENDER") == Field("GENDER", "string", False)


def test_underscore_and_long_names_at_the_limit():
    name = "A" * domains.MAX_FIELD_NAME
    s = parse_schema(users(f(name, "int"), f("_PRIVATE", "int"), f("x9", "int")))
    assert s.names[1:] == [name, "_PRIVATE", "x9"]


# ------------------------------------------------------------------------------ sql types

@pytest.mark.parametrize(("schema", "name", "sql"), [
    (users(cat("GENDER")), "GENDER", "VARCHAR[]"),
    (users(cat("GENDER", nullable=True)), "GENDER", "VARCHAR[]"),
    (interactions(f("IMPRESSION")), "IMPRESSION", "VARCHAR[]"),
    (interactions(f("IMPRESSION", ["null", "string"])), "IMPRESSION", "VARCHAR[]"),
    (interactions(), "TIMESTAMP", "BIGINT"),
    (users(f("AGE", "long")), "AGE", "BIGINT"),
    (users(f("AGE", "int")), "AGE", "INTEGER"),
    # Avro float is stored as DOUBLE on purpose (commit 1acabbd: a FLOAT column holds 0.9 as
    # 0.89999998, so filters and eventValueThreshold would miss values written as 0.9).
    (users(f("SCORE", "float")), "SCORE", "DOUBLE"),
    (users(f("SCORE", ["null", "double"])), "SCORE", "DOUBLE"),
    (users(f("ACTIVE", "boolean")), "ACTIVE", "BOOLEAN"),
    (users(f("NICK")), "NICK", "VARCHAR"),
    (items(f("DESCRIPTION", textual=True)), "DESCRIPTION", "VARCHAR"),
    (interactions(f("EVENT_TYPE")), "EVENT_TYPE", "VARCHAR"),
    (interactions(), "USER_ID", "VARCHAR"),
], ids=["categorical", "categorical-nullable", "IMPRESSION", "IMPRESSION-nullable", "TIMESTAMP",
        "long", "int", "float", "double", "boolean", "plain-string", "textual", "EVENT_TYPE", "USER_ID"])
def test_sql_type(schema, name, sql):
    field = parse_schema(schema).field(name)
    assert field.sql_type == sql
    assert field.is_list == (sql == "VARCHAR[]")


def test_sql_types_of_doc_interactions_example():
    s = parse_schema(DOCS / "custom_interactions_context.json")
    assert [x.sql_type for x in s.fields] == [
        "VARCHAR", "VARCHAR", "VARCHAR", "DOUBLE", "VARCHAR[]", "VARCHAR[]", "BIGINT", "VARCHAR[]"]


# ------------------------------------------------------------------------ schema evolution

OLD_USERS = parse_schema(DOCS / "custom_users.json")
OLD_ITEMS = parse_schema(DOCS / "custom_items_how_it_works.json")


def users_doc_fields() -> list[dict]:
    return json.loads((DOCS / "custom_users.json").read_text(encoding="utf-8"))["fields"]


def evolution_error(old: Schema, new: Schema) -> str:
    with pytest.raises(SchemaError) as err:
        check_evolution(old, new)
    return str(err.value)


def test_evolution_unchanged_schema_passes():
    check_evolution(OLD_USERS, parse_schema(DOCS / "custom_users.json"))


@pytest.mark.parametrize("union", [["null", "string"], ["string", "null"]])
def test_evolution_adding_a_nullable_field_passes(union):
    new = parse_schema(record("Users", [*users_doc_fields(), f("MEMBERSHIP", union, categorical=True)]))
    check_evolution(OLD_USERS, new)


def test_evolution_adding_nullable_textual_field_to_items_passes():
    fields = [*json.loads((DOCS / "custom_items_how_it_works.json").read_text())["fields"],
              f("DESCRIPTION", ["null", "string"], textual=True)]
    check_evolution(OLD_ITEMS, parse_schema(record("Items", fields)))


def test_evolution_adding_a_non_nullable_field_fails_naming_it():
    new = parse_schema(record("Users", [*users_doc_fields(), f("MEMBERSHIP", categorical=True)]))
    msg = evolution_error(OLD_USERS, new)
    assert '"MEMBERSHIP"' in msg and "nullable" in msg


def test_evolution_dropping_a_field_fails_naming_it():
    new = parse_schema(record("Users", [x for x in users_doc_fields() if x["name"] != "AGE"]))
    msg = evolution_error(OLD_USERS, new)
    assert '"AGE"' in msg and "drops" in msg


@pytest.mark.parametrize(("name", "change"), [
    ("AGE", {"type": "long"}),
    ("AGE", {"type": "float"}),
    ("AGE", {"type": ["null", "int"]}),
    ("GENDER", {"categorical": False}),
    ("GENDER", {"type": ["null", "string"]}),
], ids=["int-to-long", "int-to-float", "made-nullable", "categorical-dropped", "gender-made-nullable"])
def test_evolution_changing_a_field_fails_naming_it(name, change):
    fields = [({**x, **change} if x["name"] == name else x) for x in users_doc_fields()]
    msg = evolution_error(OLD_USERS, parse_schema(record("Users", fields)))
    assert f'"{name}"' in msg and "unchanged" in msg


def test_evolution_adding_categorical_flag_fails():
    old = parse_schema(users(f("TIER", ["null", "string"])))
    new = parse_schema(users(f("TIER", ["null", "string"], categorical=True)))
    msg = evolution_error(old, new)
    assert '"TIER"' in msg and "categorical" in msg


def test_evolution_interactions_cannot_be_replaced():
    old = parse_schema(DOCS / "custom_interactions_context.json")
    new = parse_schema({**DOC_INTERACTIONS, "fields": [*DOC_INTERACTIONS["fields"],
                                                       f("PAGE", ["null", "string"])]})
    for target in (new, old):
        msg = evolution_error(old, target)
        assert "Interactions" in msg and "only Items and Users" in msg


def test_evolution_dataset_type_change_fails():
    msg = evolution_error(OLD_ITEMS, OLD_USERS)
    assert "Users" in msg and "Items" in msg


# ------------------------------------------------------------------ property: round trip

PRIMITIVES = ("string", "int", "long", "float", "double", "boolean")


def fold(name: str) -> str:
    return name.replace("_", "").upper()


_TAKEN = {fold(n) for t in domains.DATASET_TYPES for n in domains.RESERVED[t]}
_TAKEN |= {fold(n) for d in domains.DOMAINS for t in domains.DATASET_TYPES
           for n in domains.DOMAIN_RESERVED[d][t]}
_TAKEN |= {fold(n) for n in domains.LIST_FIELDS}
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,40}", fullmatch=True).filter(lambda n: fold(n) not in _TAKEN)


def avro_type(draw, t: str, nullable: bool):
    if nullable:
        return draw(st.sampled_from([["null", t], [t, "null"]]))
    return draw(st.sampled_from([t, [t]]))


@st.composite
def custom_schemas(draw):
    dtype = draw(st.sampled_from(domains.DATASET_TYPES))
    most = {"Interactions": domains.MAX_INTERACTIONS_CUSTOM, "Users": domains.MAX_METADATA["Users"],
            "Items": 60}[dtype]
    names = draw(st.lists(NAMES, min_size=0 if dtype == "Interactions" else 1, max_size=most,
                          unique_by=fold))
    raws, expected = [], []
    has_textual = False
    for name in names:
        t = draw(st.sampled_from(PRIMITIVES))
        nullable = draw(st.booleans())
        flags = {}
        if t == "string":
            options = ["plain", "categorical"] + (["textual"] if dtype == "Items" and not has_textual else [])
            kind = draw(st.sampled_from(options))
            if kind != "plain":
                flags[kind] = True
                has_textual |= kind == "textual"
            elif draw(st.booleans()):
                flags["categorical"] = False
        raws.append({"name": name, "type": avro_type(draw, t, nullable), **flags})
        expected.append(Field(name, t, nullable, flags.get("categorical", False),
                              flags.get("textual", False)))
    required = {"Interactions": [("USER_ID", "string"), ("ITEM_ID", "string"), ("TIMESTAMP", "long")],
                "Items": [("ITEM_ID", "string")], "Users": [("USER_ID", "string")]}[dtype]
    for name, t in required:
        raws.append({"name": name, "type": avro_type(draw, t, False)})
        expected.append(Field(name, t, False))
    optional = {"Interactions": [("EVENT_TYPE", "string", False), ("EVENT_VALUE", "float", True),
                                 ("IMPRESSION", "string", True), ("RECOMMENDATION_ID", "string", True),
                                 ("EVENT_ATTRIBUTION_SOURCE", "string", True)],
                "Items": [("CREATION_TIMESTAMP", "long", False)], "Users": []}[dtype]
    for name, t, may_be_null in optional:
        if draw(st.booleans()):
            nullable = may_be_null and draw(st.booleans())
            raws.append({"name": name, "type": avro_type(draw, t, nullable)})
            expected.append(Field(name, t, nullable, multi_value=name == "IMPRESSION"))
    order = draw(st.permutations(range(len(raws))))
    return (record(dtype, [raws[i] for i in order]), [expected[i] for i in order])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(custom_schemas())
def test_random_valid_custom_schemas_parse_and_round_trip(case):
    doc, expected = case
    schema = parse_schema(json.dumps(doc), dataset_type=doc["name"])
    assert list(schema.fields) == expected
    again = parse_schema(record(doc["name"], [json.loads(json.dumps(x.to_avro())) for x in schema.fields]))
    assert again == schema
    for field in schema.fields:
        one = parse_schema(record(doc["name"], [x.to_avro() for x in schema.fields])).field(field.name)
        assert one == field


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(custom_schemas(), st.data())
def test_random_schema_plus_a_case_variant_duplicate_is_rejected(case, data):
    doc, _ = case
    original = data.draw(st.sampled_from(doc["fields"]))
    twin = {**original, "name": original["name"].swapcase()}
    pos = data.draw(st.integers(0, len(doc["fields"])))
    fields = [*doc["fields"][:pos], twin, *doc["fields"][pos:]]
    msg = error_of({**doc, "fields": fields})
    assert f'"{twin["name"]}"' in msg or f'"{original["name"]}"' in msg


# ------------------------------------------------- regressions for rules found by these tests

@pytest.mark.parametrize("type_", [
    ["null", {"type": "array", "items": "string"}],
    ["null", {"type": "record", "name": "R", "fields": []}],
    ["null", ["string"]],
    {"type": ["null", "string"]},
    {"type": {"type": "string"}},
], ids=["union-with-array", "union-with-record", "union-with-list", "object-with-union", "object-in-object"])
def test_complex_type_inside_union_is_a_schema_error(type_):
    msg = error_of(users(f("TAGS", type_)))
    assert '"TAGS"' in msg


def test_field_name_with_trailing_newline_is_rejected():
    msg = error_of(users(f("GENRES\n", "int")))
    assert "letters" in msg


@pytest.mark.parametrize("text", ['[{"type": "record", "name": "Users"}]', '"Users"', "null"])
def test_json_text_that_is_not_an_object_says_object(text):
    msg = error_of(text)
    assert "object" in msg


def test_items_with_only_creation_timestamp_has_no_metadata():
    msg = error_of(items(f("CREATION_TIMESTAMP", "long")))
    assert '"ITEM_ID"' in msg and "metadata" in msg


def test_items_hundred_metadata_fields_plus_creation_timestamp():
    s = parse_schema(items(f("CREATION_TIMESTAMP", "long"), *[f(f"F{i}", "int") for i in range(100)]))
    assert len(s.fields) == 102


@pytest.mark.parametrize("schema", [items(f("IMPRESSION")), users(f("IMPRESSION"))], ids=["items", "users"])
def test_impression_outside_interactions_is_plain_varchar(schema):
    assert parse_schema(schema).field("IMPRESSION").sql_type == "VARCHAR"


@pytest.mark.parametrize(("schema", "kwargs", "name"), [
    (interactions(f("EVENT_TYPE", ["null", "string"])), {}, "EVENT_TYPE"),
    (items(cat("G"), f("CREATION_TIMESTAMP", ["null", "long"])), {}, "CREATION_TIMESTAMP"),
    (record("Items", [ITEM_ID, f("CREATION_TIMESTAMP", "long"), cat("GENRES", True)]), {"domain": VOD},
     "GENRES"),
    (items(f("PRICE", ["null", "float"]), cat("CATEGORY_L1")), {"domain": ECOM}, "PRICE"),
    (items(f("PRICE", "float"), cat("CATEGORY_L1", True)), {"domain": ECOM}, "CATEGORY_L1"),
], ids=["EVENT_TYPE", "CREATION_TIMESTAMP", "vod-GENRES", "ecommerce-PRICE", "ecommerce-CATEGORY_L1"])
def test_reserved_fields_documented_without_null_cannot_be_nullable(schema, kwargs, name):
    msg = error_of(schema, **kwargs)
    assert f'"{name}"' in msg and "nullable" in msg
