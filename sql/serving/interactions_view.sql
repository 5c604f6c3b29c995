-- One view over the interactions of every dataset group, so that the serving macros can
-- look up a user's history without knowing table names. `seq` is the arrival order
-- (rowid), the tie-break of events with one timestamp. A second view holds every user's
-- string attributes from the Users datasets as (field, value) rows, for the
-- User-Personalization macros. Rebuilt whenever a dataset is created, updated or deleted.
-- vars: groups (list of {name, has_event_type, has_impression, has_recommendation_id}),
--       users (list of {name, fields: list of {name, is_list}})
CREATE OR REPLACE VIEW pypersonalize.interactions_all AS
{% for g in groups %}
SELECT {{ g.name|literal }} AS dataset_group, USER_ID AS user_id, ITEM_ID AS item,
       {{ "EVENT_TYPE" if g.has_event_type else "CAST(NULL AS VARCHAR)" }} AS event_type,
       "TIMESTAMP" AS ts, rowid AS seq,
       {{ "IMPRESSION" if g.has_impression else "CAST(NULL AS VARCHAR[])" }} AS impression,
       {{ "RECOMMENDATION_ID" if g.has_recommendation_id else "CAST(NULL AS VARCHAR)" }} AS recommendation_id
FROM {{ g.name|ident }}.interactions
{{ "UNION ALL" if not loop.last }}
{% else %}
SELECT CAST(NULL AS VARCHAR) AS dataset_group, CAST(NULL AS VARCHAR) AS user_id,
       CAST(NULL AS VARCHAR) AS item, CAST(NULL AS VARCHAR) AS event_type,
       CAST(NULL AS BIGINT) AS ts, CAST(NULL AS BIGINT) AS seq, CAST(NULL AS VARCHAR[]) AS impression,
       CAST(NULL AS VARCHAR) AS recommendation_id
WHERE false
{% endfor %};

CREATE OR REPLACE VIEW pypersonalize.user_attributes_all AS
{% for g in users %}
{% for f in g.fields %}
SELECT {{ g.name|literal }} AS dataset_group, USER_ID AS uid, {{ f.name|literal }} AS field,
       CAST("pp#v" AS VARCHAR) AS value
FROM {{ g.name|ident }}.users AS "pp#u",   -- qualified: in unnest a bare "user" is current_user
     unnest({{ '"pp#u".' ~ (f.name|ident) if f.is_list else '["pp#u".' ~ (f.name|ident) ~ "]" }}) AS "pp#t"("pp#v")
WHERE "pp#v" IS NOT NULL
UNION ALL
{% endfor %}
{% endfor %}
SELECT CAST(NULL AS VARCHAR) AS dataset_group, CAST(NULL AS VARCHAR) AS uid,
       CAST(NULL AS VARCHAR) AS field, CAST(NULL AS VARCHAR) AS value
WHERE false
