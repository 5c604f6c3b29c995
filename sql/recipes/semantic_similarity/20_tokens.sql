-- Semantic-Similarity step 2: the words of each item's text with their weighted counts.
-- A word is a run of letters and digits holding at least one letter, lower-cased ("1995"
-- is not a word, "mp3" is); a word of the title counts $title_weight times, one of the
-- description once.
-- Output: temp table pp_semantic_tokens(ord, token, weight)
-- params: $title_weight
CREATE OR REPLACE TEMP TABLE pp_semantic_tokens AS
WITH words AS (
    SELECT d.ord, w.token, $title_weight AS weight
    FROM pp_semantic_docs d, unnest(regexp_extract_all(lower(d.title), '[\pL\pN]+')) AS w(token)
    UNION ALL
    SELECT d.ord, w.token, 1.0
    FROM pp_semantic_docs d, unnest(regexp_extract_all(lower(d.body), '[\pL\pN]+')) AS w(token)
)
SELECT ord, token, CAST(sum(weight) AS DOUBLE) AS weight
FROM words
WHERE regexp_matches(token, '\pL')
GROUP BY ord, token
