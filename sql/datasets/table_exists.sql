-- Whether a table or view of this name exists (temp, attached databases included), as
-- DuckDB would resolve name, scope.name or catalog.scope.name: case-insensitively, and a
-- two-part name's scope being a schema or a database.
-- Output: one row (count).
-- params: $table, $scope (NULL for a bare name), $catalog (NULL unless three parts)
SELECT count(*)
FROM information_schema.tables
WHERE lower(table_name) = lower($table)
  AND ($scope IS NULL OR lower(table_schema) = lower($scope)
       OR ($catalog IS NULL AND lower(table_catalog) = lower($scope)))
  AND ($catalog IS NULL OR lower(table_catalog) = lower($catalog))
