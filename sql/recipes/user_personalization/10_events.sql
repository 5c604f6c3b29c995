-- The training events of a User-Personalization version, oldest first per user. The
-- order is (TIMESTAMP, then arrival order): events with one timestamp keep the order in
-- which they were imported or put, as serving reads histories (pp_personal_scores).
-- Output: (USER_ID, ITEM_ID, TIMESTAMP, event_type, event_value)
-- vars: schema_name, has_event_type, has_event_value; params: $event_type, $threshold
{% from "recipes/_events.sql" import events %}
SELECT USER_ID, ITEM_ID, "TIMESTAMP", event_type, event_value
FROM (
    {{ events(schema_name, has_event_type, has_event_value,
              extra=("EVENT_TYPE AS event_type" if has_event_type else "CAST(NULL AS VARCHAR) AS event_type",
                     "CAST(EVENT_VALUE AS DOUBLE) AS event_value" if has_event_value
                     else "CAST(NULL AS DOUBLE) AS event_value",
                     "rowid AS arrival")) | indent(4) }}
) e
ORDER BY USER_ID, "TIMESTAMP", arrival
