-- Trending-Now's candidates in the plain-SQL pipeline (sql/serving/pipeline.sql): the
-- growing items of pp_trend_scores (macros.sql), by growth then item id.
-- args: the same for every recipe (see sql/serving/pipeline.sql); this one reads endpoint
{% macro candidates(checked, recipes, endpoint, user_id, item_id, context) -%}
SELECT s.item_id AS item, s.score, row_number() OVER (ORDER BY s.gain DESC, s.item_id) AS pos
FROM (SELECT {{ endpoint }} AS ep) req,
     LATERAL (SELECT * FROM pp_trend_scores(req.ep)) s
{%- endmacro %}
