-- Item metadata as weighted tokens (User-Personalization's cold items and exploration,
-- Similar-Items' metadata similarity): every categorical value ("GENRES=comedy"), every
-- word of three or more letters of a textual field ("DESCRIPTION~robot") and, for
-- numerical fields, the item's decile of the field ("PRICE#3", deciles of the items that
-- have a value), weighted by inverse document frequency and scaled to unit length per
-- item, so that a dot product of two items is their cosine similarity.
-- vars: schema_name, categorical, textual, numerical (field names); params: $version
-- Fields are qualified ("pp#i".f) inside unnest: there DuckDB binds a bare "user" to current_user.
INSERT INTO pypersonalize.item_tokens
WITH raw AS (
{% for f in categorical %}
    SELECT ITEM_ID AS item, {{ (f ~ "=")|literal }} || lower(trim("pp#v")) AS token
    FROM {{ schema_name|ident }}.items AS "pp#i", unnest("pp#i".{{ f|ident }}) AS "pp#t"("pp#v")
    WHERE "pp#v" IS NOT NULL AND trim("pp#v") <> ''
    UNION ALL
{% endfor %}
{% for f in textual %}
    SELECT ITEM_ID, {{ (f ~ "~")|literal }} || "pp#w"
    FROM {{ schema_name|ident }}.items AS "pp#i",
         unnest(regexp_extract_all(lower("pp#i".{{ f|ident }}), '[a-z0-9]{3,}')) AS "pp#t"("pp#w")
    UNION ALL
{% endfor %}
{% for f in numerical %}
    SELECT ITEM_ID, {{ (f ~ "#")|literal }} || CAST(ntile(10) OVER (ORDER BY {{ f|ident }}, ITEM_ID) AS VARCHAR)
    FROM {{ schema_name|ident }}.items WHERE {{ f|ident }} IS NOT NULL AND isfinite(CAST({{ f|ident }} AS DOUBLE))
    UNION ALL
{% endfor %}
    SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR) WHERE false
), tokens AS (
    SELECT DISTINCT item, token FROM raw
), idf AS (
    SELECT token, ln((SELECT count(DISTINCT item) FROM tokens) / count(*)) + 1 AS idf
    FROM tokens GROUP BY token
), weighted AS (
    SELECT t.item, t.token, i.idf AS w FROM tokens t JOIN idf i USING (token)
)
SELECT $version, item, token, w / sqrt(sum(w * w) OVER (PARTITION BY item))
FROM weighted
