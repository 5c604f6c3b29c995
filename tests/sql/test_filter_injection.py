"""Hostile strings in filters, filter values and request ids: matched as plain data, never run.

A VIDEO_ON_DEMAND group (the bundled sample data) serves a "Most popular" recommender and a
"Because you watched X" one. Every test digests every table of the database (and the
views and macros) before and after; recommendation calls must leave all of it as it was.
The expected answers come from pandas over the sample CSVs and from the unfiltered ranking
of the same request (``pp_recommend`` with no cut), never from the filter code.
"""

from __future__ import annotations

import hashlib

import duckdb
import pandas as pd
import pytest

import pypersonalize
from pypersonalize.filters import parse_filter_values
from tests.conftest import DOMAIN_DIRS, build_sample_group

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
N = 500                       # the most a request may ask for
USER = "u1"

FILTERS = {
    "genre-in": "INCLUDE ItemID WHERE Items.GENRES IN ($GENRE)",
    "genre-out": "EXCLUDE ItemID WHERE Items.GENRES IN ($GENRE)",
    "genre-not-in": "INCLUDE ItemID WHERE Items.GENRES NOT IN ($GENRE)",
    "mixed": ("INCLUDE ItemID WHERE Items.GENRES IN ($GENRE) AND Items.CONTENT_CLASSIFICATION IN ($RATING)"
              " | EXCLUDE ItemID WHERE Items.GENRE_L2 IN ($L2)"
              " | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT)"),
    "events-out": "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT)",
    "short": "INCLUDE ItemID WHERE Items.DURATION <= $MAX",
    "plan": "INCLUDE ItemID WHERE Items.GENRES IN ($GENRE) IF CurrentUser.SUBSCRIPTION_MODEL IN ($PLAN)",
    "like-current": "INCLUDE ItemID WHERE Items.GENRES IN CurrentItem.GENRES",
    "unlike-current": "INCLUDE ItemID WHERE Items.GENRES NOT IN CurrentItem.GENRES",
}

LONG = "x'); DROP TABLE movies.items; --" * 31          # 1023 characters
EVIL = [
    "'", "''", '"', '""', "\\", "\\'", '\\"', "\\\\", ";", "; SELECT 1; --", "--", "-- x", "/*",
    "*/", "/* Comedy */", "'); DROP TABLE movies.items; --", "\"); DROP TABLE movies.items; --",
    '" OR 1=1 --', "' OR '1'='1", "Comedy' OR '1'='1", 'Comedy"; DROP', "Comedy'--",
    "Comedy\\", "\\Comedy", "Com\"edy", "$other", "$GENRE", "$RATING", "$PLAN", "$1", "?", "%s",
    ":name", "{{ candidate }}", "{% if true %}", "${GENRE}", "*", "%", "_", "NULL", "null", "",
    " ", ",", '","', "Comedy,Drama", "comedy", "COMEDY", "Comedy ", " Comedy",
    "\u00e9", "\U0001f3ac", "Com\u00e9dy", "\u200fComedy", "Comedy\u200e", "\u202eydemoC",
    "\u0627\u0644\u0643\u0648\u0645\u064a\u062f\u064a\u0627", "a\tb", "a\nb", "\r\n",
    "x" * 998, LONG[:998], LONG[:1000], LONG,
]
CONTROLS = ["Comedy", "Drama", "Sci-Fi"]


# -- the project, its digest and the pandas side ---------------------------------------------

@pytest.fixture(scope="module")
def vod(tmp_path_factory):
    pp = pypersonalize.open(tmp_path_factory.mktemp("inj") / "injection.duckdb", quiet=True)
    build_sample_group(pp, "VIDEO_ON_DEMAND", "movies")
    pp.create_recommender(name="top", dataset_group="movies", use_case="Most popular")
    pp.create_recommender(name="byx", dataset_group="movies", use_case="Because you watched X")
    for name, text in FILTERS.items():
        pp.create_filter(name=name, dataset_group="movies", filter_expression=text)
    yield pp
    pp.close()


@pytest.fixture(scope="module")
def data():
    items = pd.read_csv(VOD / "items.csv", dtype=str, keep_default_na=False)
    split = {c: dict(zip(items.ITEM_ID, (set(v.split("|")) if v else set() for v in items[c])))
             for c in ("GENRES", "GENRE_L2", "CONTENT_CLASSIFICATION")}
    duration = dict(zip(items.ITEM_ID, pd.to_numeric(items.DURATION.replace("", None))))
    users = pd.read_csv(VOD / "users.csv", dtype=str)
    events = pd.read_csv(VOD / "interactions.csv", dtype={"USER_ID": str, "ITEM_ID": str})
    return {"genres": split["GENRES"], "l2": split["GENRE_L2"], "rating": split["CONTENT_CLASSIFICATION"],
            "duration": duration, "plan": dict(zip(users.USER_ID, users.SUBSCRIPTION_MODEL)),
            "events": events, "items": set(items.ITEM_ID)}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def snapshot(pp) -> dict:
    """Row count and sha256 of every table (any schema, the catalog and temp ones too), and
    the definitions of every view and non-internal function or macro."""
    out = {}
    tables = pp.con.execute("SELECT database_name, schema_name, table_name FROM duckdb_tables() "
                            "ORDER BY ALL").fetchall()
    assert ("pypersonalize", "objects") in {(s, t) for _d, s, t in tables}
    for db, schema, table in tables:
        rows = pp.con.execute(f"SELECT * FROM {_q(db)}.{_q(schema)}.{_q(table)} ORDER BY ALL").fetchall()
        out[("table", schema, table)] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    for row in pp.con.execute("SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal "
                              "ORDER BY ALL").fetchall():
        out[("view", row[0], row[1])] = row[2]
    for row in pp.con.execute("SELECT schema_name, function_name, function_type, parameters, macro_definition "
                              "FROM duckdb_functions() WHERE NOT internal ORDER BY ALL").fetchall():
        out[("function", row[0], row[1])] = repr(row[2:])
    for row in pp.con.execute("SELECT schema_name, sequence_name FROM duckdb_sequences() ORDER BY ALL").fetchall():
        out[("sequence", *row)] = True
    return out


@pytest.fixture(scope="module")
def baseline(vod):
    snap = snapshot(vod)
    assert ("table", "movies", "items") in snap and ("function", "main", "pp_filter__genre-in") in snap
    return snap


@pytest.fixture
def unchanged(vod, baseline):
    """Every table, view and macro is exactly as it was once the project was built (each
    test leaves it so; one digest per test keeps the module fast)."""
    yield
    assert snapshot(vod) == baseline


def ranking(pp, endpoint: str, user, item=None) -> list[str]:
    """The endpoint's whole ranking for a request, before any filter or cut."""
    return [r[0] for r in pp.con.execute(
        "SELECT item_id FROM pp_recommend($e, user_id := $u, item_id := $i, n := 2147483647) ORDER BY rank",
        {"e": endpoint, "u": user, "i": item}).fetchall()]


def recommend(pp, **kw) -> list[str]:
    kw.setdefault("num_results", N)
    return [r["itemId"] for r in pp.get_recommendations(**kw)["itemList"]]


def expect(order: list[str], allowed: set[str]) -> list[str]:
    """What a filtered request must return: the allowed items in ranking order, cut at N."""
    return [i for i in order if i in allowed][:N]


def _with_genres(data, genres) -> set[str]:
    return {i for i, g in data["genres"].items() if g & set(genres)}


def quoted(*values: str) -> str:
    """Personalize's filter-value syntax with the package's backslash escapes."""
    return ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)


def recent_items(data, user, event_types) -> set[str]:
    wanted = {e.lower() for e in event_types}
    mine = data["events"][data["events"].USER_ID == user].copy()
    mine["et"] = mine.EVENT_TYPE.str.lower()
    mine = mine.sort_values("TIMESTAMP", ascending=False).groupby("et").head(100)
    return set(mine[mine.et.isin(wanted)].ITEM_ID)


def test_the_controls_really_filter(vod, data, unchanged):
    order = ranking(vod, "top", USER)
    assert len(data["items"]) >= len(order) > N
    comedy = recommend(vod, recommender="top", user_id=USER, filter="genre-in",
                       filter_values={"GENRE": '"Comedy"'})
    assert 0 < len(comedy) < N and comedy == expect(order, _with_genres(data, {"Comedy"}))
    assert recommend(vod, recommender="top", user_id=USER) == order[:N]


def test_the_digest_sees_a_change(vod, baseline):
    vod.con.execute("BEGIN")
    try:
        vod.con.execute("UPDATE movies.items SET GENRES = ['Comedy'] WHERE ITEM_ID = 'm1'")
        changed = snapshot(vod)
    finally:
        vod.con.execute("ROLLBACK")
    assert {k for k in baseline if changed[k] != baseline[k]} == {("table", "movies", "items")}
    assert snapshot(vod) == baseline


# -- filter values ----------------------------------------------------------------------------

def test_quoted_hostile_values_match_only_themselves(vod, data, unchanged):
    order = ranking(vod, "top", USER)
    for v in EVIL + CONTROLS:
        raw = quoted(v)
        if len(raw) > 1000:
            for name in ("genre-in", "genre-out"):
                with pytest.raises(pypersonalize.InvalidInput, match="1000"):
                    recommend(vod, recommender="top", user_id=USER, filter=name, filter_values={"GENRE": raw})
            continue
        hit = _with_genres(data, {v})
        assert recommend(vod, recommender="top", user_id=USER, filter="genre-in",
                         filter_values={"GENRE": raw}) == expect(order, hit), v
        assert recommend(vod, recommender="top", user_id=USER, filter="genre-out",
                         filter_values={"GENRE": raw}) == expect(order, data["items"] - hit), v
        assert recommend(vod, recommender="top", user_id=USER, filter="genre-not-in",
                         filter_values={"GENRE": raw}) == expect(order, data["items"] - hit), v
        assert bool(hit) == (v in CONTROLS), v


def test_hostile_values_beside_a_real_one(vod, data, unchanged):
    order = ranking(vod, "top", USER)
    for v in EVIL:
        raw = quoted("Comedy", v, "Drama")
        if len(raw) > 1000:
            continue
        got = recommend(vod, recommender="top", user_id=USER, filter="genre-in", filter_values={"GENRE": raw})
        assert got == expect(order, _with_genres(data, {"Comedy", "Drama", v})), v


def test_unquoted_hostile_values(vod, data, unchanged):
    """Without double quotes a value is taken whole (trimmed); with stray quotes it is either
    refused as malformed or read as the quoted values it holds; never run."""
    order = ranking(vod, "top", USER)
    for v in EVIL + CONTROLS:
        try:
            got = recommend(vod, recommender="top", user_id=USER, filter="genre-in", filter_values={"GENRE": v})
        except pypersonalize.InvalidInput:
            assert '"' in v or len(v) > 1000, v
            continue
        assert len(v) <= 1000
        if '"' not in v:
            values = {v.strip()} if v.strip() else set()
        else:
            values = set(parse_filter_values(v, "GENRE"))       # how the quotes were read
            assert all(x in v for x in values)
        assert got == expect(order, _with_genres(data, values)), v


def test_hostile_values_in_every_parameter_at_once(vod, data, unchanged):
    order = ranking(vod, "top", USER)
    for v in EVIL:
        values = {"GENRE": quoted("Comedy", v), "RATING": quoted("PG-13", v, "R"),
                  "L2": quoted(v, "Romantic Comedy"), "EVENT": quoted(v, "Click")}
        if any(len(x) > 1000 for x in values.values()):
            continue
        gone = recent_items(data, USER, {v, "Click"})
        ok = {i for i in data["items"] if data["genres"][i] & {"Comedy", v} and data["rating"][i] & {"PG-13", "R", v}
              and not data["l2"][i] & {v, "Romantic Comedy"} and i not in gone}
        got = recommend(vod, recommender="top", user_id=USER, filter="mixed", filter_values=values)
        assert got == expect(order, ok), v
    assert gone and got


def test_parameter_names_as_values(vod, data, unchanged):
    """A value naming another parameter is a plain string, not a reference."""
    order = ranking(vod, "top", USER)
    for values in ({"GENRE": '"$RATING"', "RATING": '"$GENRE"', "L2": '"$L2"', "EVENT": '"$EVENT"'},
                   {"GENRE": "$RATING", "RATING": "$GENRE", "L2": "$EVENT", "EVENT": "$L2"},
                   {"GENRE": '"$other"', "RATING": '"${GENRE}"', "L2": '"$1"', "EVENT": '"$p0"'},
                   {"GENRE": '"p0"', "RATING": '"$p1"', "L2": '"$q0"', "EVENT": '"$user_id"'}):
        assert recommend(vod, recommender="top", user_id=USER, filter="mixed", filter_values=values) == []
        assert recommend(vod, recommender="top", user_id=USER, filter="genre-out",
                         filter_values={"GENRE": values["GENRE"]}) == order[:N]


MALFORMED = [
    {"GENRE'; DROP TABLE movies.items; --": '"Comedy"'},
    {'GENRE"': '"Comedy"'}, {"GEN RE": '"Comedy"'}, {"$GENRE": '"Comedy"'}, {"": '"Comedy"'},
    {"G" * 51: '"Comedy"'}, {"G\u00c9NRE": '"Comedy"'}, {"GENRE--": '"Comedy"'},
    {"GENRE": 5}, {"GENRE": None}, {"GENRE": ["Comedy"]}, {"GENRE": b"Comedy"},
    {"GENRE": '"Comedy'}, {"GENRE": '"Comedy" OR 1=1'}, {"GENRE": '"Comedy";"Drama"'},
    {"GENRE": '"a"b"'}, {"GENRE": '"Comedy" "Drama"'}, {"GENRE": "'Comedy', \"Drama\""},
    {"GENRE": '"' + "x" * 999 + '"'}, {"GENRE": '"Comedy", ' + "x" * 990},
]


def test_malformed_values_and_names_are_invalid_input(vod, unchanged):
    for values in MALFORMED:
        with pytest.raises(pypersonalize.InvalidInput):
            recommend(vod, recommender="top", user_id=USER, filter="genre-in", filter_values=values)


def test_at_most_25_values(vod, unchanged):
    values = {"GENRE": '"Comedy"', **{f"K{k}": "'); DROP TABLE movies.items; --" for k in range(25)}}
    with pytest.raises(pypersonalize.LimitExceeded):
        recommend(vod, recommender="top", user_id=USER, filter="genre-in", filter_values=values)


def test_numeric_parameter_accepts_only_numbers(vod, data, unchanged):
    order = ranking(vod, "top", USER)
    for v in EVIL + ["1; DROP TABLE movies.items", "1 OR 1=1", "1)--", "0x10", "1e2e3", "--1"]:
        for raw in (v, quoted(v)):
            with pytest.raises(pypersonalize.InvalidInput):
                recommend(vod, recommender="top", user_id=USER, filter="short", filter_values={"MAX": raw})
    for raw, limit in (('"90"', 90), ("90", 90), (" 90 ", 90), ('"90.5"', 90.5), ('"1e2"', 100), ('"-1"', -1)):
        got = recommend(vod, recommender="top", user_id=USER, filter="short", filter_values={"MAX": raw})
        assert got == expect(order, {i for i, d in data["duration"].items() if d <= limit}), raw


@pytest.mark.parametrize("raw", ['"nan"', "NaN"])
def test_nan_is_not_a_number_limit(vod, unchanged, raw):
    try:
        got = recommend(vod, recommender="top", user_id=USER, filter="short", filter_values={"MAX": raw})
    except pypersonalize.InvalidInput:
        return
    assert got == []


# -- request ids and resource names ------------------------------------------------------------

def test_hostile_user_ids(vod, data, unchanged):
    for v in EVIL:
        if len(v) > 256:
            with pytest.raises(pypersonalize.InvalidInput, match="256"):
                recommend(vod, recommender="top", user_id=v)
            continue
        order = ranking(vod, "top", v)
        # Not a user: no interactions to exclude, no Users row for the IF clause.
        assert recommend(vod, recommender="top", user_id=v) == order[:N], v
        assert recommend(vod, recommender="top", user_id=v, filter="events-out",
                         filter_values={"EVENT": '"Watch","Click","*"'}) == order[:N], v
        assert recommend(vod, recommender="top", user_id=v, filter="plan",
                         filter_values={"GENRE": '"Comedy"', "PLAN": quoted(v)}) == order[:N], v
    # The same calls for a real user do filter.
    order = ranking(vod, "top", USER)
    watched = recent_items(data, USER, {"Watch"})
    assert recommend(vod, recommender="top", user_id=USER, filter="events-out",
                     filter_values={"EVENT": '"watch"'}) == expect(order, data["items"] - watched)
    assert recommend(vod, recommender="top", user_id=USER, filter="plan",
                     filter_values={"GENRE": '"Comedy"', "PLAN": quoted(data["plan"][USER])}) == \
        expect(order, _with_genres(data, {"Comedy"}))


def test_hostile_item_ids(vod, data, unchanged):
    for v in EVIL:
        if len(v) > 256:
            with pytest.raises(pypersonalize.InvalidInput, match="256"):
                recommend(vod, recommender="byx", user_id=USER, item_id=v)
            continue
        order = ranking(vod, "byx", USER, v)
        assert recommend(vod, recommender="byx", user_id=USER, item_id=v) == order[:N], v
        # An unknown current item has NULL fields: IN never matches, NOT IN always does.
        assert recommend(vod, recommender="byx", user_id=USER, item_id=v, filter="like-current") == [], v
        assert recommend(vod, recommender="byx", user_id=USER, item_id=v,
                         filter="unlike-current") == order[:N], v
        assert recommend(vod, recommender="byx", user_id=v, item_id=v, filter="genre-in",
                         filter_values={"GENRE": quoted(v)}) == [], v
    order = ranking(vod, "byx", USER, "m4")
    got = recommend(vod, recommender="byx", user_id=USER, item_id="m4", filter="like-current")
    assert got and got == expect(order, _with_genres(data, data["genres"]["m4"]))


def test_hostile_resource_names(vod, unchanged):
    for v in EVIL:
        with pytest.raises((pypersonalize.InvalidInput, pypersonalize.ResourceNotFound)):
            recommend(vod, recommender="top", user_id=USER, filter=v, filter_values={"GENRE": '"Comedy"'})
        with pytest.raises((pypersonalize.InvalidInput, pypersonalize.ResourceNotFound)):
            recommend(vod, recommender=v, user_id=USER)
        with pytest.raises((pypersonalize.InvalidInput, pypersonalize.ResourceNotFound)):
            recommend(vod, campaign=v, user_id=USER)


def test_hostile_promotion_values(vod, data, unchanged):
    order = ranking(vod, "top", USER)
    for v in EVIL:
        if len(quoted(v)) > 1000:
            continue
        promo = [{"name": "promo", "percentPromotedItems": 20, "filter": "genre-in",
                  "filterValues": {"GENRE": quoted(v)}}]
        got = vod.get_recommendations(recommender="top", user_id=USER, num_results=50, promotions=promo,
                                      filter="genre-out", filter_values={"GENRE": quoted(v)}, seed=1)
        assert [r["itemId"] for r in got["itemList"]] == order[:50], v
        assert not any("promotionName" in r for r in got["itemList"])
    promo = [{"name": "promo", "percentPromotedItems": 20, "filter": "genre-in",
              "filterValues": {"GENRE": quoted("Comedy", "'); DROP TABLE movies.items; --")}}]
    got = vod.get_recommendations(recommender="top", user_id=USER, num_results=50, promotions=promo, seed=1)
    promoted = [r["itemId"] for r in got["itemList"] if r.get("promotionName") == "promo"]
    assert promoted == expect(order, _with_genres(data, {"Comedy"}))[:10]


# -- filter expressions with hostile literals ---------------------------------------------------

LITERAL_FILTERS = [
    ('INCLUDE ItemID WHERE Items.GENRES IN ("x\'); DROP TABLE movies.items; --")', lambda d, i: False),
    ('EXCLUDE ItemID WHERE Items.GENRES IN ("x\'); DROP TABLE movies.items; --")', lambda d, i: True),
    ('INCLUDE ItemID WHERE Items.GENRES IN ("Comedy", "\\" OR 1=1 --")',
     lambda d, i: "Comedy" in d["genres"][i]),
    ('INCLUDE ItemID WHERE Items.GENRES IN ("Drama\'; DELETE FROM movies.items; --", "Comedy")',
     lambda d, i: "Comedy" in d["genres"][i]),
    ('INCLUDE ItemID WHERE Items.GENRES IN ("Comedy\') OR (\'1\'=\'1")', lambda d, i: False),
    ('INCLUDE ItemID WHERE Items.GENRES IN ("/* x */", "--", ";", "\\\\", "\'\'", "*/")', lambda d, i: False),
    ('INCLUDE ItemID WHERE Items.GENRES IN ("{{ candidate }}", "{% raw %}", "$(id)", "${GENRE}", "%s")',
     lambda d, i: False),
    ('INCLUDE ItemID WHERE Items.GENRES IN ("\U0001f3ac", "\u00e9", "\u200fComedy", "Comedy\u200e")',
     lambda d, i: False),
    ('INCLUDE ItemID WHERE Items.GENRES NOT IN ("\'", "\\"", "Comedy")', lambda d, i: "Comedy" not in d["genres"][i]),
    ('INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch\') OR true OR (\'")', lambda d, i: False),
    ('EXCLUDE ItemID WHERE Items.GENRES IN ("Comedy") IF CurrentUser.SUBSCRIPTION_MODEL IN ("basic\' OR \'1\'=\'1")',
     lambda d, i: True),
    ('INCLUDE ItemID WHERE Items.DURATION <= 90 IF CurrentUser.SUBSCRIPTION_MODEL NOT IN ("x\'); DROP TABLE movies.users; --")',
     lambda d, i: d["duration"][i] <= 90),
    ('INCLUDE ItemID WHERE Items.GENRES IN ("' + "a'b" * 300 + '")', lambda d, i: False),
]


def _tables(snap: dict) -> dict:
    return {k: v for k, v in snap.items() if k[0] == "table"}


@pytest.fixture
def literal_filters(vod):
    names = [f"literal-{k}" for k in range(len(LITERAL_FILTERS))]
    yield names
    for name in names:
        if vod.catalog.select("filter", name=name):
            vod.delete_filter(name)


def test_hostile_string_literals_in_stored_filters(vod, data, baseline, literal_filters):
    before, names = baseline, literal_filters
    for name, (text, _allowed) in zip(names, LITERAL_FILTERS):
        vod.create_filter(name=name, dataset_group="movies", filter_expression=text)
        assert vod.describe_filter(name)["filter"]["filterExpression"] == text
    created = snapshot(vod)
    # Only the catalog gained rows, one per filter (and the filter macros were rebuilt).
    changed = {k for k, v in _tables(created).items() if _tables(before).get(k) != v}
    assert changed == {("table", "pypersonalize", "objects")}
    assert created[changed.pop()][0] == before[("table", "pypersonalize", "objects")][0] + len(names)
    assert {r.name for r in vod.catalog.select("filter")} == {*FILTERS, *names}

    order = ranking(vod, "top", USER)
    for name, (text, allowed) in zip(names, LITERAL_FILTERS):
        want = expect(order, {i for i in data["items"] if allowed(data, i)})
        assert recommend(vod, recommender="top", user_id=USER, filter=name) == want, text
        # The stored macro (its literals written into DDL) answers the same.
        sql = [r[0] for r in vod.con.execute(
            "SELECT item_id FROM pp_recommend_filtered('top', $f, user_id := $u, n := $n)",
            {"f": name, "u": USER, "n": N}).fetchall()]
        assert sql == want, text
    assert snapshot(vod) == created
    for name in names:
        vod.delete_filter(name)
    assert snapshot(vod) == before


REFUSED = [
    'INCLUDE ItemID WHERE Items.GENRES IN ("a"); DROP TABLE movies.items; --',
    'INCLUDE ItemID WHERE Items.GENRES IN ("a") OR 1=1',
    'INCLUDE ItemID WHERE Items.GENRES IN ("a") OR true',
    'INCLUDE ItemID WHERE Items."GENRES" IN ("a")',
    'INCLUDE ItemID WHERE Items.GENRES" OR 1=1 -- IN ("a")',
    "INCLUDE ItemID WHERE Items.GENRES IN ('a')",
    "INCLUDE ItemID WHERE Items.GENRES IN ('a') OR '1'='1'",
    'INCLUDE ItemID WHERE Items.DURATION > 1 OR 1 = 1',
    'INCLUDE ItemID WHERE Items.DURATION > (SELECT 1)',
    'INCLUDE ItemID WHERE Items.DURATION > 1; DROP TABLE movies.items',
    'INCLUDE ItemID WHERE movies.items.GENRES IN ("a")',
    'INCLUDE ItemID WHERE Items.GENRES IN ("a") /* x */',
    'INCLUDE ItemID WHERE Items.GENRES IN ("a") -- x',
    'INCLUDE ItemID WHERE Items.GENRES IN ($GENRE); DROP TABLE movies.items',
    'INCLUDE ItemID WHERE Items.GENRES IN ($GENRE--)',
    "INCLUDE ItemID WHERE Items.GENRES IN ($GENRE')",
    'INCLUDE ItemID WHERE Items.GENRES IN ("a") IF CurrentUser.AGE > 1; DROP TABLE movies.users',
    'INCLUDE ItemID WHERE Items.GENRES IN ("a" || "b")',
    'INCLUDE ItemID WHERE Items.GENRES IN ("a"), ("b")',
    'INCLUDE ItemID WHERE Items.GENRES IN (CurrentItem.GENRES; DROP)',
    'INCLUDE ItemID WHERE Items.GENRES IN ("a)) OR ((true")) OR ((true',
    'INCLUDE ItemID WHERE Items.PRODUCT_DESCRIPTION IN ("a")',
    'INCLUDE ItemID WHERE Items.GENRES IN ("unterminated',
    'INCLUDE ItemID WHERE Items.GENRES IN ("a\\")',
    "INCLUDE ItemID WHERE Items.GENRES IN (\"a\")\x00; DROP TABLE movies.items",
    'INCLUDE ItemID WHERE Items.GENRES IN ("' + "x" * 2500 + '")',
]


def test_hostile_expressions_are_refused_and_change_nothing(vod, unchanged):
    names = {r.name for r in vod.catalog.select("filter")}
    for text in REFUSED:
        with pytest.raises(pypersonalize.InvalidInput):
            vod.create_filter(name="refused", dataset_group="movies", filter_expression=text)
    for name in ("x'; DROP TABLE movies.items; --", 'x"', "a b", "-x", "x" * 64, "\U0001f3ac", ""):
        with pytest.raises(pypersonalize.InvalidInput):
            vod.create_filter(name=name, dataset_group="movies", filter_expression=FILTERS["genre-in"])
    assert {r.name for r in vod.catalog.select("filter")} == names


# -- findings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["INCLUDE ItemID WHERE Items.DURATION <= 1e999",
                                  "EXCLUDE ItemID WHERE Items.DURATION > -1e999"])
def test_an_overflowing_number_literal(vod, data, unchanged, text):
    name = "overflow-" + ("a" if "<=" in text else "b")
    try:
        vod.create_filter(name=name, dataset_group="movies", filter_expression=text)
    except pypersonalize.InvalidInput:
        return
    try:
        order = ranking(vod, "top", USER)
        has_duration = {i for i, d in data["duration"].items() if d == d}          # not NaN
        want = expect(order, has_duration if "INCLUDE" in text else data["items"] - has_duration)
        assert recommend(vod, recommender="top", user_id=USER, filter=name) == want
    finally:
        vod.delete_filter(name)


@pytest.mark.parametrize("raw", ['"Com\\edy"', "\tComedy", '"Comedy" OR 1=1'])
def test_sql_macro_reads_filter_values_like_python(vod, raw):
    try:
        py = recommend(vod, recommender="top", user_id=USER, filter="genre-in", filter_values={"GENRE": raw})
    except pypersonalize.InvalidInput:
        py = "InvalidInput"
    try:
        sql = [r[0] for r in vod.con.execute(
            "SELECT item_id FROM pp_recommend_filtered('top', 'genre-in', user_id := $u, n := $n, "
            "filter_values := MAP {'GENRE': $v})", {"u": USER, "n": N, "v": raw}).fetchall()]
    except duckdb.Error:
        sql = "InvalidInput"
    assert sql == py


def test_a_value_name_ending_in_a_newline_is_refused(vod, unchanged):
    with pytest.raises(pypersonalize.InvalidInput):
        recommend(vod, recommender="top", user_id=USER, filter="genre-in",
                  filter_values={"GENRE": '"Comedy"', "OTHER\n": '"x"'})


def test_a_number_literal_never_reads_a_column(tmp_path):
    with pypersonalize.open(tmp_path / "inf-column.duckdb", quiet=True) as pp:
        pp.create_dataset_group(name="shop")
        pp.create_schema(name="items", schema={"type": "record", "name": "Items", "fields": [
            {"name": "ITEM_ID", "type": "string"}, {"name": "PRICE", "type": "int"},
            {"name": "inf", "type": "int"}]})
        pp.create_dataset(name="items", dataset_group="shop", dataset_type="Items", schema="items")
        pp.create_dataset_import_job(dataset="Items", dataset_group="shop", data_source=pd.DataFrame(
            {"ITEM_ID": ["a", "b", "c"], "PRICE": [5, 50, 500], "inf": [0, 100, 1000]}))
        # Infinite literals are refused outright; a finite one compares with the number,
        # never with the column that happens to be named like its text.
        with pytest.raises(pypersonalize.InvalidInput, match="finite"):
            pp.create_filter(name="any-price", dataset_group="shop",
                             filter_expression="INCLUDE ItemID WHERE Items.PRICE <= 1e999")
        pp.create_filter(name="mid-price", dataset_group="shop",
                         filter_expression="INCLUDE ItemID WHERE Items.PRICE <= 60")
        got = pp.con.execute('SELECT ITEM_ID FROM shop.items c WHERE "pp_filter__mid-price"'
                             "(c.ITEM_ID, NULL, NULL, MAP {}) ORDER BY 1").fetchall()
        assert [r[0] for r in got] == ["a", "b"]
