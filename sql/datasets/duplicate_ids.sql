-- The first id that occurs twice in the staged rows of an Items or Users import.
-- Output: (id, first rowid, second rowid), at most one row.
-- vars: id_index (the id field's position in the schema: its staged column)
{% from "datasets/_expressions.sql" import staged %}
SELECT {{ staged(id_index) }}, min(rowid), list(rowid ORDER BY rowid)[2]
FROM pp_stage
GROUP BY {{ staged(id_index) }}
HAVING count(*) > 1
ORDER BY min(rowid)
LIMIT 1
