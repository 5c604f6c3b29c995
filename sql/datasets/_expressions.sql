-- Expression macros shared by the import templates (imported, never run alone).
--   staged(i):              the pp_stage column of field number i ("f#0", "f#1", ...)
--   as_text(col, src_type): any source column -> VARCHAR the way a Personalize CSV spells it
--   typed(col, field):      staged VARCHAR -> the dataset column's DuckDB type
--   present(col):           the staged value, '' read as NULL (Personalize: empty = null)
-- Staged and source columns carry '#' in their names: a Personalize field name is
-- [A-Za-z_][A-Za-z0-9_]*, so no field (rowid, pp_src, ...) can shadow or collide with them.

{% macro staged(i) -%}
"f#{{ i }}"
{%- endmacro %}

{% macro present(col) -%}
NULLIF({{ col }}, '')
{%- endmacro %}

{% macro as_text(col, src_type) -%}
{% if src_type in ('FLOAT', 'DOUBLE') -%}
{# NaN and ±inf stay visible as 'nan'/'inf' so that validation refuses them; a pandas
   float NaN never gets here, DuckDB reads it as NULL (pandas' missing value). #}
CASE WHEN {{ col }} IS NULL THEN NULL
     WHEN NOT isfinite({{ col }}) THEN CAST({{ col }} AS VARCHAR)
     WHEN {{ col }} = trunc({{ col }}) AND abs({{ col }}) < 1e15 THEN CAST(CAST({{ col }} AS BIGINT) AS VARCHAR)
     ELSE CAST({{ col }} AS VARCHAR) END
{%- elif src_type.startswith('DECIMAL') -%}
CASE WHEN {{ col }} = trunc({{ col }}) THEN CAST(CAST({{ col }} AS HUGEINT) AS VARCHAR) ELSE CAST({{ col }} AS VARCHAR) END
{%- elif src_type.startswith('TIMESTAMP') or src_type == 'DATE' -%}
CAST(CAST(floor(epoch({{ col }})) AS BIGINT) AS VARCHAR)
{%- elif src_type.endswith('[]') -%}
array_to_string({{ col }}, '|')
{%- else -%}
CAST({{ col }} AS VARCHAR)
{%- endif %}
{%- endmacro %}

{% macro typed(col, field) -%}
{% if field.is_list -%}
CASE WHEN {{ present(col) }} IS NULL THEN NULL ELSE string_split({{ col }}, '|') END
{%- elif field.type == 'string' and field.textual -%}
left({{ present(col) }}, {{ textual_max }})
{%- elif field.type == 'string' -%}
{{ present(col) }}
{%- elif field.type == 'boolean' -%}
CASE {{ col }} WHEN 'true' THEN true WHEN 'false' THEN false END
{%- else -%}
CAST(NULLIF(trim({{ col }}), '') AS {{ field.sql_type }})
{%- endif %}
{%- endmacro %}
