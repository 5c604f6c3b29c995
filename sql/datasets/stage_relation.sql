-- Stage rows from a typed source (Parquet, JSON, a DataFrame, a table or query),
-- spelling each value as Personalize's CSV would. Source columns are renamed by position
-- ("c#0" ...), so a source column named like anything DuckDB knows (rowid) stays data.
-- A list value is written a|b|c; an element that itself holds '|' would come back as two
-- values, so such a row is marked in "pp#issue" for validate.sql to refuse.
-- vars: relation (a reader call on $path, a registered view, a table or a wrapped query),
--       width (the source's column count), columns (one per schema field, in schema
--       order: {index, position in the source, src_type, is_list})
-- params: $src, and $path for file readers
{% from "datasets/_expressions.sql" import as_text, staged %}
{% set lists = columns|selectattr("is_list")|list %}
INSERT INTO pp_stage
SELECT $src,
{% if lists %}
       CASE
{% for c in lists %}
         WHEN contains(array_to_string("c#{{ c.position }}", ''), '|') THEN 'listpipe:{{ c.index }}'
{% endfor %}
       END,
{% else %}
       NULL,
{% endif %}
{% for c in columns %}
    {{ as_text('"c#' ~ c.position ~ '"', c.src_type) }} AS {{ staged(c.index) }}{{ "," if not loop.last }}
{% endfor %}
FROM (SELECT * FROM {{ relation }}) AS "pp#rel"({% for j in range(width) %}"c#{{ j }}"{{ ", " if not loop.last }}{% endfor %})
