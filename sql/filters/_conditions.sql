-- Macros turning one parsed filter condition into a SQL predicate (imported, never run).
-- A condition arrives as a dict: col (the quoted column, e.g. it."GENRES"), is_list (the
-- column is VARCHAR[]), op (IN, NOT IN, =, !=, <, <=, >, >=), and either param (the name
-- of a bound list / number parameter) or other (the quoted CurrentItem column) with
-- other_is_list, or star (true for "*"), and ci (case-insensitive: event types).
-- NULL never matches IN, so NOT IN holds for NULL fields.

{% macro as_list(col, is_list, ci) -%}
{% if is_list %}{{ "list_transform(" ~ col ~ ", lambda x: lower(x))" if ci else col }}{% else %}{{ "[lower(" ~ col ~ ")]" if ci else "[" ~ col ~ "]" }}{% endif %}
{%- endmacro %}

{% macro values(c) -%}
{% if c.other %}{{ as_list(c.other, c.other_is_list, false) }}{% elif c.ci %}list_transform(${{ c.param }}, lambda x: lower(x)){% else %}${{ c.param }}{% endif %}
{%- endmacro %}

{% macro predicate(c) -%}
{% if c.star -%}
{{ "true" if c.op == "IN" else "false" }}
{%- elif c.op in ("IN", "NOT IN") -%}
{{ "NOT " if c.op == "NOT IN" }}coalesce(list_has_any({{ as_list(c.col, c.is_list, c.ci) }}, {{ values(c) }}), false)
{%- else -%}
coalesce({{ c.col }} {{ c.op }} {% if c.other %}{{ c.other }}{% else %}${{ c.param }}{% endif %}, false)
{%- endif %}
{%- endmacro %}
