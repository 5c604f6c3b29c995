-- The training events of a solution: the dataset group's interactions, narrowed to the
-- solution's event type and event-value threshold (Personalize: EVENT_VALUE >= threshold).
-- Imported as a macro; yields a SELECT of (USER_ID, ITEM_ID, TIMESTAMP[, extra columns]).
-- params used: $event_type, $threshold (only when the schema has the field)
{% macro events(schema_name, has_event_type, has_event_value, extra=()) -%}
SELECT USER_ID, ITEM_ID, "TIMESTAMP"{% for column in extra %}, {{ column }}{% endfor %}

FROM {{ schema_name|ident }}.interactions
WHERE true
{% if has_event_type %}
  AND ($event_type IS NULL OR EVENT_TYPE = $event_type)
{% endif %}
{% if has_event_value %}
  AND ($threshold IS NULL OR EVENT_VALUE >= $threshold)
{% endif %}
{%- endmacro %}
