-- Personalize's GetPersonalizedRanking: the input items reordered for the user. Known
-- items are ranked by the model's score and get a softmax over the input list (so their
-- scores sum to 1); for a user without history they are ranked by popularity instead.
-- Items the model does not know go last, in input order, with score 0 (Personalize's rule).
-- vars: predicate (over r.item_id, "true" without a filter)
-- params: $endpoint $version $user_id $items $context_keys $context_values + the filter's
WITH r AS (
    SELECT unnest($items::VARCHAR[]) AS item_id, generate_subscripts($items::VARCHAR[], 1) AS pos
), scored AS (
    SELECT r.item_id, r.pos, s.raw, p.score AS popularity,
           (SELECT pp.temperature FROM pypersonalize.personal_params pp WHERE pp.version_arn = $version) AS t
    FROM r
    LEFT JOIN pp_personal_scores($endpoint, $user_id,
                                 MAP($context_keys::VARCHAR[], $context_values::VARCHAR[])) s
           ON s.item_id = r.item_id
    LEFT JOIN pypersonalize.popular_items p ON p.version_arn = $version AND p.item = r.item_id
    WHERE {{ predicate }}
), known AS (
    SELECT *, coalesce((raw - max(raw) OVER ()) / t, ln(popularity)) AS z
    FROM scored WHERE raw IS NOT NULL OR popularity IS NOT NULL
)
SELECT item_id, exp(z) / sum(exp(z)) OVER () AS score, 0 AS tier, z, pos FROM known
UNION ALL
SELECT item_id, 0.0, 1, NULL, pos FROM scored WHERE raw IS NULL AND popularity IS NULL
ORDER BY tier, z DESC, pos
