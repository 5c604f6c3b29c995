-- Serving state shared by every dataset group, so that the SQL macros can stay static:
--   endpoints      one row per campaign or recommender: what to read and how to filter
--   popular_items  ranked popular items of each solution version (fallback for all)
--   related_items  ranked related items per item of each RELATED_ITEMS solution version
-- Model rows are keyed by the solution version's ARN and never updated: a new version
-- writes new rows, a campaign switches by changing its endpoints row.
CREATE TABLE IF NOT EXISTS pypersonalize.endpoints (
    name               VARCHAR NOT NULL,   -- campaign or recommender name
    arn                VARCHAR NOT NULL,
    kind               VARCHAR NOT NULL,   -- campaign | recommender
    version_arn        VARCHAR NOT NULL,   -- the solution version it serves
    dataset_group      VARCHAR NOT NULL,   -- the dataset group's name (= DuckDB schema)
    serving            VARCHAR NOT NULL,   -- popular | related
    requires_user      BOOLEAN NOT NULL,
    requires_item      BOOLEAN NOT NULL,
    exclude_event_type VARCHAR            -- drop items the user has events of this type ('*' = any)
);
CREATE TABLE IF NOT EXISTS pypersonalize.popular_items (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    score       DOUBLE NOT NULL,
    rank        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pypersonalize.related_items (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    related     VARCHAR NOT NULL,
    score       DOUBLE NOT NULL,
    rank        INTEGER NOT NULL
);
