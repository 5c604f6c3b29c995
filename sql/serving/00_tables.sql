-- Serving state shared by every dataset group and recipe:
--   endpoints           one row per campaign or recommender: the version it serves, its recipe,
--                       what a request must give and which of the user's items it leaves out
--   recommendation_log  implicit impressions (below)
-- Each recipe's model tables are in its own folder, sql/recipes/<recipe>/00_tables.sql; model
-- rows are keyed by the solution version's ARN and never updated: a new version writes new
-- rows, a campaign switches by changing its endpoints row.
CREATE TABLE IF NOT EXISTS pypersonalize.endpoints (
    name               VARCHAR NOT NULL,   -- campaign or recommender name
    arn                VARCHAR NOT NULL,
    kind               VARCHAR NOT NULL,   -- campaign | recommender
    version_arn        VARCHAR NOT NULL,   -- the solution version it serves
    dataset_group      VARCHAR NOT NULL,   -- the dataset group's name (= DuckDB schema)
    serving            VARCHAR NOT NULL,   -- the recipe's type (RecipeType)
    requires_user      BOOLEAN NOT NULL,
    requires_item      BOOLEAN NOT NULL,
    exclude_event_type VARCHAR,           -- drop items the user has events of this type ('*' = any)
    recipe             VARCHAR            -- the version's recipe (name), which scores its requests
);
-- files made before endpoints named their recipe
ALTER TABLE pypersonalize.endpoints ADD COLUMN IF NOT EXISTS recipe VARCHAR;
UPDATE pypersonalize.endpoints SET recipe = (
    SELECT json_extract_string(o.config, '$.recipe') FROM pypersonalize.objects o
    WHERE o.arn = endpoints.version_arn)
WHERE recipe IS NULL;
-- Implicit impressions: the items of every User-Personalization recommendation made for a
-- dataset group whose Interactions schema has RECOMMENDATION_ID. An event that names a
-- recommendationId counts the other items of that list as shown and not chosen.
CREATE TABLE IF NOT EXISTS pypersonalize.recommendation_log (
    recommendation_id VARCHAR NOT NULL,
    dataset_group     VARCHAR NOT NULL,
    user_id           VARCHAR NOT NULL,
    items             VARCHAR[] NOT NULL,
    created_at        TIMESTAMP WITH TIME ZONE NOT NULL
);
