"""Amazon Personalize's filter-expression language: tokens and a parser to a small AST.

>>> f = parse_filter('EXCLUDE ItemID WHERE Items.GENRE IN ($GENRE) IF CurrentUser.AGE > 18')
>>> e = f.expressions[0]
>>> (e.action, e.target, e.conditions[0].op, e.conditions[0].values[0].kind)
('EXCLUDE', 'ItemID', 'IN', 'param')

The grammar follows the developer guide ("Filter expression elements"). AND binds tighter
than OR. Slips found in the guide's own examples are accepted: a comparison operand in
parentheses (``Actions.VALUE > ($VALUE)``), ``IN CurrentItem.GENRE`` without parentheses,
the singular dataset name ``Action``, and a parameter written inside quotes (``"$CATEGORY"``).
Checking fields against schemas is the compiler's job (:mod:`pypersonalize.filters`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidInput

MAX_LENGTH = 2500
ACTIONS = ("INCLUDE", "EXCLUDE")
TARGETS = ("ItemID", "UserID", "ActionID")
DATASETS = ("Items", "Interactions", "Users", "Actions", "Action_Interactions")
_DATASET_ALIASES = {"Action": "Actions"}
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
_KEYWORDS = {"INCLUDE", "EXCLUDE", "WHERE", "AND", "OR", "IN", "NOT", "IF"}


class FilterSyntaxError(InvalidInput):
    """The expression does not parse; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, text: str, position: int):
        self.position = position
        self.text = text
        snippet = text[max(0, position - 20):position + 20].replace("\n", " ")
        super().__init__(f"filter expression, position {position + 1}: {message} "
                         f"(near {snippet!r})")


@dataclass(frozen=True)
class Token:
    kind: str      # word, string, number, param, op, ( ) , . | end
    text: str
    pos: int


@dataclass(frozen=True)
class Value:
    kind: str      # string | number | param | star
    value: str | float

    def __str__(self) -> str:
        return {"string": f'"{self.value}"', "param": f"${self.value}", "star": '"*"'}.get(
            self.kind, str(self.value))


@dataclass(frozen=True)
class FieldRef:
    dataset: str   # a DATASETS name, or CurrentItem / CurrentUser
    name: str

    def __str__(self) -> str:
        return f"{self.dataset}.{self.name}"


@dataclass(frozen=True)
class Condition:
    field: FieldRef
    op: str                          # IN, NOT IN, or a comparison
    values: tuple[Value, ...] = ()   # literal or parameter operands
    other: FieldRef | None = None    # a CurrentItem.FIELD operand instead of values
    pos: int = 0


@dataclass(frozen=True)
class Expression:
    action: str                      # INCLUDE | EXCLUDE
    target: str                      # ItemID | UserID | ActionID
    clauses: tuple[tuple[Condition, ...], ...]   # OR of ANDs
    if_conditions: tuple[Condition, ...] = ()    # CurrentUser conditions, ANDed

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return tuple(c for clause in self.clauses for c in clause)

    @property
    def dataset(self) -> str:
        return self.conditions[0].field.dataset

    def parameters(self) -> set[str]:
        return {v.value for c in (*self.conditions, *self.if_conditions) for v in c.values
                if v.kind == "param"}


@dataclass(frozen=True)
class Filter:
    text: str
    expressions: tuple[Expression, ...]

    def parameters(self) -> set[str]:
        return set().union(*(e.parameters() for e in self.expressions))


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<param>\$[A-Za-z0-9_]+)
  | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![A-Za-z_]))
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>!=|<=|>=|=|<|>)
  | (?P<punct>[(),.|])
""", re.VERBOSE)


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos] == '"':
                raise FilterSyntaxError("a string opens with \" but never closes", text, pos)
            raise FilterSyntaxError(f"unexpected character {text[pos]!r}", text, pos)
        kind = m.lastgroup
        if kind == "punct":
            kind = m.group()
        if kind != "space":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, expected: str, tok: Token | None = None):
        tok = tok or self.tok
        found = "the end of the expression" if tok.kind == "end" else repr(tok.text)
        raise FilterSyntaxError(f"expected {expected}, found {found}", self.text, tok.pos)

    def take(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.upper() in words

    def expect_word(self, *words: str, what: str | None = None) -> str:
        if not self.is_word(*words):
            self.fail(what or " or ".join(words))
        return self.take().text.upper()

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            self.fail(what)
        return self.take()

    # filter := expression ("|" expression)*
    def parse(self) -> Filter:
        if not self.text.strip():
            raise FilterSyntaxError("the expression is empty", self.text, 0)
        if len(self.text) > MAX_LENGTH:
            raise FilterSyntaxError(f"the expression is {len(self.text)} characters long; "
                                    f"Personalize allows at most {MAX_LENGTH}", self.text, MAX_LENGTH)
        expressions = [self.expression()]
        while self.tok.kind == "|":
            self.take()
            expressions.append(self.expression())
        if self.tok.kind != "end":
            self.fail("AND, OR, IF, | or the end of the expression")
        return Filter(self.text, tuple(expressions))

    def expression(self) -> Expression:
        action = self.expect_word(*ACTIONS, what="INCLUDE or EXCLUDE")
        if not (self.tok.kind == "word" and self.tok.text in TARGETS):
            self.fail("ItemID, UserID or ActionID")
        target = self.take().text
        self.expect_word("WHERE")
        clauses, current = [], [self.condition()]
        while self.is_word("AND", "OR"):
            joiner = self.take().text.upper()
            if joiner == "OR":
                clauses.append(tuple(current))
                current = []
            current.append(self.condition())
        clauses.append(tuple(current))
        if_conditions = []
        if self.is_word("IF"):
            self.take()
            if_conditions.append(self.condition(current_user=True))
            while self.is_word("AND"):
                self.take()
                if_conditions.append(self.condition(current_user=True))
        return Expression(action, target, tuple(clauses), tuple(if_conditions))

    def field(self, current_user: bool) -> FieldRef:
        what = "CurrentUser.FIELD" if current_user else "a field like Items.GENRE"
        if self.tok.kind != "word" or self.tok.text.upper() in _KEYWORDS:
            self.fail(what)
        start = self.take()
        dataset = _DATASET_ALIASES.get(start.text, start.text)
        allowed = ("CurrentUser",) if current_user else DATASETS
        if dataset not in allowed:
            if not current_user and dataset == "CurrentUser":
                raise FilterSyntaxError("CurrentUser fields are allowed only after IF",
                                        self.text, start.pos)
            self.fail(" or ".join(allowed) if current_user else
                      "a dataset: " + ", ".join(DATASETS), start)
        self.expect(".", "'.' and a field name")
        name = self.expect("word", "a field name")
        return FieldRef(dataset, name.text)

    def condition(self, current_user: bool = False) -> Condition:
        pos = self.tok.pos
        field = self.field(current_user)
        if self.is_word("NOT"):
            self.take()
            self.expect_word("IN", what="IN after NOT")
            return self.in_list(field, "NOT IN", pos)
        if self.is_word("IN"):
            self.take()
            return self.in_list(field, "IN", pos)
        if self.tok.kind == "op":
            op = self.take().text
            paren = self.tok.kind == "("
            if paren:
                self.take()
            if self.tok.kind == "word" and self.tok.text == "CurrentItem":
                other = self.current_item()
                cond = Condition(field, op, (), other, pos)
            else:
                cond = Condition(field, op, (self.value(allow_star=False),), None, pos)
            if paren:
                self.expect(")", "')'")
            return cond
        self.fail(f"IN, NOT IN or a comparison ({', '.join(COMPARISONS)}) after {field}")

    def current_item(self) -> FieldRef:
        self.take()
        self.expect(".", "'.' and a field name after CurrentItem")
        return FieldRef("CurrentItem", self.expect("word", "a field name").text)

    def in_list(self, field: FieldRef, op: str, pos: int) -> Condition:
        if self.tok.kind == "word" and self.tok.text == "CurrentItem":
            return Condition(field, op, (), self.current_item(), pos)
        self.expect("(", "'(' and a list of values")
        if self.tok.kind == "word" and self.tok.text == "CurrentItem":
            other = self.current_item()
            self.expect(")", "')'")
            return Condition(field, op, (), other, pos)
        values = [self.value(allow_star=True)]
        while self.tok.kind == ",":
            self.take()
            values.append(self.value(allow_star=True))
        self.expect(")", "',' or ')'")
        params = [v for v in values if v.kind == "param"]
        if params and len(values) > 1:
            raise FilterSyntaxError("a parameter must be the only entry of its list, as in "
                                    "IN ($GENRES)", self.text, pos)
        return Condition(field, op, tuple(values), None, pos)

    def value(self, allow_star: bool) -> Value:
        tok = self.tok
        if tok.kind == "string":
            self.take()
            inner = re.sub(r"\\(.)", r"\1", tok.text[1:-1])
            if re.fullmatch(r"\$[A-Za-z0-9_]+", inner):
                return Value("param", inner[1:])
            if inner == "*":
                if not allow_star:
                    raise FilterSyntaxError('"*" is allowed only in an IN list', self.text, tok.pos)
                return Value("star", "*")
            return Value("string", inner)
        if tok.kind == "number":
            self.take()
            return Value("number", float(tok.text))
        if tok.kind == "param":
            self.take()
            return Value("param", tok.text[1:])
        self.fail('a value: a "string", a number or a $PARAMETER')


def parse_filter(text: str) -> Filter:
    """Parse a filter expression; raise :class:`FilterSyntaxError` pointing at the problem."""
    if not isinstance(text, str):
        raise InvalidInput(f"a filter expression must be a string, not {type(text).__name__}")
    return _Parser(text).parse()
