-- Move staged rows into the dataset table, typed. FULL replaces the table; INCREMENTAL
-- appends interactions and replaces items/users that share an id (Personalize's rules).
-- Target columns are named, so the table's column order does not matter.
-- vars: schema_name, table, fields (schemas.Field), mode, id_field (None for
--       interactions), id_index (its position in fields: its staged column), textual_max
{% from "datasets/_expressions.sql" import typed, staged with context %}
{% set target = schema_name|ident ~ "." ~ table|ident %}
{% if mode == 'FULL' %}
DELETE FROM {{ target }};
{% elif id_field %}
DELETE FROM {{ target }} WHERE {{ id_field|ident }} IN (SELECT {{ staged(id_index) }} FROM pp_stage);
{% endif %}
INSERT INTO {{ target }} ({% for f in fields %}{{ f.name|ident }}{{ ", " if not loop.last }}{% endfor %})
SELECT
{% for f in fields %}
    {{ typed(staged(loop.index0), f) }}{{ "," if not loop.last }}
{% endfor %}
FROM pp_stage
ORDER BY rowid;
