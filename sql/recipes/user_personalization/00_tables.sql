-- User-Personalization / HRNN / Personalized-Ranking model rows (recipes/user_personalization.py).
-- A user's scores are computed at request time from their current history, so events
-- added after training count at once (pp_personal_scores in macros.sql).
CREATE TABLE IF NOT EXISTS pypersonalize.personal_params (
    version_arn       VARCHAR NOT NULL,
    bptt              INTEGER NOT NULL,   -- recent events in the sequence window
    decay             DOUBLE NOT NULL,    -- weight of the k-th most recent event: decay^k
    history_weight    DOUBLE NOT NULL,    -- weight of the whole-history (factor) part
    temperature       DOUBLE NOT NULL,    -- softmax temperature, fitted at training
    context_weight    DOUBLE NOT NULL,
    impression_weight DOUBLE NOT NULL,    -- penalty per ln(1 + times shown and not chosen)
    metadata_weight   DOUBLE NOT NULL,    -- weight of the item-metadata similarity part
    user_weight       DOUBLE NOT NULL     -- weight of the user-attribute lifts (users with history)
);
-- files made before solution_config steered training (eventsConfig, optimizationObjective)
-- other_event_weight: the weight of an event whose type has no event_weights row (1; 0 under
--   an eventsConfig: unlisted types are left out of the history, as in training)
-- objective_weight: w of optimizationObjective (0 = OFF): raw += temperature * w * item_objective.value
ALTER TABLE pypersonalize.personal_params ADD COLUMN IF NOT EXISTS other_event_weight DOUBLE DEFAULT 1.0;
ALTER TABLE pypersonalize.personal_params ADD COLUMN IF NOT EXISTS objective_weight DOUBLE DEFAULT 0.0;
CREATE TABLE IF NOT EXISTS pypersonalize.model_items (
    version_arn  VARCHAR NOT NULL,
    item         VARCHAR NOT NULL,
    interactions INTEGER NOT NULL,        -- training events of the item
    created      BIGINT,                  -- CREATION_TIMESTAMP, else first interaction
    last_seen    BIGINT
);
CREATE TABLE IF NOT EXISTS pypersonalize.item_transitions (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,         -- an item of the user's recent events
    next_item   VARCHAR NOT NULL,
    weight      DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS pypersonalize.item_factors (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    dim         SMALLINT NOT NULL,
    value       DOUBLE NOT NULL,          -- P_in: reads the user's history
    value_out   DOUBLE NOT NULL           -- P_out: scores the item
);
CREATE TABLE IF NOT EXISTS pypersonalize.event_weights (
    version_arn VARCHAR NOT NULL,
    event_type  VARCHAR NOT NULL,
    weight      DOUBLE NOT NULL
);
-- optimizationObjective: the item attribute of every model_items row as its percent rank
-- among the Items dataset's items (0 = lowest, 1 = highest; 0.5 for an item the Items
-- dataset lacks). Only versions trained with an objective have rows.
CREATE TABLE IF NOT EXISTS pypersonalize.item_objective (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    value       DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS pypersonalize.item_tokens (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    token       VARCHAR NOT NULL,
    weight      DOUBLE NOT NULL
);
-- Context lifts (field = an Interactions field) and user-attribute lifts (field = 'Users.<F>').
CREATE TABLE IF NOT EXISTS pypersonalize.context_lift (
    version_arn VARCHAR NOT NULL,
    field       VARCHAR NOT NULL,
    value       VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    lift        DOUBLE NOT NULL
);
