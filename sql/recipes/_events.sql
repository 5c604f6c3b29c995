-- The training events of a solution: the dataset group's interactions, narrowed to the
-- solution's event type and event-value threshold (Personalize: EVENT_VALUE >= threshold)
-- and, with a -v2 solution's eventsConfig (events_config=true), to the listed event types
-- whose weight is above 0, each with its own threshold (an event without a value fails a
-- threshold, as in Personalize).
-- Imported as a macro; yields a SELECT of (USER_ID, ITEM_ID, TIMESTAMP[, extra columns]).
-- params used: $event_type, $threshold (only when the schema has the field); with
-- events_config: $ec_types VARCHAR[], $ec_thresholds DOUBLE[] (NULL = none), one per type
{% macro events(schema_name, has_event_type, has_event_value, extra=(), events_config=false) -%}
SELECT USER_ID, ITEM_ID, "TIMESTAMP"{% for column in extra %}, {{ column }}{% endfor %}

FROM {{ schema_name|ident }}.interactions
WHERE true
{% if has_event_type %}
  AND ($event_type IS NULL OR EVENT_TYPE = $event_type)
{% endif %}
{% if has_event_value %}
  AND ($threshold IS NULL OR EVENT_VALUE >= $threshold)
{% endif %}
{% if events_config %}
  AND list_position(CAST($ec_types AS VARCHAR[]), EVENT_TYPE) IS NOT NULL
{% if has_event_value %}
  AND coalesce(EVENT_VALUE >= CAST($ec_thresholds AS DOUBLE[])[list_position(CAST($ec_types AS VARCHAR[]), EVENT_TYPE)],
               CAST($ec_thresholds AS DOUBLE[])[list_position(CAST($ec_types AS VARCHAR[]), EVENT_TYPE)] IS NULL)
{% endif %}
{% endif %}
{%- endmacro %}
