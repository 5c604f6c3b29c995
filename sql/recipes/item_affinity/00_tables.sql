-- The USER_SEGMENTATION recipes' model tables (Item-Affinity, Item-Attribute-Affinity):
-- users' and items' factors and the users' training items, per solution version.
-- A user's affinity for an item j is weight * max(factors . item_factors_j * scale_j, 0)
-- + prior_weight * prior_j, or share when the user already had j (recipes/item_affinity.py).
CREATE TABLE IF NOT EXISTS pypersonalize.affinity_users (
    version_arn VARCHAR NOT NULL,
    "user"      VARCHAR NOT NULL,
    weight      DOUBLE NOT NULL,
    prior_weight DOUBLE NOT NULL,
    floor       DOUBLE NOT NULL,
    factors     FLOAT[] NOT NULL
);
CREATE TABLE IF NOT EXISTS pypersonalize.affinity_items (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    scale       DOUBLE NOT NULL,
    prior       DOUBLE NOT NULL,
    factors     FLOAT[] NOT NULL
);
CREATE TABLE IF NOT EXISTS pypersonalize.affinity_seen (
    version_arn VARCHAR NOT NULL,
    "user"      VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    share       DOUBLE NOT NULL
);
