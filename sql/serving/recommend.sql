-- One recommendation request through the persistent macro (what Python and the CLI run).
-- params: $endpoint $user_id $item_id $n $context_keys $context_values
SELECT rank, item_id, score
FROM pp_recommend($endpoint, user_id := $user_id, item_id := $item_id, n := $n,
                  context := MAP($context_keys::VARCHAR[], $context_values::VARCHAR[]))
ORDER BY rank
