"""Which keys of Personalize's config objects we accept, and which we refuse for now.

Accepted means done: a key listed as ``SUPPORTED`` changes what happens; a key of
Personalize's that is not built yet is refused with "not supported yet" rather than stored
and ignored; any other key is a typo and refused as unknown.
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidInput

SUPPORTED = "supported"
LATER = "not supported yet"

# Personalize's SolutionConfig (CreateSolution).
SOLUTION_CONFIG = {
    "algorithmHyperParameters": SUPPORTED, "featureTransformationParameters": SUPPORTED,
    "eventValueThreshold": SUPPORTED, "autoTrainingConfig": SUPPORTED,
    "hpoConfig": SUPPORTED, "autoMLConfig": SUPPORTED, "eventsConfig": SUPPORTED,
    "optimizationObjective": SUPPORTED, "trainingDataConfig": SUPPORTED,
}
AUTO_TRAINING_CONFIG = {"schedulingExpression": SUPPORTED}
# Personalize's SolutionUpdateConfig (UpdateSolution).
SOLUTION_UPDATE_CONFIG = {"autoTrainingConfig": SUPPORTED, "eventsConfig": SUPPORTED}
# Personalize's CampaignConfig (CreateCampaign / UpdateCampaign).
CAMPAIGN_CONFIG = {
    "itemExplorationConfig": SUPPORTED, "enableMetadataWithRecommendations": SUPPORTED,
    "syncWithLatestSolutionVersion": SUPPORTED, "rankingInfluence": SUPPORTED,
}
# Personalize's RecommenderConfig (CreateRecommender); retrainingIntervalDays is ours.
RECOMMENDER_CONFIG = {
    "itemExplorationConfig": SUPPORTED, "minRecommendationRequestsPerSecond": SUPPORTED,
    "retrainingIntervalDays": SUPPORTED, "trainingDataConfig": SUPPORTED,
    "enableMetadataWithRecommendations": SUPPORTED,
}


def check_keys(config: Any, allowed: dict[str, str], what: str) -> dict:
    """``config`` as a dict whose keys are all supported; refuse the others, naming them.

    >>> check_keys({"hpoConfg": {}}, AUTO_TRAINING_CONFIG, "autoTrainingConfig")
    Traceback (most recent call last):
    ...
    pypersonalize.errors.InvalidInput: autoTrainingConfig has no key 'hpoConfg'; known: schedulingExpression
    """
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise InvalidInput(f"{what} must be an object (a dict), got {type(config).__name__}")
    for key in config:
        state = allowed.get(key)
        if state == LATER:
            raise InvalidInput(f"{what}.{key} is not supported yet")
        if state is None:
            raise InvalidInput(f"{what} has no key {key!r}; known: {', '.join(allowed)}")
    return dict(config)
