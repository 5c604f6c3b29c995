"""The filter-expression parser: every documented example, precise errors, and fuzzing."""

from __future__ import annotations

import random
import string

import pytest

from pypersonalize.errors import InvalidInput
from pypersonalize.filter_parser import FilterSyntaxError, Value, parse_filter, tokenize
from tests.conftest import ROOT

DOCS = [line for line in (ROOT / "tests/data/filters/personalize_docs.txt").read_text().splitlines()
        if line and not line.startswith("#")]


def test_the_corpus_is_complete():
    assert len(DOCS) >= 25


@pytest.mark.parametrize("text", DOCS)
def test_every_documented_example_parses(text):
    f = parse_filter(text)
    assert len(f.expressions) == text.count(" | ") + 1
    for e in f.expressions:
        assert e.action in ("INCLUDE", "EXCLUDE") and e.conditions


def test_structure_of_documented_examples():
    f = parse_filter('EXCLUDE ItemID WHERE Items.CATEGORY IN ("shoe") AND Items.DESCRIPTION NOT IN ("boot")')
    (e,) = f.expressions
    assert [(str(c.field), c.op, [str(v) for v in c.values]) for c in e.conditions] == [
        ("Items.CATEGORY", "IN", ['"shoe"']), ("Items.DESCRIPTION", "NOT IN", ['"boot"'])]
    f = parse_filter("INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE")
    assert [str(c.other) for c in f.expressions[0].conditions] == ["CurrentItem.PRICE", "CurrentItem.GENRE"]
    f = parse_filter('INCLUDE ItemID WHERE Items.CATEGORY IN ("watch") AND Items.DESCRIPTION IN ("luxury") '
                     'IF CurrentUser.AGE > 18')
    assert f.expressions[0].if_conditions[0].values == (Value("number", 18.0),)
    f = parse_filter('INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) | EXCLUDE ItemID WHERE '
                     'Interactions.EVENT_TYPE IN ("click", "stream")')
    assert [e.action for e in f.expressions] == ["INCLUDE", "EXCLUDE"]
    assert f.parameters() == {"GENRE"}
    assert parse_filter('INCLUDE ActionID WHERE Action.MEMBERSHIP_LEVEL IN ("Premium")').expressions[0].dataset == "Actions"
    assert parse_filter('EXCLUDE ItemID WHERE Items.CATEGORY IN ("$CATEGORY")').parameters() == {"CATEGORY"}
    assert parse_filter('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")').expressions[0].conditions[0].values == (Value("star", "*"),)


def test_and_binds_tighter_than_or():
    f = parse_filter('INCLUDE ItemID WHERE Items.A IN ("1") OR Items.B IN ("2") AND Items.C IN ("3")')
    clauses = f.expressions[0].clauses
    assert [[c.field.name for c in clause] for clause in clauses] == [["A"], ["B", "C"]]


@pytest.mark.parametrize("text,position,words", [
    ("", 1, "empty"),
    ("INCLUDE", 8, "ItemID"),
    ("INCLUDE ItemID Items.GENRE IN (\"a\")", 16, "WHERE"),
    ("KEEP ItemID WHERE Items.A IN (\"a\")", 1, "INCLUDE or EXCLUDE"),
    ("INCLUDE Items WHERE Items.A IN (\"a\")", 9, "ItemID"),
    ("INCLUDE ItemID WHERE Things.A IN (\"a\")", 22, "dataset"),
    ("INCLUDE ItemID WHERE Items.A LIKE (\"a\")", 30, "comparison"),
    ("INCLUDE ItemID WHERE Items.A IN (\"a\"", 37, "')'"),
    ("INCLUDE ItemID WHERE Items.A IN (\"a", 34, "never closes"),
    ("INCLUDE ItemID WHERE Items.A IN (\"a\", $B)", 22, "only entry"),
    ("INCLUDE ItemID WHERE Items.A < \"*\"", 32, "only in an IN list"),
    ("INCLUDE ItemID WHERE CurrentUser.A IN (\"a\")", 22, "only after IF"),
    ("INCLUDE ItemID WHERE Items.A IN (\"a\") IF Items.B = 1", 42, "CurrentUser"),
    ("INCLUDE ItemID WHERE Items.A IN (\"a\") EXCLUDE", 39, "the end"),
    ("INCLUDE ItemID WHERE Items.A IN (\"a\") | ", 41, "INCLUDE or EXCLUDE"),
    ("INCLUDE ItemID WHERE Items.A IN (\"a\") ; DROP TABLE x", 39, "unexpected character"),
])
def test_errors_point_at_the_problem(text, position, words):
    with pytest.raises(FilterSyntaxError) as err:
        parse_filter(text)
    assert err.value.position + 1 == position, str(err.value)
    assert words in str(err.value) and f"position {position}" in str(err.value)


def test_length_limit():
    base = 'INCLUDE ItemID WHERE Items.A IN ("'
    ok = base + "x" * (2500 - len(base) - 2) + '")'
    assert len(ok) == 2500 and parse_filter(ok)
    with pytest.raises(FilterSyntaxError, match="at most 2500"):
        parse_filter(base + "x" * 2500 + '")')


def test_tokens_keep_positions():
    assert [(t.kind, t.pos) for t in tokenize('A.b <= $X')] == [
        ("word", 0), (".", 1), ("word", 2), ("op", 4), ("param", 7), ("end", 9)]


VOCAB = ["INCLUDE", "EXCLUDE", "ItemID", "UserID", "WHERE", "Items", "Users", "Interactions",
         "CurrentItem", "CurrentUser", ".", "GENRE", "PRICE", "IN", "NOT", "(", ")", ",", '"a"',
         '"*"', "$P", "1.5", "-3", "=", "!=", "<", "<=", ">", ">=", "AND", "OR", "IF", "|", '"',
         "\\", "'", ";", "--", "\x00", "é", "\n", "$", "e9", "..", "((", "))"]


def _mutate(rng: random.Random, text: str) -> str:
    ops = rng.randrange(1, 4)
    chars = list(text)
    for _ in range(ops):
        kind = rng.randrange(4)
        pos = rng.randrange(len(chars) + 1)
        if kind == 0 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif kind == 1:
            chars.insert(pos, rng.choice(string.printable + "é$\"|()"))
        elif kind == 2 and chars:
            chars[min(pos, len(chars) - 1)] = rng.choice(string.printable)
        else:
            words = "".join(chars).split(" ")
            rng.shuffle(words)
            chars = list(" ".join(words))
    return "".join(chars)


def test_fuzz_only_raises_the_projects_parse_error():
    rng = random.Random(20261129)
    parsed = rejected = 0
    for i in range(100_000):
        if i % 3 == 0:
            text = _mutate(rng, rng.choice(DOCS))
        elif i % 3 == 1:
            text = " ".join(rng.choice(VOCAB) for _ in range(rng.randrange(1, 25)))
        else:
            text = "".join(rng.choice(string.printable) for _ in range(rng.randrange(0, 80)))
        try:
            parse_filter(text)
            parsed += 1
        except FilterSyntaxError:
            rejected += 1
    assert parsed + rejected == 100_000
    assert parsed > 1000 and rejected > 50_000     # the fuzz reaches both outcomes


def test_non_string_input():
    with pytest.raises(InvalidInput):
        parse_filter(None)
