"""The ``itemAttributes`` queries of Item-Attribute-Affinity batch segment jobs.

>>> [(c.column, c.value, c.position) for c in parse_item_attributes(
...     'ITEMS.genres = "Comedy" AND ITEMS.genres = "Action"')]
[('genres', 'Comedy', 6), ('genres', 'Action', 34)]

The developer guide ("Getting batch user segments") gives the whole language: conditions
``ITEMS.<column> = "<value>"`` joined by ``AND``; only ``=``, every value in double quotes,
numeric and categorical columns mixed freely. Personalize writes ``ITEMS.genres`` for the
field ``GENRES``, so the word ``ITEMS``, ``AND`` and column names ignore case. Inside a
value, ``\\"`` and ``\\\\`` are the only escapes. Anything else the filter language has (IN,
NOT, OR, comparisons, parentheses, ``$PARAMETERS``) is refused with the position of the
token, as :class:`pypersonalize.filter_parser.FilterSyntaxError` does for filters.

:func:`parse_item_attributes` checks the syntax only; :func:`check_item_attributes` checks
the conditions against the Items schema and returns them with the schema's spelling of each
column; :func:`item_attributes` does both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from .domains import RESERVED
from .errors import InvalidInput, quote_value

MAX_LENGTH = 1000
DATASET = "ITEMS"
NUMERIC_BITS = {"int": 32, "long": 64, "float": None, "double": None}   # None: floating point
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_PARAM = re.compile(r"\$[A-Za-z0-9_]+")
_ONLY_EQUALS = "a condition compares a column with = only (no IN, NOT IN, !=, <, >, <=, >=)"
_AND_ONLY = "conditions are joined by AND only"


class SegmentQueryError(InvalidInput):
    """An itemAttributes query is refused; ``position`` is the 0-based offset of the problem.

    ``text`` may be empty when the conditions were checked without their text; the message
    then names the position only.
    """

    def __init__(self, message: str, text: str, position: int):
        self.position = position
        self.text = text
        self.reason = message
        near = ""
        if text:
            snippet = text[max(0, position - 20):position + 20].replace("\n", " ")
            near = f" (near {snippet!r})"
        super().__init__(f"itemAttributes, position {position + 1}: {message}{near}")


@dataclass(frozen=True)
class Condition:
    """``ITEMS.<column> = "<value>"``. ``value_position`` (the opening quote) takes no part
    in comparisons: two conditions are equal when column, value and position are."""

    column: str        # as written (parse) or as the Items schema spells it (check)
    value: str         # unescaped
    position: int      # offset of the column name in the text
    value_position: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class _Token:
    kind: str      # word string squote number param op ( ) , . | error end
    text: str      # for "error" tokens, the message
    pos: int


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<squote>'(?:[^'\\]|\\.)*')
  | (?P<param>\$[A-Za-z0-9_]*)
  | (?P<number>[+-]?\.?[0-9][A-Za-z0-9_.]*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>!=|<>|==|<=|>=|=|<|>|!)
  | (?P<punct>[(),.|])
""", re.VERBOSE | re.DOTALL)


def _tokenize(text: str) -> list[_Token]:
    """Tokens up to the first character that starts none; that one becomes an "error" token,
    so that the parser reports problems from left to right."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            ch = text[pos]
            if ch == '"':
                message = 'a value opens with " but never closes'
            elif ch == "'":
                message = "a value opens with ' but never closes (and values take double quotes)"
            elif ch == "\\":
                message = ("unexpected character '\\' outside a value (a JSON input line's \\\" "
                           "stands for \"; decode the line first)")
            else:
                message = f"unexpected character {ch!r}"
            tokens.append(_Token("error", message, pos))
            return tokens
        kind = m.lastgroup
        if kind == "punct":
            kind = m.group()
        if kind != "space":
            tokens.append(_Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind == "error":
            raise SegmentQueryError(tok.text, self.text, tok.pos)
        return tok

    def peek(self) -> _Token:
        return self.tokens[min(self.i + 1, len(self.tokens) - 1)]

    def take(self) -> _Token:
        tok = self.tok
        self.i += 1
        return tok

    def error(self, message: str, tok: _Token | None = None) -> SegmentQueryError:
        tok = tok or self.tok
        return SegmentQueryError(message, self.text, tok.pos)

    def found(self, tok: _Token) -> str:
        if tok.kind == "end":
            return "the end of the text"
        if tok.kind == "word" and tok.text.upper() == "NOT" and self.peek().kind == "word" \
                and self.peek().text.upper() == "IN":
            return "'NOT IN'"
        return repr(tok.text)

    def fail(self, expected: str, note: str = "") -> SegmentQueryError:
        tok = self.tok
        return self.error(f"expected {expected}, found {self.found(tok)}" + (f"; {note}" if note else ""))

    def is_word(self, tok: _Token, *words: str) -> bool:
        return tok.kind == "word" and tok.text.upper() in words

    # query := condition (AND condition)*
    def parse(self) -> tuple[Condition, ...]:
        if len(self.text) > MAX_LENGTH:
            raise SegmentQueryError(f"the text is {len(self.text)} characters long; at most "
                                    f"{MAX_LENGTH} are allowed", self.text, MAX_LENGTH)
        if not self.text.strip():
            raise SegmentQueryError('the text is empty; expected ITEMS.<column> = "<value>"',
                                    self.text, 0)
        conditions = [self.condition()]
        while self.tok.kind != "end":
            tok = self.tok
            if self.is_word(tok, "AND"):
                self.take()
                if self.tok.kind == "end":
                    raise self.error('AND is not followed by a condition ITEMS.<column> = "<value>"', tok)
                conditions.append(self.condition())
            elif self.is_word(tok, "OR"):
                raise self.error(f"OR is not allowed; {_AND_ONLY}")
            elif tok.kind in (",", "|"):
                raise self.error(f"{tok.text!r} is not allowed; {_AND_ONLY}")
            elif tok.kind in ("(", ")"):
                raise self.error(f"parentheses are not allowed; {_AND_ONLY}")
            else:
                raise self.fail("AND or the end of the text")
        return tuple(conditions)

    # condition := ITEMS "." column "=" string
    def condition(self) -> Condition:
        tok = self.tok
        if tok.kind in ("(", ")"):
            raise self.error(f"parentheses are not allowed; {_AND_ONLY}")
        if self.is_word(tok, "NOT"):
            raise self.error("NOT is not allowed; a query is conditions "
                             'ITEMS.<column> = "<value>" joined by AND')
        if tok.kind != "word":
            raise self.fail('ITEMS.<column> = "<value>"')
        if self.peek().kind != ".":
            if tok.text.upper() == DATASET:
                self.take()
                raise self.fail("'.' and a column name after ITEMS")
            raise self.fail("ITEMS.<column>", f"write ITEMS.{tok.text} for an Items column"
                            if self.peek().kind == "op" else "")
        if tok.text.upper() != DATASET:
            raise self.error(f"only Items columns can be queried (ITEMS.<column>), found {tok.text}.")
        self.take()
        self.take()
        if self.tok.kind != "word":
            raise self.fail("a column name after ITEMS.")
        column = self.take()
        op = self.tok
        if op.kind == "end":
            raise self.fail(f'= and a value in double quotes after ITEMS.{column.text}')
        if op.kind != "op" or op.text != "=":
            raise self.fail(f"= after ITEMS.{column.text}", _ONLY_EQUALS)
        self.take()
        value_pos = self.tok.pos
        return Condition(column.text, self.value(column.text), column.pos, value_pos)

    def value(self, column: str) -> str:
        tok = self.tok
        if tok.kind == "string":
            self.take()
            return _unescape(tok, self.text)
        if tok.kind == "squote":
            raise self.error(f'values are written in double quotes: write "{tok.text[1:-1]}"')
        if tok.kind == "number":
            raise self.error(f'values are written in double quotes, numbers too: write "{tok.text}"')
        if tok.kind == "param":
            raise self.error(f"parameters ({tok.text}) are not allowed in itemAttributes; "
                             'write the value itself in double quotes')
        if tok.kind in ("(", ")"):
            raise self.error("parentheses are not allowed; a condition takes one value in double "
                             'quotes (join more with AND: ITEMS.a = "x" AND ITEMS.a = "y")')
        raise self.fail(f'a value in double quotes after ITEMS.{column} =')


def _unescape(tok: _Token, text: str) -> str:
    inner = tok.text[1:-1]
    for m in re.finditer(r"\\(.)", inner, re.DOTALL):
        if m.group(1) not in '"\\':
            raise SegmentQueryError(f"{m.group()!r} is not an escape; inside a value only \\\" and "
                                    "\\\\ are (write \\\\ for a backslash)", text, tok.pos + 1 + m.start())
    value = re.sub(r'\\(["\\])', r"\1", inner)
    if not value:
        raise SegmentQueryError("the value is empty; write the attribute value between the quotes",
                                text, tok.pos)
    if _PARAM.fullmatch(value):
        raise SegmentQueryError(f'"{value}" is a $PARAMETER; itemAttributes takes no parameters, '
                                "write the value itself", text, tok.pos)
    return value


def parse_item_attributes(text: str) -> tuple[Condition, ...]:
    """Parse an itemAttributes query (syntax only); raise :class:`SegmentQueryError` pointing
    at the problem. Columns are returned as written."""
    if not isinstance(text, str):
        raise InvalidInput(f"itemAttributes must be a string, not {type(text).__name__}")
    return _Parser(text).parse()


def _items_only(schema) -> None:
    if getattr(schema, "dataset_type", None) != "Items":
        raise InvalidInput(f"itemAttributes queries an Items schema, not "
                           f"{getattr(schema, 'dataset_type', type(schema).__name__)}")


def usable_columns(schema) -> list[str]:
    """The Items fields a query may name, in schema order: every field but ITEM_ID, the other
    reserved fields (CREATION_TIMESTAMP) and textual ones. Item-Attribute-Affinity needs at
    least one."""
    _items_only(schema)
    return [f.name for f in schema.fields if f.name not in RESERVED["Items"] and not f.textual]


def check_item_attributes(conditions: Iterable[Condition], schema, text: str = "") -> tuple[Condition, ...]:
    """Check parsed conditions against the Items schema; return them with the schema's
    spelling of each column (bool values as "true"/"false"). ``text`` (the parsed text) only
    adds a snippet to error messages."""
    _items_only(schema)
    usable = usable_columns(schema)
    listing = "usable columns: " + (", ".join(usable) if usable else
                                    "none (the Items schema has no non-textual metadata field)")
    by_upper = {f.name.upper(): f for f in schema.fields}
    out = []
    for c in conditions:
        f = by_upper.get(c.column.upper())
        if f is None:
            raise SegmentQueryError(f"the Items schema has no column {c.column}; {listing}", text, c.position)
        if f.name == "ITEM_ID":
            raise SegmentQueryError("ITEM_ID cannot be queried (a segment for given items is an "
                                    'Item-Affinity job, {"itemId": ...}); ' + listing, text, c.position)
        if f.name in RESERVED["Items"]:
            raise SegmentQueryError(f"{f.name} is a reserved field and cannot be queried; {listing}",
                                    text, c.position)
        if f.textual:
            raise SegmentQueryError(f"{f.name} is a textual field and cannot be queried; {listing}",
                                    text, c.position)
        value = _check_value(f, c, text)
        out.append(Condition(f.name, value, c.position, c.value_position))
    return tuple(out)


def _check_value(f, c: Condition, text: str) -> str:
    pos = c.position if c.value_position is None else c.value_position
    shown = quote_value(c.value)
    if f.type == "boolean":
        if c.value.lower() not in ("true", "false"):
            raise SegmentQueryError(f'{f.name} is a boolean field; the value must be "true" or '
                                    f'"false", not {shown}', text, pos)
        return c.value.lower()
    if f.type in NUMERIC_BITS:
        if not _NUMBER.fullmatch(c.value):
            raise SegmentQueryError(f"{f.name} is a {f.type} field; the value {shown} is not a number",
                                    text, pos)
        bits = NUMERIC_BITS[f.type]
        if bits is None:
            if not math.isfinite(float(c.value)):
                raise SegmentQueryError(f"{f.name} is a {f.type} field; the value {shown} is out of "
                                        "range", text, pos)
            return c.value
        number = Decimal(c.value)
        if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
            raise SegmentQueryError(f"{f.name} is a {f.type} field; the value {shown} is out of its "
                                    f"range ({bits}-bit integers)", text, pos)
        if number != number.to_integral_value():
            raise SegmentQueryError(f"{f.name} is a {f.type} field; the value {shown} is not a whole "
                                    "number", text, pos)
        return c.value
    if f.categorical and "|" in c.value:
        raise SegmentQueryError(f"{f.name} is categorical and its values are split at '|'; name one "
                                f'value per condition, joined by AND: ITEMS.{f.name} = "a" AND '
                                f'ITEMS.{f.name} = "b"', text, pos)
    return c.value


def item_attributes(text: str, schema) -> tuple[Condition, ...]:
    """:func:`parse_item_attributes` then :func:`check_item_attributes`."""
    return check_item_attributes(parse_item_attributes(text), schema, text)
