-- Candidates for exploration: cold items of the version's catalogue (at most $cold_max
-- training interactions) created within $age seconds before $reference (epoch seconds;
-- NULL = the newest interaction; an item without a creation time counts as new), that the user has not interacted
-- with, that are not already in the list ($taken) and that pass the request's filter.
-- relevance = cosine of the item's metadata tokens with the user's history profile,
-- divided by 1 + ln(1 + the times the item was shown in anybody's impressions), so items
-- shown often are explored less.
-- vars: predicate (over r.item_id); params: $version $group $user_id $cold_max $age $taken $reference + filter's
WITH newest AS (
    SELECT coalesce(CAST($reference AS BIGINT), max(m.last_seen)) AS ts
    FROM pypersonalize.model_items m WHERE m.version_arn = $version
), seen AS (
    SELECT DISTINCT h.item FROM pypersonalize.interactions_all h
    WHERE h.dataset_group = $group AND h.user_id = $user_id
), profile AS (
    SELECT t.token, sum(t.weight) AS w
    FROM seen JOIN pypersonalize.item_tokens t ON t.version_arn = $version AND t.item = seen.item
    GROUP BY t.token
), shown AS (
    SELECT s.item, count(*) AS times
    FROM (SELECT unnest(h.impression) AS item FROM pypersonalize.interactions_all h
          WHERE h.dataset_group = $group) s
    GROUP BY s.item
), r AS (
    SELECT m.item AS item_id FROM pypersonalize.model_items m, newest
    WHERE m.version_arn = $version AND m.interactions <= $cold_max
      AND (m.created IS NULL OR m.created >= newest.ts - $age)
      AND m.item NOT IN (SELECT seen.item FROM seen)
      AND NOT list_contains($taken::VARCHAR[], m.item)
)
SELECT r.item_id,
       coalesce((SELECT sum(p.w * t.weight) FROM profile p
                 JOIN pypersonalize.item_tokens t ON t.version_arn = $version AND t.token = p.token
                 WHERE t.item = r.item_id), 0)
         / (1 + ln(1 + coalesce((SELECT s.times FROM shown s WHERE s.item = r.item_id), 0))) AS relevance
FROM r
WHERE {{ predicate }}
ORDER BY r.item_id
