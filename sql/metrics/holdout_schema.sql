-- Offline metrics: a schema that looks like a dataset group's to a recipe's training, holding
-- only the interactions a metric's model may learn from. `interactions` is a copy (in arrival
-- order, so its rowid orders events as the group's does) of the group's rows whose rowid is in
-- the registered relation `"pp#train_rows"(seq)`; the other tables are views of the group's.
-- `input` holds, as interactions_all rows, the events the held-out users' histories keep
-- (`"pp#input_rows"(seq)`). Created inside a transaction that is rolled back afterwards.
-- vars: schema (the holdout schema), group (the dataset group's schema), others (the group's
--       other tables: items, users, user_ids, item_ids, as present)
CREATE SCHEMA {{ schema|ident }};

CREATE TABLE {{ schema|ident }}.interactions AS
SELECT i.* FROM {{ group|ident }}.interactions i
WHERE i.rowid IN (SELECT seq FROM "pp#train_rows")
ORDER BY i.rowid;

{% for table in others %}
CREATE VIEW {{ schema|ident }}.{{ table|ident }} AS SELECT * FROM {{ group|ident }}.{{ table|ident }};
{% endfor %}

CREATE TABLE {{ schema|ident }}.input AS
SELECT a.* FROM pypersonalize.interactions_all a
WHERE a.dataset_group = {{ group|literal }} AND a.seq IN (SELECT seq FROM "pp#input_rows");
