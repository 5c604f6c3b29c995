-- Record a new object. params: $arn $kind $name $dg $parent $status $now $config $failure
INSERT INTO pypersonalize.objects
VALUES ($arn, $kind, $name, $dg, $parent, $status, $now, $now, $config, $failure)
