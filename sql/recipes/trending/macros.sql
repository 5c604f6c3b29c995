-- Trending-Now's persistent SQL macro (created when the project opens).
-- pp_trend_scores(endpoint) -> (item_id, score, gain) for a Trending-Now endpoint: the items
--   whose events grew from the interval before to the last interval, both counted back from
--   the group's newest event (of the solution's event type); score = the item's growth / the
--   growth of all growing items. recipes/trending.py computes the same from memory.
-- vars: recipes (the names of the recipes this folder serves)
CREATE OR REPLACE MACRO pp_trend_scores(pp_endpoint) AS TABLE
WITH w AS (
    SELECT e.dataset_group AS grp, t.interval_s, t.event_type AS et
    FROM pypersonalize.endpoints e JOIN pypersonalize.trending_params t ON t.version_arn = e.version_arn
    WHERE (e.name = pp_endpoint OR e.arn = pp_endpoint)
      AND e.recipe IN ({% for r in recipes %}{{ r|literal }}{{ ", " if not loop.last }}{% endfor %})
), ev AS (
    SELECT a.item, a.ts FROM pypersonalize.interactions_all a, w
    WHERE a.dataset_group = w.grp AND (w.et IS NULL OR a.event_type = w.et)
), edge AS (
    SELECT max(ev.ts) AS latest FROM ev
), g AS (
    SELECT ev.item,
           count(*) FILTER (WHERE ev.ts > edge.latest - w.interval_s)
           - count(*) FILTER (WHERE ev.ts <= edge.latest - w.interval_s) AS gain
    FROM ev, edge, w
    WHERE ev.ts > edge.latest - 2 * w.interval_s
    GROUP BY ev.item
)
SELECT g.item AS item_id, CAST(g.gain AS DOUBLE) / sum(g.gain) OVER () AS score, g.gain
FROM g
WHERE g.gain > 0;
