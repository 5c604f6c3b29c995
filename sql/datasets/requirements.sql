-- Facts for the data-requirements check of one dataset group's interactions, counted
-- after the optional event-type and event-value filters a solution would apply.
-- Output: one row (interactions, users, users_2plus, items, first_ts, last_ts).
-- vars: schema_name, has_event_type, has_event_value
-- params: $event_type, $threshold (NULL = no filter)
-- The events are exactly those training would read (the shared recipes/_events.sql).
{% from "recipes/_events.sql" import events %}
WITH events AS (
    {{ events(schema_name, has_event_type, has_event_value) | indent(4) }}
), per_user AS (
    SELECT USER_ID, count(*) AS n FROM events GROUP BY USER_ID
)
SELECT
    (SELECT count(*) FROM events) AS interactions,
    (SELECT count(*) FROM per_user) AS users,
    (SELECT count(*) FROM per_user WHERE n >= 2) AS users_2plus,
    (SELECT count(DISTINCT ITEM_ID) FROM events) AS items,
    (SELECT min("TIMESTAMP") FROM events) AS first_ts,
    (SELECT max("TIMESTAMP") FROM events) AS last_ts
