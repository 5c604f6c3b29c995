-- Macros turning one parsed filter condition into a SQL predicate (imported, never run).
-- A condition arrives as a dict: col (the quoted column, e.g. it."GENRES"), is_list (the
-- column is VARCHAR[]), op (IN, NOT IN, =, !=, <, <=, >, >=), and either value (SQL for
-- the operand: a bound parameter like $p0, or in a stored macro an expression over the
-- macro's filter_values) or other (the quoted CurrentItem column) with other_is_list, or
-- star (true for "*"), and ci (case-insensitive: event types).
-- NULL never matches IN, so NOT IN holds for NULL fields.

{% macro as_list(col, is_list, ci) -%}
{% if is_list %}{{ "list_transform(" ~ col ~ ", lambda x: lower(x))" if ci else col }}{% else %}{{ "[lower(" ~ col ~ ")]" if ci else "[" ~ col ~ "]" }}{% endif %}
{%- endmacro %}

{% macro values(c) -%}
{% if c.other %}{{ as_list(c.other, c.other_is_list, false) }}{% elif c.ci %}list_transform({{ c.value }}, lambda x: lower(x)){% else %}{{ c.value }}{% endif %}
{%- endmacro %}

{% macro predicate(c) -%}
{% if c.star -%}
{{ "true" if c.op == "IN" else "false" }}
{%- elif c.op in ("IN", "NOT IN") -%}
{{ "NOT " if c.op == "NOT IN" }}coalesce(list_has_any({{ as_list(c.col, c.is_list, c.ci) }}, {{ values(c) }}), false)
{%- else -%}
coalesce({{ c.col }} {{ c.op }} {% if c.other %}{{ c.other }}{% else %}{{ c.value }}{% endif %}, false)
{%- endif %}
{%- endmacro %}
