-- SIMS step 4: score and rank related items.
--   score(i, j) = cooc(i, j) / (n_i ^ a * n_j ^ a)
-- with n_x the number of kept baskets holding x and a = popularity_discount_factor:
-- a = 0 ranks by raw co-occurrence (popular items win), a = 0.5 is cosine similarity,
-- a = 1 discounts popularity fully. The top $cap per item are kept, ties by item id.
-- vars: schema_name; params: $version, $alpha, $cap
INSERT INTO pypersonalize.related_items
WITH pop AS (
    SELECT item, count(*) AS n FROM pp_sims_kept GROUP BY item
), both_ways AS (
    SELECT i, j, cooc FROM pp_sims_pairs
    UNION ALL
    SELECT j, i, cooc FROM pp_sims_pairs
), scored AS (
    SELECT w.i, w.j, w.cooc / (pow(pi.n, $alpha) * pow(pj.n, $alpha)) AS score
    FROM both_ways w
    JOIN pop pi ON pi.item = w.i
    JOIN pop pj ON pj.item = w.j
), named AS (
    SELECT mi.id AS item, mj.id AS related, s.score
    FROM scored s
    JOIN {{ schema_name|ident }}.item_ids mi ON mi.idx = s.i
    JOIN {{ schema_name|ident }}.item_ids mj ON mj.idx = s.j
), ranked AS (
    SELECT item, related, score,
           CAST(row_number() OVER (PARTITION BY item ORDER BY score DESC, related) AS INTEGER) AS rank
    FROM named
)
SELECT $version, item, related, score, rank
FROM ranked
WHERE rank <= $cap
ORDER BY item, rank
