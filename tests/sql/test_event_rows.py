"""event_rows.check_rows/write against the importer path put_events used (stage, validate, load).

Both paths run on the same rows into twin dataset groups of one in-memory DuckDB, created by
the same templates as create_dataset_group/create_dataset; a row must be refused by both
with the same error (class and text) or land in both with the same typed values and id maps.
The connection is plain DuckDB, not pypersonalize.open(): these paths touch only the dataset
tables, so the test does not depend on the views and macros a project installs.
"""

from __future__ import annotations

import math

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pypersonalize import importer
from pypersonalize.errors import DataImportError, PypersonalizeError
from pypersonalize.event_rows import check_rows, insert_sql, write
from pypersonalize.importer import TEXTUAL_MAX
from pypersonalize.schemas import parse_schema
from pypersonalize.sqlkit import execute_all, render


def _schema(*fields):
    return parse_schema({"type": "record", "name": "Interactions", "version": "1.0",
                         "fields": [{"name": n, "type": t, **({"categorical": True} if cat else {})}
                                    for n, t, cat in fields]})


_BASE = (("USER_ID", "string", False), ("ITEM_ID", "string", False), ("TIMESTAMP", "long", False))
SCHEMAS = {
    "minimal": _schema(*_BASE),
    "reserved": _schema(*_BASE, ("EVENT_TYPE", "string", False), ("EVENT_VALUE", ["null", "float"], False),
                        ("IMPRESSION", ["null", "string"], False), ("RECOMMENDATION_ID", ["null", "string"], False),
                        ("EVENT_ATTRIBUTION_SOURCE", ["null", "string"], False)),
    "custom": _schema(*_BASE, ("EVENT_TYPE", "string", False), ("EVENT_VALUE", "double", False),
                      ("DEVICE", ["null", "string"], True), ("LOCATION", "string", True),
                      ("N", "int", False), ("FLAG", ["null", "boolean"], False), ("SCORE", ["null", "long"], False)),
    # 13 fields: check names "10:..." sort before "2:..." in importer.validate
    "wide": _schema(*_BASE, ("EVENT_TYPE", "string", False), ("EVENT_VALUE", ["null", "double"], False),
                    ("IMPRESSION", ["null", "string"], False), ("RECOMMENDATION_ID", ["null", "string"], False),
                    ("EVENT_ATTRIBUTION_SOURCE", ["null", "string"], False), ("A", ["null", "int"], False),
                    ("B", ["null", "float"], False), ("C", "boolean", False), ("D", "string", True),
                    ("E", "long", False)),
}
SEED_IDS = {"user_ids": ["u1", "u3"], "item_ids": ["i1", "b", "i9"]}


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect(":memory:")
    for key, schema in SCHEMAS.items():
        for side in ("imp", "py"):
            execute_all(con, render("datasets/create_group.sql", schema_name=f"{side}_{key}"))
            con.execute(render("datasets/create_table.sql", schema_name=f"{side}_{key}",
                               table="interactions", fields=schema.fields))
    yield con
    con.close()


def _reset(con, key):
    for side in ("imp", "py"):
        g = f"{side}_{key}"
        con.execute(f"DELETE FROM {g}.interactions")
        for table, ids in SEED_IDS.items():
            con.execute(f"DELETE FROM {g}.{table}")
            con.executemany(f"INSERT INTO {g}.{table} VALUES ($1, $2)", [(v, i) for i, v in enumerate(ids)])


def _atomic(con, step):
    con.execute("BEGIN TRANSACTION")
    try:
        step()
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def via_importer(con, key, frame):
    """What put_events ran before event_rows: the whole import in one transaction."""
    schema = SCHEMAS[key]

    def step():
        staged = importer.stage(con, schema, importer.resolve_source(frame))
        importer.validate(con, schema, staged)
        importer.load(con, schema, f"imp_{key}", "interactions", "INCREMENTAL")
        importer.drop_stage(con)
    _atomic(con, step)


def via_python(con, key, frame):
    schema = SCHEMAS[key]
    checked = check_rows(schema, frame)
    _atomic(con, lambda: write(con, f"py_{key}", schema, checked))


def _outcome(run, *args):
    try:
        run(*args)
    except PypersonalizeError as exc:
        return type(exc).__name__, str(exc)
    return None


def _state(con, group):
    return [con.execute(f"SELECT * FROM {group}.{t} ORDER BY {order}").fetchall()
            for t, order in (("interactions", "rowid"), ("user_ids", "idx"), ("item_ids", "idx"))]


def _frame(key, rows):
    """Rows shaped as events.event_rows() returns them: every field a column, None when absent."""
    names = sorted(SCHEMAS[key].names)
    return pd.DataFrame([{n: r.get(n) for n in names} for r in rows], columns=names)


def assert_same(con, key, rows):
    """Both paths agree on ``rows``; returns the error text (None when accepted)."""
    _reset(con, key)
    frame = _frame(key, rows)
    expected = _outcome(via_importer, con, key, frame)
    got = _outcome(via_python, con, key, frame)
    assert got == expected
    imp, py = _state(con, f"imp_{key}"), _state(con, f"py_{key}")
    assert py == imp
    if expected is None:
        assert len(py[0]) == len(rows)
    return expected and expected[1]


# -- (a) random rows, both paths -----------------------------------------------------------

_ALPHABET = st.sampled_from(list("ab5-+.eE|_ ") + ["\x00", "\t", "\n", "\x7f", "\u00a0", "\u3000", "é", "٣"])
_TEXT = st.text(_ALPHABET, max_size=6)
_NUMERIC_TEXT = st.sampled_from(
    ["", " ", "5", " 5 ", "+5", "-0", "007", "1e3", "1.5", ".5", "5.", "+1E-3", "nan", "inf", "-Infinity",
     "1e999", "-1e999", "3.5e38", "99999999999", "100000000000", "-1", "2147483647", "2147483648",
     "-2147483648", "123456789012345678", "1234567890123456789", "\u00a012\u3000", "\t5", "1_000",
     "0x10", "true", "false", "True", "1", "a|b", "a\x00"])
_LONG_TEXT = st.sampled_from([255, 256, 257, 999, 1000, 1001]).map(lambda n: "x" * n)
_INTS = st.one_of(st.sampled_from([0, -1, 2**31 - 1, 2**31, -2**31, 10**11 - 1, 10**11, 10**15, 2**53 + 1,
                                   10**18, 10**19, 2**63 - 1, 2**70]),
                  st.integers(-10**12, 10**12))
_FLOATS = st.one_of(st.sampled_from([0.0, -0.0, 0.5, 5.0, 1e15, 1e11, 3.4028234e38, 3.5e38, 1e300, 2.0**60,
                                     math.inf, -math.inf, math.nan]),
                    st.floats())
_LIST = st.lists(st.one_of(_TEXT, st.none()), max_size=3)
# "number" mixes ints and floats within int64, which pandas makes a float64 column; beyond it
# the column stays objects, which DuckDB reads as DOUBLE (check_rows spells each int exactly).
ANY = {"str": st.one_of(_TEXT, _NUMERIC_TEXT, _LONG_TEXT), "int": _INTS, "float": _FLOATS,
       "number": st.one_of(_INTS.filter(lambda v: abs(v) < 2**63), _FLOATS), "bool": st.booleans(),
       "list": _LIST}
_SAFE = st.text(st.sampled_from(list("abi15-")), min_size=1, max_size=4)


def _good(f, draw):
    """Mostly valid values of the field's type, so that accepted rows are common too."""
    if f.name == "TIMESTAMP":
        return draw(st.sampled_from([st.integers(0, 10**11 - 1), st.sampled_from(["1700000000", " 17 "])]))
    if f.is_list:
        return draw(st.sampled_from([st.lists(_SAFE, min_size=1, max_size=3), _SAFE]))
    return {"string": _SAFE, "int": st.integers(-2**31 + 1, 2**31 - 1), "long": st.integers(-10**17, 10**17),
            "float": st.floats(-1e30, 1e30), "double": st.floats(allow_nan=False, allow_infinity=False),
            "boolean": st.booleans()}[f.type]


@st.composite
def cases(draw):
    key = draw(st.sampled_from(sorted(SCHEMAS)))
    fields = SCHEMAS[key].fields
    n = draw(st.integers(1, 4))
    columns = {}
    for f in fields:
        # One kind per column (DuckDB's DataFrame scan spells mixed object columns its own
        # way); about half the cases hold no column of another kind.
        odd = draw(st.integers(0, 2 * len(fields))) < 2
        values = ANY[draw(st.sampled_from(sorted(ANY)))] if odd else _good(f, draw)
        absent = draw(st.sampled_from([0.0] * 6 + [0.3, 1.0] if f.nullable else [0.0] * 12 + [0.2]))
        columns[f.name] = [None if draw(st.floats(0, 1)) < absent else draw(values) for _ in range(n)]
    return key, [{name: col[i] for name, col in columns.items()} for i in range(n)]


@settings(max_examples=250, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_random_rows_are_judged_and_stored_as_the_importer_does(con, case):
    key, rows = case
    assert_same(con, key, rows)


# -- (b) every rule validate.sql applies to Interactions -----------------------------------

GOOD = {"USER_ID": "u1", "ITEM_ID": "i1", "TIMESTAMP": 1700000000, "EVENT_TYPE": "Click",
        "EVENT_VALUE": 1.5, "LOCATION": "home", "N": 3, "C": True, "D": "x", "E": 7}
CASES = [
    # null: a non-nullable field, None or ''
    ("custom", [{"USER_ID": None}], "row 1, column USER_ID: empty value, but the field is not nullable"),
    ("custom", [{}, {"EVENT_TYPE": ""}], "row 2, column EVENT_TYPE: empty value"),
    ("custom", [{"LOCATION": []}], "column LOCATION: empty value"),
    ("custom", [{"N": None}], "column N: empty value"),
    ("custom", [{"EVENT_VALUE": float("nan")}], "column EVENT_VALUE: empty value"),   # NaN is pandas' missing
    ("custom", [{"DEVICE": None, "FLAG": None, "SCORE": ""}], None),                   # nullable: stored NULL
    # idlen: USER_ID / ITEM_ID at most 256 characters (Unicode code points)
    ("minimal", [{"ITEM_ID": "x" * 256}, {"USER_ID": "é" * 256}], None),
    ("minimal", [{"ITEM_ID": "x" * 257}], "column ITEM_ID: value is 257 characters long; ids may have at most 256"),
    # len: other strings and a whole list value at most 1000
    ("reserved", [{"EVENT_TYPE": "x" * 1000, "IMPRESSION": ["y" * 499, "z" * 500]}], None),
    ("reserved", [{"EVENT_TYPE": "x" * 1001}], "column EVENT_TYPE: value is 1001 characters long; at most 1000"),
    ("reserved", [{"IMPRESSION": ["y" * 500, "z" * 500]}], "column IMPRESSION: value is 1001 characters long"),
    ("custom", [{"DEVICE": "d" * 1001}], "column DEVICE: value is 1001 characters long"),
    # chars: '|' in a one-value field
    ("reserved", [{"ITEM_ID": "a|b"}], "column ITEM_ID: value 'a|b' contains '|'"),
    ("reserved", [{"RECOMMENDATION_ID": "r|1"}], "column RECOMMENDATION_ID: value 'r|1' contains '|'"),
    ("reserved", [{"EVENT_TYPE": ["Click", "View"]}], "column EVENT_TYPE: value 'Click|View' contains '|'"),
    ("reserved", [{"EVENT_ATTRIBUTION_SOURCE": "a|b\tc"}], None),     # plain string: both allowed
    ("custom", [{"DEVICE": "phone|tablet", "LOCATION": ["a", "b"]}], None),
    # chars: control characters in ids, event types and list values
    ("minimal", [{"USER_ID": "u\x00"}], "column USER_ID: value 'u\\x00' contains the control character '\\x00' (at character 2)"),
    ("reserved", [{"EVENT_TYPE": "a|\tb"}], "contains the control character '\\t' (at character 3)"),
    ("custom", [{"DEVICE": ["ok", "b\x7f"]}], "column DEVICE: value 'ok|b\\x7f' contains the control character '\\x7f'"),
    ("reserved", [{"IMPRESSION": "i1|i2\n"}], "column IMPRESSION: value 'i1|i2\\n' contains the control character"),
    # row:issue: a list element holding '|' comes before the row's other checks
    ("custom", [{"DEVICE": ["a|b"], "USER_ID": ""}], "row 1, column DEVICE: an element of this list contains '|'"),
    ("reserved", [{"ITEM_ID": ""}, {"IMPRESSION": ["i1|i2"]}], "row 1, column ITEM_ID: empty value"),
    ("minimal", [{"ITEM_ID": ["a|b"]}], "column ITEM_ID: an element of this list contains '|'"),
    # int: an integer (after DuckDB's trim of Unicode spaces), at most 18 digits
    ("minimal", [{"TIMESTAMP": "\u00a017\u3000"}, {"TIMESTAMP": "+5"}], None),
    ("minimal", [{"TIMESTAMP": 3.0}], None),
    ("minimal", [{"TIMESTAMP": "\t17"}], "column TIMESTAMP: expected an integer (Avro long), got '\\t17'"),
    ("minimal", [{"TIMESTAMP": 1.5}], "expected an integer (Avro long), got '1.5'"),
    ("minimal", [{"TIMESTAMP": "1e3"}], "got '1e3'"),
    ("minimal", [{"TIMESTAMP": "٣"}], "got '٣'"),
    ("custom", [{"N": "1234567890123456789"}], "column N: expected an integer (Avro int)"),
    ("custom", [{"SCORE": 10**18}], "column SCORE: expected an integer (Avro long), got '1000000000000000000'"),
    ("custom", [{"SCORE": "-123456789012345678"}], None),
    # range: Avro int compares abs() with 2^31 - 1
    ("custom", [{"N": 2**31 - 1}, {"N": "-2147483647"}], None),
    ("custom", [{"N": 2**31}], "column N: value '2147483648' is out of range for Avro int"),
    ("custom", [{"N": -2**31}], "value '-2147483648' is out of range for Avro int"),
    # ms / neg: TIMESTAMP in epoch seconds
    ("minimal", [{"TIMESTAMP": 10**11 - 1}, {"TIMESTAMP": 0}], None),
    ("minimal", [{"TIMESTAMP": 10**11}], "timestamp '100000000000' looks like milliseconds"),
    ("minimal", [{"TIMESTAMP": -1}], "timestamp '-1' is negative"),
    # num: a finite number
    ("reserved", [{"EVENT_VALUE": ".5"}, {"EVENT_VALUE": "5."}, {"EVENT_VALUE": "+1E3"}, {"EVENT_VALUE": 2}], None),
    ("reserved", [{"EVENT_VALUE": "nan"}], "column EVENT_VALUE: expected a finite number (Avro float), got 'nan'"),
    ("reserved", [{"EVENT_VALUE": math.inf}], "got 'inf'"),
    ("reserved", [{"EVENT_VALUE": "1e999"}], "got '1e999'"),
    ("custom", [{"EVENT_VALUE": "1,5"}], "expected a finite number (Avro double), got '1,5'"),
    # range: Avro float up to 3.4028234e38 (a double has no such bound)
    ("reserved", [{"EVENT_VALUE": 3.4028234e38}], None),
    ("reserved", [{"EVENT_VALUE": 3.5e38}], "value '3.5e+38' is out of range for Avro float"),
    ("custom", [{"EVENT_VALUE": 3.5e38}], None),
    # bool: lower-case true / false
    ("custom", [{"FLAG": "true"}, {"FLAG": "false"}], None),
    ("custom", [{"FLAG": False}, {"FLAG": None}], None),
    ("custom", [{"FLAG": "True"}], "column FLAG: expected lower-case true or false (Avro boolean), got 'True'"),
    ("custom", [{"FLAG": 1}], "got '1'"),
    # spelling: whole floats below 1e15 lose ".0", the rest are DuckDB's (= Python's) repr
    ("minimal", [{"ITEM_ID": 5.0}, {"ITEM_ID": 1e15}, {"ITEM_ID": 2.5}, {"ITEM_ID": None}], "column ITEM_ID: empty"),
    ("minimal", [{"ITEM_ID": 5.0}, {"ITEM_ID": 1e15}, {"ITEM_ID": 2.5}, {"ITEM_ID": 1e-7}], None),
    ("minimal", [{"ITEM_ID": True}, {"ITEM_ID": False}], None),
    ("minimal", [{"ITEM_ID": 7}, {"USER_ID": 2**64}], None),
    # which error wins: the first row, then the smallest check name as text
    ("custom", [{"N": "x"}, {"USER_ID": ""}], "row 1, column N"),
    ("custom", [{"TIMESTAMP": -1, "EVENT_VALUE": "x"}], "column TIMESTAMP"),          # "2:neg" < "4:num"
    ("wide", [{"ITEM_ID": "", "A": "x"}], "column ITEM_ID"),                          # "1:null" < "8:int"
    ("wide", [{"ITEM_ID": "", "C": "yes"}], "column C"),                              # "10:bool" < "1:null"
    ("wide", [{"TIMESTAMP": "x", "E": "y", "D": ""}], "column D"),                    # "11:null" < "12:int" < "2:int"
]


def _rows(key, *overrides):
    names = SCHEMAS[key].names
    return [{**{n: v for n, v in GOOD.items() if n in names}, **r} for r in overrides]


@pytest.mark.parametrize("key,rows,message", CASES)
def test_each_rule_as_the_importer(con, key, rows, message):
    rows = _rows(key, *rows)
    got = assert_same(con, key, rows)
    if message is None:
        assert got is None
    else:
        assert got is not None and message in got, got


def test_accepted_values_are_typed_as_load_sql_types_them():
    schema = SCHEMAS["custom"]
    checked = check_rows(schema, _rows("custom", {"DEVICE": ["a", None, "b"], "FLAG": "false", "SCORE": " 12 ",
                                                  "N": 4.0, "EVENT_VALUE": "1e3", "LOCATION": "p|q"}))
    assert checked.columns == tuple(schema.names)
    assert dict(zip(checked.columns, checked.rows[0])) == {
        "USER_ID": "u1", "ITEM_ID": "i1", "TIMESTAMP": 1700000000, "EVENT_TYPE": "Click",
        "EVENT_VALUE": 1000.0, "DEVICE": ["a", "b"], "LOCATION": ["p", "q"], "N": 4, "FLAG": False, "SCORE": 12}


def test_columns_are_checked_as_the_importer_checks_them():
    schema = SCHEMAS["minimal"]
    with pytest.raises(DataImportError, match="column 'TIMESTAMP' of the Interactions schema is missing"):
        check_rows(schema, pd.DataFrame([{"USER_ID": "u", "ITEM_ID": "i"}]))
    with pytest.raises(DataImportError, match="column 'COLOUR' is not a field of the Interactions schema"):
        check_rows(schema, _rows("minimal", {"COLOUR": "red"}))
    with pytest.raises(DataImportError, match="no data rows"):
        check_rows(schema, pd.DataFrame(columns=schema.names))


def test_values_without_a_staged_spelling_are_refused():
    # DuckDB's DataFrame scan stored these as their repr ("{'a': 1}", "1.0|2.5")
    for value in ({"a": 1}, [1.0, 2.5], b"i1"):
        with pytest.raises(DataImportError, match="row 1, column ITEM_ID: a .* value cannot be stored"):
            check_rows(SCHEMAS["minimal"], _rows("minimal", {"ITEM_ID": value}))


def test_insert_sql_quotes_names_and_numbers_every_value():
    sql = insert_sql('my"group', SCHEMAS["minimal"], 2)
    assert sql == ('INSERT INTO "my""group"."interactions" ("USER_ID", "ITEM_ID", "TIMESTAMP") '
                   "VALUES ($1, $2, $3), ($4, $5, $6)")
    assert insert_sql('my"group', SCHEMAS["minimal"], 2) is sql     # built once
    assert insert_sql("g", META["items"], 1, "items").startswith('INSERT INTO "g"."items" ("ITEM_ID", ')


# -- (3) a bad event leaves nothing behind -------------------------------------------------

def test_a_bad_row_after_good_ones_writes_nothing(con):
    _reset(con, "reserved")
    before = _state(con, "py_reserved")
    rows = _rows("reserved", *({"USER_ID": "new-user", "ITEM_ID": f"new-{i}"} for i in range(9)),
                 {"TIMESTAMP": 1700000000000})
    with pytest.raises(DataImportError, match="row 10, column TIMESTAMP: timestamp '1700000000000' looks like"):
        via_python(con, "reserved", _frame("reserved", rows))
    assert _state(con, "py_reserved") == before
    via_python(con, "reserved", _frame("reserved", rows[:9]))
    interactions, users, items = _state(con, "py_reserved")
    assert len(interactions) == 9
    assert users[-1] == ("new-user", 2) and [i for i, _ in items[3:]] == [f"new-{i}" for i in range(9)]


# -- (4) Items and Users rows (put_items / put_users): checked and upserted as INCREMENTAL imports

def _meta_schema(dtype, *fields):
    return parse_schema({"type": "record", "name": dtype, "version": "1.0",
                         "fields": [{"name": n, "type": t, **extra} for n, t, extra in fields]})


META = {
    "items": _meta_schema("Items", ("ITEM_ID", "string", {}), ("GENRES", "string", {"categorical": True}),
                          ("CREATION_TIMESTAMP", "double", {}), ("PRICE", ["null", "float"], {}),
                          ("DESCRIPTION", ["null", "string"], {"textual": True}),
                          ("IN_STOCK", ["null", "boolean"], {}), ("RANK", ["null", "int"], {})),
    "users": _meta_schema("Users", ("USER_ID", "string", {}), ("TIER", ["null", "string"], {"categorical": True}),
                          ("AGE", ["null", "int"], {}), ("NOTE", ["null", "string"], {})),
}
META_SEED = {"items": [{"ITEM_ID": "i1", "GENRES": "a", "CREATION_TIMESTAMP": 5},
                       {"ITEM_ID": "b", "GENRES": "x|y", "CREATION_TIMESTAMP": 6, "PRICE": 2.5}],
             "users": [{"USER_ID": "u1", "TIER": "gold", "AGE": 40}, {"USER_ID": "u3"}]}


@pytest.fixture(scope="module")
def meta_con():
    con = duckdb.connect(":memory:")
    for key, schema in META.items():
        for side in ("seed", "imp", "py"):
            execute_all(con, render("datasets/create_group.sql", schema_name=f"{side}_{key}"))
            con.execute(render("datasets/create_table.sql", schema_name=f"{side}_{key}", table=key,
                               fields=schema.fields))
        _meta_import(con, key, f"seed_{key}", _meta_frame(key, META_SEED[key]))
    yield con
    con.close()


def _meta_import(con, key, group, frame):
    schema = META[key]

    def step():
        staged = importer.stage(con, schema, importer.resolve_source(frame))
        importer.validate(con, schema, staged)
        importer.load(con, schema, group, key, "INCREMENTAL")
        importer.drop_stage(con)
    _atomic(con, step)


def _meta_frame(key, rows):
    names = META[key].names
    return pd.DataFrame([{n: r.get(n) for n in names} for r in rows], columns=names)


def _meta_state(con, group, key):
    return [con.execute(f"SELECT * FROM {group}.{t} ORDER BY ALL").fetchall()
            for t in (key, "user_ids", "item_ids")]


def assert_same_meta(con, key, rows):
    """An INCREMENTAL import and check_rows + write agree on Items/Users ``rows`` (over seeded rows)."""
    for side in ("imp", "py"):
        for table in (key, "user_ids", "item_ids"):        # the seeded rows, imported once
            con.execute(f"DELETE FROM {side}_{key}.{table}")
            con.execute(f"INSERT INTO {side}_{key}.{table} SELECT * FROM seed_{key}.{table}")
    frame = _meta_frame(key, rows)
    expected = _outcome(_meta_import, con, key, f"imp_{key}", frame)
    if expected is not None and "occurs again" in expected[1]:
        return expected[1]          # an import's "each id once"; put_items lets the last one win
    schema = META[key]
    got = _outcome(lambda: _atomic(con, lambda: write(con, f"py_{key}", schema, check_rows(schema, frame),
                                                       table=key)))
    assert got == expected
    assert _meta_state(con, f"py_{key}", key) == _meta_state(con, f"imp_{key}", key)
    return expected and expected[1]


@st.composite
def meta_cases(draw):
    key = draw(st.sampled_from(sorted(META)))
    fields = META[key].fields
    n = draw(st.integers(1, 4))
    columns = {}
    for f in fields:
        odd = draw(st.integers(0, 2 * len(fields))) < 2
        if f.name in ("ITEM_ID", "USER_ID") and not odd:
            values = st.sampled_from(["i1", "b", "u1", "u3", "new1", "new2", "x y", "é"])     # seeded ids too
        elif f.name == "CREATION_TIMESTAMP" and not odd:
            # one kind per column, as above
            values = draw(st.sampled_from([st.integers(0, 10**11 - 1), st.floats(-1, 2e11),
                                           st.sampled_from(["17", "1.5e9", "-0.5", "1e11"])]))
        else:
            values = ANY[draw(st.sampled_from(sorted(ANY)))] if odd else _good(f, draw)
        absent = draw(st.sampled_from([0.0] * 6 + [0.3, 1.0] if f.nullable else [0.0] * 12 + [0.2]))
        columns[f.name] = [None if draw(st.floats(0, 1)) < absent else draw(values) for _ in range(n)]
    return key, [{name: col[i] for name, col in columns.items()} for i in range(n)]


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(meta_cases())
def test_random_items_and_users_rows_are_judged_and_upserted_as_an_incremental_import(meta_con, case):
    key, rows = case
    assert_same_meta(meta_con, key, rows)


ITEM = {"ITEM_ID": "new1", "GENRES": "g", "CREATION_TIMESTAMP": 1700000000}
META_CASES = [
    ("items", [{"ITEM_ID": "i1", "GENRES": ["h", "k"]}], None),                      # replaces the seeded i1
    ("items", [{"DESCRIPTION": "d" * (TEXTUAL_MAX + 5)}], None),                      # cut as load.sql cuts it
    ("items", [{"CREATION_TIMESTAMP": 1.5e9}, {"ITEM_ID": "n2", "CREATION_TIMESTAMP": "99999999999.5"}], None),
    ("items", [{"CREATION_TIMESTAMP": 1e11}], "column CREATION_TIMESTAMP: timestamp '100000000000' looks like"),
    ("items", [{"CREATION_TIMESTAMP": -0.5}], "column CREATION_TIMESTAMP: timestamp '-0.5' is negative"),
    ("items", [{"PRICE": 3.5e38}], "column PRICE: value '3.5e+38' is out of range for Avro float"),
    ("items", [{"GENRES": "x" * 1001}], "column GENRES: value is 1001 characters long"),
    ("items", [{"ITEM_ID": "a|b"}], "column ITEM_ID: value 'a|b' contains '|'"),
    ("items", [{"GENRES": None}], "column GENRES: empty value"),
    ("items", [{"IN_STOCK": "yes"}], "column IN_STOCK: expected lower-case true or false"),
    ("users", [{"USER_ID": "u1", "AGE": "41", "TIER": None}], None),
    ("users", [{"USER_ID": "u9", "AGE": 2**31}], "column AGE: value '2147483648' is out of range for Avro int"),
    ("users", [{"USER_ID": "u9", "TIER": "a\x00"}], "column TIER: value 'a\\x00' contains the control character"),
]


@pytest.mark.parametrize("key,rows,message", META_CASES)
def test_items_and_users_rules_as_the_importer(meta_con, key, rows, message):
    base = ITEM if key == "items" else {"USER_ID": "u9"}
    got = assert_same_meta(meta_con, key, [{**base, **r} for r in rows])
    if message is None:
        assert got is None
    else:
        assert got is not None and message in got, got


def test_an_items_write_refuses_a_repeated_id():
    schema = META["items"]
    checked = check_rows(schema, [ITEM, ITEM])       # check_rows leaves "each id once" to its caller
    con = duckdb.connect(":memory:")
    with pytest.raises(PypersonalizeError, match="each ITEM_ID may occur once"):
        write(con, "g", schema, checked, table="items")
