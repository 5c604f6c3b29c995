-- Forget an object. params: $arn
DELETE FROM pypersonalize.objects WHERE arn = $arn
