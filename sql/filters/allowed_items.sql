-- The items (ItemID filters) or users (UserID filters, for segments) a filter lets
-- through, as a predicate on candidate ids. For users, Interactions conditions ask whether
-- the candidate user has such an interaction (among their most recent per event type).
-- Personalize's rule for chained expressions: (union of INCLUDE sets, or everything when
-- no INCLUDE expression applies) minus (union of EXCLUDE sets). An expression with an IF
-- clause applies only when the requesting user matches it.
-- Output: a boolean SQL expression over {{ candidate }} (a quoted column).
-- vars: checks (stored macros: values an INCLUDE needs, checked first), interaction_columns (every Interactions field but USER_ID), candidate, user_ref, item_ref (SQL for the request's user and item: $user_id and
--       $item_id, or a macro's parameters), schema_name, has_event_type, expressions (list of {action, kind: items|interactions,
--       clauses: [[condition dict]], if_conditions: [condition dict], uses_current_item}),
--       window (interactions considered per user and event type)
-- params: whatever user_ref, item_ref and the conditions' values name
-- Every column is qualified and named (no SELECT *): inside a stored macro an unqualified
-- USER_ID would be taken for the macro's user_id parameter (identifiers are
-- case-insensitive), and SELECT * of a table with USER_ID conflicts with it.
{% from "filters/_conditions.sql" import predicate %}
{% set g = schema_name|ident %}
{% macro applies(e) -%}
{% for guard in e.guards %}{{ guard }} AND {% endfor %}
{%- if e.if_conditions -%}
coalesce((SELECT {% for c in e.if_conditions %}{{ predicate(c) }}{{ " AND " if not loop.last }}{% endfor %}
          FROM {{ g }}.users cu WHERE cu.USER_ID = {{ user_ref }}), false)
{%- else %}true{% endif %}
{%- endmacro %}
{% macro member(e) -%}
{% if e.kind == "users" -%}
{{ candidate }} IN (
    SELECT us.USER_ID FROM {{ g }}.users us
    WHERE {% for clause in e.clauses %}({% for c in clause %}{{ predicate(c) }}{{ " AND " if not loop.last }}{% endfor %}){{ " OR " if not loop.last }}{% endfor %})
{%- elif e.kind == "user_events" -%}
{{ candidate }} IN (
    SELECT ev.USER_ID FROM (
        SELECT mine.USER_ID, {% for col in interaction_columns %}mine.{{ col|ident }}, {% endfor %}
               row_number() OVER (PARTITION BY mine.USER_ID{% if has_event_type %}, lower(mine.EVENT_TYPE){% endif %} ORDER BY mine."TIMESTAMP" DESC) AS "pp#recent"
        FROM {{ g }}.interactions mine) ev
    WHERE ev."pp#recent" <= {{ window }}
      AND ({% for clause in e.clauses %}({% for c in clause %}{{ predicate(c) }}{{ " AND " if not loop.last }}{% endfor %}){{ " OR " if not loop.last }}{% endfor %}))
{%- elif e.kind == "items" -%}
{{ candidate }} IN (
    SELECT it.ITEM_ID FROM {{ g }}.items it
    {% if e.uses_current_item %}LEFT JOIN (SELECT * FROM {{ g }}.items cur WHERE cur.ITEM_ID = {{ item_ref }}) ci ON true{% endif %}
    WHERE {% for clause in e.clauses %}({% for c in clause %}{{ predicate(c) }}{{ " AND " if not loop.last }}{% endfor %}){{ " OR " if not loop.last }}{% endfor %})
{%- else -%}
{{ candidate }} IN (
    SELECT ev.ITEM_ID FROM (
        SELECT {% for col in interaction_columns %}mine.{{ col|ident }}, {% endfor %}
               row_number() OVER ({% if has_event_type %}PARTITION BY lower(mine.EVENT_TYPE) {% endif %}ORDER BY mine."TIMESTAMP" DESC) AS "pp#recent"
        FROM {{ g }}.interactions mine WHERE mine.USER_ID = {{ user_ref }}) ev
    WHERE ev."pp#recent" <= {{ window }}
      AND ({% for clause in e.clauses %}({% for c in clause %}{{ predicate(c) }}{{ " AND " if not loop.last }}{% endfor %}){{ " OR " if not loop.last }}{% endfor %}))
{%- endif %}
{%- endmacro %}
{% set includes = expressions | selectattr("action", "equalto", "INCLUDE") | list %}
{% set excludes = expressions | selectattr("action", "equalto", "EXCLUDE") | list %}
(
{% for check in checks %}
    {{ check }} AND
{% endfor %}
{% if includes %}
    (NOT ({% for e in includes %}{{ applies(e) }}{{ " OR " if not loop.last }}{% endfor %})
{% for e in includes %}
     OR ({{ applies(e) }} AND {{ member(e) }})
{% endfor %}
    )
{% else %}
    true
{% endif %}
{% for e in excludes %}
    AND NOT ({{ applies(e) }} AND {{ member(e) }})
{% endfor %}
)
