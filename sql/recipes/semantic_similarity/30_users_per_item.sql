-- Semantic-Similarity step 3: distinct users per item in the training events (the
-- popularity factor's counts, Popularity-Count's definition).
-- Output: (item, users)
-- vars: schema_name, has_event_type, has_event_value; params: $event_type, $threshold
{% from "recipes/_events.sql" import events %}
WITH events AS (
    {{ events(schema_name, has_event_type, has_event_value) | indent(4) }}
)
SELECT ITEM_ID AS item, count(DISTINCT USER_ID) AS users FROM events GROUP BY ITEM_ID
