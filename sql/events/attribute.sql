-- Give a session's anonymous events to the user a later call of the session named: their
-- interactions rows (written under the sessionId) and their event_log rows.
-- vars: schema_name (the dataset group). Parameters: $g group, $s session, $u user.
UPDATE {{ schema_name|ident }}.interactions AS i SET USER_ID = $u
FROM (SELECT DISTINCT item_id, sent_at FROM pypersonalize.event_log
      WHERE dataset_group = $g AND session_id = $s AND anonymous AND user_id IS NULL
        AND NOT duplicate) AS a
WHERE i.USER_ID = $s AND i.ITEM_ID IS NOT DISTINCT FROM a.item_id AND i."TIMESTAMP" = a.sent_at;
UPDATE pypersonalize.event_log SET user_id = $u
WHERE dataset_group = $g AND session_id = $s AND anonymous AND user_id IS NULL;
