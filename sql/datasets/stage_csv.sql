-- Stage one Personalize CSV file. Values stay text; the header names the columns.
-- params: $path, $columns (header name -> VARCHAR), $src
-- vars: fields (schemas.Field)
INSERT INTO pp_stage
SELECT $src,
{% for f in fields %}
    {{ f.name|ident }}{{ "," if not loop.last }}
{% endfor %}
FROM read_csv($path, header = true, delim = ',', quote = '"', escape = '"',
              strict_mode = true, null_padding = false, auto_detect = false,
              columns = $columns)
