-- Move staged rows into the dataset table, typed. FULL replaces the table; INCREMENTAL
-- appends interactions and replaces items/users that share an id (Personalize's rules).
-- vars: schema_name, table, fields (schemas.Field), mode, id_field (None for
--       interactions), textual_max
{% from "datasets/_expressions.sql" import typed with context %}
{% set target = schema_name|ident ~ "." ~ table|ident %}
{% if mode == 'FULL' %}
DELETE FROM {{ target }};
{% elif id_field %}
DELETE FROM {{ target }} WHERE {{ id_field|ident }} IN (SELECT {{ id_field|ident }} FROM pp_stage);
{% endif %}
INSERT INTO {{ target }}
SELECT
{% for f in fields %}
    {{ typed(f.name|ident, f) }}{{ "," if not loop.last }}
{% endfor %}
FROM pp_stage
ORDER BY rowid;
