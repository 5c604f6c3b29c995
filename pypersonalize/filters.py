"""Filters: Personalize filter expressions checked against the schemas and compiled to SQL.

A filter is stored as its expression text; each request compiles it with that request's
filter values into one SQL predicate over candidate item ids (``sql/filters``). Values are
always bound parameters; field names come from the schema and are quoted.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb

from .base import ProjectBase
from .catalog import Record, check_name
from .connection import writes
from .errors import InvalidInput, LimitExceeded, PypersonalizeError, ResourceAlreadyExists, ResourceInUse
from .filter_parser import Condition, Expression, Filter, parse_filter
from .schemas import Schema
from .sqlkit import execute_all, quote_ident, quote_literal, render

log = logging.getLogger(__name__)

INTERACTIONS_WINDOW = 100     # Personalize's default: recent interactions per user and event type
MAX_FIELDS_PER_FILTER = 5
MAX_FILTER_VALUES = 25
NUMERIC = ("int", "long", "float", "double")
_VALUE = re.compile(r'"((?:[^"\\]|\\.)*)"')
_KEY = re.compile(r"[A-Za-z0-9_]{1,50}")
# Parameters of the per-filter SQL macros, spelled so that no schema field can share them.
MACRO_PARAMS = {"candidate": '"pp#candidate"', "user": '"pp#user"', "item": '"pp#item"',
                "values": '"pp#values"'}


@dataclass(frozen=True)
class FilterPart:
    """One expression the engine evaluates itself: an Items predicate (user-independent, so
    its verdict is cached) or "the user's recent events of these types" (from memory)."""

    action: str                              # INCLUDE | EXCLUDE
    predicate: str | None = None             # Items expression as an INCLUDE predicate
    params: dict = field(default_factory=dict)
    event_types: frozenset | None = None     # lower-cased types; None = any ("*")
    window: int = INTERACTIONS_WINDOW        # recent events per event type


@dataclass(frozen=True)
class RequestFilter:
    """A request's filter: one SQL predicate over candidate ids (``predicate``, ``params``);
    ``static``: it depends neither on the user nor on the current item; ``parts``: when
    every expression is an Items expression or an Interactions EVENT_TYPE IN (...) one
    without IF, the expressions one by one (include-union minus exclude-union), so the
    engine needs no query for the user's events."""

    predicate: str
    params: dict
    static: bool
    parts: list | None = None


def _user_free_items(e: Expression) -> bool:
    return e.dataset == "Items" and not e.if_conditions and not any(c.other for c in e.conditions)


def _event_types(e: Expression):
    """The condition of an ``Interactions.EVENT_TYPE IN (...)`` expression, else None."""
    if e.dataset != "Interactions" or e.if_conditions or len(e.clauses) != 1 or len(e.clauses[0]) != 1:
        return None
    c = e.clauses[0][0]
    return c if c.field.name.upper() == "EVENT_TYPE" and c.op == "IN" and c.other is None else None


def macro_name(filter_name: str) -> str:
    """The SQL macro of a filter: ``pp_filter__<name>`` (names are unique ignoring case)."""
    return "pp_filter__" + filter_name


def parse_filter_values(raw: Any, name: str) -> list[str]:
    """Personalize's value syntax: ``'"comedy","drama"'`` -> ``["comedy", "drama"]``."""
    if not isinstance(raw, str):
        raise InvalidInput(f"filter value {name}: expected a string like '\"a\",\"b\"', got {raw!r}")
    if len(raw) > 1000:
        raise InvalidInput(f"filter value {name}: at most 1000 characters")
    text = raw.strip()
    if '"' not in text:
        return [text] if text else []
    values, pos = [], 0
    while pos < len(text):
        m = _VALUE.match(text, pos)
        if not m:
            raise InvalidInput(f"filter value {name}: expected double-quoted values separated by "
                               f"commas, like '\"a\",\"b\"'; problem at position {pos + 1} of {raw!r}")
        values.append(re.sub(r"\\(.)", r"\1", m.group(1)))
        pos = m.end()
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text):
            if text[pos] != ",":
                raise InvalidInput(f"filter value {name}: expected ',' at position {pos + 1} of {raw!r}")
            pos += 1
            while pos < len(text) and text[pos] in " \t":
                pos += 1
    return values


def check_filter(parsed: Filter, schemas: dict[str, Schema]) -> None:
    """Refuse what Personalize refuses: unknown fields, mixed datasets, textual fields, …"""
    fields = set()
    targets = {e.target for e in parsed.expressions}
    if len(targets) > 1:
        raise InvalidInput(f"all expressions of a filter must select the same kind; this one mixes "
                           f"{', '.join(sorted(targets))}")
    for e in parsed.expressions:
        if e.target == "ActionID":
            raise InvalidInput("ActionID filters need Actions datasets, which are not supported yet")
        datasets = {c.field.dataset for c in e.conditions}
        if len(datasets) > 1:
            raise InvalidInput(f"an expression may use one dataset; this one uses {', '.join(sorted(datasets))} "
                               "(chain expressions with | instead)")
        dataset = e.dataset
        allowed = ("Items", "Interactions") if e.target == "ItemID" else ("Users", "Interactions")
        if dataset not in allowed:
            raise InvalidInput(f"{e.target} filters read {' or '.join(allowed)}, not {dataset}")
        if e.target == "UserID" and (e.if_conditions or any(c.other for c in e.conditions)):
            raise InvalidInput("UserID filters take neither an IF CurrentUser clause nor CurrentItem")
        for c in e.conditions:
            fields.add(str(c.field))
            _check_condition(c, schemas, dataset)
            if c.other is not None:
                if dataset != "Items":
                    raise InvalidInput(f"{c.other} can only be compared with an Items field")
                _check_condition(Condition(c.other.__class__("Items", c.other.name), c.op, c.values, None),
                                 schemas, "Items", label=str(c.other))
        for c in e.if_conditions:
            fields.add(str(c.field))
            if c.other is not None:
                raise InvalidInput("CurrentUser conditions compare with values, not CurrentItem")
            _check_condition(c, schemas, "Users", label=str(c.field))
    if len(fields) > MAX_FIELDS_PER_FILTER:
        raise LimitExceeded(f"a filter may use at most {MAX_FIELDS_PER_FILTER} distinct fields; this one "
                            f"uses {len(fields)}: {', '.join(sorted(fields))}")


def _check_condition(c: Condition, schemas: dict[str, Schema], dataset: str, label: str | None = None) -> None:
    label = label or str(c.field)
    schema = schemas.get(dataset)
    if schema is None:
        raise InvalidInput(f"{label}: the dataset group has no {dataset} dataset")
    f = schema.field(c.field.name)
    if f is None:
        raise InvalidInput(f"{label}: the {dataset} schema has no field {c.field.name}; fields: "
                           + ", ".join(schema.names))
    if f.textual:
        raise InvalidInput(f"{label}: textual fields cannot be used in filters")
    if f.type == "boolean":
        raise InvalidInput(f"{label}: boolean fields cannot be used in filters (Personalize's rule; "
                           'store "True"/"False" strings or 0/1)')
    if c.op in ("IN", "NOT IN") and f.type != "string":
        raise InvalidInput(f"{label}: IN and NOT IN match strings; use a comparison for numeric fields")
    if c.op not in ("IN", "NOT IN") and f.type not in NUMERIC:
        raise InvalidInput(f"{label}: {c.op} compares numbers; {c.field.name} is a {f.type} field")
    if any(v.kind == "star" for v in c.values) and (dataset != "Interactions" or f.name != "EVENT_TYPE"):
        raise InvalidInput(f'{label}: "*" is allowed only with Interactions.EVENT_TYPE')


def compile_filter(parsed: Filter, schemas: dict[str, Schema], schema_name: str,
                   filter_values: dict | None, candidate: str, prefix: str = "p",
                   window: int = INTERACTIONS_WINDOW) -> tuple[str, dict]:
    """SQL predicate over ``candidate`` and its parameters (``prefix``0, ...), for one request."""
    return _compile(parsed, schemas, schema_name, filter_values, candidate, prefix, False, window)


def compile_filter_macro(parsed: Filter, schemas: dict[str, Schema], schema_name: str,
                         window: int = INTERACTIONS_WINDOW) -> str:
    """The predicate for a stored macro: values come from its ``filter_values`` MAP argument.

    Literal values of the expression are written into the macro as quoted literals (DDL
    takes no parameters); request values are read from the map at run time. The macro's
    parameters are MACRO_PARAMS: DuckDB refuses a macro whose parameter shares its name
    with a column of a table it reads, and no schema field can contain '#'.
    """
    sql, _ = _compile(parsed, schemas, schema_name, None, MACRO_PARAMS["candidate"], "p", True, window)
    return sql


def _compile(parsed, schemas, schema_name, filter_values, candidate, prefix, macro: bool, window: int):
    values = dict(filter_values or {})
    if len(values) > MAX_FILTER_VALUES:
        raise LimitExceeded(f"at most {MAX_FILTER_VALUES} filter values per request")
    for key in values:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise InvalidInput(f"filter value name {key!r}: use 1-50 letters, digits or _")
    params: dict[str, Any] = {}
    out, checks = [], []
    for e in parsed.expressions:
        guards = []
        if macro:
            # Decided per call inside the macro: an EXCLUDE expression without its values
            # is skipped, an INCLUDE one fails.
            for key in sorted(e.parameters()):
                present = f"{MACRO_PARAMS['values']}[{quote_literal(key)}] IS NOT NULL"
                if e.action == "EXCLUDE":
                    guards.append(present)
                else:   # checked before everything, so no OR can short-circuit it away
                    checks.append(f"CASE WHEN {present} THEN true ELSE error("
                                  f"{quote_literal('pp_recommend_filtered: filter value $' + key + ' missing')}) END")
        else:
            missing = sorted(p for p in e.parameters() if p not in values)
            if missing:
                if e.action == "EXCLUDE":
                    continue      # Personalize skips an EXCLUDE expression whose value is not given
                raise InvalidInput(f"filter value(s) {', '.join('$' + m for m in missing)} missing: an "
                                   "INCLUDE expression needs all its values")
        compiled = _compile_expression(e, schemas, values, params, prefix, macro)
        compiled["guards"] = guards
        out.append(compiled)
    inter = schemas.get("Interactions")
    sql = render("filters/allowed_items.sql", candidate=candidate, schema_name=schema_name,
                 user_ref=MACRO_PARAMS["user"] if macro else "$user_id",
                 item_ref=MACRO_PARAMS["item"] if macro else "$item_id",
                 has_event_type=inter is not None and inter.field("EVENT_TYPE") is not None,
                 interaction_columns=[n for n in (inter.names if inter else []) if n != "USER_ID"],
                 expressions=out, checks=checks, window=int(window))
    return sql, params


_KIND = {("ItemID", "Items"): ("items", "it"), ("ItemID", "Interactions"): ("interactions", "ev"),
         ("UserID", "Users"): ("users", "us"), ("UserID", "Interactions"): ("user_events", "ev")}


def _compile_expression(e: Expression, schemas, values: dict, params: dict, prefix: str,
                        macro: bool = False) -> dict:
    kind, alias = _KIND[(e.target, e.dataset)]
    clauses = [[_compile_condition(c, schemas[e.dataset], alias, values, params, schemas, prefix, macro)
                for c in clause] for clause in e.clauses]
    ifs = [_compile_condition(c, schemas["Users"], "cu", values, params, schemas, prefix, macro)
           for c in e.if_conditions]
    return {"action": e.action, "kind": kind,
            "clauses": clauses, "if_conditions": ifs,
            "uses_current_item": any(c.other is not None for c in e.conditions)}


def _compile_condition(c: Condition, schema: Schema, alias: str, values: dict, params: dict,
                       schemas, prefix: str, macro: bool = False) -> dict:
    f = schema.field(c.field.name)
    out = {"col": f"{alias}.{quote_ident(f.name)}", "is_list": f.is_list, "op": c.op,
           "ci": f.name == "EVENT_TYPE" and schema.dataset_type == "Interactions",
           "star": False, "other": None, "other_is_list": False, "value": None}
    if c.other is not None:
        other = schemas["Items"].field(c.other.name)
        out.update(other=f"ci.{quote_ident(other.name)}", other_is_list=other.is_list)
        return out
    if any(v.kind == "star" for v in c.values):
        out["star"] = True
        return out
    if macro:
        out["value"] = _macro_value(c)
        return out
    raw: list[str] = []
    for v in c.values:
        if v.kind == "param":
            raw += parse_filter_values(values[v.value], v.value)
        else:
            raw.append(v.value if v.kind == "string" else repr(v.value))
    name = f"{prefix}{len(params)}"
    if c.op in ("IN", "NOT IN"):
        params[name] = [str(x) for x in raw]
    else:
        if len(raw) != 1:
            raise InvalidInput(f"{c.field} {c.op}: expected one number, got {len(raw)} values")
        try:
            params[name] = float(raw[0])
        except ValueError:
            raise InvalidInput(f"{c.field} {c.op}: expected a number, got {raw[0]!r}") from None
        if not math.isfinite(params[name]):
            raise InvalidInput(f"{c.field} {c.op}: expected a finite number, got {raw[0]!r}")
    out["value"] = f"${name}"
    return out


def _macro_value(c: Condition) -> str:
    """SQL for a condition's operand inside a stored macro."""
    (first, *_rest) = c.values
    if c.op in ("IN", "NOT IN"):
        if first.kind == "param":
            return f"pp_filter_values({MACRO_PARAMS['values']}, {quote_literal(first.value)})"
        return "[" + ", ".join(quote_literal(v.value if v.kind == "string" else repr(v.value))
                               for v in c.values) + "]"
    if first.kind == "param":
        return f"TRY_CAST(pp_filter_values({MACRO_PARAMS['values']}, {quote_literal(first.value)})[1] AS DOUBLE)"
    try:
        number = float(first.value)
    except ValueError:
        raise InvalidInput(f"{c.field} {c.op}: expected a number, got {first.value!r}") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{c.field} {c.op}: expected a finite number, got {first.value!r}")
    # Through a string cast: repr() of a huge number is 'inf', which SQL reads as a column.
    return f"CAST({quote_literal(repr(number))} AS DOUBLE)"


class FiltersAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    @writes
    def create_filter(self, name: str, dataset_group: str, filter_expression: str,
                      interactions_window: int = INTERACTIONS_WINDOW) -> dict:
        """Store a filter after parsing it and checking it against the group's schemas.

        ``interactions_window``: how many of a user's most recent interactions per event
        type Interactions conditions look at (Personalize's adjustable quota, default 100).
        """
        check_name(name, "filter")
        if isinstance(interactions_window, bool) or not isinstance(interactions_window, int) \
                or interactions_window < 1:
            raise InvalidInput(f"interactions_window must be a positive integer, got {interactions_window!r}")
        group = self.catalog.get("dataset-group", dataset_group)
        parsed = parse_filter(filter_expression)
        check_filter(parsed, self._schemas_of(group))
        for other in self.catalog.select("filter"):
            if other.name.lower() == name.lower():
                raise ResourceAlreadyExists(
                    f"filter {other.name!r} already exists" + ("" if other.name == name else
                    " (filter names may not differ only in case: each filter is a DuckDB macro, "
                    "and DuckDB names ignore case)"))
        arn = self.catalog.arn("filter", name)
        with self._transaction():
            self.catalog.add(arn=arn, kind="filter", name=name, dataset_group_arn=group.arn,
                             config={"filterExpression": filter_expression,
                                     "interactionsWindow": interactions_window})
            execute_all(self.con, render("filters/values_macro.sql"))
            self.con.execute(self._filter_macro(self.catalog.get("filter", arn))["sql"])
        # The other filters are rebuilt on their own: one already broken must not block this.
        self._refresh_filter_macros(strict=False)
        return {"filterArn": arn}

    def _refresh_filter_macros(self, *, strict: bool = True) -> None:
        """(Re)create the per-filter SQL macros and the dispatching pp_recommend_filtered.

        ``strict`` (a change is being made, inside its transaction): a filter that can no
        longer be built stops the change with :class:`ResourceInUse` naming it. Otherwise
        (opening a project, creating or deleting a filter) such a filter is marked
        ``CREATE FAILED`` with the reason and left out, so the file opens and the filter can
        still be described and deleted; it becomes ACTIVE again once it builds. Each step
        runs in its own transaction, or joins the caller's.
        """
        with self._transaction():
            execute_all(self.con, render("filters/values_macro.sql"))
        filters = []
        for rec in self.catalog.select("filter"):
            try:
                entry = self._filter_macro(rec)
                with self._transaction():
                    self.con.execute(entry.pop("sql"))
                    if rec.status != "ACTIVE":
                        self.catalog.update(rec, status="ACTIVE", failure_reason=None)
            except Exception as exc:            # noqa: BLE001 - a bad record must not lock the file
                reason = " ".join(str(exc).split()) or type(exc).__name__
                if strict and isinstance(exc, (PypersonalizeError, duckdb.Error)):
                    raise ResourceInUse(f"filter {rec.name!r} would no longer work ({reason}); "
                                        "delete or change the filter first") from None
                log.warning("filter %s cannot be rebuilt: %s", rec.name, reason)
                with self._transaction():
                    self.catalog.update(rec, status="CREATE FAILED",
                                        failure_reason=f"its SQL macro cannot be rebuilt: {reason}")
                continue
            filters.append(entry)
        with self._transaction():
            execute_all(self.con, render("filters/macros.sql", filters=filters))

    def _filter_macro(self, rec: Record) -> dict:
        """One filter's macro: checked against the group's current schemas, then compiled."""
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        parsed = parse_filter(rec.config["filterExpression"])
        schemas = self._schemas_of(group)
        check_filter(parsed, schemas)
        predicate = compile_filter_macro(parsed, schemas, group.name,
                                         rec.config.get("interactionsWindow", INTERACTIONS_WINDOW))
        required = sorted({p for e in parsed.expressions if e.action == "INCLUDE"
                           for p in e.parameters()})
        entry = {"name": rec.name, "macro": macro_name(rec.name), "params": list(MACRO_PARAMS.values()),
                 "required": required, "items": parsed.expressions[0].target == "ItemID"}
        entry["sql"] = render("filters/filter_macro.sql", predicate=predicate, **entry)
        return entry

    def describe_filter(self, filter: str) -> dict:
        return {"filter": self._filter_dict(self.catalog.get("filter", filter))}

    def list_filters(self, dataset_group: str | None = None) -> dict:
        group_arn = self.catalog.get("dataset-group", dataset_group).arn if dataset_group else None
        return {"Filters": [self._filter_dict(r) for r in self.catalog.select("filter", dataset_group_arn=group_arn)]}

    @writes
    def delete_filter(self, filter: str) -> None:
        rec = self.catalog.get("filter", filter)
        with self._transaction():
            self.catalog.remove(rec)
            self.con.execute(f"DROP MACRO IF EXISTS {quote_ident(macro_name(rec.name))}")
        # Deleting is the repair of a broken filter, so it never depends on the others building.
        self._refresh_filter_macros(strict=False)

    @staticmethod
    def _filter_dict(rec: Record) -> dict:
        config = rec.config if isinstance(rec.config, dict) else {}
        out = {"name": rec.name, "filterArn": rec.arn, "datasetGroupArn": rec.dataset_group_arn,
               "filterExpression": config.get("filterExpression"), "status": rec.status,
               "interactionsWindow": config.get("interactionsWindow", INTERACTIONS_WINDOW),
               "creationDateTime": rec.created_at, "lastUpdatedDateTime": rec.updated_at}
        if rec.failure_reason:
            out["failureReason"] = rec.failure_reason
        return out

    def _filter_request(self, filter_ref: str, group_name: str, filter_values, candidate: str,
                        prefix: str = "p", related: bool = False) -> RequestFilter:
        """A request's filter compiled for the serving engine (see :class:`RequestFilter`)."""
        predicate, params = self._filter_predicate(filter_ref, group_name, filter_values, candidate,
                                                   prefix, related)
        rec = self.catalog.get("filter", filter_ref)
        parsed = parse_filter(rec.config["filterExpression"])
        static = all(_user_free_items(e) for e in parsed.expressions)
        parts = None
        if all(_user_free_items(e) or _event_types(e) is not None for e in parsed.expressions):
            schemas = self._schemas_of(self.catalog.get("dataset-group", rec.dataset_group_arn))
            window = rec.config.get("interactionsWindow", INTERACTIONS_WINDOW)
            parts = []
            for e in parsed.expressions:
                if e.action == "EXCLUDE" and any(p not in (filter_values or {}) for p in e.parameters()):
                    continue         # skipped without its values, as compile_filter does
                if _user_free_items(e):
                    single = Filter(parsed.text, (Expression("INCLUDE", e.target, e.clauses),))
                    parts.append(FilterPart(e.action, *compile_filter(single, schemas, group_name,
                                                                      filter_values, candidate, prefix)))
                else:
                    c = e.conditions[0]
                    names: list[str] = []
                    for v in c.values:
                        # only the expression's own "*" means any type; a value "*" is a name
                        names += parse_filter_values(filter_values[v.value], v.value) if v.kind == "param" \
                            else [str(v.value)]
                    star = any(v.kind == "star" for v in c.values)
                    types = None if star else frozenset(t.lower() for t in names)
                    parts.append(FilterPart(e.action, event_types=types, window=int(window)))
        return RequestFilter(predicate, params, static, parts)

    def _filter_predicate(self, filter_ref: str, group_name: str, filter_values, candidate: str,
                          prefix: str = "p", related: bool = False):
        """A request's filter as (SQL predicate, parameters); ``related``: the endpoint gives
        related items, the only kind whose request has a current item."""
        rec = self.catalog.get("filter", filter_ref)
        group = self.catalog.get("dataset-group", rec.dataset_group_arn)
        parsed = parse_filter(rec.config["filterExpression"])
        if parsed.expressions[0].target != "ItemID":
            raise InvalidInput(f"filter {rec.name!r} selects users (UserID); recommendations need an "
                               "ItemID filter")
        if group.name != group_name:
            raise InvalidInput(f"filter {rec.name!r} belongs to dataset group {group.name!r}, "
                               f"not {group_name!r}")
        if not related and any(c.other is not None for e in parsed.expressions for c in e.conditions):
            raise InvalidInput(f"filter {rec.name!r} compares with CurrentItem, which works only for "
                               "related-items recommendations (Similar-Items, SIMS, \"More like X\" ...), "
                               "as in Personalize")
        schemas = self._schemas_of(group)
        return compile_filter(parsed, schemas, group.name, filter_values, candidate, prefix,
                              rec.config.get("interactionsWindow", INTERACTIONS_WINDOW))
