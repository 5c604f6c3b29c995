-- The catalog: one schema holding the project's settings and a record of every object
-- (dataset group, schema, dataset, import job, and later solutions, campaigns ...).
-- Safe to run on every open.
CREATE SCHEMA IF NOT EXISTS pypersonalize;
CREATE TABLE IF NOT EXISTS pypersonalize.settings (
    key   VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS pypersonalize.objects (
    arn               VARCHAR NOT NULL,   -- Personalize-style ARN, the object's id
    kind              VARCHAR NOT NULL,   -- dataset-group, schema, dataset, dataset-import-job
    name              VARCHAR NOT NULL,
    dataset_group_arn VARCHAR,            -- owner, for objects that live in a dataset group
    parent_arn        VARCHAR,            -- e.g. the dataset of an import job
    status            VARCHAR NOT NULL,   -- ACTIVE, CREATE FAILED ...
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    config            JSON NOT NULL,      -- the object's own description (kind-specific)
    failure_reason    VARCHAR
);
