-- A batch job's rows for analysts, from its hidden rows files (one JSON line per input
-- record: k = the record's user or item id, or its itemAttributes query; items = the
-- recommended items or users, best first; scores); error lines (k null) give no rows.
-- Output: (input_key, rank, item_id, score) for inference, (query, rank, user_id, score)
-- for segments.
-- vars: segment (bool)
-- params: $files (the rows files, in output order)
SELECT k AS {{ "query" if segment else "input_key" }},
       CAST(unnest(range(1, len(items) + 1)) AS INTEGER) AS rank,
       unnest(items) AS {{ "user_id" if segment else "item_id" }},
       unnest(scores) AS score
FROM read_json($files, format = 'newline_delimited',
               columns = {'k': 'VARCHAR', 'items': 'VARCHAR[]', 'scores': 'DOUBLE[]'})
WHERE k IS NOT NULL
