-- The ranked candidates (rank, item_id, score) of one request, as a FROM item. For
-- popularity and related-items endpoints the macro pp_recommend_basic; for
-- User-Personalization endpoints the same steps as pp_recommend written out here around
-- pp_personal_scores, because DuckDB plans a nested macro call much more slowly.
-- vars: kind ('basic' | 'personal'), limit (an SQL expression: $n, or a large number)
-- params: $endpoint $user_id $item_id $context_keys $context_values (+ $n when limit uses it)
{% macro candidates(kind, limit) -%}
{% if kind == "personal" %}
(
    WITH ep AS (
        SELECT e.* FROM pypersonalize.endpoints e WHERE e.arn = $endpoint
    ), seen AS (
        SELECT DISTINCT h.item FROM pypersonalize.interactions_all h, ep
        WHERE ep.exclude_event_type IS NOT NULL AND h.dataset_group = ep.dataset_group
          AND h.user_id = $user_id
          AND (ep.exclude_event_type = '*' OR h.event_type = ep.exclude_event_type)
    ), personal AS (
        SELECT s.item_id AS item, s.score, 0 AS tier,
               row_number() OVER (ORDER BY s.raw DESC, s.item_id) AS pos
        FROM pp_personal_scores($endpoint, $user_id,
                                MAP($context_keys::VARCHAR[], $context_values::VARCHAR[])) s
    ), popular AS (
        SELECT p.item, p.score, 1 AS tier, p.rank AS pos
        FROM pypersonalize.popular_items p, ep
        WHERE p.version_arn = ep.version_arn AND p.item NOT IN (SELECT personal.item FROM personal)
    ), k AS (
        SELECT * FROM personal UNION ALL SELECT * FROM popular
    )
    SELECT CAST(row_number() OVER (ORDER BY k.tier, k.pos) AS INTEGER) AS rank, k.item AS item_id, k.score
    FROM k
    WHERE k.item NOT IN (SELECT seen.item FROM seen) AND ($item_id IS NULL OR k.item <> $item_id)
    QUALIFY rank <= {{ limit }}
)
{%- else -%}
pp_recommend_basic($endpoint, user_id := $user_id, item_id := $item_id, n := {{ limit }})
{%- endif %}
{%- endmacro %}
