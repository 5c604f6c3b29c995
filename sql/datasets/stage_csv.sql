-- Stage one Personalize CSV file. Values stay text. The header was checked in Python, so
-- the reader names columns by position ("c#0" is the file's first column) and never by
-- the file's own names.
-- DuckDB drops empty values past the last column without a word ("a,b,c,," reads as
-- three values) unless it pads short rows; so it pads, into one spare column "c#extra",
-- and a row whose count is wrong is marked in "pp#issue" for validate.sql to report.
-- Empty values read as '' ($missing is a null string no file holds), so padding is the
-- only NULL and a short row shows as a NULL last column; staged, an empty value is NULL
-- again (the checks skip NULLs cheaply).
-- params: $path, $columns ("c#0".. and "c#extra" -> VARCHAR), $src, $missing, $parallel
--         (false when the file may hold a quoted line break: DuckDB's parallel reader
--         cannot pad across one)
-- vars: positions (for each schema field, its column in the file), width (header columns)
{% from "datasets/_expressions.sql" import staged %}
INSERT INTO pp_stage
SELECT $src,
       CASE WHEN "c#extra" IS NOT NULL THEN 'values:{{ width + 1 }}'
            WHEN "c#{{ width - 1 }}" IS NULL
            THEN 'values:' || ({% for j in range(width) %}("c#{{ j }}" IS NOT NULL)::INTEGER{{ " + " if not loop.last }}{% endfor %})
       END,
{% for j in positions %}
    NULLIF("c#{{ j }}", '') AS {{ staged(loop.index0) }}{{ "," if not loop.last }}
{% endfor %}
FROM read_csv($path, header = true, delim = ',', quote = '"', escape = '"',
              strict_mode = true, null_padding = true, nullstr = $missing,
              parallel = $parallel, auto_detect = false, columns = $columns)
