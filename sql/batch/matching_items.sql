-- The items an Item-Attribute-Affinity query names: every condition ITEMS.<column> = value
-- holds (a categorical column holds the value among its values; numbers compare as numbers).
-- Output: (ITEM_ID)
-- vars: schema_name, conditions [{column, is_list, numeric, boolean}]
-- params: $v0, $v1, ... (each condition's value, as written)
SELECT ITEM_ID FROM {{ schema_name|ident }}.items
WHERE true
{% for c in conditions %}
{% if c.is_list %}
  AND list_contains({{ c.column|ident }}, $v{{ loop.index0 }})
{% elif c.numeric %}
  AND {{ c.column|ident }} = CAST($v{{ loop.index0 }} AS DOUBLE)
{% elif c.boolean %}
  AND {{ c.column|ident }} = (lower($v{{ loop.index0 }}) = 'true')
{% else %}
  AND {{ c.column|ident }} = $v{{ loop.index0 }}
{% endif %}
{% endfor %}
ORDER BY ITEM_ID
