-- Filters in plain SQL: the table macro that dispatches on the ItemID filters' names to
-- their per-filter macros (filters/filter_macro.sql):
--   pp_recommend_filtered(endpoint, filter_name, user_id := NULL, item_id := NULL,
--                         n := 25, filter_values := NULL)  -> (rank, item_id, score)
-- filter_values is a MAP(VARCHAR, VARCHAR) in Personalize's quoting, e.g.
--   MAP {'GENRE': '"Comedy","Drama"'}. The batch form answers every row of a table or view
-- with columns user_id, item_id and filter_values (per-request values, as the batch
-- inference input's filterValues):
--   pp_recommend_filtered_batch(endpoint, filter_name, requests, n := 25)
--       -> (user_id, item_id, rank, recommended_item_id, score)
-- Rebuilt whenever a filter is created or deleted.
-- vars: filters (list of {name, macro, required: INCLUDE value names, items: ItemID filter})
CREATE OR REPLACE MACRO pp_recommend_filtered(endpoint, filter_name, user_id := NULL, item_id := NULL,
                                              n := 25, filter_values := NULL) AS TABLE
WITH guard AS (
    -- Values an INCLUDE expression needs, checked once and up front (referenced below).
    SELECT CASE WHEN filter_name IS NULL THEN true
{% for f in filters if f["items"] %}
{% for key in f.required %}
        WHEN filter_name = {{ f.name|literal }} AND filter_values[{{ key|literal }}] IS NULL
        THEN error({{ ("pp_recommend_filtered: filter value $" ~ key ~ " missing")|literal }})
{% endfor %}
{% endfor %}
        ELSE true END AS ok
)
SELECT passed.pos AS rank, passed.item_id, passed.score
FROM (
    SELECT CAST(row_number() OVER (ORDER BY r.rank) AS INTEGER) AS pos, r.item_id, r.score
    FROM pp_recommend(endpoint, user_id := user_id, item_id := item_id, n := 2147483647) r
    WHERE CASE
{% for f in filters if f["items"] %}
        WHEN filter_name = {{ f.name|literal }} THEN {{ f.macro|ident }}(r.item_id, user_id, item_id, filter_values)
{% endfor %}
        WHEN filter_name IS NULL THEN error('pp_recommend_filtered: filter_name is NULL')
        ELSE error('pp_recommend_filtered: no filter named ' || filter_name) END
) passed
WHERE passed.pos <= n AND (SELECT g.ok FROM guard g)
ORDER BY passed.pos;

CREATE OR REPLACE MACRO pp_recommend_filtered_batch(endpoint, filter_name, requests, n := 25) AS TABLE
SELECT q.user_id, q.item_id, r.rank, r.item_id AS recommended_item_id, r.score
FROM query_table(requests) q,
     LATERAL (SELECT * FROM pp_recommend_filtered(endpoint, filter_name, user_id := q.user_id,
                                                  item_id := q.item_id, n := n,
                                                  filter_values := q.filter_values)) r
ORDER BY q.user_id, q.item_id, r.rank;
