-- Context: how much more often each item is chosen under one value of a contextual
-- field of the interactions (DEVICE = 'Tablet') than overall, as a smoothed log ratio
-- ln(P(item | value) / P(item)), kept where the item was chosen at least twice under the
-- value. Serving adds context_weight * lift for the values a request names.
-- vars: schema_name, fields (list of {name, is_list}), has_event_type, has_event_value,
--       events_config (bool: a -v2 eventsConfig)
-- params: $version, $event_type, $threshold; with events_config $ec_types, $ec_thresholds
{% from "recipes/_events.sql" import events %}
{% from "recipes/user_personalization/_lift.sql" import lift_rows %}
INSERT INTO pypersonalize.context_lift
WITH events AS (
    {{ events(schema_name, has_event_type, has_event_value,
              extra=fields|map(attribute="name")|map("ident")|list,
              events_config=events_config) | indent(4) }}
), pairs AS (
{% for f in fields %}
{% if f.is_list %}
    -- unnest in the select list, not as a lateral join: DuckDB plans a lateral unnest
    -- over millions of events as a delim join that costs 10x the scan
    SELECT field, CAST("pp#v" AS VARCHAR) AS value, item FROM (
        SELECT {{ f.name|literal }} AS field, unnest("pp#e".{{ f.name|ident }}) AS "pp#v", "pp#e".ITEM_ID AS item
        FROM events AS "pp#e"    -- qualified: DuckDB binds a bare "user" to current_user
    ) WHERE "pp#v" IS NOT NULL
{% else %}
    SELECT {{ f.name|literal }} AS field, CAST("pp#e".{{ f.name|ident }} AS VARCHAR) AS value, "pp#e".ITEM_ID AS item
    FROM events AS "pp#e"
    WHERE "pp#e".{{ f.name|ident }} IS NOT NULL
{% endif %}
    {{ "UNION ALL" if not loop.last }}
{% endfor %}
){{ lift_rows() }}
