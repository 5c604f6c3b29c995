-- The lift of items under (field, value) pairs, shared by the context and user-attribute
-- lifts: ln(P(item | value) / P(item)) with add-one smoothing over the items, kept where
-- the item was chosen at least twice under the value. Imported as a macro: continues a
-- WITH that defined `events` (the training events) and `pairs` (field, value, item).
{% macro lift_rows() -%}
, n_items AS (
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
{%- endmacro %}
