-- SIMS step 2: apply the percentile cut-offs (computed beforehand from pp_sims_events and
-- bound here as numbers, so that this SQL stays portable):
--   * baskets shorter than $basket_min or longer than $basket_max are dropped;
--   * items in fewer than $item_min baskets are dropped;
--   * items in more than $item_max baskets keep only their floor($item_max) most recent
--     baskets (ties by basket): the most popular items stay, with their weight capped.
-- Item counts are those of the unfiltered events.
-- Output: temp table pp_sims_kept(basket, item)
-- params: $basket_min, $basket_max, $item_min, $item_max
CREATE OR REPLACE TEMP TABLE pp_sims_kept AS
WITH baskets AS (
    SELECT basket FROM pp_sims_events GROUP BY basket
    HAVING count(*) >= $basket_min AND count(*) <= $basket_max
), items AS (
    SELECT item FROM pp_sims_events GROUP BY item HAVING count(*) >= $item_min
), ordered AS (
    SELECT e.basket, e.item,
           row_number() OVER (PARTITION BY e.item ORDER BY e.ts DESC, e.basket) AS recency
    FROM pp_sims_events e
    JOIN baskets b ON b.basket = e.basket
    JOIN items i ON i.item = e.item
)
SELECT basket, item FROM ordered WHERE recency <= $item_max
