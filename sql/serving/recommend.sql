-- One recommendation request (what Python and the CLI run); the same answer as the
-- persistent macro pp_recommend.
-- vars: kind ('basic' | 'personal', see _candidates.sql)
-- params: $endpoint $user_id $item_id $n $context_keys $context_values
{% from "serving/_candidates.sql" import candidates %}
SELECT c.rank, c.item_id, c.score
FROM {{ candidates(kind, "$n") }} c
ORDER BY c.rank
