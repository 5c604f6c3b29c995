-- The plain-SQL recommend pipeline, one template for every recipe and endpoint:
--   candidates (each recipe's own, from sql/recipes/<r>/candidates.sql, for the endpoint's
--   recipe only) -> popular items of the version after them (every recipe writes
--   popular_items) -> exclusions (items the user has events of the endpoint's
--   exclude_event_type, and item_id itself) -> top n.
-- The in-process engine (pypersonalize/engine.py) runs the same steps on arrays; tests
-- compare the two on every recipe.
--
--   pp_recommend(endpoint, user_id := NULL, item_id := NULL, n := 25, context := NULL)
--       -> (rank, item_id, score) for one request to a campaign or recommender (name or
--          ARN). context is a MAP(VARCHAR, VARCHAR) of contextual fields or NULL.
--   pp_recommend_batch(endpoint, requests, n := 25)
--       -> (user_id, item_id, rank, recommended_item_id, score) for every row of the
--          table or view named by `requests` (columns user_id and item_id, either NULL).
-- Requests missing an input the endpoint requires raise an error, as Personalize does.
-- vars: folders (one recipe per SQL folder with candidates.sql: {folder, names, optionally
--       endpoints: the names and ARNs of the endpoints serving them}), recipes (every
--       registered recipe name, or empty)
-- A recipe's candidates macro takes (checked, recipes, endpoint, user_id, item_id, context):
-- the CTE holding the endpoint's row, a SQL list of the folder's recipe names, and SQL
-- expressions for the request.
CREATE OR REPLACE MACRO pp_recommend(endpoint, user_id := NULL, item_id := NULL, n := 25, context := NULL) AS TABLE
WITH checked AS (
    SELECT e.* FROM pypersonalize.endpoints e WHERE e.name = endpoint OR e.arn = endpoint
), guard AS (
    -- Referenced by the final WHERE, so these checks always run.
    SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM checked)
            THEN error('pp_recommend: no campaign or recommender named ' || coalesce(endpoint, 'NULL'))
        WHEN (SELECT c.requires_user FROM checked c) AND user_id IS NULL
            THEN error('pp_recommend: ' || endpoint || ' needs user_id')
        WHEN (SELECT c.requires_item FROM checked c) AND item_id IS NULL
            THEN error('pp_recommend: ' || endpoint || ' needs item_id')
        WHEN (SELECT c.serving FROM checked c) IN ('PERSONALIZED_RANKING', 'ranking')
            THEN error('pp_recommend: ' || endpoint || ' serves a Personalized-Ranking model, which '
                       || 'reorders a list (Python: get_personalized_ranking)')
{% if recipes is defined and recipes %}
        WHEN (SELECT c.recipe FROM checked c) NOT IN ({{ recipes | map("literal") | join(", ") }})
            THEN error('pp_recommend: ' || endpoint || ' serves a recipe this installation does not have: '
                       || (SELECT c.recipe FROM checked c))
{% endif %}
        ELSE true END AS ok
), seen AS (
    SELECT DISTINCT h.item
    FROM pypersonalize.interactions_all h, checked c
    WHERE c.exclude_event_type IS NOT NULL AND h.dataset_group = c.dataset_group
      AND h.user_id = user_id
      AND (c.exclude_event_type = '*' OR h.event_type = c.exclude_event_type)
),
{% for f in folders %}
{% import "recipes/" ~ f.folder ~ "/candidates.sql" as recipe %}
own_{{ loop.index }} AS (
    -- only for this folder's recipes{% if f.get("endpoints") is not none %} (and, so that DuckDB drops the branch when
    -- planning a request to another endpoint, only for the endpoints serving them){% endif %}

    SELECT k.* FROM (
        {{ recipe.candidates("checked", "(" ~ (f.names | map("literal") | join(", ")) ~ ")",
                             "endpoint", "user_id", "item_id", "context") | indent(8) }}
    ) k
    WHERE (SELECT c.recipe FROM checked c) IN ({{ f.names | map("literal") | join(", ") }})
{% if f.get("endpoints") is not none %}
      AND endpoint IN ({{ (f.endpoints or ["(none)"]) | map("literal") | join(", ") }})
{% endif %}
),
{% endfor %}
own AS (
{% for f in folders %}
    SELECT k.item, k.score, 0 AS tier, k.pos FROM own_{{ loop.index }} k
    UNION ALL
{% endfor %}
    SELECT NULL, NULL, NULL, NULL WHERE false
), fallback AS (
    SELECT p.item, p.score, p.rank
    FROM pypersonalize.popular_items p, checked c
    WHERE p.version_arn = c.version_arn AND p.item NOT IN (SELECT own.item FROM own)
), popular AS (
    -- scaled to at most half the recipe's own lowest score when they would reach it, so
    -- that no score rises down the list and the parts never tie (engine.py: _candidates)
    SELECT f.item,
           CASE WHEN (SELECT max(f2.score) FROM fallback f2) >= (SELECT min(own.score) FROM own)
                 AND (SELECT max(f2.score) FROM fallback f2) > 0
                THEN f.score * ((SELECT min(own.score) FROM own) / (2 * (SELECT max(f2.score) FROM fallback f2)))
                ELSE f.score END AS score,
           1 AS tier, f.rank AS pos
    FROM fallback f
), candidates AS (
    SELECT * FROM own UNION ALL SELECT * FROM popular
)
SELECT CAST(row_number() OVER (ORDER BY k.tier, k.pos) AS INTEGER) AS rank,
       k.item AS item_id, k.score
FROM candidates k
WHERE (SELECT g.ok FROM guard g)
  AND k.item NOT IN (SELECT seen.item FROM seen)
  AND (item_id IS NULL OR k.item <> item_id)
QUALIFY rank <= n
ORDER BY rank;

CREATE OR REPLACE MACRO pp_recommend_batch(endpoint, requests, n := 25) AS TABLE
SELECT q.user_id, q.item_id, r.rank, r.item_id AS recommended_item_id, r.score
FROM query_table(requests) q,
     LATERAL (SELECT * FROM pp_recommend(endpoint, user_id := q.user_id, item_id := q.item_id, n := n)) r
ORDER BY q.user_id, q.item_id, r.rank;
