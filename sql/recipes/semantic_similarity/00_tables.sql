-- Semantic-Similarity's model tables (recipes/semantic_similarity.py):
--   semantic_related       each item's most similar items by the cosine of their TF-IDF text
--                          vectors, best first (rank 1-based, ties by item id), at most
--                          max_related_items per item
--   semantic_item_factors  each item's ranking factors for rankingInfluence, computed at
--                          training: freshness (CREATION_TIMESTAMP: 1 = newest, 0 = oldest or
--                          none) and popularity (ln(1 + users) / ln(1 + most users), 0..1)
CREATE TABLE IF NOT EXISTS pypersonalize.semantic_related (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    related     VARCHAR NOT NULL,
    score       DOUBLE NOT NULL,
    rank        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pypersonalize.semantic_item_factors (
    version_arn VARCHAR NOT NULL,
    item        VARCHAR NOT NULL,
    freshness   DOUBLE NOT NULL,
    popularity  DOUBLE NOT NULL
);
