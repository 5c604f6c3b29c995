-- Objects of one kind, oldest first, optionally narrowed.
-- params: $kind, $arn, $name, $dg, $parent (NULL = any)
SELECT arn, kind, name, dataset_group_arn, parent_arn, status, created_at, updated_at,
       config, failure_reason
FROM pypersonalize.objects
WHERE kind = $kind
  AND ($arn IS NULL OR arn = $arn)
  AND ($name IS NULL OR name = $name)
  AND ($dg IS NULL OR dataset_group_arn = $dg)
  AND ($parent IS NULL OR parent_arn = $parent)
ORDER BY created_at, arn
