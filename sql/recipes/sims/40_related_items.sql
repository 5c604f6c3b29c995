-- SIMS step 4: score and rank related items.
--   score(i, j) = cooc(i, j) / (n_i ^ a * n_j ^ a)
-- with n_x the number of kept baskets holding x and a = popularity_discount_factor:
-- a = 0 ranks by raw co-occurrence (popular items win), a = 0.5 is cosine similarity,
-- a = 1 discounts popularity fully. The top $cap per item are kept, ties by item id.
-- The score is symmetric, so it is computed once per pair; ranking runs on integers
-- (ord = position of the id in string order) and ids are looked up for kept rows only.
-- vars: schema_name; params: $version, $alpha, $cap
INSERT INTO pypersonalize.related_items
WITH pop AS (
    SELECT item, count(*) AS n FROM pp_sims_kept GROUP BY item
), id_order AS (
    SELECT idx, row_number() OVER (ORDER BY id) AS ord FROM {{ schema_name|ident }}.item_ids
), scored AS (
    SELECT p.i, p.j, p.cooc / (pow(pi.n, $alpha) * pow(pj.n, $alpha)) AS score
    FROM pp_sims_pairs p
    JOIN pop pi ON pi.item = p.i
    JOIN pop pj ON pj.item = p.j
), both_ways AS (
    SELECT i, j, score FROM scored
    UNION ALL
    SELECT j, i, score FROM scored
), ranked AS (
    SELECT b.i, b.j, b.score,
           row_number() OVER (PARTITION BY b.i ORDER BY b.score DESC, o.ord) AS rank
    FROM both_ways b
    JOIN id_order o ON o.idx = b.j
    QUALIFY rank <= $cap
)
SELECT $version, mi.id, mj.id, r.score, CAST(r.rank AS INTEGER)
FROM ranked r
JOIN {{ schema_name|ident }}.item_ids mi ON mi.idx = r.i
JOIN {{ schema_name|ident }}.item_ids mj ON mj.idx = r.j
