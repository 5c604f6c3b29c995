-- The events PutEvents acknowledged that carry an eventId, come from an anonymous session
-- (or one that was) or name a metric attribution source, one row each, in arrival order.
--   event_id    the event's eventId (or one generated for it): the dedup key. An event whose
--               id the group saw before is kept here with duplicate = true and never
--               reaches the interactions, so training never counts it twice.
--   id_hash     event_log.id_hash(event_id): what the serving process remembers ids by
--   anonymous   the call gave only a sessionId. Such an event is written to the interactions
--               under its sessionId (Personalize's anonymous user) and user_id stays NULL
--               until a later call of the session names the user; that call moves the
--               session's events to the user, here and in the interactions, and later
--               anonymous events of the session go to that user at once.
--   attribution_source  metricAttribution.eventAttributionSource, as given
CREATE TABLE IF NOT EXISTS pypersonalize.event_log (
    dataset_group      VARCHAR NOT NULL,
    event_id           VARCHAR NOT NULL,
    session_id         VARCHAR NOT NULL,
    user_id            VARCHAR,
    anonymous          BOOLEAN NOT NULL,
    item_id            VARCHAR,
    event_type         VARCHAR NOT NULL,
    sent_at            BIGINT NOT NULL,
    duplicate          BOOLEAN NOT NULL,
    attribution_source VARCHAR,
    id_hash            BIGINT NOT NULL,
    received_at        TIMESTAMP WITH TIME ZONE NOT NULL
);
