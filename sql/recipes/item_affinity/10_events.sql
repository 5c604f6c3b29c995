-- Item-Affinity step 1: the training events as integer ids, oldest first.
-- Output: temp table pp_affinity_events(u BIGINT, item INTEGER, ts BIGINT); u indexes the
-- users in id order (0-based), item is the group's item_ids idx
-- vars: schema_name, has_event_type, has_event_value
-- params: $event_type, $threshold (when the schema has the field)
{% from "recipes/_events.sql" import events %}
CREATE OR REPLACE TEMP TABLE pp_affinity_events AS
WITH events AS (
    {{ events(schema_name, has_event_type, has_event_value) | indent(4) }}
)
SELECT CAST(dense_rank() OVER (ORDER BY e.USER_ID) - 1 AS BIGINT) AS u, m.idx AS item,
       CAST(e."TIMESTAMP" AS BIGINT) AS ts, e.USER_ID AS user_id
FROM events e
JOIN {{ schema_name|ident }}.item_ids m ON m.id = e.ITEM_ID
ORDER BY ts, u, item
