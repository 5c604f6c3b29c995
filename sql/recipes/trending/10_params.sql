-- Trending-Now's training: record its interval and event type.
-- params: $version $interval $event_type
INSERT INTO pypersonalize.trending_params VALUES ($version, $interval, $event_type)
