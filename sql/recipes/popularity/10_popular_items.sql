-- Popularity-Count: items ranked by the number of distinct users who interacted with
-- them (Personalize's definition); score = that share of all users in the events.
-- Ties are broken by item id. Every recipe writes these rows: they are the fallback for
-- unknown users and items.
-- vars: schema_name, has_event_type, has_event_value; events_config (optional, false when not
--       given: the User-Personalization -v2 recipes pass their eventsConfig's flag)
-- params: $version, $event_type, $threshold; with events_config $ec_types, $ec_thresholds
{% from "recipes/_events.sql" import events %}
INSERT INTO pypersonalize.popular_items
WITH events AS (
    {{ events(schema_name, has_event_type, has_event_value,
              events_config=events_config|default(false)) | indent(4) }}
), counts AS (
    SELECT ITEM_ID AS item, count(DISTINCT USER_ID) AS users FROM events GROUP BY ITEM_ID
), total AS (
    SELECT count(DISTINCT USER_ID) AS users FROM events
)
SELECT $version, c.item, CAST(c.users AS DOUBLE) / t.users AS score,
       CAST(row_number() OVER (ORDER BY c.users DESC, c.item) AS INTEGER) AS rank
FROM counts c, total t
ORDER BY rank
