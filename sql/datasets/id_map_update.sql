-- Give every id seen for the first time the next dense integer of the dataset group's
-- id map. Ids are never renumbered, so older model tables stay valid after re-imports.
-- New ids are numbered in sorted order, so the map does not depend on the source format.
-- vars: schema_name, map_table, id_index (the id field's position: its staged column)
{% from "datasets/_expressions.sql" import staged %}
INSERT INTO {{ schema_name|ident }}.{{ map_table|ident }}
SELECT id, (SELECT coalesce(max(idx), -1) FROM {{ schema_name|ident }}.{{ map_table|ident }})
           + row_number() OVER (ORDER BY id)
FROM (
    SELECT DISTINCT {{ staged(id_index) }} AS id FROM pp_stage
    WHERE {{ staged(id_index) }} IS NOT NULL AND {{ staged(id_index) }} <> ''
) AS fresh
WHERE id NOT IN (SELECT id FROM {{ schema_name|ident }}.{{ map_table|ident }})
