-- How the Items dataset and the interactions cover each other.
-- Output: one row (catalog_items, never_interacted, cold_items, unknown_interacted)
--   cold_items: catalogue items with fewer than $cold interactions (Personalize's
--   Similar-Items threshold is 5); unknown_interacted: interacted ids missing from Items.
-- vars: schema_name; params: $cold
WITH counts AS (
    SELECT ITEM_ID, count(*) AS n FROM {{ schema_name|ident }}.interactions GROUP BY ITEM_ID
)
SELECT
    (SELECT count(*) FROM {{ schema_name|ident }}.items) AS catalog_items,
    (SELECT count(*) FROM {{ schema_name|ident }}.items i
      WHERE NOT EXISTS (SELECT 1 FROM counts c WHERE c.ITEM_ID = i.ITEM_ID)) AS never_interacted,
    (SELECT count(*) FROM {{ schema_name|ident }}.items i LEFT JOIN counts c USING (ITEM_ID)
      WHERE coalesce(c.n, 0) < $cold) AS cold_items,
    (SELECT count(*) FROM counts c
      WHERE NOT EXISTS (SELECT 1 FROM {{ schema_name|ident }}.items i WHERE i.ITEM_ID = c.ITEM_ID))
      AS unknown_interacted
