-- Find the first offending staged row for every (field, rule) in one scan.
-- Output: one row, one column per check named "<field index>:<rule>" (or "row:issue" for
-- the structural note stage_csv/stage_relation leave in "pp#issue"), holding the rowid
-- of the first row that breaks it (NULL when none does). Messages live in importer.py.
-- Rule "chars": '|' or a control character in a pipe-free field, a control character in
-- a list field.
-- vars: fields (schemas.Field), id_fields, pipe_free (names), timestamp_fields (names),
--       id_max, text_max
{% from "datasets/_expressions.sql" import present, staged %}
{% set int_re = "'[+-]?[0-9]{1,18}'" %}
{% set num_re = "'[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?'" %}
{# C0 controls and DEL: in an id, event type or category they are invisible and almost
   always an export slip; textual and plain string fields keep them (tabs, line breaks).
   One pattern finds both '|' and controls in a pipe-free field (a second pass costs as
   much again); importer.py tells them apart on the one offending value. #}
{% set control_re = "'[\\x00-\\x1F\\x7F]'" %}
{% set pipe_control_re = "'[\\x00-\\x1F\\x7F|]'" %}
SELECT
    count(*) AS "rows"
  , min(rowid) FILTER (WHERE "pp#issue" IS NOT NULL) AS "row:issue"
{% for f in fields %}
{% set col = staged(loop.index0) %}
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
  , min(rowid) FILTER (WHERE regexp_matches({{ col }}, {{ pipe_control_re }})) AS "{{ i }}:chars"
{% elif f.is_list %}
  , min(rowid) FILTER (WHERE regexp_matches({{ col }}, {{ control_re }})) AS "{{ i }}:chars"
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
{# 'nan', 'inf' and 'Infinity' fail the pattern; 1e999 matches it but overflows to inf #}
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
