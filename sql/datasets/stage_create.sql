-- The staging table of one import job: every field as VARCHAR, by position ("f#0" is the
-- schema's first field), plus the index of the part (file) each row came from and a
-- note on a row whose problem its text cannot show. Rows keep their source order, so
-- rowid gives row numbers; no field can be named like these columns (see _expressions).
--   "pp#issue": 'values:<n>' (a CSV row holding n values, not one per field) or
--               'listpipe:<i>' (an element of a list value of field i contains '|'); NULL when fine
-- vars: fields (schemas.Field)
{% from "datasets/_expressions.sql" import staged %}
CREATE OR REPLACE TEMP TABLE pp_stage (
    "pp#src" INTEGER,
    "pp#issue" VARCHAR,
{% for f in fields %}
    {{ staged(loop.index0) }} VARCHAR{{ "," if not loop.last }}
{% endfor %}
)
