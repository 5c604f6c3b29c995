-- Point a campaign or recommender at a solution version (insert or replace its row).
-- params: $name $arn $kind $version $group $serving $requires_user $requires_item $exclude
DELETE FROM pypersonalize.endpoints WHERE arn = $arn;
INSERT INTO pypersonalize.endpoints
VALUES ($name, $arn, $kind, $version, $group, $serving, $requires_user, $requires_item, $exclude);
