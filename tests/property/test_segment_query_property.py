"""Random itemAttributes queries: text rendered from a structured description parses back to
exactly that description, and any other text is either parsed or refused with a
SegmentQueryError positioned inside it.

The renderer below writes the documented syntax (``ITEMS.<column> = "<value>"`` joined by
AND; ``\\"`` and ``\\\\`` escapes) with random casing and spacing, and shares no code with
the package; the expected positions are counted while rendering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import event, given, settings
from hypothesis import strategies as st

from pypersonalize.schemas import parse_schema
from pypersonalize.segment_query import (
    MAX_LENGTH,
    Condition,
    SegmentQueryError,
    check_item_attributes,
    parse_item_attributes,
)

# Names differ in more than case and "_" (the schema rule); several are SQL or query keywords.
NAMES = ["GENRES", "ORDER", "select", "group", "AND", "or", "In", "NOT", "Items", "LIKE",
         "PRICE", "Year_2", "rating", "_x", "WHERE"]
KINDS = ("cat", "str", "int", "long", "float", "double", "boolean")
AVRO = {"cat": "string", "str": "string", "int": "int", "long": "long", "float": "float",
        "double": "double", "boolean": "boolean"}
SPACE = st.sampled_from(["", " ", "  ", "\t", "\n", " \u00a0 "])
GAP = st.sampled_from([" ", "  ", "\t", "\n", "\r\n "])          # where a word ends
TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from(
    ['"', "\\", "'", "$", "=", "(", ")", ",", " ", "AND", "OR", "|", "\n", "é", "🎬"])


@dataclass(frozen=True)
class Query:
    conditions: tuple[tuple[str, str], ...]   # (column as written, unescaped value)
    text: str
    positions: tuple[int, ...]                # of each column name
    value_positions: tuple[int, ...]          # of each opening quote


def random_case(draw, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.swapcase() if f else c for c, f in zip(word, flips))


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


@st.composite
def schemas(draw):
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    kinds = [draw(st.sampled_from(KINDS)) for _ in names]
    fields = [{"name": "ITEM_ID", "type": "string"}]
    for name, kind in zip(names, kinds):
        fields.append({"name": name, "type": AVRO[kind], **({"categorical": True} if kind == "cat" else {})})
    return parse_schema({"type": "record", "name": "Items", "fields": fields}), dict(zip(names, kinds))


def values(kind: str):
    if kind == "boolean":
        return st.sampled_from(["true", "false", "True", "FALSE"])
    if kind == "int":
        return st.integers(-(2 ** 31), 2 ** 31 - 1).map(str)
    if kind == "long":
        return st.integers(-(2 ** 63), 2 ** 63 - 1).map(str)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32 if kind == "float" else 64).map(repr) \
            | st.sampled_from(["0", ".5", "-1.5e3", "+2.", "10"])
    text = st.lists(TEXT_CHARS, min_size=1, max_size=8).map("".join)
    if kind == "cat":
        text = text.map(lambda v: v.replace("|", "/"))
    return text.filter(lambda v: not re.fullmatch(r"\$[A-Za-z0-9_]+", v))


@st.composite
def queries(draw):
    schema, kinds = draw(schemas())
    n = draw(st.integers(1, 6))
    text, conds, positions, value_positions = draw(SPACE), [], [], []
    for i in range(n):
        if i:
            text += draw(SPACE) + random_case(draw, "AND") + draw(GAP)
        name = draw(st.sampled_from(sorted(kinds)))
        column = random_case(draw, name)
        value = draw(values(kinds[name]))
        text += random_case(draw, "ITEMS") + draw(SPACE) + "." + draw(SPACE)
        positions.append(len(text))
        text += column + draw(SPACE) + "=" + draw(SPACE)
        value_positions.append(len(text))
        text += '"' + escape(value) + '"'
        conds.append((column, value))
    text += draw(SPACE)
    return schema, kinds, Query(tuple(conds), text, tuple(positions), tuple(value_positions))


@settings(max_examples=300, deadline=None)
@given(case=queries())
def test_rendered_queries_parse_to_their_description(case):
    schema, kinds, q = case
    assert len(q.text) <= MAX_LENGTH
    parsed = parse_item_attributes(q.text)
    assert parsed == tuple(Condition(c, v, p) for (c, v), p in zip(q.conditions, q.positions))
    assert tuple(c.value_position for c in parsed) == q.value_positions
    checked = check_item_attributes(parsed, schema, q.text)
    spelled = {name.upper(): name for name in kinds}
    assert [(c.column, c.value) for c in checked] == [
        (spelled[col.upper()], v.lower() if kinds[spelled[col.upper()]] == "boolean" else v)
        for col, v in q.conditions]


VOCAB = ["ITEMS", "items", "USERS", "Interactions", "CurrentItem", ".", "genres", "PRICE", "=", "==",
         "!=", "<", "<=", ">", ">=", "<>", "IN", "NOT", "OR", "AND", "and", "(", ")", ",", "|", '"a"',
         '"', "'b'", "'", '"\\"', '"\\\\"', "\\", "$X", '"$X"', "$", "10", "-1.5", ".5", "USERS.",
         "ITEMS.", ";", "--", "\x00", "é", "🎬", "\n", "\t", '""', "LIKE", "e9", "..", "&&"]
SCHEMA = parse_schema({"type": "record", "name": "Items", "fields": [
    {"name": "ITEM_ID", "type": "string"}, {"name": "GENRES", "type": "string", "categorical": True},
    {"name": "PRICE", "type": "float"}, {"name": "A", "type": "boolean"},
    {"name": "CREATION_TIMESTAMP", "type": "long"}, {"name": "D", "type": "string", "textual": True}]})


def soups():
    tokens = st.lists(st.sampled_from(VOCAB) | st.text(max_size=3), max_size=20)
    return st.builds(lambda ts, seps: "".join(t + s for t, s in zip(ts, seps)),
                     tokens, st.lists(st.sampled_from(["", " ", "  "]), min_size=20, max_size=20))


@st.composite
def mutations(draw):
    text = draw(queries())[2].text
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["delete", "insert", "replace", "vocab"]))
        if how == "delete":
            text = text[:pos] + text[pos + 1:]
        elif how == "insert":
            text = text[:pos] + draw(TEXT_CHARS) + text[pos:]
        elif how == "replace":
            text = text[:pos] + draw(TEXT_CHARS) + text[pos + 1:]
        else:
            text = text[:pos] + " " + draw(st.sampled_from(VOCAB)) + " " + text[pos:]
    return text


@settings(max_examples=400, deadline=None)
@given(text=soups() | mutations() | st.text(max_size=60) | st.text(min_size=995, max_size=1010))
def test_any_text_parses_or_is_refused_in_place(text):
    try:
        parsed = parse_item_attributes(text)
    except SegmentQueryError as err:
        event("refused")
        assert 0 <= err.position <= len(text) and err.text == text
        assert str(err).startswith(f"itemAttributes, position {err.position + 1}: ")
        return
    event("parsed")
    assert parsed and len(text) <= MAX_LENGTH
    for c in parsed:
        assert text[c.position:c.position + len(c.column)].upper() == c.column.upper() and c.value
        assert text[c.value_position] == '"'
    # what parsed, rendered plainly, parses to the same conditions
    plain = " AND ".join(f'ITEMS.{c.column} = "{escape(c.value)}"' for c in parsed)
    if len(plain) > MAX_LENGTH:
        return
    assert [(c.column, c.value) for c in parse_item_attributes(plain)] == [(c.column, c.value) for c in parsed]
    try:
        checked = check_item_attributes(parsed, SCHEMA, text)
    except SegmentQueryError as err:
        assert 0 <= err.position <= len(text)
    else:
        assert {c.column for c in checked} <= {"GENRES", "PRICE", "A"}
