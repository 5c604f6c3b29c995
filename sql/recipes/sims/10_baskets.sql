-- SIMS step 1: the distinct (basket, item) pairs of the training events, on integer ids.
-- A basket is a user (SIMS) or, with session_gap, a run of one user's events with no
-- gap longer than $gap seconds (Frequently bought together).
-- Output: temp table pp_sims_events(basket BIGINT, item INTEGER, ts BIGINT), ts = the
-- basket's latest event with the item
-- vars: schema_name, has_event_type, has_event_value, session_gap (bool)
-- params: $event_type, $threshold, $gap (with session_gap)
{% from "recipes/_events.sql" import events %}
CREATE OR REPLACE TEMP TABLE pp_sims_events AS
WITH events AS (
    {{ events(schema_name, has_event_type, has_event_value) | indent(4) }}
{% if session_gap %}
), starts AS (
    SELECT USER_ID, ITEM_ID, "TIMESTAMP",
           CASE WHEN "TIMESTAMP" - lag("TIMESTAMP") OVER (PARTITION BY USER_ID
                                                          ORDER BY "TIMESTAMP", ITEM_ID) <= $gap
                THEN 0 ELSE 1 END AS new_session
    FROM events
), keyed AS (
    SELECT USER_ID || chr(31) || CAST(sum(new_session) OVER (
               PARTITION BY USER_ID ORDER BY "TIMESTAMP", ITEM_ID
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS VARCHAR) AS basket_key,
           ITEM_ID, "TIMESTAMP"
    FROM starts
{% else %}
), keyed AS (
    SELECT USER_ID AS basket_key, ITEM_ID, "TIMESTAMP" FROM events
{% endif %}
), distinct_pairs AS (
    SELECT basket_key, ITEM_ID, max("TIMESTAMP") AS ts FROM keyed GROUP BY basket_key, ITEM_ID
)
SELECT CAST(dense_rank() OVER (ORDER BY d.basket_key) AS BIGINT) AS basket, m.idx AS item, d.ts
FROM distinct_pairs d
JOIN {{ schema_name|ident }}.item_ids m ON m.id = d.ITEM_ID
