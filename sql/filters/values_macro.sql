-- pp_filter_values(filter_values, key) -> VARCHAR[]: one request value of a filter, read
-- as Python's filters.parse_filter_values reads it: '"a","b"' with \-escapes, or one bare
-- value; anything else is an error. Created before the per-filter macros that call it.
-- vars: none
CREATE OR REPLACE MACRO pp_filter_values(filter_values, key) AS
    CASE WHEN filter_values[key] IS NULL THEN NULL
         WHEN NOT contains(filter_values[key], '"')
         THEN CASE WHEN trim(filter_values[key], E' \t\n\r') = '' THEN []
                   ELSE [trim(filter_values[key], E' \t\n\r')] END
         WHEN regexp_full_match(trim(filter_values[key], E' \t\n\r'),
                                '"(?:[^"\\]|\\.)*"(?:[ \t]*,[ \t]*"(?:[^"\\]|\\.)*")*')
         THEN list_transform(regexp_extract_all(filter_values[key], '"((?:[^"\\]|\\.)*)"', 1),
                             lambda v: regexp_replace(v, '\\(.)', '\1', 'g'))
         ELSE error('pp_filter_values: value ' || key || ' must look like "a","b"') END;
