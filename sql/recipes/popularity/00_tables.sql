-- Popularity's model table, which every recipe also fills: its popular items are the
-- fallback of every request (sql/serving/pipeline.sql, engine.py).
CREATE TABLE IF NOT EXISTS pypersonalize.popular_items (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    score       DOUBLE NOT NULL,
    rank        INTEGER NOT NULL
);
