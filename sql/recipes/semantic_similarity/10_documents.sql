-- Semantic-Similarity step 1: every item of the Items dataset with its title (the itemName
-- field), its description (the textual fields, joined by a space; NULLs skipped) and its
-- CREATION_TIMESTAMP (NULL when the schema has none), numbered in item-id order.
-- Output: temp table pp_semantic_docs(ord, item, title, body, created)
-- vars: schema_name, title (field name), textual (field names), has_created (bool)
CREATE OR REPLACE TEMP TABLE pp_semantic_docs AS
SELECT CAST(row_number() OVER (ORDER BY ITEM_ID) - 1 AS BIGINT) AS ord,
       ITEM_ID AS item,
       coalesce({{ title|ident }}, '') AS title,
       concat_ws(' '{% for f in textual %}, {{ f|ident }}{% endfor %}) AS body,
       {% if has_created %}CAST(CREATION_TIMESTAMP AS BIGINT){% else %}CAST(NULL AS BIGINT){% endif %} AS created
FROM {{ schema_name|ident }}.items
