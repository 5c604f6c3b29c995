-- User metadata: how much more often users with one attribute value (SUBSCRIPTION_MODEL =
-- 'premium') choose each item than users overall, as the same smoothed log ratio as the
-- context lifts, stored beside them under the field name 'Users.<FIELD>'. Serving adds
-- the lifts of the user's current attributes (pypersonalize.user_attributes_all).
-- vars: schema_name, fields (list of {name, is_list}), has_event_type, has_event_value,
--       events_config (bool: a -v2 eventsConfig)
-- params: $version, $event_type, $threshold; with events_config $ec_types, $ec_thresholds
{% from "recipes/_events.sql" import events %}
{% from "recipes/user_personalization/_lift.sql" import lift_rows %}
INSERT INTO pypersonalize.context_lift
WITH events AS (
    {{ events(schema_name, has_event_type, has_event_value, events_config=events_config) | indent(4) }}
), user_values AS (
    -- each user's values, unnested once per user (not once per event) and then joined
{% for f in fields %}
{% if f.is_list %}
    SELECT field, USER_ID, CAST("pp#v" AS VARCHAR) AS value FROM (
        SELECT {{ ("Users." ~ f.name)|literal }} AS field, u.USER_ID, unnest(u.{{ f.name|ident }}) AS "pp#v"
        FROM {{ schema_name|ident }}.users u
    ) WHERE "pp#v" IS NOT NULL
{% else %}
    SELECT {{ ("Users." ~ f.name)|literal }} AS field, u.USER_ID, CAST(u.{{ f.name|ident }} AS VARCHAR) AS value
    FROM {{ schema_name|ident }}.users u
    WHERE u.{{ f.name|ident }} IS NOT NULL
{% endif %}
    {{ "UNION ALL" if not loop.last }}
{% endfor %}
), pairs AS (
    SELECT uv.field, uv.value, e.ITEM_ID AS item
    FROM events e JOIN user_values uv ON uv.USER_ID = e.USER_ID
){{ lift_rows() }}
