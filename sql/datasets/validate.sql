-- Find the first offending staged row for every (field, rule) in one scan.
-- Output: one row, one column per check named "<field index>:<rule>", holding the rowid
-- of the first row that breaks it (NULL when none does). Messages live in importer.py.
-- vars: fields (schemas.Field), id_fields, pipe_free (names), timestamp_fields (names),
--       id_max, text_max
{% from "datasets/_expressions.sql" import present %}
{% set int_re = "'[+-]?[0-9]{1,18}'" %}
{% set num_re = "'[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?'" %}
SELECT
    count(*) AS "rows"
{% for f in fields %}
{% set col = f.name|ident %}
{% set i = loop.index0 %}
{% if not f.nullable %}
  , min(rowid) FILTER (WHERE {{ present(col) }} IS NULL) AS "{{ i }}:null"
{% endif %}
{% if f.type == 'string' %}
{% if f.name in id_fields %}
  , min(rowid) FILTER (WHERE length({{ col }}) > {{ id_max }}) AS "{{ i }}:idlen"
{% elif not f.textual %}
  , min(rowid) FILTER (WHERE length({{ col }}) > {{ text_max }}) AS "{{ i }}:len"
{% endif %}
{% if f.name in pipe_free %}
  , min(rowid) FILTER (WHERE contains({{ col }}, '|')) AS "{{ i }}:pipe"
{% endif %}
{% elif f.type in ('int', 'long') %}
  , min(rowid) FILTER (WHERE {{ present(col) }} IS NOT NULL
                         AND NOT regexp_full_match(trim({{ col }}), {{ int_re }})) AS "{{ i }}:int"
{% if f.type == 'int' %}
  , min(rowid) FILTER (WHERE abs(TRY_CAST(trim({{ col }}) AS BIGINT)) > 2147483647) AS "{{ i }}:range"
{% endif %}
{% if f.name in timestamp_fields %}
  , min(rowid) FILTER (WHERE TRY_CAST(trim({{ col }}) AS BIGINT) >= 100000000000) AS "{{ i }}:ms"
  , min(rowid) FILTER (WHERE TRY_CAST(trim({{ col }}) AS BIGINT) < 0) AS "{{ i }}:neg"
{% endif %}
{% elif f.type in ('float', 'double') %}
  , min(rowid) FILTER (WHERE {{ present(col) }} IS NOT NULL
                         AND (NOT regexp_full_match(trim({{ col }}), {{ num_re }})
                              OR NOT isfinite(TRY_CAST(trim({{ col }}) AS DOUBLE)))) AS "{{ i }}:num"
{% if f.type == 'float' %}
  , min(rowid) FILTER (WHERE abs(TRY_CAST(trim({{ col }}) AS DOUBLE)) > 3.4028234e38) AS "{{ i }}:range"
{% endif %}
{% if f.name in timestamp_fields %}
  , min(rowid) FILTER (WHERE TRY_CAST(trim({{ col }}) AS DOUBLE) >= 100000000000) AS "{{ i }}:ms"
  , min(rowid) FILTER (WHERE TRY_CAST(trim({{ col }}) AS DOUBLE) < 0) AS "{{ i }}:neg"
{% endif %}
{% elif f.type == 'boolean' %}
  , min(rowid) FILTER (WHERE {{ present(col) }} IS NOT NULL
                         AND {{ col }} NOT IN ('true', 'false')) AS "{{ i }}:bool"
{% endif %}
{% endfor %}
FROM pp_stage
