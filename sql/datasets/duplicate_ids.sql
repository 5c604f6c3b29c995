-- The first id that occurs twice in the staged rows of an Items or Users import.
-- Output: (id, first rowid, second rowid), at most one row.
-- vars: id_field
SELECT {{ id_field|ident }}, min(rowid), list(rowid ORDER BY rowid)[2]
FROM pp_stage
GROUP BY {{ id_field|ident }}
HAVING count(*) > 1
ORDER BY min(rowid)
LIMIT 1
