-- The DuckDB schema of one dataset group: its dataset tables are created later, the
-- id maps now. user_ids/item_ids give every id ever imported a dense integer (idx,
-- from 0) so that recipes work on integers.
-- vars: schema_name
CREATE SCHEMA {{ schema_name|ident }};
CREATE TABLE {{ schema_name|ident }}.user_ids (id VARCHAR NOT NULL, idx INTEGER NOT NULL);
CREATE TABLE {{ schema_name|ident }}.item_ids (id VARCHAR NOT NULL, idx INTEGER NOT NULL);
