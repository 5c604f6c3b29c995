-- The catalogue a User-Personalization version scores and explores: every item of the
-- training events plus every item of the Items dataset, with its interaction count and a
-- creation time (CREATION_TIMESTAMP when the Items schema has it, else the item's first
-- interaction; NULL for an item with neither). Items without a factor row are "cold".
-- vars: schema_name, has_items, has_creation; params: $version
-- reads temp table pp_up_counts(item, interactions, first_ts, last_ts)
INSERT INTO pypersonalize.model_items
SELECT $version, coalesce(c.item, i.item), coalesce(c.interactions, 0),
{% if has_creation %}
       coalesce(CAST(i.created AS BIGINT), c.first_ts),
{% else %}
       c.first_ts,
{% endif %}
       c.last_ts
FROM pp_up_counts c
{% if has_items %}
FULL OUTER JOIN (
    SELECT ITEM_ID AS item{{ ", CREATION_TIMESTAMP AS created" if has_creation }}
    FROM {{ schema_name|ident }}.items
) i ON i.item = c.item
{% else %}
FULL OUTER JOIN (SELECT CAST(NULL AS VARCHAR) AS item WHERE false) i ON false
{% endif %}
