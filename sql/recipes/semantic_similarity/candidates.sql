-- Semantic-Similarity's candidates in the plain-SQL recommend pipeline
-- (sql/serving/pipeline.sql): the current item's stored related items, rescored with the
-- endpoint's rankingInfluence (campaignConfig in pypersonalize.objects; 0 when absent):
--   score = (similarity + FRESHNESS * freshness + POPULARITY * popularity)
--           / (1 + FRESHNESS + POPULARITY)
-- ordered by that score, then item id (recipes/semantic_similarity.py computes the same).
-- args: the same for every recipe (see sql/serving/pipeline.sql); this one reads checked
--       (the pipeline's CTE holding the endpoint's row) and item_id
{% macro candidates(checked, recipes, endpoint, user_id, item_id, context) -%}
SELECT s.related AS item, s.score, row_number() OVER (ORDER BY s.score DESC, s.related) AS pos
FROM (
    SELECT r.related,
           (r.score + w.f * x.freshness + w.p * x.popularity) / (1 + w.f + w.p) AS score
    FROM pypersonalize.semantic_related r
    JOIN {{ checked }} c ON r.version_arn = c.version_arn
    JOIN pypersonalize.semantic_item_factors x ON x.version_arn = r.version_arn AND x.item = r.related
    CROSS JOIN (
        SELECT coalesce(max(TRY_CAST(coalesce(
                   json_extract_string(o.config, '$.campaignConfig.rankingInfluence.FRESHNESS'),
                   json_extract_string(o.config, '$.recommenderConfig.rankingInfluence.FRESHNESS')) AS DOUBLE)), 0) AS f,
               coalesce(max(TRY_CAST(coalesce(
                   json_extract_string(o.config, '$.campaignConfig.rankingInfluence.POPULARITY'),
                   json_extract_string(o.config, '$.recommenderConfig.rankingInfluence.POPULARITY')) AS DOUBLE)), 0) AS p
        FROM pypersonalize.objects o, {{ checked }} c2
        WHERE o.arn = c2.arn
    ) w
    WHERE r.item = {{ item_id }}
) s
{%- endmacro %}
