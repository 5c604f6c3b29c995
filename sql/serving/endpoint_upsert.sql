-- Point a campaign or recommender at a solution version (insert or replace its row).
-- params: $name $arn $kind $version $group $serving $requires_user $requires_item $exclude $recipe
DELETE FROM pypersonalize.endpoints WHERE arn = $arn;
INSERT INTO pypersonalize.endpoints (name, arn, kind, version_arn, dataset_group, serving, requires_user,
                                     requires_item, exclude_event_type, recipe)
VALUES ($name, $arn, $kind, $version, $group, $serving, $requires_user, $requires_item, $exclude, $recipe);
