-- Item metadata in recommendations (Personalize's metadataColumns): the requested Items
-- columns of every item (the engine keeps them per data stamp), as text (CAST ... AS VARCHAR: numbers as DuckDB prints
-- them, booleans true/false, multi-valued categorical fields as imported, "A|B"; NULL stays
-- NULL and is left out of the item's map by the caller).
-- output: (item_id, one VARCHAR column per requested column, in the order asked)
-- vars: schema_name (the dataset group's schema), columns (Items column names, validated),
--       lists (those of them that are lists: multi-valued categorical fields, joined by '|')
-- params: none
SELECT i."ITEM_ID" AS "pp#item"
{% for c in columns %}
{% if c in lists %}
     , array_to_string(i.{{ c | ident }}, '|')
{% else %}
     , CAST(i.{{ c | ident }} AS VARCHAR)
{% endif %}
{% endfor %}
FROM {{ schema_name | ident }}.items i
