"""A corpus of bad import files: each is rejected with a clear, located message and the
dataset group is left exactly as it was; a few harmless quirks are accepted as-is.

The files live in ``tests/data/bad/``; every file targets one problem against the fixed
schemas below and is listed in ``CASES`` with the dataset it is imported into, the column
the error must name (None for structural CSV problems) and the physical line it must
report (the header being line 1; None for whole-file problems).
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

import pypersonalize

BAD = Path(__file__).resolve().parent.parent / "data" / "bad"
GROUP = "shop"

INTERACTIONS_SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "version": "1.0",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "IMPRESSION", "type": ["null", "string"]},
    ],
}
ITEMS_SCHEMA = {
    "type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
    "version": "1.0",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True},
        {"name": "PRICE", "type": ["null", "double"]},
        {"name": "IN_STOCK", "type": ["null", "boolean"]},
        {"name": "RATING", "type": ["null", "int"]},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
    ],
}
USERS_SCHEMA = {
    "type": "record", "name": "Users", "namespace": "com.amazonaws.personalize.schema",
    "version": "1.0",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "MEMBERSHIP", "type": ["null", "string"], "categorical": True},
        {"name": "LOYALTY_POINTS", "type": ["null", "long"]},
        {"name": "AGE", "type": ["null", "int"]},
    ],
}
SCHEMAS = {"Interactions": INTERACTIONS_SCHEMA, "Items": ITEMS_SCHEMA, "Users": USERS_SCHEMA}

# The good baseline imported before every test. Its ids (alice, m1, ...) differ from the
# ids of the bad files (u1, i1, ...), so a partial load would show in the id maps too.
CLEAN = {
    "Interactions": (
        "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP,IMPRESSION\n"
        "alice,m1,click,1.5,1590000000,m2|m3\n"
        "bob,m2,watch,,1590000100,\n"
        "carol,m3,click,0.25,1590000200,m1\n"
        "alice,m3,watch,4,1590000300,\n"
    ),
    "Items": (
        "ITEM_ID,GENRES,PRICE,IN_STOCK,RATING,CREATION_TIMESTAMP,DESCRIPTION\n"
        'm1,a|b|c,9.99,true,4,1580000000,"A film, with ""quotes"", and commas"\n'
        "m2,drama,,false,,1580000100,Plain text\n"
        'm3,,19.5,,-2,1580000200,"""Quoted"" at the start, a comma at the end,"\n'
        "m4,comedy|drama,0,true,0,1580000300,\n"
    ),
    "Users": (
        "USER_ID,MEMBERSHIP,LOYALTY_POINTS,AGE\n"
        "alice,gold,100,34\n"
        "bob,silver|promo,,\n"
        "carol,,2500,51\n"
    ),
}
TABLES = {"Interactions": "interactions", "Items": "items", "Users": "users"}

# --- the corpus ----------------------------------------------------------------------

LINE_COUNT_BUG = ("validate() numbers CSV rows by record (rowid - first rowid + 2), not by "
                  "physical line: a skipped blank line or a quoted value spanning two lines "
                  "makes every later line number one too small")
DUCKDB_LINE_BUG = ("_csv_error passes on DuckDB's 'CSV Error on Line: N', which counts records, "
                   "not physical lines: after a quoted value spanning two lines it is one too "
                   "small")


class Case(NamedTuple):
    file: str
    dataset: str                 # Interactions | Items | Users
    column: str | None           # the column the error must name
    line: int | None             # the physical line the error must report
    incremental: bool = False    # also import it with import_mode="INCREMENTAL"
    bug: str | None = None       # known importer bug: the location check is xfail(strict)


CASES = [
    # header and structure
    Case("interactions_missing_column.csv", "Interactions", "TIMESTAMP", 1, incremental=True),
    Case("interactions_extra_column.csv", "Interactions", "COLOR", 1),
    Case("interactions_duplicate_header.csv", "Interactions", "USER_ID", 1),
    Case("interactions_lowercase_header.csv", "Interactions", "user_id", 1),
    Case("interactions_semicolon_delimiter.csv", "Interactions", None, 1),
    Case("interactions_tab_delimiter.csv", "Interactions", None, 1),
    Case("interactions_empty_file.csv", "Interactions", None, None, incremental=True),
    Case("interactions_header_only.csv", "Interactions", None, None, incremental=True),
    Case("interactions_blank_first_line.csv", "Interactions", None, 1),
    Case("interactions_extra_value.csv", "Interactions", None, 5, incremental=True),
    Case("interactions_missing_value.csv", "Interactions", None, 4, incremental=True),
    Case("interactions_unterminated_quote.csv", "Interactions", None, 5, incremental=True),
    Case("interactions_quote_inside_quoted_value.csv", "Interactions", None, 5),
    # encodings and line ends
    Case("interactions_latin1_bytes.csv", "Interactions", None, 5, incremental=True),
    Case("interactions_latin1_bytes_after_8kb.csv", "Interactions", None, 302, incremental=True),
    Case("interactions_latin1_in_header.csv", "Interactions", None, 1),
    Case("interactions_utf16.csv", "Interactions", None, 1),
    Case("interactions_crlf_text_timestamp.csv", "Interactions", "TIMESTAMP", 5),
    Case("interactions_blank_line_before_bad_row.csv", "Interactions", "TIMESTAMP", 6),
    # ids and strings
    Case("interactions_long_user_id.csv", "Interactions", "USER_ID", 5),
    Case("interactions_pipe_in_user_id.csv", "Interactions", "USER_ID", 5),
    Case("interactions_pipe_in_item_id.csv", "Interactions", "ITEM_ID", 5, incremental=True),
    Case("interactions_pipe_in_event_type.csv", "Interactions", "EVENT_TYPE", 5),
    Case("interactions_empty_user_id.csv", "Interactions", "USER_ID", 5, incremental=True),
    Case("interactions_empty_item_id.csv", "Interactions", "ITEM_ID", 5),
    Case("interactions_empty_event_type.csv", "Interactions", "EVENT_TYPE", 5),
    Case("interactions_long_impression.csv", "Interactions", "IMPRESSION", 5),
    # timestamps and numbers
    Case("interactions_text_timestamp.csv", "Interactions", "TIMESTAMP", 5, incremental=True),
    Case("interactions_float_timestamp.csv", "Interactions", "TIMESTAMP", 5),
    Case("interactions_millisecond_timestamp.csv", "Interactions", "TIMESTAMP", 5, incremental=True),
    Case("interactions_negative_timestamp.csv", "Interactions", "TIMESTAMP", 5),
    Case("interactions_exponent_timestamp.csv", "Interactions", "TIMESTAMP", 5),
    Case("interactions_text_event_value.csv", "Interactions", "EVENT_VALUE", 5),
    Case("interactions_nan_event_value.csv", "Interactions", "EVENT_VALUE", 5),
    Case("interactions_float_overflow_event_value.csv", "Interactions", "EVENT_VALUE", 5),
    # Items
    Case("items_empty_creation_timestamp.csv", "Items", "CREATION_TIMESTAMP", 5),
    Case("items_duplicate_item_id.csv", "Items", "ITEM_ID", 6, incremental=True),
    Case("items_boolean_upper_case.csv", "Items", "IN_STOCK", 5),
    Case("items_boolean_yes.csv", "Items", "IN_STOCK", 5, incremental=True),
    Case("items_int_out_of_range.csv", "Items", "RATING", 5, incremental=True),
    Case("items_hex_int.csv", "Items", "RATING", 5),
    Case("items_decimal_in_int.csv", "Items", "RATING", 5),
    Case("items_inf_price.csv", "Items", "PRICE", 5),
    Case("items_text_price.csv", "Items", "PRICE", 5),
    Case("items_long_categorical.csv", "Items", "GENRES", 5),
    Case("items_empty_item_id.csv", "Items", "ITEM_ID", 5),
    Case("items_multiline_text_before_bad_row.csv", "Items", "IN_STOCK", 6),
    Case("items_multiline_text_before_extra_value.csv", "Items", None, 6),
    # Users
    Case("users_text_in_long.csv", "Users", "LOYALTY_POINTS", 5, incremental=True),
    Case("users_exponent_in_long.csv", "Users", "LOYALTY_POINTS", 5),
    Case("users_int_out_of_range.csv", "Users", "AGE", 5),
    Case("users_empty_user_id.csv", "Users", "USER_ID", 5),
    Case("users_duplicate_user_id.csv", "Users", "USER_ID", 5, incremental=True),
]

# Bytes that some files must hold (or lack) to test what they claim to test; a checkout
# that re-encodes or re-ends lines would silently defeat them.
BYTE_RULES = {
    "interactions_empty_file.csv": lambda b: b == b"",
    "interactions_latin1_bytes.csv": lambda b: b"caf\xe9," in b,
    "interactions_latin1_bytes_after_8kb.csv": lambda b: b"caf\xe9," in b and b.index(b"\xe9") > 8192,
    "interactions_latin1_in_header.csv": lambda b: b"\xd3" in b.split(b"\n")[0],
    "interactions_utf16.csv": lambda b: b[:2] in (b"\xff\xfe", b"\xfe\xff"),
    "interactions_crlf_text_timestamp.csv": lambda b: b.count(b"\r\n") == b.count(b"\n") == 6,
    "interactions_tab_delimiter.csv": lambda b: b"\t" in b and b"," not in b,
    "interactions_semicolon_delimiter.csv": lambda b: b";" in b and b"," not in b,
    "interactions_long_user_id.csv": lambda b: b"u" * 300 + b"," in b,
    "items_long_categorical.csv": lambda b: b"g" * 1001 + b"," in b,
    "interactions_long_impression.csv": lambda b: b"," + b"x" * 1001 + b"\n" in b,
}


def _params(with_bugs: bool):
    out = []
    for case in CASES:
        for mode in ("FULL", "INCREMENTAL") if case.incremental else ("FULL",):
            marks = ([pytest.mark.xfail(strict=True, reason=case.bug)]
                     if with_bugs and case.bug else [])
            out.append(pytest.param(case, mode, marks=marks, id=f"{case.file[:-4]}-{mode}"))
    return out


# --- fixtures and helpers ------------------------------------------------------------

def import_csv(pp, dataset: str, path: Path | str, mode: str = "FULL") -> dict:
    return pp.create_dataset_import_job(dataset=dataset, dataset_group=GROUP,
                                        data_source=str(path), import_mode=mode)


@pytest.fixture
def shop(tmp_path):
    """A custom dataset group with the three schemas and datasets, each holding CLEAN."""
    with pypersonalize.open(tmp_path / "p.duckdb", quiet=True) as pp:
        pp.create_dataset_group(name=GROUP)
        for dtype, schema in SCHEMAS.items():
            pp.create_schema(name=f"{GROUP}-{dtype.lower()}", schema=schema)
            pp.create_dataset(name=f"{GROUP}-{dtype.lower()}", dataset_group=GROUP,
                              dataset_type=dtype, schema=f"{GROUP}-{dtype.lower()}")
            clean = tmp_path / f"clean_{dtype.lower()}.csv"
            clean.write_bytes(CLEAN[dtype].encode("utf-8"))
            import_csv(pp, dtype, clean)
        yield pp


def table_state(pp, table: str) -> tuple[int, str]:
    """Row count and sha256 of a table's full content, in a row-order-free way."""
    rows = pp.con.execute(f'SELECT * FROM "{GROUP}"."{table}" ORDER BY ALL').fetchall()
    return len(rows), hashlib.sha256(repr(rows).encode("utf-8")).hexdigest()


def group_state(pp) -> dict[str, tuple[int, str]]:
    """Every dataset table of the group plus its id maps."""
    return {t: table_state(pp, t) for t in (*TABLES.values(), "user_ids", "item_ids")}


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- the corpus itself ---------------------------------------------------------------

def test_corpus_matches_cases():
    on_disk = sorted(p.name for p in BAD.iterdir())
    listed = sorted(c.file for c in CASES)
    assert on_disk == listed
    assert len(listed) == len(set(listed)) >= 30
    for case in CASES:
        assert case.dataset in SCHEMAS
        assert case.line is None or case.line >= 1
        assert (BAD / case.file).stat().st_size < 16_000


@pytest.mark.parametrize("name", sorted(BYTE_RULES))
def test_corpus_bytes(name):
    assert BYTE_RULES[name]((BAD / name).read_bytes())


def test_baseline_is_loaded(shop):
    state = group_state(shop)
    assert state["interactions"][0] == 4
    assert state["items"][0] == 4
    assert state["users"][0] == 3
    assert state["user_ids"][0] == 3       # alice, bob, carol
    assert state["item_ids"][0] == 4       # m1..m4


# --- bad files -----------------------------------------------------------------------

@pytest.mark.parametrize(("case", "mode"), _params(with_bugs=False))
def test_bad_file_is_rejected_and_changes_nothing(shop, case, mode):
    path = BAD / case.file
    before = group_state(shop)
    jobs_before = len(shop.list_dataset_import_jobs(dataset=case.dataset,
                                                    dataset_group=GROUP)["datasetImportJobs"])

    with pytest.raises(pypersonalize.DataImportError) as info:
        import_csv(shop, case.dataset, path, mode)
    err = info.value

    # a clear message: it names the file, fits on one line and is not a raw DuckDB dump
    message = str(err)
    assert case.file in message
    assert err.source == str(path)
    assert err.reason and "\n" not in message
    assert len(err.reason) < 400
    assert "Error:" not in message and "Possible fixes" not in message

    # nothing changed: dataset tables and id maps hold exactly what they held
    assert group_state(shop) == before

    # the job is recorded as failed, with the message as its reason
    assert err.job_arn
    job = shop.describe_dataset_import_job(err.job_arn)["datasetImportJob"]
    assert job["status"] == "CREATE FAILED"
    assert job["failureReason"] and job["failureReason"] == message
    assert job["importMode"] == mode
    assert job["dataSource"]["dataLocation"] == str(path)
    jobs = shop.list_dataset_import_jobs(dataset=case.dataset, dataset_group=GROUP)
    assert len(jobs["datasetImportJobs"]) == jobs_before + 1


@pytest.mark.parametrize(("case", "mode"), _params(with_bugs=True))
def test_bad_file_error_location(shop, case, mode):
    path = BAD / case.file
    with pytest.raises(pypersonalize.DataImportError) as info:
        import_csv(shop, case.dataset, path, mode)
    err = info.value
    assert (err.column, err.row) == (case.column, case.line)
    message = str(err)
    if case.line is not None:
        assert f"{case.file}, line {case.line}" in message
    else:
        assert ", line " not in message
    if case.column is not None:
        assert f"column {case.column}" in message
    else:
        assert ", column " not in message


# --- accepted quirks -----------------------------------------------------------------

def _quote_all(text: str) -> bytes:
    """The same CSV with every value, the header too, in double quotes."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _quote_numbers(text: str) -> bytes:
    """Only the numeric values in quotes: "1590000000", "1.5"."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    for i, row in enumerate(rows):
        cells = []
        for value in row:
            numeric = i > 0 and value.replace(".", "", 1).lstrip("-").isdigit()
            cells.append(f'"{value}"' if numeric else value)
        out.write(",".join(cells) + "\n")
    assert '"1' in out.getvalue() or '"2' in out.getvalue()
    return out.getvalue().encode("utf-8")


QUIRKS = {
    "utf8_bom": lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
    "crlf": lambda t: t.replace("\n", "\r\n").encode("utf-8"),
    "excel_bom_crlf": lambda t: b"\xef\xbb\xbf" + t.replace("\n", "\r\n").encode("utf-8"),
    "no_final_newline": lambda t: t.rstrip("\n").encode("utf-8"),
    "crlf_no_final_newline": lambda t: t.rstrip("\n").replace("\n", "\r\n").encode("utf-8"),
    "quote_all": _quote_all,
}


@pytest.mark.parametrize("dtype", list(SCHEMAS))
@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_quirk_imports_like_clean_file(shop, tmp_path, quirk, dtype):
    clean_state = group_state(shop)
    data = QUIRKS[quirk](CLEAN[dtype])
    assert data != CLEAN[dtype].encode("utf-8")
    path = write(tmp_path, f"quirk_{quirk}_{dtype.lower()}.csv", data)
    arn = import_csv(shop, dtype, path)["datasetImportJobArn"]
    job = shop.describe_dataset_import_job(arn)["datasetImportJob"]
    assert job["status"] == "ACTIVE"
    assert job["rowCount"] == CLEAN[dtype].count("\n") - 1
    assert group_state(shop) == clean_state


@pytest.mark.parametrize("dtype", ["Interactions", "Users"])
def test_quoted_numbers_import_like_clean_file(shop, tmp_path, dtype):
    clean_state = group_state(shop)
    path = write(tmp_path, f"quoted_numbers_{dtype.lower()}.csv", _quote_numbers(CLEAN[dtype]))
    import_csv(shop, dtype, path)
    assert group_state(shop) == clean_state


def test_quoted_numbers_incremental_appends_same_rows(shop, tmp_path):
    """INCREMENTAL with quoted numbers appends the very rows the clean file holds."""
    query = f'SELECT * FROM "{GROUP}".interactions ORDER BY ALL'
    before = shop.con.execute(query).fetchall()
    ids_before = (table_state(shop, "user_ids"), table_state(shop, "item_ids"))
    path = write(tmp_path, "quoted_numbers_more.csv", _quote_numbers(CLEAN["Interactions"]))
    import_csv(shop, "Interactions", path, "INCREMENTAL")
    assert shop.con.execute(query).fetchall() == [r for r in before for _ in (0, 1)]
    assert (table_state(shop, "user_ids"), table_state(shop, "item_ids")) == ids_before


def test_textual_field_with_commas_and_doubled_quotes(shop):
    rows = dict(shop.con.execute(f'SELECT ITEM_ID, DESCRIPTION FROM "{GROUP}".items').fetchall())
    assert rows == {
        "m1": 'A film, with "quotes", and commas',
        "m2": "Plain text",
        "m3": '"Quoted" at the start, a comma at the end,',
        "m4": None,
    }


def test_textual_field_matches_dataframe_source(shop):
    """The quoted CSV gives the same table as the same strings from a DataFrame."""
    clean_state = group_state(shop)
    frame = pd.read_csv(io.StringIO(CLEAN["Items"]), dtype=str, keep_default_na=False)
    assert frame.loc[0, "DESCRIPTION"] == 'A film, with "quotes", and commas'
    shop.create_dataset_import_job(dataset="Items", dataset_group=GROUP, data_source=frame)
    assert group_state(shop) == clean_state


def test_multi_value_categorical_is_stored_as_list(shop):
    genres = dict(shop.con.execute(f'SELECT ITEM_ID, GENRES FROM "{GROUP}".items').fetchall())
    assert genres == {"m1": ["a", "b", "c"], "m2": ["drama"], "m3": None,
                      "m4": ["comedy", "drama"]}
    membership = dict(shop.con.execute(f'SELECT USER_ID, MEMBERSHIP FROM "{GROUP}".users').fetchall())
    assert membership == {"alice": ["gold"], "bob": ["silver", "promo"], "carol": None}
    types = dict(shop.con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = $s AND table_name = 'items'", {"s": GROUP}).fetchall())
    assert types["GENRES"] == "VARCHAR[]"


def test_multi_value_categorical_matches_list_column(shop):
    """``a|b|c`` in a CSV equals a DataFrame column holding the list [a, b, c]."""
    clean_state = group_state(shop)
    frame = pd.read_csv(io.StringIO(CLEAN["Items"]), dtype=str, keep_default_na=False)
    frame["GENRES"] = [v.split("|") if v else None for v in frame["GENRES"]]
    shop.create_dataset_import_job(dataset="Items", dataset_group=GROUP, data_source=frame)
    assert group_state(shop) == clean_state


# --- a non-CSV source reports row numbers ------------------------------------------------

def _frame(timestamps) -> pd.DataFrame:
    return pd.DataFrame({
        "USER_ID": ["u1", "u2", "u3", "u4"],
        "ITEM_ID": ["i1", "i2", "i3", "i4"],
        "EVENT_TYPE": ["click"] * 4,
        "EVENT_VALUE": [1.0, None, 2.5, 3.0],
        "TIMESTAMP": timestamps,
        "IMPRESSION": [None] * 4,
    })


@pytest.mark.parametrize("mode", ["FULL", "INCREMENTAL"])
@pytest.mark.parametrize("timestamps", [
    pytest.param(["1600000000", "1600000100", "soon", "1600000300"], id="text"),
    pytest.param([1600000000, 1600000100, 1600000200000, 1600000300], id="milliseconds"),
    pytest.param([1600000000, 1600000100, -5, 1600000300], id="negative"),
    pytest.param([1600000000.0, 1600000100.0, 1600000200.5, 1600000300.0], id="fraction"),
])
def test_dataframe_bad_row_is_numbered(shop, timestamps, mode):
    before = group_state(shop)
    with pytest.raises(pypersonalize.DataImportError) as info:
        shop.create_dataset_import_job(dataset="Interactions", dataset_group=GROUP,
                                       data_source=_frame(timestamps), import_mode=mode)
    err = info.value
    assert err.row == 3
    assert err.column == "TIMESTAMP"
    assert err.source == "DataFrame"
    assert str(err).startswith("DataFrame, row 3, column TIMESTAMP: ")
    assert group_state(shop) == before
    job = shop.describe_dataset_import_job(err.job_arn)["datasetImportJob"]
    assert job["status"] == "CREATE FAILED" and job["failureReason"] == str(err)


def test_good_dataframe_still_imports(shop):
    """The frames above fail only because of their third TIMESTAMP (and group_state sees
    a change when there is one)."""
    before = group_state(shop)
    shop.create_dataset_import_job(dataset="Interactions", dataset_group=GROUP,
                                   data_source=_frame([1600000000, 1600000100, 1600000200, 1600000300]))
    after = group_state(shop)
    assert after["interactions"][0] == 4 and after["interactions"] != before["interactions"]
    assert after["user_ids"][0] == 3 + 4 and after["item_ids"][0] == 4 + 4
    assert (after["items"], after["users"]) == (before["items"], before["users"])
