-- The staging table of one import job: every field as VARCHAR, plus the index of the
-- source file each row came from. Rows keep their source order, so rowid gives row numbers.
-- vars: fields (schemas.Field)
CREATE OR REPLACE TEMP TABLE pp_stage (
    pp_src INTEGER,
{% for f in fields %}
    {{ f.name|ident }} VARCHAR{{ "," if not loop.last }}
{% endfor %}
)
