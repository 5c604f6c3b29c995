-- One request with a promotion: the best $k candidates passing the promotion's filter are
-- promoted; the request's filter (if any) applies only to the other slots, which take the
-- best remaining candidates up to $n in all. Personalize's rule; placement is done after.
-- Output: (promoted, rank, item_id, score), promoted rows first, each part in rank order.
-- vars: kind ('basic' | 'personal', see _candidates.sql), promotion (predicate over r.item_id), request_filter (predicate or "true")
-- params: $endpoint $user_id $item_id $n $context_keys $context_values $k + both filters' parameters
{% from "serving/_candidates.sql" import candidates %}
WITH candidates AS (
    SELECT r.rank, r.item_id, r.score,
           {{ promotion }} AS promo_ok,
           {{ request_filter }} AS filter_ok
    FROM {{ candidates(kind, "2147483647") }} r
), promoted AS (
    SELECT rank, item_id, score FROM candidates WHERE promo_ok ORDER BY rank LIMIT $k
), others AS (
    SELECT rank, item_id, score FROM candidates
    WHERE filter_ok AND item_id NOT IN (SELECT item_id FROM promoted)
    ORDER BY rank
    LIMIT $n - (SELECT count(*) FROM promoted)
)
SELECT true AS promoted, rank, item_id, score FROM promoted
UNION ALL
SELECT false, rank, item_id, score FROM others
ORDER BY 1 DESC, 2
