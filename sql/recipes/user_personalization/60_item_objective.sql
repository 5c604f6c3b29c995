-- optimizationObjective: the objective's item attribute (a numeric, non-nullable Items
-- field) of every item of the version's catalogue (model_items), normalised to its percent
-- rank among the Items dataset's items, (rank - 1) / (items - 1) with ties sharing the
-- lower rank: 0 = the lowest value, 1 = the highest, whatever the unit or the outliers.
-- An item the Items dataset lacks gets 0.5 (the middle: neither favoured nor held back).
-- Serving adds temperature * objective_weight * value to the item's raw score.
-- vars: schema_name, attribute (the Items field); params: $version
INSERT INTO pypersonalize.item_objective
WITH ranked AS (
    SELECT ITEM_ID AS item,
           CASE WHEN count(*) OVER () > 1
                THEN percent_rank() OVER (ORDER BY CAST({{ attribute|ident }} AS DOUBLE)) ELSE 0.5 END AS value
    FROM {{ schema_name|ident }}.items
)
SELECT $version, m.item, coalesce(r.value, 0.5)
FROM pypersonalize.model_items m
LEFT JOIN ranked r ON r.item = m.item
WHERE m.version_arn = $version
