-- One view over the interactions of every dataset group, so that the serving macros can
-- look up a user's history without knowing table names. `seq` is the arrival order
-- (rowid), the tie-break of events with one timestamp. Rebuilt whenever a dataset is
-- created, updated or deleted.
-- vars: groups (list of {name, has_event_type, has_impression})
CREATE OR REPLACE VIEW pypersonalize.interactions_all AS
{% for g in groups %}
SELECT {{ g.name|literal }} AS dataset_group, USER_ID AS user_id, ITEM_ID AS item,
       {{ "EVENT_TYPE" if g.has_event_type else "CAST(NULL AS VARCHAR)" }} AS event_type,
       "TIMESTAMP" AS ts, rowid AS seq,
       {{ "IMPRESSION" if g.has_impression else "CAST(NULL AS VARCHAR[])" }} AS impression
FROM {{ g.name|ident }}.interactions
{{ "UNION ALL" if not loop.last }}
{% else %}
SELECT CAST(NULL AS VARCHAR) AS dataset_group, CAST(NULL AS VARCHAR) AS user_id,
       CAST(NULL AS VARCHAR) AS item, CAST(NULL AS VARCHAR) AS event_type,
       CAST(NULL AS BIGINT) AS ts, CAST(NULL AS BIGINT) AS seq, CAST(NULL AS VARCHAR[]) AS impression
WHERE false
{% endfor %}
