-- Trending-Now's model table: only its settings. The trend itself is computed from the
-- interactions at request time, so events imported or put after training count at once.
CREATE TABLE IF NOT EXISTS pypersonalize.trending_params (
    version_arn VARCHAR NOT NULL,
    interval_s  BIGINT NOT NULL,     -- trend_discovery_frequency in seconds
    event_type  VARCHAR              -- the solution's event type (NULL: every event)
);
