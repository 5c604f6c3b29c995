-- Create one dataset table, typed from its Personalize schema.
-- vars: schema_name (the dataset group), table, fields (schemas.Field: name, sql_type)
CREATE TABLE {{ schema_name|ident }}.{{ table|ident }} (
{% for f in fields %}
    {{ f.name|ident }} {{ f.sql_type }}{{ "," if not loop.last }}
{% endfor %}
)
