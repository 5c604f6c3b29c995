-- The training events of a User-Personalization version as integer codes, oldest first
-- per user, into the temp table pp_up_events(u, i, ts, t, v): u/i/t = 0-based dense ranks
-- of USER_ID, ITEM_ID and EVENT_TYPE (in id order; t NULL without a type), v = EVENT_VALUE.
-- The order is (TIMESTAMP, then arrival order): events with one timestamp keep the order
-- in which they were imported or put, as serving reads histories (pp_personal_scores).
-- vars: schema_name, has_event_type, has_event_value; params: $event_type, $threshold
{% from "recipes/_events.sql" import events %}
CREATE OR REPLACE TEMP TABLE pp_up_events AS
SELECT dense_rank() OVER (ORDER BY USER_ID) - 1 AS u,
       dense_rank() OVER (ORDER BY ITEM_ID) - 1 AS i,
       "TIMESTAMP" AS ts,
       CASE WHEN event_type IS NOT NULL THEN dense_rank() OVER (ORDER BY event_type) - 1 END AS t,
       event_value AS v, USER_ID, ITEM_ID, event_type, arrival
FROM (
    {{ events(schema_name, has_event_type, has_event_value,
              extra=("EVENT_TYPE AS event_type" if has_event_type else "CAST(NULL AS VARCHAR) AS event_type",
                     "CAST(EVENT_VALUE AS DOUBLE) AS event_value" if has_event_value
                     else "CAST(NULL AS DOUBLE) AS event_value",
                     "rowid AS arrival")) | indent(4) }}
) e
ORDER BY USER_ID, "TIMESTAMP", arrival
