-- Change an object's status and configuration. params: $arn $status $config $now $failure
UPDATE pypersonalize.objects
SET status = $status, config = $config, updated_at = $now, failure_reason = $failure
WHERE arn = $arn
