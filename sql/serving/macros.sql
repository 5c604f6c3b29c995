-- Persistent table macros: recommendations from plain SQL, no Python needed.
--
--   pp_recommend(endpoint, user_id := NULL, item_id := NULL, n := 25, context := NULL)
--       -> (rank, item_id, score) for one request to a campaign or recommender
--          (name or ARN). RELATED_ITEMS endpoints rank the items related to item_id and
--          fill up with popular items (all popular items when item_id is unknown);
--          popularity endpoints rank popular items; User-Personalization endpoints rank
--          pp_personal_scores (below), then popular items for users without history. Items the user has events of the
--          endpoint's exclude_event_type are left out, as is item_id itself.
--   pp_recommend_batch(endpoint, requests, n := 25)
--       -> (user_id, item_id, rank, recommended_item_id, score) for every row of the
--          table or view named by `requests` (columns user_id and item_id, either NULL).
--
-- Requests missing an input the endpoint requires raise an error, as Personalize does.
-- pp_personal_scores(endpoint, user_id, context)   (positional; context may be NULL)
--     -> (item_id, score, raw) for a User-Personalization (or HRNN, Personalized-Ranking)
--        endpoint: every item of its model scored for the user from their CURRENT history
--        (events imported or put after training count at once). score is a softmax over
--        the whole catalogue (the scores sum to 1); raw is the blended score before it.
--        context is a MAP(VARCHAR, VARCHAR) of contextual fields, e.g. MAP {'DEVICE': 'Tablet'},
--        or NULL.
--        A user without history gets no rows (pp_recommend falls back to popular items).
-- The numbers are recipes/seqmodel.py's; pypersonalize/personal.py computes the same in numpy.
CREATE OR REPLACE MACRO pp_personal_scores(pp_endpoint, pp_user, pp_context) AS TABLE
WITH ep AS (
    SELECT e.version_arn, e.dataset_group FROM pypersonalize.endpoints e
    WHERE (e.name = pp_endpoint OR e.arn = pp_endpoint) AND e.serving IN ('personalized', 'ranking')
), params AS (
    SELECT p.* FROM pypersonalize.personal_params p, ep WHERE p.version_arn = ep.version_arn
), hist AS (
    SELECT h.item, h.impression, h.recommendation_id,
           coalesce(w.weight, 1.0) AS ew,
           row_number() OVER (ORDER BY h.ts DESC, h.seq DESC) - 1 AS pos
    -- columns renamed: a "user_id" column in scope would clash with an outer macro's
    -- user_id parameter passed in as pp_user
    FROM (SELECT a.dataset_group AS grp, a.user_id AS uid, a.item, a.event_type, a.ts, a.seq, a.impression,
                 a.recommendation_id
          FROM pypersonalize.interactions_all a) h
    JOIN ep ON h.grp = ep.dataset_group
    LEFT JOIN pypersonalize.event_weights w ON w.version_arn = ep.version_arn AND w.event_type = h.event_type
    WHERE h.uid = pp_user
), win AS (
    SELECT hist.item, sum(hist.ew * pow(params.decay, hist.pos)) AS w
    FROM hist, params WHERE hist.pos < params.bptt GROUP BY hist.item
), hx AS (
    SELECT hist.item, max(hist.ew) AS x FROM hist GROUP BY hist.item
), known AS (
    -- has the user any event of an item the model knows?
    SELECT count(*) > 0 AS has FROM hx, ep, pypersonalize.item_factors k
    WHERE k.version_arn = ep.version_arn AND k.item = hx.item AND k.dim = 0
), uattr AS (
    SELECT a.field, a.value FROM pypersonalize.user_attributes_all a, ep
    WHERE a.dataset_group = ep.dataset_group AND a.uid = pp_user
), user_part AS (
    SELECT c.item, sum(c.lift) AS ulift
    FROM ep, uattr, pypersonalize.context_lift c
    WHERE c.version_arn = ep.version_arn AND c.field = 'Users.' || uattr.field AND c.value = uattr.value
    GROUP BY c.item
), seq_part AS (
    SELECT t.next_item AS item, sum(win.w * t.weight) AS s
    FROM win, ep, pypersonalize.item_transitions t
    WHERE t.version_arn = ep.version_arn AND t.item = win.item
    GROUP BY t.next_item
), uvec AS (
    SELECT f.dim, sum(hx.x * f.value) AS v
    FROM hx, ep, pypersonalize.item_factors f
    WHERE f.version_arn = ep.version_arn AND f.item = hx.item
    GROUP BY f.dim
), hist_part AS (
    SELECT f.item, sum(uvec.v * f.value_out) AS s
    FROM uvec, ep, pypersonalize.item_factors f
    WHERE f.version_arn = ep.version_arn AND f.dim = uvec.dim
    GROUP BY f.item
), profile AS (
    -- the metadata tokens of the user's history, weighted like the history part
    SELECT t.token, sum(hx.x * t.weight) AS w
    FROM hx, ep, pypersonalize.item_tokens t
    WHERE t.version_arn = ep.version_arn AND t.item = hx.item
    GROUP BY t.token
), meta_part AS (
    SELECT t.item, sum(profile.w * t.weight) AS m
    FROM profile, ep, pypersonalize.item_tokens t
    WHERE t.version_arn = ep.version_arn AND t.token = profile.token
    GROUP BY t.item
), ctx_part AS (
    SELECT c.item, sum(c.lift) AS lift
    FROM ep, pypersonalize.context_lift c
    WHERE c.version_arn = ep.version_arn AND pp_context IS NOT NULL AND c.value = pp_context[c.field]
      AND NOT starts_with(c.field, 'Users.')
    GROUP BY c.item
), shown AS (
    -- impressions of the user's events that the user never chose: explicit (IMPRESSION)
    -- and implicit (the list of the recommendation an event names)
    SELECT s.item, count(*) AS times
    FROM (SELECT unnest(hist.impression) AS item FROM hist
          UNION ALL
          SELECT unnest(l.items) FROM hist, ep, pypersonalize.recommendation_log l
          WHERE l.recommendation_id = hist.recommendation_id AND l.dataset_group = ep.dataset_group) s
    WHERE s.item NOT IN (SELECT hx.item FROM hx)
    GROUP BY s.item
), parts AS (
    SELECT m.item, coalesce(seq_part.s, 0) AS s, coalesce(hist_part.s, 0) AS l,
           coalesce(meta_part.m, 0) AS m, coalesce(ctx_part.lift, 0) AS lift, coalesce(shown.times, 0) AS times,
           coalesce(user_part.ulift, 0) AS ulift, m.interactions AS pop
    FROM ep
    JOIN pypersonalize.model_items m ON m.version_arn = ep.version_arn
    LEFT JOIN seq_part ON seq_part.item = m.item
    LEFT JOIN hist_part ON hist_part.item = m.item
    LEFT JOIN meta_part ON meta_part.item = m.item
    LEFT JOIN ctx_part ON ctx_part.item = m.item
    LEFT JOIN shown ON shown.item = m.item
    LEFT JOIN user_part ON user_part.item = m.item
    WHERE m.item IN (SELECT f.item FROM pypersonalize.item_factors f
                     WHERE f.version_arn = ep.version_arn AND f.dim = 0)
      -- a user with no event of a model item (new user, only new items) gets rows only
      -- when their attributes say something
      AND ((SELECT known.has FROM known) OR EXISTS (SELECT 1 FROM user_part))
), blended AS (
    SELECT parts.item,
           CASE WHEN (SELECT known.has FROM known) THEN
               coalesce(parts.s / nullif(max(abs(parts.s)) OVER (), 0), 0)
               + params.history_weight * coalesce(parts.l / nullif(max(abs(parts.l)) OVER (), 0), 0)
               + params.metadata_weight * coalesce(parts.m / nullif(max(abs(parts.m)) OVER (), 0), 0)
               + params.context_weight * parts.lift
               + params.user_weight * parts.ulift
               - params.impression_weight * ln(1 + parts.times)
           -- no history: naive Bayes, log P(item) + the attribute and context lifts, scaled
           -- by the temperature so that the softmax below gives those probabilities
           ELSE params.temperature * (ln((parts.pop + 1.0) / sum(parts.pop + 1.0) OVER ())
                                      + parts.ulift + params.context_weight * parts.lift)
           END AS raw,
           params.temperature AS temperature
    FROM parts, params
), shifted AS (
    SELECT blended.item, blended.raw, (blended.raw - max(blended.raw) OVER ()) / blended.temperature AS z
    FROM blended
)
SELECT shifted.item AS item_id, exp(shifted.z) / sum(exp(shifted.z)) OVER () AS score, shifted.raw
FROM shifted;

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
        ELSE true END AS ok
), seen AS (
    SELECT DISTINCT h.item
    FROM pypersonalize.interactions_all h, checked c
    WHERE c.exclude_event_type IS NOT NULL AND h.dataset_group = c.dataset_group
      AND h.user_id = user_id
      AND (c.exclude_event_type = '*' OR h.event_type = c.exclude_event_type)
), related AS (
    SELECT r.related AS item, r.score, 0 AS tier, r.rank AS pos
    FROM pypersonalize.related_items r, checked c
    WHERE c.serving = 'related' AND r.version_arn = c.version_arn AND r.item = item_id
), personal AS (
    SELECT s.item_id AS item, s.score, 0 AS tier,
           row_number() OVER (ORDER BY s.raw DESC, s.item_id) AS pos
    -- the user goes in as a column: inside the nested macro a parameter named user_id
    -- would clash with the interactions' USER_ID column
    FROM (SELECT user_id AS uid, endpoint AS ep, context AS ctx) req,
         LATERAL (SELECT * FROM pp_personal_scores(req.ep, req.uid, req.ctx)) s
), popular AS (
    SELECT p.item, p.score, 1 AS tier, p.rank AS pos
    FROM pypersonalize.popular_items p, checked c
    WHERE p.version_arn = c.version_arn
), candidates AS (
    SELECT * FROM related
    UNION ALL
    SELECT * FROM personal
    UNION ALL
    SELECT * FROM popular WHERE popular.item NOT IN (SELECT related.item FROM related)
                            AND popular.item NOT IN (SELECT personal.item FROM personal)
)
SELECT CAST(row_number() OVER (ORDER BY k.tier, k.pos) AS INTEGER) AS rank,
       k.item AS item_id, k.score
FROM candidates k
WHERE (SELECT g.ok FROM guard g)
  AND k.item NOT IN (SELECT seen.item FROM seen)
  AND (item_id IS NULL OR k.item <> item_id)
QUALIFY rank <= n
ORDER BY rank;

-- pp_recommend_basic: pp_recommend for popularity and related-items endpoints only, the
-- same answers without the User-Personalization part, so that DuckDB plans a far smaller
-- query (Python uses it for those endpoints; ~5x faster per request).
CREATE OR REPLACE MACRO pp_recommend_basic(endpoint, user_id := NULL, item_id := NULL, n := 25,
                                           context := NULL) AS TABLE
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
        ELSE true END AS ok
), seen AS (
    SELECT DISTINCT h.item
    FROM pypersonalize.interactions_all h, checked c
    WHERE c.exclude_event_type IS NOT NULL AND h.dataset_group = c.dataset_group
      AND h.user_id = user_id
      AND (c.exclude_event_type = '*' OR h.event_type = c.exclude_event_type)
), related AS (
    SELECT r.related AS item, r.score, 0 AS tier, r.rank AS pos
    FROM pypersonalize.related_items r, checked c
    WHERE c.serving = 'related' AND r.version_arn = c.version_arn AND r.item = item_id
), popular AS (
    SELECT p.item, p.score, 1 AS tier, p.rank AS pos
    FROM pypersonalize.popular_items p, checked c
    WHERE p.version_arn = c.version_arn
), candidates AS (
    SELECT * FROM related
    UNION ALL
    SELECT * FROM popular WHERE popular.item NOT IN (SELECT related.item FROM related)
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
