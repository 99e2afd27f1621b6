"""The recipe catalogue (global ARNs); which ones the local service can actually train."""

from __future__ import annotations

from .training import TRAINABLE_RECIPES

RECIPE_PREFIX = "arn:aws:personalize:::recipe/"
_CREATED = 1546300800.0  # a fixed date: recipes are AWS-owned and predate every resource

RECIPES = {
    "aws-user-personalization": ("USER_PERSONALIZATION", "Personalized recommendations with exploration."),
    "aws-user-personalization-v2": ("USER_PERSONALIZATION", "Personalized recommendations, up to 5M items."),
    "aws-personalized-ranking": ("PERSONALIZED_RANKING", "Reranks an input list of items for a user."),
    "aws-personalized-ranking-v2": ("PERSONALIZED_RANKING", "Reranks an input list, up to 5M items."),
    "aws-similar-items": ("RELATED_ITEMS", "Items similar to a given item, using item metadata."),
    "aws-sims": ("RELATED_ITEMS", "Items that co-occur with a given item."),
    "aws-popularity-count": ("USER_PERSONALIZATION", "The most popular items, the same for every user."),
    "aws-trending-now": ("USER_PERSONALIZATION", "Items gaining popularity fastest."),
    "aws-item-affinity": ("USER_SEGMENTATION", "Users most likely to engage with an item."),
    "aws-item-attribute-affinity": ("USER_SEGMENTATION", "Users most likely to engage with an attribute."),
}


def recipe_name(arn: str) -> str | None:
    if arn.startswith(RECIPE_PREFIX) and arn[len(RECIPE_PREFIX):] in RECIPES:
        return arn[len(RECIPE_PREFIX):]
    return None


def describe(name: str) -> dict:
    recipe_type, description = RECIPES[name]
    local = "" if name in TRAINABLE_RECIPES else " (not trainable by the local service)"
    return {
        "name": name,
        "recipeArn": RECIPE_PREFIX + name,
        "algorithmArn": f"arn:aws:personalize:::algorithm/{name}",
        "featureTransformationArn": "arn:aws:personalize:::feature-transformation/JSON-percentile-filtering",
        "status": "ACTIVE",
        "description": description + local,
        "recipeType": recipe_type,
        "creationDateTime": _CREATED,
        "lastUpdatedDateTime": _CREATED,
    }


def summary(name: str) -> dict:
    full = describe(name)
    return {k: full[k] for k in ("name", "recipeArn", "status", "creationDateTime", "lastUpdatedDateTime")}
