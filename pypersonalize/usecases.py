"""Domain recommenders: Personalize's use cases, each a recipe in a fixed configuration.

Sources: the VIDEO_ON_DEMAND and ECOMMERCE use-case pages (see ../shared/PERSONALIZE.md §2).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidInput


@dataclass(frozen=True)
class UseCase:
    name: str                  # Personalize's recipe id, e.g. aws-vod-most-popular
    title: str                 # the name in the console, e.g. "Most popular"
    domain: str
    recipe: str                # the pypersonalize recipe that serves it
    event_type: str | None     # events it trains on
    requires_user: bool
    requires_item: bool
    exclude_event_type: str | None = None   # the user's items of this type are left out
    session_gap: int | None = None          # baskets are sessions (seconds of gap)
    hyperparameters: tuple = ()             # (name, value) overrides of the recipe's defaults
    datasets: tuple = ("Interactions",)     # the dataset types it needs (Personalize's use-case page)

    @property
    def arn(self) -> str:
        return f"arn:aws:personalize:::recipe/{self.name}"

    def check_datasets(self, group: str, present) -> None:
        """Refuse a dataset group that lacks one of the datasets the use case needs."""
        missing = [d for d in self.datasets if d not in present]
        if missing:
            raise InvalidInput(f"use case {self.title!r} needs the {' and '.join(missing)} dataset"
                               f"{'s' if len(missing) > 1 else ''} in dataset group {group!r}")


# Frequently bought together: bulk data has no order id, so a basket is one user's run
# of purchases with no gap longer than 30 minutes (the usual web-session cut). Purchase
# baskets are short and sparse, so no percentile cut-offs apply and two baskets suffice.
FBT_SESSION_GAP = 30 * 60
FBT_HYPERPARAMETERS = (("min_cointeraction_count", 2),
                       ("min_user_history_length_percentile", 0.0),
                       ("max_user_history_length_percentile", 1.0),
                       ("min_item_interaction_count_percentile", 0.0),
                       ("max_item_interaction_count_percentile", 1.0))

USE_CASES = {u.name: u for u in (
    # More like X: "similar videos" from content and behaviour, any event type; needs Items
    UseCase("aws-vod-more-like-x", "More like X", "VIDEO_ON_DEMAND", "aws-similar-items", None,
            requires_user=True, requires_item=True, exclude_event_type="Watch",
            datasets=("Interactions", "Items")),
    UseCase("aws-vod-most-popular", "Most popular", "VIDEO_ON_DEMAND", "aws-popularity-count",
            "Watch", requires_user=True, requires_item=False),
    UseCase("aws-vod-because-you-watched-x", "Because you watched X", "VIDEO_ON_DEMAND",
            "aws-sims", "Watch", requires_user=True, requires_item=True, exclude_event_type="Watch"),
    # Personalized use cases train on every event type (Personalize recommends Click + Watch,
    # View + Purchase) and explore new items (recommenderConfig.itemExplorationConfig).
    # re-evaluated from the current interactions on every request (Personalize: every 2 hours)
    UseCase("aws-vod-trending-now", "Trending now", "VIDEO_ON_DEMAND", "aws-trending-now", None,
            requires_user=False, requires_item=False),
    UseCase("aws-vod-top-picks", "Top picks for you", "VIDEO_ON_DEMAND", "aws-user-personalization",
            None, requires_user=True, requires_item=False, exclude_event_type="Watch"),
    UseCase("aws-ecomm-recommended-for-you", "Recommended for you", "ECOMMERCE",
            "aws-user-personalization", None, requires_user=True, requires_item=False,
            exclude_event_type="Purchase"),
    UseCase("aws-ecomm-popular-items-by-views", "Most viewed", "ECOMMERCE", "aws-popularity-count",
            "View", requires_user=True, requires_item=False),
    UseCase("aws-ecomm-popular-items-by-purchases", "Best sellers", "ECOMMERCE",
            "aws-popularity-count", "Purchase", requires_user=True, requires_item=False),
    UseCase("aws-ecomm-customers-who-viewed-x-also-viewed", "Customers who viewed X also viewed",
            "ECOMMERCE", "aws-sims", "View", requires_user=True, requires_item=True,
            exclude_event_type="Purchase"),
    UseCase("aws-ecomm-frequently-bought-together", "Frequently bought together", "ECOMMERCE",
            "aws-sims", "Purchase", requires_user=False, requires_item=True,
            session_gap=FBT_SESSION_GAP, hyperparameters=FBT_HYPERPARAMETERS),
)}


def get_use_case(ref: str) -> UseCase:
    """By recipe ARN, recipe id or console title (case-insensitive)."""
    key = ref.rsplit("/", 1)[-1] if isinstance(ref, str) and ref.startswith("arn:") else str(ref)
    for u in USE_CASES.values():
        if key == u.name or key.lower() == u.title.lower():
            return u
    raise InvalidInput(f"unknown or not yet supported use case {ref!r}; available: "
                       + ", ".join(f"{u.name} ({u.title})" for u in USE_CASES.values()))
