-- User metadata: how much more often users with one attribute value (SUBSCRIPTION_MODEL =
-- 'premium') choose each item than users overall, as the same smoothed log ratio as the
-- context lifts, stored beside them under the field name 'Users.<FIELD>'. Serving adds
-- the lifts of the user's current attributes (pypersonalize.user_attributes_all).
-- vars: schema_name, fields (list of {name, is_list}), has_event_type, has_event_value
-- params: $version, $event_type, $threshold
{% from "recipes/_events.sql" import events %}
INSERT INTO pypersonalize.context_lift
WITH events AS (
    {{ events(schema_name, has_event_type, has_event_value) | indent(4) }}
), pairs AS (
{% for f in fields %}
    SELECT {{ ("Users." ~ f.name)|literal }} AS field, CAST(v AS VARCHAR) AS value, e.ITEM_ID AS item
    FROM events e JOIN {{ schema_name|ident }}.users u ON u.USER_ID = e.USER_ID,
         unnest({{ "u." ~ (f.name|ident) if f.is_list else "[u." ~ (f.name|ident) ~ "]" }}) AS t(v)
    WHERE v IS NOT NULL
    {{ "UNION ALL" if not loop.last }}
{% endfor %}
), n_items AS (
    SELECT count(DISTINCT ITEM_ID) AS n, count(*) AS total FROM events
), per_item AS (
    SELECT ITEM_ID AS item, count(*) AS n FROM events GROUP BY ITEM_ID
), per_value AS (
    SELECT field, value, count(*) AS n FROM pairs GROUP BY field, value
), per_pair AS (
    SELECT field, value, item, count(*) AS n FROM pairs GROUP BY field, value, item
)
SELECT $version, p.field, p.value, p.item,
       ln((p.n + 1.0) / (v.n + k.n)) - ln((i.n + 1.0) / (k.total + k.n)) AS lift
FROM per_pair p
JOIN per_value v USING (field, value)
JOIN per_item i USING (item)
CROSS JOIN n_items k
WHERE p.n >= 2
