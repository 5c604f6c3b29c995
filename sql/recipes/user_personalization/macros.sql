-- The User-Personalization family's persistent SQL macro (created when the project opens).
-- pp_personal_scores(endpoint, user_id, context)   (positional; context may be NULL)
--     -> (item_id, score, raw) for a User-Personalization (or HRNN, Personalized-Ranking)
--        endpoint: every item of its model scored for the user from their CURRENT history
--        (events imported or put after training count at once). score is a softmax over
--        the whole catalogue (the scores sum to 1); raw is the blended score before it.
--        context is a MAP(VARCHAR, VARCHAR) of contextual fields, e.g. MAP {'DEVICE': 'Tablet'},
--        or NULL.
--        A user without history gets no rows (pp_recommend falls back to popular items).
--        An event weighs its type's event_weights row, else personal_params.other_event_weight;
--        events of weight 0 (types an eventsConfig leaves out) are not part of the history.
--        With an optimizationObjective raw includes temperature * objective_weight * the
--        item's item_objective value (its attribute's percent rank).
-- The numbers are recipes/seqmodel.py's; recipes/personal_model.py computes the same in numpy.
-- vars: recipes (the names of the recipes this folder serves)
CREATE OR REPLACE MACRO pp_personal_scores(pp_endpoint, pp_user, pp_context) AS TABLE
WITH ep AS (
    SELECT e.version_arn, e.dataset_group FROM pypersonalize.endpoints e
    WHERE (e.name = pp_endpoint OR e.arn = pp_endpoint)
      AND e.recipe IN ({% for r in recipes %}{{ r|literal }}{{ ", " if not loop.last }}{% endfor %})
), params AS (
    SELECT p.* FROM pypersonalize.personal_params p, ep WHERE p.version_arn = ep.version_arn
), events AS (
    -- every event of the user (impressions, and the items they chose, come from all of them)
    SELECT h.item, h.impression, h.recommendation_id, h.ts, h.seq,
           coalesce(w.weight, params.other_event_weight) AS ew
    -- columns renamed: a "user_id" column in scope would clash with an outer macro's
    -- user_id parameter passed in as pp_user
    FROM (SELECT a.dataset_group AS grp, a.user_id AS uid, a.item, a.event_type, a.ts, a.seq, a.impression,
                 a.recommendation_id
          FROM pypersonalize.interactions_all a) h
    JOIN ep ON h.grp = ep.dataset_group
    CROSS JOIN params
    LEFT JOIN pypersonalize.event_weights w ON w.version_arn = ep.version_arn AND w.event_type = h.event_type
    WHERE h.uid = pp_user
), hist AS (
    -- the history the model reads: events of weight 0 left out
    SELECT events.item, events.ew, row_number() OVER (ORDER BY events.ts DESC, events.seq DESC) - 1 AS pos
    FROM events WHERE events.ew > 0
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
    FROM (SELECT unnest(events.impression) AS item FROM events
          UNION ALL
          SELECT unnest(l.items) FROM events, ep, pypersonalize.recommendation_log l
          WHERE l.recommendation_id = events.recommendation_id AND l.dataset_group = ep.dataset_group) s
    WHERE s.item NOT IN (SELECT events.item FROM events)
    GROUP BY s.item
), parts AS (
    SELECT m.item, coalesce(seq_part.s, 0) AS s, coalesce(hist_part.s, 0) AS l,
           coalesce(meta_part.m, 0) AS m, coalesce(ctx_part.lift, 0) AS lift, coalesce(shown.times, 0) AS times,
           coalesce(user_part.ulift, 0) AS ulift, m.interactions AS pop, coalesce(o.value, 0) AS objective
    FROM ep
    JOIN pypersonalize.model_items m ON m.version_arn = ep.version_arn
    LEFT JOIN seq_part ON seq_part.item = m.item
    LEFT JOIN hist_part ON hist_part.item = m.item
    LEFT JOIN meta_part ON meta_part.item = m.item
    LEFT JOIN ctx_part ON ctx_part.item = m.item
    LEFT JOIN shown ON shown.item = m.item
    LEFT JOIN user_part ON user_part.item = m.item
    LEFT JOIN pypersonalize.item_objective o ON o.version_arn = ep.version_arn AND o.item = m.item
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
           END
           -- optimizationObjective: each probability times exp(objective_weight * percent rank)
           + params.temperature * params.objective_weight * parts.objective AS raw,
           params.temperature AS temperature
    FROM parts, params
), shifted AS (
    SELECT blended.item, blended.raw, (blended.raw - max(blended.raw) OVER ()) / blended.temperature AS z
    FROM blended
)
SELECT shifted.item AS item_id, exp(shifted.z) / sum(exp(shifted.z)) OVER () AS score, shifted.raw
FROM shifted;

