-- Stage rows from a typed source (Parquet, JSON lines, a DataFrame, a table or query),
-- spelling each value as Personalize's CSV would.
-- vars: relation (a reader call on $path, or a registered view), columns ({name, src_type})
-- params: $src, and $path for file readers
{% from "datasets/_expressions.sql" import as_text %}
INSERT INTO pp_stage
SELECT $src,
{% for c in columns %}
    {{ as_text(c.name|ident, c.src_type) }} AS {{ c.name|ident }}{{ "," if not loop.last }}
{% endfor %}
FROM {{ relation }}
