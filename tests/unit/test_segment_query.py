"""itemAttributes queries (Item-Attribute-Affinity batch segment jobs): every accepted form,
every refusal with its message and the position of the offending token, and the check
against the Items schema."""

from __future__ import annotations

import json

import pytest

from pypersonalize.errors import InvalidInput
from pypersonalize.schemas import parse_schema
from pypersonalize.segment_query import (
    MAX_LENGTH,
    Condition,
    SegmentQueryError,
    check_item_attributes,
    item_attributes,
    parse_item_attributes,
    usable_columns,
)
from tests.conftest import DATA

# The developer guide's input lines, verbatim ("Getting batch user segments").
DOC_LINES = [
    r'{"itemAttributes": "ITEMS.genres = \"Comedy\" AND ITEMS.genres = \"Action\""}',
    r'{"itemAttributes": "ITEMS.genres = \"Comedy\""}',
    r'{"itemAttributes": "ITEMS.genres = \"Horror\" AND ITEMS.genres = \"Action\""}',
]
DOC_VALUES = [["Comedy", "Action"], ["Comedy"], ["Horror", "Action"]]


def items_schema(*extra: dict):
    fields = [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": "string", "categorical": True},
        {"name": "PRICE", "type": ["null", "float"]},
        {"name": "YEAR", "type": "int"},
        {"name": "VIEWS", "type": "long"},
        {"name": "RATING", "type": "double"},
        {"name": "ADULT", "type": "boolean"},
        {"name": "Title", "type": "string", "itemName": True},
        {"name": "ORDER", "type": "string", "categorical": True},
        {"name": "select", "type": "string"},
        {"name": "DESCRIPTION", "type": "string", "textual": True},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
        *extra,
    ]
    return parse_schema({"type": "record", "name": "Items", "fields": fields})


SCHEMA = items_schema()
VOD = parse_schema(DATA / "video_on_demand/items.schema.json", domain="VIDEO_ON_DEMAND")


def refused(text: str) -> SegmentQueryError:
    with pytest.raises(SegmentQueryError) as err:
        parse_item_attributes(text)
    return err.value


def pairs(conditions) -> list[tuple[str, str]]:
    return [(c.column, c.value) for c in conditions]


# -- accepted forms ------------------------------------------------------------------------

@pytest.mark.parametrize("line,values", list(zip(DOC_LINES, DOC_VALUES)))
def test_the_documented_examples(line, values):
    text = json.loads(line)["itemAttributes"]
    parsed = parse_item_attributes(text)
    assert pairs(parsed) == [("genres", v) for v in values]
    assert [text[c.position:c.position + 6] for c in parsed] == ["genres"] * len(values)
    assert pairs(item_attributes(text, VOD)) == [("GENRES", v) for v in values]


def test_positions_of_column_and_value():
    text = 'ITEMS.genres = "Comedy" AND ITEMS.genres = "Action"'
    assert parse_item_attributes(text) == (Condition("genres", "Comedy", 6), Condition("genres", "Action", 34))
    assert [c.value_position for c in parse_item_attributes(text)] == [15, 43]


@pytest.mark.parametrize("text", [
    'items.genres = "Comedy" and ITEMS.GENRES = "Action"',
    'Items.Genres = "Comedy" And iTeMs.gEnReS = "Action"',
    'ITEMS.genres="Comedy"AND ITEMS.genres="Action"',
    '  ITEMS . genres\t=\n"Comedy"\n\nAND\tITEMS.genres   =   "Action"  ',
    '\u3000ITEMS.genres = "Comedy"\u00a0AND ITEMS.genres = "Action"\u2003',
])
def test_case_and_whitespace_are_free(text):
    assert [(c.column.upper(), c.value) for c in parse_item_attributes(text)] == [
        ("GENRES", "Comedy"), ("GENRES", "Action")]
    assert pairs(item_attributes(text, SCHEMA)) == [("GENRES", "Comedy"), ("GENRES", "Action")]


@pytest.mark.parametrize("written,value", [
    (r'"say \"hi\""', 'say "hi"'),
    (r'"C:\\films\\new"', "C:\\films\\new"),
    (r'"\\"', "\\"),
    (r'"\"\\\""', '"\\"'),
    ('"été 🎬 日本"', "été 🎬 日本"),
    ('"a = b AND ITEMS.x = c"', "a = b AND ITEMS.x = c"),
    ('"rock\'n\'roll (live), OR not"', "rock'n'roll (live), OR not"),
    ('"line\nbreak"', "line\nbreak"),
    ('" padded "', " padded "),
    ('"$5.99"', "$5.99"),
    ('"$"', "$"),
    ('"10"', "10"),
])
def test_values_are_unescaped(written, value):
    (c,) = parse_item_attributes(f"ITEMS.select = {written}")
    assert c.value == value and c.value_position == 15


@pytest.mark.parametrize("column", ["AND", "or", "In", "NOT", "ITEMS", "select", "ORDER", "_x1"])
def test_column_names_that_are_keywords(column):
    (c,) = parse_item_attributes(f'ITEMS.{column} = "x"')
    assert (c.column, c.position) == (column, 6)
    (a, b) = parse_item_attributes(f'ITEMS.{column} = "x" AND ITEMS.{column} = "y"')
    assert (a.column, b.column, b.value) == (column, column, "y")


def test_numeric_and_categorical_columns_mix():
    text = ('ITEMS.genres = "Comedy" AND ITEMS.price = "9.99" AND ITEMS.year = "1999" AND '
            'ITEMS.views = "-3" AND ITEMS.rating = "4.5e0" AND ITEMS.adult = "TRUE" AND '
            'ITEMS.title = "Heat" AND ITEMS.order = "first" AND ITEMS.SELECT = "any|thing"')
    assert pairs(item_attributes(text, SCHEMA)) == [
        ("GENRES", "Comedy"), ("PRICE", "9.99"), ("YEAR", "1999"), ("VIEWS", "-3"), ("RATING", "4.5e0"),
        ("ADULT", "true"), ("Title", "Heat"), ("ORDER", "first"), ("select", "any|thing")]


def test_length_limit():
    base = 'ITEMS.select = "'
    ok = base + "x" * (MAX_LENGTH - len(base) - 1) + '"'
    assert len(ok) == MAX_LENGTH and parse_item_attributes(ok)[0].value == "x" * (MAX_LENGTH - len(base) - 1)
    err = refused(ok[:-1] + 'x"')
    assert err.position == MAX_LENGTH and "1001 characters long; at most 1000" in str(err)


# -- refusals ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,position,words", [
    # empty
    ("", 0, "the text is empty"),
    ("  \n\t", 0, "the text is empty"),
    # datasets other than ITEMS, missing dot or column
    ('USERS.AGE = "18"', 0, "only Items columns can be queried (ITEMS.<column>), found USERS."),
    ('Interactions.EVENT_TYPE = "click"', 0, "found Interactions."),
    ('ITEM.genres = "a"', 0, "found ITEM."),
    ('CurrentItem.genres = "a"', 0, "found CurrentItem."),
    ('ITEMS.genres = "a" AND Users.x = "b"', 23, "found Users."),
    ('genres = "a"', 0, "expected ITEMS.<column>, found 'genres'; write ITEMS.genres"),
    ('ITEMS genres = "a"', 6, "expected '.' and a column name after ITEMS, found 'genres'"),
    ('ITEMS = "a"', 6, "expected '.' and a column name after ITEMS, found '='"),
    ('ITEMS.', 6, "expected a column name after ITEMS., found the end of the text"),
    ('ITEMS. = "a"', 7, "expected a column name after ITEMS., found '='"),
    ('ITEMS."genres" = "a"', 6, "expected a column name after ITEMS., found '\"genres\"'"),
    ('ITEMS.5 = "a"', 5, "expected '.' and a column name after ITEMS, found '.5'"),
    ('"Comedy"', 0, "expected ITEMS.<column> = \"<value>\", found '\"Comedy\"'"),
    # operators other than =
    ('ITEMS.genres IN ("a")', 13, "found 'IN'; a condition compares a column with = only"),
    ('ITEMS.genres in ("a", "b")', 13, "found 'in'; a condition compares a column with = only"),
    ('ITEMS.genres NOT IN ("a")', 13, "found 'NOT IN'; a condition compares a column with = only"),
    ('ITEMS.genres != "a"', 13, "expected = after ITEMS.genres, found '!='"),
    ('ITEMS.genres <> "a"', 13, "found '<>'"),
    ('ITEMS.genres == "a"', 13, "found '=='"),
    ('ITEMS.price < "1"', 12, "found '<'"),
    ('ITEMS.price > "1"', 12, "found '>'"),
    ('ITEMS.price <= "1"', 12, "found '<='"),
    ('ITEMS.price >= "1"', 12, "found '>='"),
    ('ITEMS.genres LIKE "a%"', 13, "found 'LIKE'"),
    ('ITEMS.genres "a"', 13, "expected = after ITEMS.genres, found '\"a\"'"),
    ('ITEMS.genres', 12, "expected = and a value in double quotes after ITEMS.genres, found the end"),
    # OR, NOT, parentheses, commas, pipes
    ('ITEMS.genres = "a" OR ITEMS.genres = "b"', 19, "OR is not allowed; conditions are joined by AND only"),
    ('ITEMS.genres = "a" or ITEMS.genres = "b"', 19, "OR is not allowed"),
    ('NOT ITEMS.genres = "a"', 0, "NOT is not allowed"),
    ('ITEMS.genres = "a" AND NOT ITEMS.genres = "b"', 23, "NOT is not allowed"),
    ('(ITEMS.genres = "a")', 0, "parentheses are not allowed"),
    ('ITEMS.genres = "a" AND (ITEMS.genres = "b")', 23, "parentheses are not allowed"),
    ('ITEMS.genres = ("a")', 15, "parentheses are not allowed; a condition takes one value"),
    ('ITEMS.genres = "a")', 18, "parentheses are not allowed"),
    ('ITEMS.genres = "a", "b"', 18, "',' is not allowed; conditions are joined by AND only"),
    ('ITEMS.genres = "a" | ITEMS.genres = "b"', 19, "'|' is not allowed"),
    ('ITEMS.genres = "a" && ITEMS.genres = "b"', 19, "unexpected character '&'"),
    # values
    ('ITEMS.price = 10', 14, 'values are written in double quotes, numbers too: write "10"'),
    ('ITEMS.price = -1.5', 14, 'write "-1.5"'),
    ('ITEMS.genres = Comedy', 15, "expected a value in double quotes after ITEMS.genres =, found 'Comedy'"),
    ("ITEMS.genres = 'Comedy'", 15, 'values are written in double quotes: write "Comedy"'),
    ("ITEMS.genres = 'Comedy", 15, "opens with ' but never closes"),
    ('ITEMS.genres = "Comedy', 15, 'a value opens with " but never closes'),
    ('ITEMS.genres = "Comedy\\"', 15, "never closes"),
    ('ITEMS.genres = "a" AND ITEMS.genres = "b', 38, "never closes"),
    ('ITEMS.genres = ""', 15, "the value is empty"),
    ('ITEMS.genres = "a\\nb"', 17, "'\\\\n' is not an escape; inside a value only \\\" and \\\\ are"),
    ('ITEMS.genres = "\\u00e9"', 16, "is not an escape"),
    ('ITEMS.genres =', 14, "expected a value in double quotes after ITEMS.genres =, found the end"),
    ('ITEMS.genres = $GENRE', 15, "parameters ($GENRE) are not allowed in itemAttributes"),
    ('ITEMS.genres = $', 15, "parameters ($) are not allowed"),
    ('ITEMS.genres = "$GENRE"', 15, '"$GENRE" is a $PARAMETER; itemAttributes takes no parameters'),
    # dangling AND, trailing garbage
    ('ITEMS.genres = "a" AND', 19, "AND is not followed by a condition"),
    ('ITEMS.genres = "a" and  ', 19, "AND is not followed by a condition"),
    ('AND ITEMS.genres = "a"', 0, "expected ITEMS.<column>, found 'AND'"),
    ('ITEMS.genres = "a" AND AND ITEMS.genres = "b"', 23, "expected ITEMS.<column>, found 'AND'"),
    ('ITEMS.genres = "a" ITEMS.genres = "b"', 19, "expected AND or the end of the text, found 'ITEMS'"),
    ('ITEMS.genres = "a" "b"', 19, "expected AND or the end of the text, found '\"b\"'"),
    ('ITEMS.genres = "a" ; DROP TABLE items', 19, "unexpected character ';'"),
    ('ITEMS.genres = "a" -- comment', 19, "unexpected character '-'"),
    ('ITEMS.genres = "a" é', 19, "unexpected character 'é'"),
    ('ITEMS.genres = "a"\x00', 18, "unexpected character '\\x00'"),
    ('ITEMS.genres = \\"Comedy\\"', 15, "decode the line first"),
])
def test_refusals_point_at_the_offending_token(text, position, words):
    err = refused(text)
    assert err.position == position, str(err)
    assert words in str(err)
    assert str(err).startswith(f"itemAttributes, position {position + 1}: ")
    assert err.text == text and 0 <= err.position <= len(text)


def test_errors_are_reported_left_to_right():
    # the first problem wins, even when a later one is a bad character or an open quote
    assert refused('USERS.x = "a" AND ITEMS.y = "b').position == 0
    assert refused('ITEMS.x IN ("a") ; ').position == 8


def test_error_message_format():
    err = refused('ITEMS.genres = "a" OR ITEMS.genres = "b"')
    assert isinstance(err, InvalidInput)
    assert str(err) == ("itemAttributes, position 20: OR is not allowed; conditions are joined by AND "
                        "only (near 'ITEMS.genres = \"a\" OR ITEMS.genres = \"b')")


@pytest.mark.parametrize("value", [None, 3, b'ITEMS.genres = "a"', ["ITEMS.genres = \"a\""]])
def test_non_string_text(value):
    with pytest.raises(InvalidInput, match="itemAttributes must be a string") as err:
        parse_item_attributes(value)
    assert not isinstance(err.value, SegmentQueryError)


# -- the Items schema ----------------------------------------------------------------------

def test_usable_columns():
    assert usable_columns(SCHEMA) == ["GENRES", "PRICE", "YEAR", "VIEWS", "RATING", "ADULT", "Title",
                                      "ORDER", "select"]
    assert usable_columns(VOD) == ["GENRES", "GENRE_L2", "CONTENT_CLASSIFICATION", "DURATION"]
    only_text = parse_schema({"type": "record", "name": "Items", "fields": [
        {"name": "ITEM_ID", "type": "string"}, {"name": "D", "type": "string", "textual": True}]})
    assert usable_columns(only_text) == []
    err = pytest.raises(SegmentQueryError, item_attributes, 'ITEMS.d = "x"', only_text).value
    assert "usable columns: none" in str(err)


def test_schema_spelling_is_returned():
    got = item_attributes('items.title = "Heat" AND ITEMS.Select = "x" AND ITEMS.order = "1"', SCHEMA)
    assert got == (Condition("Title", "Heat", 6), Condition("select", "x", 31), Condition("ORDER", "1", 54))
    assert [c.value_position for c in got] == [14, 40, 62]


TEXT_LISTING = "usable columns: GENRES, PRICE, YEAR, VIEWS, RATING, ADULT, Title, ORDER, select"


@pytest.mark.parametrize("text,position,words", [
    ('ITEMS.genre = "Comedy"', 6, f"the Items schema has no column genre; {TEXT_LISTING}"),
    ('ITEMS.genres = "a" AND ITEMS.colour = "red"', 29, "no column colour; usable columns: GENRES"),
    ('ITEMS.item_id = "42"', 6, "ITEM_ID cannot be queried (a segment for given items is an Item-Affinity job"),
    ('ITEMS.creation_timestamp = "1700000000"', 6,
     f"CREATION_TIMESTAMP is a reserved field and cannot be queried; {TEXT_LISTING}"),
    ('ITEMS.description = "funny"', 6, f"DESCRIPTION is a textual field and cannot be queried; {TEXT_LISTING}"),
    ('ITEMS.price = "cheap"', 14, "PRICE is a float field; the value 'cheap' is not a number"),
    ('ITEMS.price = "nan"', 14, "'nan' is not a number"),
    ('ITEMS.price = "inf"', 14, "'inf' is not a number"),
    ('ITEMS.price = "1e400"', 14, "PRICE is a float field; the value '1e400' is out of range"),
    ('ITEMS.rating = "-1e999"', 15, "RATING is a double field; the value '-1e999' is out of range"),
    ('ITEMS.price = " 10"', 14, "' 10' is not a number"),
    ('ITEMS.price = "0x10"', 14, "'0x10' is not a number"),
    ('ITEMS.price = "1,5"', 14, "'1,5' is not a number"),
    ('ITEMS.price = "1_000"', 14, "'1_000' is not a number"),
    ('ITEMS.year = "1999.5"', 13, "YEAR is a int field; the value '1999.5' is not a whole number"),
    ('ITEMS.year = "2147483648"', 13, "out of its range (32-bit integers)"),
    ('ITEMS.views = "9223372036854775808"', 14, "VIEWS is a long field; the value '9223372036854775808' is out"),
    ('ITEMS.views = "1e-9999999999"', 14, "is not a whole number"),
    ('ITEMS.adult = "yes"', 14, 'ADULT is a boolean field; the value must be "true" or "false", not \'yes\''),
    ('ITEMS.adult = "1"', 14, 'must be "true" or "false"'),
    ('ITEMS.genres = "Comedy|Action"', 15,
     "GENRES is categorical and its values are split at '|'; name one value per condition"),
])
def test_schema_refusals_point_at_column_or_value(text, position, words):
    with pytest.raises(SegmentQueryError) as err:
        item_attributes(text, SCHEMA)
    assert err.value.position == position, str(err.value)
    assert words in str(err.value)
    assert str(err.value).startswith(f"itemAttributes, position {position + 1}: ")


@pytest.mark.parametrize("column,value", [
    ("price", "10"), ("price", "-1.5"), ("price", ".5"), ("price", "1e3"), ("price", "+2."),
    ("rating", "1.7976931348623157e308"), ("year", "1.0"), ("year", "2e3"), ("year", "-2147483648"),
    ("views", "9223372036854775807"), ("views", "-9223372036854775808"),
])
def test_numbers_accepted(column, value):
    (c,) = item_attributes(f'ITEMS.{column} = "{value}"', SCHEMA)
    assert (c.column, c.value) == (column.upper(), value)


@pytest.mark.parametrize("value,normal", [("true", "true"), ("False", "false"), ("TRUE", "true")])
def test_booleans_are_normalized(value, normal):
    assert item_attributes(f'ITEMS.adult = "{value}"', SCHEMA)[0].value == normal


def test_check_without_the_text():
    conditions = parse_item_attributes('ITEMS.genres = "a" AND ITEMS.nope = "b"')
    with pytest.raises(SegmentQueryError) as err:
        check_item_attributes(conditions, SCHEMA)
    assert err.value.position == 29 and "(near" not in str(err.value)
    # conditions built by hand (no value position) are positioned at their column
    with pytest.raises(SegmentQueryError) as err:
        check_item_attributes([Condition("YEAR", "x", 3)], SCHEMA)
    assert err.value.position == 3
    assert check_item_attributes([Condition("year", "7", 0)], SCHEMA) == (Condition("YEAR", "7", 0),)


def test_only_an_items_schema():
    users = parse_schema({"type": "record", "name": "Users", "fields": [
        {"name": "USER_ID", "type": "string"}, {"name": "AGE", "type": "int"}]})
    for call in (lambda: usable_columns(users), lambda: item_attributes('ITEMS.age = "1"', users)):
        with pytest.raises(InvalidInput, match="an Items schema, not Users"):
            call()


def test_syntax_errors_come_before_schema_errors():
    with pytest.raises(SegmentQueryError, match="OR is not allowed"):
        item_attributes('ITEMS.nope = "a" OR ITEMS.genres = "b"', SCHEMA)
