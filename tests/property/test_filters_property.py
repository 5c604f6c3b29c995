"""Random filter expressions over random schemas: compiled SQL == an independent Python model.

Three small dataset groups are generated from fixed seeds (random Items metadata fields of
every filterable kind, whose names include SQL keywords; mixed-case event types; nulls and
multi-value categorical values; a user without a Users row; in the first group a user whose
"click" events overflow the 100-interaction window). Hypothesis then generates filter
expressions as *text* together with a structured description of them, the filter values to
send and a request (user, current item; known or not). The text goes through the package
(parse_filter, check_filter, compile_filter, one SQL query over all item ids); the
structured description goes through the Python evaluation below, which shares no code with
the package. The same text is also compiled the way stored filter macros are
(compile_filter_macro, values read from a MAP at run time) and must give the same items.
The semantics modelled are the ones the package documents (README "Filters",
sql/filters/*.sql):

* AND binds tighter than OR; one dataset (Items or Interactions) per expression;
* IN / NOT IN on strings: a multi-value (categorical) field matches when ANY of its values is
  listed; NULL never matches IN, so NOT IN holds for NULL; comparisons on numbers, where
  NULL never matches;
* EVENT_TYPE matches case-insensitively, everything else exactly; "*" matches every event;
* Interactions conditions look at the requesting user's 100 most recent interactions per
  lower-cased event type;
* CurrentItem.F is the requested item's field; with no item, or an unknown one, it is NULL;
* IF CurrentUser... applies an expression only when the user's Users row satisfies every
  IF condition (no row: not applied);
* result = (union of applied INCLUDE sets, or every item when none applies) minus the union
  of applied EXCLUDE sets; an EXCLUDE expression missing a $PARAM value is skipped, an
  INCLUDE one is an InvalidInput.
"""

from __future__ import annotations

import operator
import random
from dataclasses import dataclass, field

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pypersonalize
from pypersonalize.filter_parser import parse_filter
from pypersonalize.filters import MACRO_PARAMS, check_filter, compile_filter, compile_filter_macro
from pypersonalize.sqlkit import used_params

WINDOW = 100            # interactions per user and (lower-cased) event type
MAX_FIELDS = 5          # distinct dataset fields per filter
T0 = 1_700_000_000

# When the request names no current item, or one that is not in Items, every CurrentItem
# field reads as NULL (IN never matches, NOT IN holds), exactly as for a known current item
# whose field is NULL; OR branches without CurrentItem are unaffected.
# (Before commit b28fe20 the package emptied the whole expression instead; set this to True
# to model that behaviour.)
CURRENT_ITEM_MISSING_EMPTIES_EXPRESSION = False

# -- random schemas and data -------------------------------------------------------------

ITEM_FIELD_NAMES = ["GENRE", "ORDER", "select", "Color_2", "BRAND", "Price", "RATING", "group",
                    "SIZE", "YEAR_X"]
CAT_POOL = ["Comedy", "comedy", "Drama", "Sci-Fi", "rock'n'roll", "\u00e9t\u00e9", "New York",
            "x y", "Horror", "DRAMA"]
STR_POOL = ["red", "Red", "blue", "in-house", "a|b", "\u00dcn\u00efcode", "O'Brien", "Paris, FR",
            "green", "\U0001f3ac"]
EVENT_TYPES = ["click", "Click", "CLICK", "watch", "Watch", "buy"]
DEVICE_POOL = ["phone", "tv", "Tablet", "tablet"]
PLAN_POOL = ["free", "basic", "Premium", "premium", "trial"]
STRING_KINDS = ("cat", "str", "event")
NUMERIC_KINDS = ("int", "long", "float")
AVRO = {"cat": "string", "str": "string", "event": "string", "int": "int", "long": "long",
        "float": "float"}


@dataclass(repr=False)
class Spec:
    """One dataset group: field kinds per dataset and the rows, as plain Python values."""

    seed: int
    group: str
    fields: dict[str, dict[str, str]]                 # dataset -> field -> kind
    items: dict[str, dict] = field(default_factory=dict)
    users: dict[str, dict] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    interaction_users: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<Spec {self.group}>"

    def kind(self, dataset: str, name: str) -> str:
        return self.fields[dataset][name]

    def observed(self, dataset: str, name: str) -> list:
        """Every non-null value of a field in the data (list values flattened)."""
        rows = {"Items": self.items.values(), "Users": self.users.values(),
                "Interactions": self.events}[dataset]
        out = []
        for row in rows:
            v = row[name]
            if isinstance(v, list):
                out += v
            elif v is not None:
                out.append(v)
        return sorted(set(out), key=repr)


def _value(rng: random.Random, kind: str, pool: list, nullable: bool):
    if nullable and rng.random() < 0.15:
        return None
    if kind == "cat":
        return rng.sample(pool, rng.choice([1, 1, 2, 3]))
    if kind == "str":
        return rng.choice(pool)
    if kind == "int":
        return rng.randint(-5, 40)
    if kind == "long":
        return T0 + rng.randrange(20) * 1000
    return rng.randrange(-10, 200) / 2 + rng.choice([0, 0, 0.25])


def make_spec(seed: int, heavy_user: bool) -> Spec:
    rng = random.Random(seed)
    names = rng.sample(ITEM_FIELD_NAMES, rng.randint(2, 5))
    kinds = ["cat", rng.choice(NUMERIC_KINDS)] + [rng.choice(["cat", "str", "int", "long", "float"])
                                                  for _ in names[2:]]
    item_fields = dict(zip(names, kinds))
    if rng.random() < 0.5:
        item_fields["CREATION_TIMESTAMP"] = "long"
    inter_fields = {"EVENT_TYPE": "event"}
    if rng.random() < 0.7:
        inter_fields["EVENT_VALUE"] = "float"
    if rng.random() < 0.7:
        inter_fields["LIMIT"] = "cat"            # a custom categorical field named like SQL
    user_fields = {rng.choice(["AGE", "from", "Level"]): "int",
                   rng.choice(["PLAN", "Tags", "where_"]): "cat"}
    spec = Spec(seed, f"grp{seed}", {"Items": item_fields, "Interactions": inter_fields,
                                     "Users": user_fields})
    nullable = {name: name != "CREATION_TIMESTAMP" and rng.random() < 0.8 for name in item_fields}
    pools = {name: rng.sample(CAT_POOL if kind == "cat" else STR_POOL, 5) for name, kind in item_fields.items()}
    for i in range(rng.randint(20, 40)):
        spec.items[f"i{i}"] = {name: _value(rng, kind, pools.get(name, []), nullable[name])
                               for name, kind in item_fields.items()}
    for u in range(rng.randint(5, 10)):
        row = {}
        for name, kind in user_fields.items():
            row[name] = _value(rng, kind, PLAN_POOL, True)
        spec.users[f"u{u}"] = row
    # "ghost" has interactions but no Users row.
    spec.interaction_users = [*spec.users, "ghost"]
    item_ids = list(spec.items)
    n = rng.randint(50, 200)
    stamps = rng.sample(range(T0 + 100_000, T0 + 200_000), n)
    for ts in stamps:
        spec.events.append(_event(rng, inter_fields, rng.choice(spec.interaction_users),
                                  rng.choice(item_ids), rng.choice(EVENT_TYPES), ts))
    if heavy_user:
        # u0 clicked the first items long ago and then clicked others 100 times (in mixed
        # case): the old clicks fall out of the window, its other event types do not.
        for k in range(25):
            spec.events.append(_event(rng, inter_fields, "u0", item_ids[k % 8],
                                      rng.choice(["click", "Click"]), T0 + k))
        for k in range(WINDOW):
            spec.events.append(_event(rng, inter_fields, "u0", item_ids[8 + k % (len(item_ids) - 8)],
                                      rng.choice(["click", "CLICK"]), T0 + 300_000 + k))
    return spec


def _event(rng, fields, user, item, event_type, ts):
    row = {"USER_ID": user, "ITEM_ID": item, "EVENT_TYPE": event_type, "TIMESTAMP": ts}
    if "EVENT_VALUE" in fields:
        row["EVENT_VALUE"] = rng.choice([None, 0.5, 1.0, 2.5, 5.0])
    if "LIMIT" in fields:
        row["LIMIT"] = _value(rng, "cat", DEVICE_POOL, True)
    return row


SPECS = [make_spec(11, heavy_user=True), make_spec(23, heavy_user=False), make_spec(37, heavy_user=False)]


def _avro(dataset: str, spec: Spec) -> dict:
    fixed = {"Items": [{"name": "ITEM_ID", "type": "string"}],
             "Users": [{"name": "USER_ID", "type": "string"}],
             "Interactions": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                              {"name": "TIMESTAMP", "type": "long"}]}[dataset]
    out = list(fixed)
    for name, kind in spec.fields[dataset].items():
        f = {"name": name, "type": AVRO[kind] if name in ("CREATION_TIMESTAMP", "EVENT_TYPE")
             else ["null", AVRO[kind]]}
        if kind == "cat":
            f["categorical"] = True
        out.append(f)
    return {"type": "record", "name": dataset, "namespace": "com.amazonaws.personalize.schema",
            "fields": out, "version": "1.0"}


def _frame(rows: list[dict], kinds: dict[str, str]) -> pd.DataFrame:
    df = pd.DataFrame([{k: "|".join(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows])
    for name, kind in kinds.items():
        if kind in ("int", "long"):
            df[name] = df[name].astype("Int64")
        elif kind == "float":
            df[name] = df[name].astype("float64")
    return df


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    pp = pypersonalize.open(tmp_path_factory.mktemp("fprop") / "filters-property.duckdb", quiet=True)
    for spec in SPECS:
        pp.create_dataset_group(name=spec.group)
        frames = {"Items": _frame([{"ITEM_ID": i, **r} for i, r in spec.items.items()], spec.fields["Items"]),
                  "Users": _frame([{"USER_ID": u, **r} for u, r in spec.users.items()], spec.fields["Users"]),
                  "Interactions": _frame(spec.events, {**spec.fields["Interactions"], "TIMESTAMP": "long"})}
        for dataset, frame in frames.items():
            name = f"{spec.group}-{dataset.lower()}"
            pp.create_schema(name=name, schema=_avro(dataset, spec))
            pp.create_dataset(name=name, dataset_group=spec.group, dataset_type=dataset, schema=name)
            pp.create_dataset_import_job(dataset=dataset, dataset_group=spec.group, data_source=frame)
    yield pp
    pp.close()


def test_the_generated_data_loaded_as_generated(project):
    for spec in SPECS:
        g = spec.group
        assert project.con.execute(f"SELECT count(*) FROM {g}.items").fetchone()[0] == len(spec.items)
        assert project.con.execute(f"SELECT count(*) FROM {g}.interactions").fetchone()[0] == len(spec.events)
        cat = next(n for n, k in spec.fields["Items"].items() if k == "cat")
        got = dict(project.con.execute(f'SELECT ITEM_ID, "{cat}" FROM {g}.items').fetchall())
        assert got == {i: r[cat] for i, r in spec.items.items()}


# -- the Python model ---------------------------------------------------------------------

OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
       ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Cond:
    dataset: str                 # Items | Interactions | CurrentUser
    name: str
    op: str                      # IN, NOT IN or a comparison
    kind: str                    # lits | param | star | num | cur
    strings: tuple = ()          # lits (star: the other literals, ignored)
    number: float | None = None
    param: str | None = None
    other: str | None = None     # CurrentItem field
    text: str = ""


@dataclass(frozen=True)
class Expr:
    action: str
    dataset: str
    clauses: tuple               # OR of ANDs of Cond
    ifs: tuple
    text: str

    def params(self) -> set[str]:
        return {c.param for cl in self.clauses for c in cl if c.param} | {c.param for c in self.ifs if c.param}

    def uses_current_item(self) -> bool:
        return any(c.kind == "cur" for cl in self.clauses for c in cl)


def _as_set(v) -> set:
    if v is None:
        return set()
    return set(v) if isinstance(v, list) else {v}


def holds(c: Cond, row: dict, values: dict, current: dict | None) -> bool:
    v = row[c.name]
    if c.op in ("IN", "NOT IN"):
        if c.kind == "star":
            return c.op == "IN"
        if c.kind == "cur":
            wanted = _as_set(None if current is None else current[c.other])
        elif c.kind == "param":
            wanted = set(values[c.param])
        else:
            wanted = set(c.strings)
        have = _as_set(v)
        if c.name == "EVENT_TYPE" and c.dataset == "Interactions":
            have, wanted = {h.lower() for h in have}, {w.lower() for w in wanted}
        return bool(have & wanted) == (c.op == "IN")
    if v is None:
        return False
    if c.kind == "cur":
        rhs = None if current is None else current[c.other]
        if rhs is None:
            return False
    elif c.kind == "param":
        rhs = float(values[c.param][0])
    else:
        rhs = c.number
    return OPS[c.op](float(v), float(rhs))


def window(spec: Spec, user) -> list[dict]:
    mine = sorted((e for e in spec.events if e["USER_ID"] == user), key=lambda e: -e["TIMESTAMP"])
    seen: dict[str, int] = {}
    out = []
    for e in mine:
        key = e["EVENT_TYPE"].lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= WINDOW:
            out.append(e)
    return out


class MissingInclude(Exception):
    pass


def evaluate(spec: Spec, exprs: list[Expr], values: dict, user, current_item) -> set[str]:
    everything = set(spec.items)
    current = spec.items.get(current_item)
    user_row = spec.users.get(user)
    recent = window(spec, user)
    includes, excludes, any_include = set(), set(), False
    for e in exprs:
        if e.params() - set(values):
            if e.action == "INCLUDE":
                raise MissingInclude
            continue
        if e.ifs and (user_row is None or not all(holds(c, user_row, values, None) for c in e.ifs)):
            continue
        if e.uses_current_item() and current is None and CURRENT_ITEM_MISSING_EMPTIES_EXPRESSION:
            members = set()
        elif e.dataset == "Items":
            members = {i for i, row in spec.items.items()
                       if any(all(holds(c, row, values, current) for c in cl) for cl in e.clauses)}
        else:
            members = {ev["ITEM_ID"] for ev in recent
                       if any(all(holds(c, ev, values, None) for c in cl) for cl in e.clauses)}
        if e.action == "INCLUDE":
            any_include = True
            includes |= members
        else:
            excludes |= members
    return (includes if any_include else everything) - excludes


# -- generating expressions as text --------------------------------------------------------

def _quote(s: str) -> str:
    return '"' + s + '"'


def _number_text(draw, x: float) -> str:
    style = draw(st.sampled_from(["plain", "plain", "decimal", "exp"]))
    if style == "exp":
        return f"{x:e}"
    if style == "decimal" or x != int(x):
        return repr(float(x))
    return str(int(x))


def _strings(draw, spec: Spec, dataset: str, name: str) -> list[str]:
    kind = spec.kind(dataset, name)
    seen = [str(v) for v in spec.observed(dataset, name)]
    pool = {"event": EVENT_TYPES + ["rate"], "cat": CAT_POOL + DEVICE_POOL + PLAN_POOL,
            "str": STR_POOL}[kind]
    real = st.sampled_from(seen) if seen else st.sampled_from(pool)
    variant = st.tuples(real, st.sampled_from([str.upper, str.lower, str.swapcase, lambda s: s + " "])
                        ).map(lambda t: t[1](t[0]))
    one = st.one_of(real, real, real, variant, st.sampled_from(pool), st.just("nope"))
    return draw(st.lists(one, min_size=1, max_size=3))


def _numbers(spec: Spec, dataset: str, name: str) -> st.SearchStrategy:
    seen = [float(v) for v in spec.observed(dataset, name)] or [0.0]
    near = st.tuples(st.sampled_from(seen), st.sampled_from([-1, -0.5, -0.25, 0, 0, 0, 0.5, 1]))
    return st.one_of(near.map(sum), near.map(sum), st.sampled_from([-7.0, 0.0, 1e9, 3.5]))


class Draft:
    """State while drawing one filter: the distinct fields used, the parameters."""

    def __init__(self):
        self.fields: set[str] = set()
        self.params: dict[str, list[str]] = {}

    def pick_field(self, draw, spec: Spec, dataset: str, label: str | None = None) -> str | None:
        label = label or dataset
        names = list(spec.fields["Users" if label == "CurrentUser" else dataset])
        if len(self.fields) >= MAX_FIELDS:
            names = [n for n in names if f"{label}.{n}" in self.fields]
        if not names:
            return None
        name = draw(st.sampled_from(names))
        self.fields.add(f"{label}.{name}")
        return name

    def new_param(self, draw, values: list[str]) -> str:
        base = draw(st.sampled_from(["P", "GENRE", "value_", "X", "EVENT_TYPE"]))
        name = f"{base}{len(self.params)}"
        self.params[name] = values
        return name


def draw_condition(draw, spec: Spec, draft: Draft, dataset: str, label: str | None = None) -> Cond:
    label = label or dataset
    name = draft.pick_field(draw, spec, dataset, label)
    kind = spec.kind("Users" if label == "CurrentUser" else dataset, name)
    ref = f"{label}.{name}"
    items_strings = [n for n, k in spec.fields["Items"].items() if k in STRING_KINDS]
    items_numbers = [n for n, k in spec.fields["Items"].items() if k in NUMERIC_KINDS]
    how = draw(st.sampled_from(["lits", "lits", "param", "special"]))
    src = "Users" if label == "CurrentUser" else dataset
    if kind in STRING_KINDS:
        op = draw(st.sampled_from(["IN", "IN", "NOT IN"]))
        if how == "special" and kind == "event":
            strings = draw(st.lists(st.sampled_from(EVENT_TYPES), max_size=2))
            pos = draw(st.integers(0, len(strings)))
            texts = [_quote(s) for s in strings[:pos]] + ['"*"'] + [_quote(s) for s in strings[pos:]]
            return Cond(label, name, op, "star", tuple(strings), text=f"{ref} {op} ({', '.join(texts)})")
        if how == "special" and label == "Items":
            other = draw(st.sampled_from(items_strings))
            operand = draw(st.sampled_from([f"CurrentItem.{other}", f"(CurrentItem.{other})"]))
            return Cond(label, name, op, "cur", other=other, text=f"{ref} {op} {operand}")
        strings = _strings(draw, spec, src, name)
        if how == "param":
            p = draft.new_param(draw, strings)
            operand = draw(st.sampled_from([f"(${p})", f'("${p}")', f"( ${p} )"]))
            return Cond(label, name, op, "param", param=p, text=f"{ref} {op} {operand}")
        sep = draw(st.sampled_from([", ", ",", " , "]))
        return Cond(label, name, op, "lits", tuple(strings),
                    text=f"{ref} {op} ({sep.join(_quote(s) for s in strings)})")
    op = draw(st.sampled_from(list(OPS)))
    space = draw(st.sampled_from([" ", " ", ""]))
    if how == "special" and label == "Items":
        other = draw(st.sampled_from(items_numbers))
        operand = draw(st.sampled_from([f"CurrentItem.{other}", f"(CurrentItem.{other})"]))
        return Cond(label, name, op, "cur", other=other, text=f"{ref}{space}{op}{space}{operand}")
    x = draw(_numbers(spec, src, name))
    text = _number_text(draw, x)
    if how == "param":
        p = draft.new_param(draw, [text])
        operand = draw(st.sampled_from([f"${p}", f"(${p})"]))
        return Cond(label, name, op, "param", param=p, text=f"{ref} {op} {operand}")
    operand = draw(st.sampled_from([text, f"({text})"]))
    return Cond(label, name, op, "num", number=float(text), text=f"{ref} {op}{space}{operand}")


def draw_expression(draw, spec: Spec, draft: Draft) -> Expr:
    action = draw(st.sampled_from(["INCLUDE", "EXCLUDE"]))
    usable = [d for d in ("Items", "Interactions")
              if len(draft.fields) < MAX_FIELDS or any(f.startswith(d + ".") for f in draft.fields)]
    dataset = draw(st.sampled_from(usable))
    conds = [draw_condition(draw, spec, draft, dataset) for _ in range(draw(st.integers(1, 4)))]
    joiners = [draw(st.sampled_from(["AND", "OR"])) for _ in conds[1:]]
    clauses, current = [], [conds[0]]
    for j, c in zip(joiners, conds[1:]):
        if j == "OR":
            clauses.append(tuple(current))
            current = []
        current.append(c)
    clauses.append(tuple(current))
    gap = draw(st.sampled_from([" ", " ", "\n  "]))
    body = conds[0].text + "".join(f"{gap}{j} {c.text}" for j, c in zip(joiners, conds[1:]))
    ifs = []
    if draw(st.integers(0, 9)) < 3:
        for _ in range(draw(st.integers(1, 2))):
            if len(draft.fields) >= MAX_FIELDS and not any(f.startswith("CurrentUser.") for f in draft.fields):
                break
            ifs.append(draw_condition(draw, spec, draft, "Users", label="CurrentUser"))
    if ifs:
        body += " IF " + " AND ".join(c.text for c in ifs)
    return Expr(action, dataset, tuple(clauses), tuple(ifs), f"{action} ItemID WHERE {body}")


def encode_values(draw, values: list[str]) -> str:
    """Personalize's filter-value syntax, in its accepted spellings."""
    if len(values) == 1 and draw(st.booleans()) and "," not in values[0] and values[0] == values[0].strip():
        return values[0]
    sep = draw(st.sampled_from([",", ", ", " , ", ",\t"]))
    pad = draw(st.sampled_from(["", "", " "]))
    return pad + sep.join(_quote(v) for v in values) + pad


@dataclass
class Case:
    spec: Spec
    exprs: list
    text: str
    values: dict            # parameter -> the list of values it stands for (given ones only)
    filter_values: dict     # what the request sends
    user: str | None
    current_item: str | None


@st.composite
def cases(draw) -> Case:
    spec = draw(st.sampled_from(SPECS))
    draft = Draft()
    exprs = [draw_expression(draw, spec, draft) for _ in range(draw(st.integers(1, 3)))]
    text = " | ".join(e.text for e in exprs)
    values, filter_values = {}, {}
    for p, vals in draft.params.items():
        if draw(st.integers(0, 9)) == 0:
            continue                      # not sent
        values[p] = vals
        filter_values[p] = encode_values(draw, vals)
    if draw(st.integers(0, 9)) == 0:
        filter_values["UNUSED_1"] = '"Comedy"'
    user = draw(st.sampled_from([*spec.interaction_users, "u0", "u0", "nobody", None]))
    current = draw(st.one_of(st.sampled_from(list(spec.items)), st.sampled_from(["nope", None])))
    return Case(spec, exprs, text, values, filter_values, user, current)


def sql_items(pp, spec: Spec, text: str, filter_values: dict, user, current_item) -> set[str]:
    group = pp.catalog.get("dataset-group", spec.group)
    schemas = pp._schemas_of(group)
    parsed = parse_filter(text)
    check_filter(parsed, schemas)          # the generated text is a valid filter
    predicate, params = compile_filter(parsed, schemas, spec.group, filter_values, "c.ITEM_ID")
    sql = f'SELECT c.ITEM_ID FROM "{spec.group}".items c WHERE {predicate}'
    rows = pp.con.execute(sql, used_params(sql, {"user_id": user, "item_id": current_item, **params}))
    return {r[0] for r in rows.fetchall()}


def macro_items(pp, spec: Spec, text: str, filter_values: dict, user, current_item) -> set[str]:
    """The same filter through the stored-macro compilation (values from a MAP at run time)."""
    group = pp.catalog.get("dataset-group", spec.group)
    predicate = compile_filter_macro(parse_filter(text), pp._schemas_of(group), spec.group)
    params = ", ".join(MACRO_PARAMS.values())
    pp.con.execute(f"CREATE OR REPLACE TEMP MACRO pp_property_filter({params}) AS ({predicate})")
    rows = pp.con.execute(
        f'SELECT c.ITEM_ID FROM "{spec.group}".items c WHERE pp_property_filter(c.ITEM_ID, $u, $i, '
        "MAP($k::VARCHAR[], $v::VARCHAR[]))",
        {"u": user, "i": current_item, "k": list(filter_values), "v": list(filter_values.values())})
    return {r[0] for r in rows.fetchall()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.data_too_large])
@given(case=cases())
def test_compiled_filters_match_the_python_model(project, case):
    note = f"{case.text!r}\nvalues={case.filter_values!r} user={case.user!r} item={case.current_item!r}"
    try:
        want = evaluate(case.spec, case.exprs, case.values, case.user, case.current_item)
    except MissingInclude:
        with pytest.raises(pypersonalize.InvalidInput, match="missing"):
            sql_items(project, case.spec, case.text, case.filter_values, case.user, case.current_item)
        try:
            macro_items(project, case.spec, case.text, case.filter_values, case.user, case.current_item)
        except duckdb.Error as e:
            assert "missing" in str(e), note
        # else: called directly, a pp_filter__<name> macro checks missing INCLUDE values
        # first in its conjunction, but DuckDB may settle the WHERE clause without it (an
        # empty semi-join); pp_recommend_filtered checks them up front, always.
        return
    got = sql_items(project, case.spec, case.text, case.filter_values, case.user, case.current_item)
    assert got == want, note
    got = macro_items(project, case.spec, case.text, case.filter_values, case.user, case.current_item)
    assert got == want, "stored-macro compilation\n" + note


# -- fixed checks on the same data -----------------------------------------------------------

def test_the_window_bites_for_the_heavy_user(project):
    spec = SPECS[0]
    old = {e["ITEM_ID"] for e in spec.events if e["USER_ID"] == "u0" and e["TIMESTAMP"] < T0 + 100}
    recent = {e["ITEM_ID"] for e in window(spec, "u0") if e["EVENT_TYPE"].lower() == "click"}
    text = 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Click")'
    got = sql_items(project, spec, text, {}, "u0", None)
    assert got == recent and old - recent


def _null_item(spec: Spec, name: str) -> str | None:
    return next((i for i, r in spec.items.items() if r[name] is None), None)


@pytest.mark.parametrize("current_item", ["nope", None])
@pytest.mark.parametrize("shape", ["or-branch", "not-in"])
def test_unknown_current_item_reads_as_null(project, shape, current_item):
    spec, cat = next((s, n) for s in SPECS for n, k in s.fields["Items"].items()
                     if k == "cat" and _null_item(s, n) is not None)
    value = spec.observed("Items", cat)[0]
    if shape == "or-branch":
        text = f'INCLUDE ItemID WHERE Items.{cat} IN ("{value}") OR Items.{cat} IN CurrentItem.{cat}'
        want = {i for i, r in spec.items.items() if value in (r[cat] or [])}
    else:
        text = f"INCLUDE ItemID WHERE Items.{cat} NOT IN CurrentItem.{cat}"
        null_item = _null_item(spec, cat)
        # A current item with a NULL field: NOT IN holds everywhere.
        assert sql_items(project, spec, text, {}, "u1", null_item) == set(spec.items)
        want = set(spec.items)
    assert want
    assert sql_items(project, spec, text, {}, "u1", current_item) == want
    assert macro_items(project, spec, text, {}, "u1", current_item) == want


def test_stored_macro_fails_on_any_missing_include_value(project):
    spec = SPECS[0]
    cat = next(n for n, k in spec.fields["Items"].items() if k == "cat")
    missing_first = f'INCLUDE ItemID WHERE Items.{cat} IN ($P) | INCLUDE ItemID WHERE Items.{cat} NOT IN ("zzz")'
    missing_last = f'INCLUDE ItemID WHERE Items.{cat} NOT IN ("zzz") | INCLUDE ItemID WHERE Items.{cat} IN ($P)'
    for text in (missing_first, missing_last):
        with pytest.raises(pypersonalize.InvalidInput, match=r"\$P missing"):
            sql_items(project, spec, text, {}, "u1", None)
    with pytest.raises(duckdb.Error, match=r"\$P missing"):
        macro_items(project, spec, missing_first, {}, "u1", None)
    try:
        macro_items(project, spec, missing_last, {}, "u1", None)
    except duckdb.Error as e:
        assert "$P missing" in str(e)
    else:
        raise AssertionError("no error for the missing $P of the second INCLUDE expression")
