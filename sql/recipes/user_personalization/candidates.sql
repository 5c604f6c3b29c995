-- The User-Personalization family's candidates in the plain-SQL recommend pipeline
-- (sql/serving/pipeline.sql): every model item scored for the user by pp_personal_scores
-- (macros.sql), ranked by raw score then item id. No rows for another recipe's endpoint or
-- a user the model cannot score (the pipeline then serves popular items).
-- args: the same for every recipe (see sql/serving/pipeline.sql); this one reads endpoint,
--       user_id and context (pp_personal_scores checks the endpoint's recipe itself)
{% macro candidates(checked, recipes, endpoint, user_id, item_id, context) -%}
SELECT s.item_id AS item, s.score, row_number() OVER (ORDER BY s.raw DESC, s.item_id) AS pos
-- the user goes in as a column: inside the nested macro a parameter named user_id
-- would clash with the interactions' USER_ID column
FROM (SELECT {{ user_id }} AS uid, {{ endpoint }} AS ep, {{ context }} AS ctx) req,
     LATERAL (SELECT * FROM pp_personal_scores(req.ep, req.uid, req.ctx)) s
{%- endmacro %}
