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
), pairs AS (
{% for f in fields %}
    SELECT {{ ("Users." ~ f.name)|literal }} AS field, CAST("pp#v" AS VARCHAR) AS value, e.ITEM_ID AS item
    FROM events e JOIN {{ schema_name|ident }}.users u ON u.USER_ID = e.USER_ID,
         unnest({{ "u." ~ (f.name|ident) if f.is_list else "[u." ~ (f.name|ident) ~ "]" }}) AS "pp#t"("pp#v")
    WHERE "pp#v" IS NOT NULL
    {{ "UNION ALL" if not loop.last }}
{% endfor %}
){{ lift_rows() }}
