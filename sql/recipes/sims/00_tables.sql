-- SIMS's model table: ranked related items per item of each solution version.
CREATE TABLE IF NOT EXISTS pypersonalize.related_items (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    related     VARCHAR NOT NULL,
    score       DOUBLE NOT NULL,
    rank        INTEGER NOT NULL
);

