-- SIMS step 3: co-occurrence counts, cooc(i, j) = number of kept baskets holding both
-- items, for i < j (the matrix is symmetric), kept when >= $min_cooc (and >= 1).
-- Output: temp table pp_sims_pairs(i, j, cooc)
-- params: $min_cooc
CREATE OR REPLACE TEMP TABLE pp_sims_pairs AS
SELECT a.item AS i, b.item AS j, count(*) AS cooc
FROM pp_sims_kept a
JOIN pp_sims_kept b ON a.basket = b.basket AND a.item < b.item
GROUP BY a.item, b.item
HAVING count(*) >= $min_cooc
