-- The training events of a User-Personalization version as integer codes, oldest first
-- per user, into the temp table pp_up_events(u, i, ts, t, v): u/i = the dataset group's
-- dense ids (user_ids / item_ids maps), t = the 0-based rank of EVENT_TYPE among the
-- event types (NULL without a type), v = EVENT_VALUE. The order is (TIMESTAMP, then
-- arrival order): events with one timestamp keep the order in which they were imported
-- or put, as serving reads histories (pp_personal_scores). Only integers are sorted.
-- vars: schema_name, has_event_type, has_event_value, events_config (bool: a -v2 eventsConfig)
-- params: $event_type, $threshold; with events_config $ec_types, $ec_thresholds (_events.sql)
{% from "recipes/_events.sql" import events %}
CREATE OR REPLACE TEMP TABLE pp_up_events AS
WITH e AS (
    {{ events(schema_name, has_event_type, has_event_value,
              extra=("EVENT_TYPE AS event_type" if has_event_type else "CAST(NULL AS VARCHAR) AS event_type",
                     "CAST(EVENT_VALUE AS DOUBLE) AS event_value" if has_event_value
                     else "CAST(NULL AS DOUBLE) AS event_value",
                     "rowid AS arrival"), events_config=events_config) | indent(4) }}
), types AS (
    SELECT event_type, CAST(row_number() OVER (ORDER BY event_type) - 1 AS INTEGER) AS t
    FROM (SELECT DISTINCT event_type FROM e WHERE event_type IS NOT NULL) d
)
SELECT u.idx AS u, i.idx AS i, e."TIMESTAMP" AS ts, types.t, e.event_value AS v, e.event_type
FROM e
JOIN {{ schema_name|ident }}.user_ids u ON u.id = e.USER_ID
JOIN {{ schema_name|ident }}.item_ids i ON i.id = e.ITEM_ID
LEFT JOIN types ON types.event_type = e.event_type
ORDER BY u.idx, e."TIMESTAMP", e.arrival
