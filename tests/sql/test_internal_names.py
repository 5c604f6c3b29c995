"""Internal SQL names never collide with user fields (issue 9, item 6).

Every identifier our SQL uses internally (CTE names, aliases, temp tables and their
columns, macro parameters, model-table columns, DuckDB's ``rowid`` ...) is collected from
the templates under ``sql/`` and the SQL strings of ``pypersonalize/`` (collection rules:
``sql_names`` and ``internal_identifiers``). Each one then becomes a field of the Items,
Users and Interactions schemas of a VIDEO_ON_DEMAND dataset group that goes through what
a user can do: imports (FULL, INCREMENTAL, and a bad row that validation must still
report), the data check, filters of every shape (Items IN $VALUE, Interactions
EVENT_TYPE exclusion, IF CurrentUser, CurrentItem), training, campaigns and a
recommender, get_recommendations with and without filters, get_personalized_ranking,
score_users, put_events, plain SQL (``pp_recommend``, ``pp_recommend_filtered``) and
re-opening the file. The answers must be those of a baseline group built from the same
data without the extra fields (module fixture ``baseline``).

Limits shape the groups (``plans``): Users take 23 more fields, Interactions 5. So every
name is an Items and a Users field in a group of 23 that trains every recipe of
``list_recipes()``, and the first 5 of those are its Interactions fields; the remaining
names are Interactions fields 5 at a time, in groups that train one recipe per distinct
set of training SQL files (popularity, SIMS, and one of the five User-Personalization
recipes, which share their SQL: what they differ in is read from Items and Users or at
serving time) and skip the requests that read only Items and Users.

A name counts as handled when ``create_schema`` refuses it with a ``SchemaError`` that
names the field and says why (reserved / internal / built-in): the other allowed fix.

Why the extra fields cannot change the answers (they carry no information):

* Interactions and Users extras hold one constant value per field (the name's length as
  text) in every row. User-Personalization reads every Users string field as attribute
  lifts and every Interactions string field as context lifts; a value that every event
  (every event's user: all of them are in the Users data) has gives the lift
  ``ln(a/b) - ln(a/b) = 0`` exactly, so the scores are unchanged. Requests pass those
  context values too: a zero lift again. put_events sends them as properties.
* Items extras that are not categorical hold the same constant; no recipe reads them.
  Items categorical fields are User-Personalization's metadata tokens: a constant token
  would change every item's token normalisation (cosines), so categorical extras are NULL
  in every row. The item-metadata recipes keep their default weights, so a collision that
  corrupts the real tokens (GENRES, ...) changes scores and is caught.
* Filters add conditions on the extras that always hold (constant values) or never
  exclude (NULL categorical values) to the baseline's filter of the same shape.

Every build runs DuckDB on one thread (reproducible to the last bit, see ONE_THREAD);
scores are still compared with a relative tolerance of 1e-9 and item lists exactly.
The module takes about 100 s (44 dataset groups), so it is marked slow.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import pypersonalize
from pypersonalize import domains
from pypersonalize import events as events_module
from pypersonalize.recipes import RECIPES
from tests.conftest import DOMAIN_DIRS, ROOT

VOD = DOMAIN_DIRS["VIDEO_ON_DEMAND"]
DOMAIN = "VIDEO_ON_DEMAND"
GROUP = "g"
SEED = 7

# -- 1. the identifiers our SQL uses ------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"""
    (?P<comment>--[^\n]*)
  | (?P<string>[Ee]?'(?:[^']|'')*')
  | "(?P<quoted>(?:[^"]|"")*)"
  | (?P<param>\$[A-Za-z_][A-Za-z0-9_]*|\?)
  | (?P<number>(?<![A-Za-z0-9_])[0-9][A-Za-z0-9_.]*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>\S)
""", re.X)
# Jinja blocks are cut out; an expression block becomes a placeholder word, so that
# `FROM {{ g }}.items` still reads as a qualified name.
_PLACEHOLDER = "pp_jinja_placeholder"
_JINJA_EXPR = re.compile(r"\{\{.*?\}\}", re.S)
_JINJA_STMT = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.S)
# Python strings that are SQL statements (error messages and state names such as
# "CREATE FAILED" are not).
_SQL_STATEMENT = re.compile(
    r"^\s*(SELECT\s|INSERT\s+INTO\s|DELETE\s+FROM\s|UPDATE\s+\S+\s+SET\s"
    r"|CREATE\s+(OR\s+REPLACE\s+)?(TEMP\s+|TEMPORARY\s+)?(TABLE|VIEW|MACRO|SCHEMA|SEQUENCE|INDEX)\s"
    r"|DROP\s+(TABLE|VIEW|MACRO|SCHEMA|SEQUENCE|INDEX)\s|ALTER\s+TABLE\s|WITH\s+\w+\s+AS\s"
    r"|ATTACH\s|DETACH\s|DESCRIBE\s|COPY\s|SET\s+\w+\s*=|USE\s)")
# DuckDB's pseudo-columns: no template needs to spell them for a field to shadow them.
PSEUDO_COLUMNS = ("rowid",)


@lru_cache(maxsize=1)
def _duckdb_words() -> tuple[frozenset, frozenset, frozenset]:
    con = duckdb.connect()
    try:
        keywords = con.execute("SELECT keyword_name, keyword_category FROM duckdb_keywords()").fetchall()
        types = con.execute("SELECT DISTINCT lower(type_name) FROM duckdb_types()").fetchall()
    finally:
        con.close()
    reserved = frozenset(k.lower() for k, cat in keywords if cat == "reserved")
    others = frozenset(k.lower() for k, cat in keywords if cat != "reserved")
    return reserved, others, frozenset(t for (t,) in types)


def sql_names(sql: str) -> set[str]:
    """The identifiers of one SQL text (jinja already cut out).

    Quoted and qualified names (``a.b``) always count; so does a name after ``AS`` that
    is not a type. Left out: reserved keywords, names followed by ``(`` (function and
    macro calls; not after AS/TABLE/INTO: ``AS t(v)``, ``CREATE TABLE x (``), and
    non-reserved keywords and type names written in capitals (``VALUES``, ``OVER``,
    ``VARCHAR``: the templates spell keywords in capitals and names in lower case or as
    the schema spells them). DuckDB's function list is not needed: a call is a name
    followed by ``(``, and a name that is also a function (``rank``, ``value``) counts
    where it is a column or an alias.
    """
    reserved, keywords, types = _duckdb_words()
    tokens = []
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup
        if kind in ("comment", "string", "param", "number"):
            tokens.append(("x", m.group(0)))
        elif kind == "quoted":
            text = m.group("quoted")
            tokens.append(("quoted", text) if _IDENT.fullmatch(text) else ("x", m.group(0)))
        else:
            tokens.append((kind, m.group(0)))
    names = set()
    for i, (kind, text) in enumerate(tokens):
        if kind not in ("quoted", "word") or text == _PLACEHOLDER:
            continue
        if kind == "quoted":
            names.add(text)
            continue
        before = tokens[i - 1] if i else ("x", "")
        after = tokens[i + 1] if i + 1 < len(tokens) else ("x", "")
        low = text.lower()
        prev_word = before[1].lower() if before[0] == "word" else ""
        if before[1] == "." or after[1] == ".":
            names.add(text)
        elif prev_word == "as" and low not in types and low not in reserved:
            names.add(text)
        elif low in reserved:
            continue
        elif after[1] == "(" and prev_word not in ("table", "into", "view", "exists"):
            continue
        elif text.isupper() and (low in keywords or low in types):
            continue
        else:
            names.add(text)
    return names


def _template_texts() -> list[tuple[str, str]]:
    """(template, SQL text with the jinja cut out) for every template under sql/."""
    out = []
    for path in sorted((ROOT / "sql").rglob("*.sql")):
        text = re.sub(r"--[^\n]*", "", path.read_text())
        text = _JINJA_STMT.sub(" ", _JINJA_EXPR.sub(f" {_PLACEHOLDER} ", text))
        out.append((str(path.relative_to(ROOT)), text))
    return out


def _python_sql_texts() -> list[tuple[str, str]]:
    """(module, SQL) for every string of pypersonalize/**.py that is an SQL statement;
    f-string fields become the placeholder, implicit and ``+`` concatenations are joined."""
    out = []
    for path in sorted((ROOT / "pypersonalize").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings, inner = set(), set()
        for node in ast.walk(tree):
            scopes = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            if isinstance(node, scopes) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    docstrings.add(id(first.value))

        def text(node):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                return node.value
            if isinstance(node, ast.JoinedStr):
                return "".join(v.value if isinstance(v, ast.Constant) else f" {_PLACEHOLDER} "
                               for v in node.values)
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                left, right = text(node.left), text(node.right)
                if left is not None and right is not None:
                    return left + right
            return None

        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                inner.update(id(v) for v in node.values)
            if isinstance(node, ast.BinOp) and text(node) is not None:
                inner.update((id(node.left), id(node.right)))
        for node in ast.walk(tree):
            if id(node) in inner or id(node) in docstrings:
                continue
            sql = text(node)
            if sql is not None and _SQL_STATEMENT.match(sql):
                out.append((str(path.relative_to(ROOT)), sql))
    return out


def _key(name: str) -> str:
    """Personalize's (and schemas.py's) notion of one field name: case and '_' ignored."""
    return name.replace("_", "").upper()


@lru_cache(maxsize=1)
def internal_identifiers() -> tuple[str, ...]:
    """Every identifier our SQL uses, sorted (case-insensitively unique: DuckDB folds case).

    Jinja variables never reach the scan (the blocks are cut out); a jinja name that the
    SQL also spells outside the blocks (``events``, ``field``, ``params``, ``users``) is an
    SQL name and is kept. Personalize's reserved field names (domains.RESERVED and the
    domain's) are dropped: they are not ours, and their own rules apply to them.
    """
    found: dict[str, set[str]] = {}
    for _where, sql in _template_texts() + _python_sql_texts():
        for name in sql_names(sql):
            found.setdefault(name.lower(), set()).add(name)
    for name in PSEUDO_COLUMNS:
        found.setdefault(name.lower(), set()).add(name)
    personalize = {_key(n) for rules in domains.RESERVED.values() for n in rules}
    personalize |= {_key(n) for per_type in domains.DOMAIN_RESERVED[DOMAIN].values() for n in per_type}
    kept = {min(spellings) for spellings in found.values()}
    return tuple(sorted((n for n in kept if _key(n) not in personalize), key=lambda n: (n.lower(), n)))


def _groups(names, size: int) -> list[tuple[str, ...]]:
    """Consecutive groups of at most ``size`` names, no two of one group the same field
    for Personalize (``itemid`` / ``item_id``)."""
    groups: list[list[str]] = []
    for name in names:
        for g in groups:
            if len(g) < size and all(_key(other) != _key(name) for other in g):
                g.append(name)
                break
        else:
            groups.append([name])
    return [tuple(g) for g in groups]


@dataclass(frozen=True)
class Plan:
    """One dataset group: which extra fields each dataset type carries, and whether every
    recipe trains (else one recipe per distinct set of training SQL files)."""
    label: str
    interactions: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    every_recipe: bool = True

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.interactions) | set(self.items) | set(self.users),
                            key=lambda n: (n.lower(), n)))

    def only(self, names) -> Plan:
        keep = set(names)
        return Plan(f"{self.label}[{','.join(sorted(keep))}]",
                    *(tuple(n for n in self.of(t) if n in keep) for t in ("interactions", "items", "users")),
                    self.every_recipe)

    def of(self, dtype: str) -> tuple[str, ...]:
        return getattr(self, dtype.lower())


# The sample Users schema has 2 metadata fields of Personalize's 25: room for 23 more, so
# every name goes into Items and Users in a group of 23 that trains every recipe; the first
# 5 of each group go into its Interactions (Personalize's limit of custom fields). The
# other names go into Interactions 5 at a time, in groups that train one recipe per
# distinct set of training SQL files (the five User-Personalization recipes share theirs;
# the metadata they differ in is read from Items and Users, covered by the first kind),
# to keep the module's run time reasonable.
WIDE = domains.MAX_METADATA["Users"] - 2
NARROW = domains.MAX_INTERACTIONS_CUSTOM


def plans(names: tuple[str, ...]) -> list[Plan]:
    out, covered = [], set()
    for i, g in enumerate(_groups(names, WIDE)):
        out.append(Plan(f"all-{i:02d}-{g[0]}", interactions=g[:NARROW], items=g, users=g))
        covered.update(g[:NARROW])
    rest = [n for n in names if n not in covered]
    for j, g in enumerate(_groups(rest, NARROW)):
        out.append(Plan(f"interactions-{j:02d}-{g[0]}", interactions=g, every_recipe=False))
    return out


IDENTIFIERS = internal_identifiers()
PLANS = plans(IDENTIFIERS)


def test_the_scan_reads_sql_as_intended():
    sql = """
        WITH ep AS (SELECT e.version_arn FROM pypersonalize.endpoints e)  -- a comment, 'quoted'
        SELECT CAST(x.raw AS VARCHAR) AS value, count(*) AS n, "Mixed Case", "quoted_col",
               row_number() OVER (PARTITION BY grp ORDER BY ts DESC) AS pos, 'a literal' AS lit,
               E'\\t' AS tab, 1e-3 AS small, $param AS bound
        FROM ep, unnest(tokens) AS t(v) JOIN pp_jinja_placeholder.items i ON i.ITEM_ID = t.v
        WHERE pp_jinja_placeholder IS NOT NULL AND rank IN (1, 2) AND NOT starts_with(field, 'Users.')
    """
    assert sql_names(sql) == {"ep", "e", "version_arn", "pypersonalize", "endpoints", "x", "raw", "value",
                              "n", "quoted_col", "grp", "ts", "pos", "lit", "tab", "small", "bound", "tokens",
                              "t", "v", "items", "i", "ITEM_ID", "rank", "field"}


def test_identifiers_are_collected(record_property):
    """The scan finds the names (the low hundreds), deterministically, and every name
    reaches every dataset type in some plan."""
    names = internal_identifiers.__wrapped__()
    assert names == IDENTIFIERS and list(names) == sorted(names, key=lambda n: (n.lower(), n))
    print(f"\n{len(names)} internal identifiers, {len(PLANS)} dataset groups:", ", ".join(names))
    record_property("internal_identifiers", len(names))
    assert 100 <= len(names) <= 1000
    lower = {n.lower() for n in names}
    assert {"rowid", "version_arn", "interactions_all"} <= lower
    assert not lower & {"select", "from", "where", "varchar", "user_id", "item_id", "timestamp", "genres"}
    for dtype in domains.DATASET_TYPES:
        placed = [n for p in PLANS for n in p.of(dtype)]
        assert sorted(placed) == sorted(names), dtype
    for p in PLANS:
        assert len(p.interactions) <= NARROW and len(p.users) <= WIDE
        assert len({_key(n) for n in p.names()}) == len(p.names())


# -- 2. the data ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    interactions: pd.DataFrame        # FULL import
    interactions_more: pd.DataFrame   # INCREMENTAL import
    items: pd.DataFrame
    items_more: pd.DataFrame          # two changed items and two new (cold) ones
    users: pd.DataFrame
    users_more: pd.DataFrame          # two changed users and a new one
    history_user: str                 # the users of the requests: many events ...
    quiet_user: str                   # ... in Users, no events
    item: str                         # an item with related items
    genres: str                       # filter value of GENRES
    subscriptions: str                # every SUBSCRIPTION_MODEL value, as filter values


N_ITEMS = 120        # the first items of the sample catalogue ...
N_USERS = 175        # ... and the first users to interact with them: ~2,000 interactions


@lru_cache(maxsize=1)
def sample() -> Sample:
    """A small slice of the VIDEO_ON_DEMAND sample (Personalize's minimum is 1,000
    interactions, here of the event type Watch): the first N_ITEMS items, the events of
    the first N_USERS users with those items, those users plus a few without events."""
    items = pd.read_csv(VOD / "items.csv", keep_default_na=False, na_values={"DURATION": [""]}).head(N_ITEMS)
    for col in ("GENRE_L2", "CONTENT_CLASSIFICATION", "PRODUCT_DESCRIPTION"):
        items[col] = items[col].replace("", None)
    inter = pd.read_csv(VOD / "interactions.csv", keep_default_na=False, na_values={"EVENT_VALUE": [""]})
    inter = inter[inter["ITEM_ID"].isin(items["ITEM_ID"])]
    kept_users = list(dict.fromkeys(inter["USER_ID"]))[:N_USERS]
    inter = inter[inter["USER_ID"].isin(kept_users)].reset_index(drop=True)
    inter["IMPRESSION"] = inter["IMPRESSION"].replace("", None)
    cut = int(len(inter) * 0.9)
    touched = set(inter["ITEM_ID"])
    items_more = items[items["ITEM_ID"].isin(touched)].head(2).copy()
    items_more["DURATION"] = 1.5
    new = items[~items["ITEM_ID"].isin(touched)].tail(2)
    items_more = pd.concat([items_more, new]).reset_index(drop=True)
    items = items[~items["ITEM_ID"].isin(new["ITEM_ID"])].reset_index(drop=True)
    users = pd.read_csv(VOD / "users.csv", keep_default_na=False, na_values={"AGE": [""]})
    users["AGE"] = users["AGE"].astype("Int64")
    quiet = users[~users["USER_ID"].isin(inter["USER_ID"])].head(6)
    users = pd.concat([users[users["USER_ID"].isin(kept_users)], quiet]).reset_index(drop=True)
    users_more = users.tail(3).copy()
    users_more["AGE"] = pd.array([30, 31, 32], dtype="Int64")
    users = users.head(len(users) - 1)
    watched = inter[inter["EVENT_TYPE"] == "Watch"].groupby("ITEM_ID").size().sort_values(ascending=False)
    return Sample(inter.iloc[:cut].reset_index(drop=True), inter.iloc[cut:].reset_index(drop=True),
                  items, items_more, users, users_more,
                  history_user=str(inter.groupby("USER_ID").size().idxmax()),
                  quiet_user=str(quiet["USER_ID"].iloc[0]), item=str(watched.index[0]),
                  genres='"Comedy","Drama","Action"',
                  subscriptions=",".join(f'"{v}"' for v in sorted(set(users["SUBSCRIPTION_MODEL"]))))


def value_of(name: str) -> str:
    """The constant an extra field holds in every row (see the module docstring)."""
    return str(len(name))


def categorical(name: str) -> bool:
    """Every other name is a categorical Items field (NULL in the data, see the docstring)."""
    return IDENTIFIERS.index(name) % 2 == 1 if name in IDENTIFIERS else len(name) % 2 == 1


def schema_doc(dtype: str, names: tuple[str, ...]) -> dict:
    doc = json.loads((VOD / f"{dtype.lower()}.schema.json").read_text())
    for name in names:
        f = {"name": name, "type": ["null", "string"]}
        if dtype == "Items" and categorical(name):
            f["categorical"] = True
        doc["fields"].append(f)
    return doc


def with_extras(frame: pd.DataFrame, dtype: str, names: tuple[str, ...]) -> pd.DataFrame:
    frame = frame.copy()
    for name in names:
        if dtype == "Items" and categorical(name):
            frame[name] = pd.Series([None] * len(frame), dtype=object)
        else:
            frame[name] = value_of(name)
    return frame


# -- 3. one dataset group through everything ------------------------------------------------

FAST_UP = {"hidden_dimension": "32", "bptt": "8"}            # the User-Personalization family
RECIPE_SETTINGS = {"aws-popularity-count": {}, "aws-sims": {"min_cointeraction_count": "2"}}
PREFERRED = ("aws-user-personalization",)                    # trains first of its kind
# Recipes the sample cannot train: its Items have no "itemName" field (Semantic-Similarity
# checks its own SQL's names in tests/sql/test_semantic_similarity.py).
UNTRAINABLE = ("aws-semantic-similarity",)


def campaign_of(recipe: str) -> str:
    return "c-" + recipe.removeprefix("aws-")


UP = campaign_of("aws-user-personalization")
SIMS = campaign_of("aws-sims")
POPULAR = campaign_of("aws-popularity-count")
RANKING = campaign_of("aws-personalized-ranking")
BYW = "r-because-you-watched"


@dataclass
class Run:
    """What one build answered: results by request key, names refused, the first failure."""
    plan: Plan
    results: dict = field(default_factory=dict)
    refused: dict = field(default_factory=dict)          # name -> {dataset type: message}
    failure: tuple | None = None                         # (step, first line of the error)
    seconds: float = 0.0


class StepFailed(Exception):
    pass


def first_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:400]


class step:
    """``with step("import FULL"): ...``: a failure inside names the step."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None and not isinstance(exc, StepFailed):
            raise StepFailed(self.name, first_line(exc)) from exc
        return False


# DuckDB's parallel sums differ in the last bits from run to run (1e-15), which can turn
# exact ties (exploration's relevance, equal scores) either way; with one thread a build
# answers the same to the last bit every time. Collisions do not depend on threads.
ONE_THREAD = "SET threads = 1"


def exercise(path: Path, plan: Plan) -> Run:
    """Build the dataset group of ``plan`` in a new project file at ``path`` and run every
    verb on it; the answers are compared with the baseline's (the plan without names)."""
    run = Run(plan)
    start = time.perf_counter()
    try:
        with step("open"):
            pp = pypersonalize.open(path, quiet=True)
            pp.sql(ONE_THREAD)
        try:
            kept = _create_schemas(pp, plan, run)
            _everything(pp, kept, run)
        finally:
            pp.close()
        with step("re-open"):
            again = pypersonalize.open(path, quiet=True)
            again.sql(ONE_THREAD)
        try:
            with step("re-open: filters"):
                broken = {f["name"]: f.get("failureReason") for f in again.list_filters()["Filters"]
                          if f["status"] != "ACTIVE"}
                assert not broken, f"filters not ACTIVE after re-opening: {broken}"
            _serve(again, kept, run, "re-opened")
        finally:
            again.close()
    except StepFailed as exc:
        run.failure = exc.args
    run.seconds = time.perf_counter() - start
    return run


def _create_schemas(pp, plan: Plan, run: Run) -> Plan:
    """The schemas with the plan's extra fields; a name create_schema refuses for being
    internal is recorded and left out (the returned plan holds what was kept)."""
    with step("create_dataset_group"):
        pp.create_dataset_group(name=GROUP, domain=DOMAIN)
    for dtype in EVOLVED:
        with step(f"create_schema {dtype} without the extras"):
            pp.create_schema(name=f"{GROUP}-{dtype.lower()}-base", schema=schema_doc(dtype, ()),
                             domain=DOMAIN)
    kept = {}
    for dtype in domains.DATASET_TYPES:
        mine = list(plan.of(dtype))
        while True:
            try:
                pp.create_schema(name=f"{GROUP}-{dtype.lower()}", schema=schema_doc(dtype, tuple(mine)),
                                 domain=DOMAIN)
                break
            except pypersonalize.SchemaError as exc:
                message = str(exc)
                culprit = next((n for n in mine if f'"{n}"' in message), None)
                if culprit is None:
                    raise StepFailed(f"create_schema {dtype}", first_line(exc)) from None
                run.refused.setdefault(culprit, {})[dtype] = message
                mine.remove(culprit)
            except Exception as exc:  # noqa: BLE001 - becomes the run's failure
                raise StepFailed(f"create_schema {dtype}", first_line(exc)) from None
        kept[dtype.lower()] = tuple(mine)
    return Plan(plan.label, every_recipe=plan.every_recipe, **kept)


# Items and Users datasets start with the sample schema and get the extra fields through
# update_dataset while a filter on them exists (a way the issue found to break a project).
EVOLVED = ("Items", "Users")
BEFORE_UPDATE = "f_before_update"
BAD_ROWS = {"Interactions": ("TIMESTAMP", "soon"), "Items": ("CREATION_TIMESTAMP", "x"),
            "Users": ("AGE", "old")}


def _everything(pp, plan: Plan, run: Run) -> None:
    s = sample()
    r = run.results
    frames = {"Interactions": (s.interactions, s.interactions_more), "Items": (s.items, s.items_more),
              "Users": (s.users, s.users_more)}
    with step("create_dataset"):
        for dtype in domains.DATASET_TYPES:
            pp.create_dataset(name=f"{GROUP}-{dtype.lower()}", dataset_group=GROUP, dataset_type=dtype,
                              schema=f"{GROUP}-{dtype.lower()}" + ("-base" if dtype in EVOLVED else ""))
    with step("create_filter before update_dataset"):
        pp.create_filter(name=BEFORE_UPDATE, dataset_group=GROUP, filter_expression=before_update_filter()[0])
    for dtype in EVOLVED:
        with step(f"update_dataset {dtype}"):
            pp.update_dataset(f"{GROUP}-{dtype.lower()}", schema=f"{GROUP}-{dtype.lower()}",
                              dataset_group=GROUP)
    for dtype, (full, _more) in frames.items():
        with step(f"import FULL {dtype}"):
            pp.create_dataset_import_job(dataset=dtype, dataset_group=GROUP,
                                         data_source=with_extras(full, dtype, plan.of(dtype)))
    for dtype, (_full, more) in frames.items():
        with step(f"import INCREMENTAL {dtype}"):
            pp.create_dataset_import_job(dataset=dtype, dataset_group=GROUP, import_mode="INCREMENTAL",
                                         data_source=with_extras(more, dtype, plan.of(dtype)))
    for dtype, (column, bad) in BAD_ROWS.items():
        with step(f"import a bad {dtype} row"):
            # validation still catches it and names the row and column, as in the baseline
            frame = with_extras(frames[dtype][1], dtype, plan.of(dtype)).astype({column: object})
            frame.loc[len(frame) - 1, column] = bad
            try:
                pp.create_dataset_import_job(dataset=dtype, dataset_group=GROUP, import_mode="INCREMENTAL",
                                             data_source=frame)
            except pypersonalize.DataImportError as exc:
                r[("bad row", dtype)] = str(exc).splitlines()[0]
            else:
                raise AssertionError(f"a {dtype} row with {column} = {bad!r} was imported")
    for dtype in domains.DATASET_TYPES:
        table = dtype.lower()
        with step(f"stored {dtype} data"):
            base = ", ".join(f'"{f["name"]}"' for f in schema_doc(dtype, ())["fields"])
            r[("table", table)] = pp.sql(f"SELECT {base} FROM {GROUP}.{table} ORDER BY ALL").fetchall()
            for name in plan.of(dtype):
                got = {v for (v,) in pp.sql(f'SELECT DISTINCT CAST("{name}" AS VARCHAR) '
                                            f"FROM {GROUP}.{table}").fetchall()}
                want = {None} if dtype == "Items" and categorical(name) else {value_of(name)}
                assert got == want, f"{table}.{name} holds {sorted(map(str, got))}, not {want}"
    with step("validate_dataset_group"):
        report = pp.validate_dataset_group(GROUP)
        report.pop("datasetGroupArn", None)
        r[("data check",)] = report
    with step("create_filter"):
        for name, (expression, _values) in filters_of(plan).items():
            pp.create_filter(name=name, dataset_group=GROUP, filter_expression=expression)
    _train(pp, plan, run)
    _serve(pp, plan, run, "trained")
    with step("put_events"):
        # a field named like one of Personalize's reserved property keys (SESSION_ID) cannot
        # come through properties, in Personalize either; its events leave it null
        reserved = {k.lower() for k in events_module.RESERVED_PROPERTIES}
        props = {n: value_of(n) for n in plan.interactions if n.replace("_", "").lower() not in reserved}
        events = [{"eventType": "Watch", "itemId": s.item, "sentAt": 1_800_000_000, "properties": props},
                  {"eventType": "Click", "itemId": str(s.items["ITEM_ID"].iloc[3]), "sentAt": 1_800_000_010,
                   "properties": props}]
        pp.put_events(GROUP, s.history_user, "session-1", events)
        pp.put_events(GROUP, "newcomer", "session-2", events)
    _serve(pp, plan, run, "after put_events")


MAX_FILTER_FIELDS = 5     # Personalize's limit of distinct fields per filter


def before_update_filter() -> tuple[str, dict]:
    """A filter on the sample's own Items and Users fields, created before the update."""
    s = sample()
    return ("INCLUDE ItemID WHERE Items.GENRES IN ($GENRES) IF CurrentUser.SUBSCRIPTION_MODEL IN ($S)",
            {"GENRES": s.genres, "S": s.subscriptions})


def filters_of(plan: Plan) -> dict[str, tuple[str, dict]]:
    """One filter of each shape, name -> (expression, filter values). Without extra fields
    these are the baseline's filters; the extras' conditions always hold (constant values)
    or never exclude (NULL categorical), so both let the same items through."""
    s = sample()
    valued = [n for n in plan.items if not categorical(n)]
    cats = [n for n in plan.items if categorical(n)]
    room = MAX_FILTER_FIELDS - 1        # one field is the baseline's own

    def quoted(name):
        return f'"{value_of(name)}"'

    items_v = valued[:room // 2] if cats else valued[:room]
    cats = cats[:room - len(items_v)]
    expr = "INCLUDE ItemID WHERE Items.GENRES IN ($GENRES)" + "".join(
        f" AND Items.{n} IN ($V{i})" for i, n in enumerate(items_v))
    if cats:
        expr += " | EXCLUDE ItemID WHERE " + " OR ".join(f'Items.{n} IN ("x")' for n in cats)
    out = {"f_items": (expr, {"GENRES": s.genres, **{f"V{i}": quoted(n) for i, n in enumerate(items_v)}})}
    events = list(plan.interactions)
    out["f_events"] = ('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Watch")' + "".join(
        f" AND Interactions.{n} IN ($E{i})" for i, n in enumerate(events[:room])),
        {f"E{i}": quoted(n) for i, n in enumerate(events[:room])})
    out["f_events_2"] = ('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Click")' + "".join(
        f" AND Interactions.{n} IN ($E{i})" for i, n in enumerate(events[room:])),
        {f"E{i}": quoted(n) for i, n in enumerate(events[room:])})
    users = list(plan.users[:room])
    if users:
        out["f_user"] = ("INCLUDE ItemID WHERE Items.GENRES IN ($GENRES) IF " + " AND ".join(
            f"CurrentUser.{n} IN ($U{i})" for i, n in enumerate(users)),
            {"GENRES": s.genres, **{f"U{i}": quoted(n) for i, n in enumerate(users)}})
    else:
        out["f_user"] = before_update_filter()
    current = valued[-room:] if len(valued) > room else valued
    out["f_item"] = ("INCLUDE ItemID WHERE Items.GENRES IN (CurrentItem.GENRES)" + "".join(
        f" AND Items.{n} IN (CurrentItem.{n})" for n in current), {})
    return out


def recipes_to_train(pp, plan: Plan) -> list[str]:
    # one campaign per recipe: Personalize's -v2 names are served by the same models
    names = [r["name"] for r in pp.list_recipes()["recipes"] if r["name"] in RECIPES and r["name"] not in UNTRAINABLE]
    if plan.every_recipe:
        return names
    chosen, seen = [], set()
    for name in sorted(names, key=lambda n: n not in PREFERRED):
        files = tuple(pp.describe_recipe(name)["recipe"]["sqlFiles"])
        if files not in seen:
            seen.add(files)
            chosen.append(name)
    return chosen


def _train(pp, plan: Plan, run: Run) -> None:
    for recipe in recipes_to_train(pp, plan):
        known = {h["name"] for h in pp.describe_recipe(recipe)["recipe"]["hyperparameters"]}
        hps = RECIPE_SETTINGS.get(recipe, {k: v for k, v in FAST_UP.items() if k in known})
        name = recipe.removeprefix("aws-")
        with step(f"train {recipe}"):
            pp.create_solution(name=name, dataset_group=GROUP, recipe=recipe, hyperparameters=hps,
                               event_type="Watch" if recipe == "aws-popularity-count" else None)
            version = pp.create_solution_version(solution=name)["solutionVersionArn"]
        if RECIPES[recipe].segments:        # batch only: its segment job runs in _serve
            run.results[f"segments {recipe}"] = version
            continue
        with step(f"create_campaign {recipe}"):
            pp.create_campaign(name=campaign_of(recipe), solution_version=version)
    with step("create_recommender"):
        # a use case that leaves out the user's watched items (the exclusion path)
        pp.create_recommender(name=BYW, dataset_group=GROUP, use_case="Because you watched X")


def _items(recs: dict) -> list[tuple]:
    return [(x["itemId"], x["score"]) for x in recs["itemList"]]


def _serve(pp, plan: Plan, run: Run, phase: str) -> None:
    """The requests of one phase: Python, plain SQL and numpy, filtered and not."""
    s = sample()
    context = {n: value_of(n) for n in plan.interactions}
    filters = {**filters_of(plan), BEFORE_UPDATE: before_update_filter()}
    campaigns = {c["name"] for c in pp.list_campaigns()["campaigns"]}
    kinds = {name: "campaign" for name in campaigns}
    kinds[BYW] = "recommender"
    related = {campaign_of(r.name): s.item for r in RECIPES.values() if r.recipe_type == "RELATED_ITEMS"}
    related[BYW] = s.item
    inputs = sorted(s.items["ITEM_ID"])[:40]

    def recommend(endpoint, user, filter=None):
        item = related.get(endpoint, s.item if filter == "f_item" else None)
        label = f"{phase}: get_recommendations {endpoint} user {user}" + f" filter {filter}" * bool(filter)
        with step(label):
            run.results[label] = _items(pp.get_recommendations(
                **{kinds[endpoint]: endpoint}, user_id=user, item_id=item, num_results=15, seed=SEED,
                context=context, filter=filter, filter_values=filters[filter][1] if filter else None))

    def rank(endpoint, user, filter=None):
        label = f"{phase}: get_personalized_ranking {endpoint} user {user}"
        label += f" filter {filter}" * bool(filter)
        with step(label):
            out = pp.get_personalized_ranking(endpoint, user, inputs, context=context, filter=filter,
                                              filter_values=filters[filter][1] if filter else None)
            run.results[label] = [(x["itemId"], x["score"]) for x in out["personalizedRanking"]]

    def plain_sql(endpoint, filter=None):
        params = {"e": endpoint, "u": s.history_user, "i": related.get(endpoint), "k": list(context),
                  "v": list(context.values())}
        if filter is None:
            label = f"{phase}: SQL pp_recommend {endpoint}"
            sql = ("SELECT rank, item_id, score FROM pp_recommend($e, user_id := $u, item_id := $i, n := 15, "
                   "context := MAP($k::VARCHAR[], $v::VARCHAR[]))")
        else:
            label = f"{phase}: SQL pp_recommend_filtered {endpoint} {filter}"
            sql = ("SELECT rank, item_id, score FROM pp_recommend_filtered($e, $f, user_id := $u, "
                   "item_id := $i, n := 15, filter_values := MAP($k::VARCHAR[], $v::VARCHAR[]))")
            values = filters[filter][1]
            params.update(f=filter, k=list(values), v=list(values.values()))
        with step(label):
            run.results[label] = pp.sql(sql, params=params).fetchall()

    def batch_jobs():
        """A batch inference job (UP, a filter with values per line) and every segment job."""
        folder = Path(pp.path).parent / f"batch-{phase.replace(' ', '-')}"
        folder.mkdir(exist_ok=True)
        users = folder / "users.jsonl"
        values = filters["f_events"][1]
        users.write_text("".join(json.dumps({"userId": u, **({"filterValues": values} if values else {})}) + "\n"
                                 for u in (s.history_user, s.quiet_user, "nobody")))
        version = pp.describe_campaign(UP)["campaign"]["solutionVersionArn"]
        with step(f"{phase}: batch inference job"):
            pp.create_batch_inference_job(f"bi-{phase.replace(' ', '-')}", version, users, folder / "recs.out",
                                          num_results=10, filter="f_events",
                                          batch_inference_job_config={"outputTable": "batch_recs"})
            run.results[f"{phase}: batch inference"] = [   # the input echoes this plan's values
                {k: v for k, v in json.loads(line).items() if k != "input"}
                for line in (folder / "recs.out").read_text().splitlines()]
            run.results[f"{phase}: batch inference table"] = pp.sql(
                "SELECT * FROM batch_recs ORDER BY ALL").fetchall()
        genre = str(s.items["GENRES"].dropna().iloc[0]).split("|")[0]
        queries = {"aws-item-affinity": {"itemId": s.item},
                   "aws-item-attribute-affinity": {"itemAttributes": f'ITEMS.GENRES = "{genre}"'}}
        for key, version in list(run.results.items()):
            if not isinstance(key, str) or not key.startswith("segments "):
                continue
            recipe = key.removeprefix("segments ")
            source = folder / f"{recipe}.jsonl"
            source.write_text(json.dumps(queries[recipe]) + "\n")
            with step(f"{phase}: batch segment job {recipe}"):
                pp.create_batch_segment_job(f"bs-{recipe}-{phase.replace(' ', '-')}", version, source,
                                            folder / f"{recipe}.out", num_results=10)
                run.results[f"{phase}: segment {recipe}"] = (folder / f"{recipe}.out").read_text()

    wide = plan.every_recipe
    if phase == "trained":
        batch_jobs()
        for endpoint in sorted(kinds):
            if endpoint != RANKING:
                recommend(endpoint, s.history_user)
        recommend(UP, "nobody")
        for name in ("f_events", "f_events_2"):
            recommend(UP, s.history_user, name)
        recommend(SIMS, s.history_user, "f_events")
        rank(UP, s.history_user)
        plain_sql(UP)
        plain_sql(SIMS, "f_events")
        with step(f"{phase}: score_users"):
            version = pp.describe_campaign(UP)["campaign"]["solutionVersionArn"]
            items, probs = pp.score_users(version, [s.history_user, s.quiet_user, "nobody"])
            run.results[f"{phase}: score_users"] = (list(items), probs.tolist())
        if wide:        # what reads Items and Users fields too
            recommend(UP, s.quiet_user)
            for name in ("f_items", "f_user", BEFORE_UPDATE):
                recommend(UP, s.history_user, name)
            for name in ("f_items", "f_user", "f_item"):     # CurrentItem needs an item_id
                recommend(SIMS, s.history_user, name)
            recommend(UP, s.quiet_user, "f_user")
            recommend(POPULAR, s.history_user, "f_items")
            rank(UP, s.history_user, "f_items")
            rank(RANKING, s.history_user)
            rank(RANKING, s.quiet_user, "f_user")
            for endpoint in (SIMS, POPULAR, BYW):
                plain_sql(endpoint)
            plain_sql(UP, "f_items")
    elif phase == "after put_events":
        recommend(UP, s.history_user, "f_events")
        recommend(UP, "newcomer")
        recommend(BYW, s.history_user)
        if wide:
            recommend(UP, s.history_user)
            rank(UP, "newcomer")
            plain_sql(UP)
    else:
        recommend(UP, s.history_user)
        plain_sql(SIMS, "f_events")
        if wide:
            recommend(UP, s.history_user, "f_items")
            recommend(UP, s.quiet_user, BEFORE_UPDATE)
        with step(f"{phase}: delete_filter"):
            pp.delete_filter("f_item")
            pp.describe_filter("f_events")


# -- 4. the comparison ------------------------------------------------------------------------

BASELINE = Plan("baseline")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Run:
    run = exercise(tmp_path_factory.mktemp("baseline") / "baseline.duckdb", BASELINE)
    assert run.failure is None, f"the baseline itself fails at {run.failure[0]}: {run.failure[1]}"
    return run


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def problems(run: Run, baseline: Run) -> list[str]:
    """What is wrong with a run: an unclear refusal, a failing step, a different answer."""
    out = []
    for name, messages in run.refused.items():
        for dtype, message in messages.items():
            # a refusal is a fix only if it names the field and says why
            if f'"{name}"' not in message or not re.search(r"internal|reserved|built-in", message, re.I):
                out.append(f"create_schema {dtype} refuses it without saying why: {message!r}")
    if run.failure is not None:
        out.append(f"{run.failure[0]}: {run.failure[1]}")
        return out
    for key, got in run.results.items():
        want = baseline.results.get(key, "(no baseline answer)")
        if not _same(got, want):
            out.append(f"{key}: answer differs from the baseline: {str(got)[:200]} != {str(want)[:200]}")
    return out


_FILES = itertools.count()


def _fresh(tmp: Path) -> Path:
    return tmp / f"run-{next(_FILES)}.duckdb"


def blame(plan: Plan, run: Run, baseline: Run, tmp: Path) -> list[tuple[tuple[str, ...], list[str]]]:
    """The names of a failing plan that fail, each with its own problems: a name the error
    quotes is tried alone first, otherwise the plan is halved."""
    wrong = problems(run, baseline)
    if not wrong:
        return []
    names = plan.names()
    if len(names) == 1:
        return [(names, wrong)]
    if run.failure is not None:
        quoted = [n for n in names if re.search(rf'["\'.]{re.escape(n)}["\']', run.failure[1], re.I)]
        if len(quoted) == 1:
            alone = plan.only(quoted)
            alone_run = exercise(_fresh(tmp), alone)
            if problems(alone_run, baseline):
                rest = plan.only(n for n in names if n != quoted[0])
                return blame(alone, alone_run, baseline, tmp) + \
                    blame(rest, exercise(_fresh(tmp), rest), baseline, tmp)
    half = len(names) // 2
    found = []
    for part in (names[:half], names[half:]):
        sub = plan.only(part)
        found += blame(sub, exercise(_fresh(tmp), sub), baseline, tmp)
    return found or [(names, ["only together: " + wrong[0]])]


@pytest.mark.slow
@pytest.mark.parametrize("plan", PLANS, ids=[p.label for p in PLANS])
def test_fields_named_like_internal_identifiers(plan, baseline, tmp_path):
    run = exercise(tmp_path / "plan.duckdb", plan)
    for name, messages in run.refused.items():
        print(f"{name}: refused by create_schema ({', '.join(messages)}): {next(iter(messages.values()))}")
    if not problems(run, baseline):
        return
    culprits = blame(plan, run, baseline, tmp_path)
    lines = [f"{', '.join(names)}: " + " | ".join(wrong[:2]) for names, wrong in culprits]
    pytest.fail(f"{len(lines)} of {len(plan.names())} field names break pypersonalize:\n  "
                + "\n  ".join(lines), pytrace=False)
