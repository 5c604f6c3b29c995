-- SIMS's candidates in the plain-SQL recommend pipeline (sql/serving/pipeline.sql): the
-- current item's related items by rank (the pipeline keeps them only for its recipes).
-- args: the same for every recipe (see sql/serving/pipeline.sql); this one reads checked
--       (the pipeline's CTE holding the endpoint's row) and item_id
{% macro candidates(checked, recipes, endpoint, user_id, item_id, context) -%}
SELECT r.related AS item, r.score, r.rank AS pos
FROM pypersonalize.related_items r, {{ checked }} c
WHERE r.version_arn = c.version_arn AND r.item = {{ item_id }}
{%- endmacro %}
