-- One recommendation request with a filter: every candidate of the macro is ranked, the
-- filter predicate (sql/filters/allowed_items.sql) keeps what passes, and only then is
-- the list cut at $n, so a filtered request still returns n items when n pass.
-- vars: kind ('basic' | 'personal', see _candidates.sql), predicate (over r.item_id); params: $endpoint $user_id $item_id $n $context_keys $context_values + the filter's
{% from "serving/_candidates.sql" import candidates %}
SELECT pos AS rank, item_id, score
FROM (
    SELECT CAST(row_number() OVER (ORDER BY r.rank) AS INTEGER) AS pos, r.item_id, r.score
    FROM {{ candidates(kind, "2147483647") }} r
    WHERE {{ predicate }}
) passed
WHERE pos <= $n
ORDER BY pos
