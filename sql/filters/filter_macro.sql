-- One stored filter as a scalar SQL macro: <macro>(candidate, user, item, values) -> boolean.
-- The candidate is an item id (a user id for a UserID filter), user/item are the request's,
-- values the request's filter values as a MAP(VARCHAR, VARCHAR) in Personalize's quoting.
-- vars: macro (its name), params (the four parameter names, spelled so that no schema field
--       can share them), predicate (filters.compile_filter_macro)
CREATE OR REPLACE MACRO {{ macro|ident }}({{ params|join(", ") }}) AS (
{{ predicate }}
)
