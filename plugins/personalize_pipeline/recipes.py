"""
What the pipeline knows of each Personalize recipe, in one table.

Config validation, the DAG builder and the cache loader all read it: which batch job serves a
recipe type, whether its batch input lists customers or products, which cache layout holds its
output, and whether trainingMode UPDATE is allowed. Plain data only, so DAG files can import it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecipeType:
    """A recipe type (the developer guide's USER_PERSONALIZATION, RELATED_ITEMS, USER_SEGMENTATION)."""

    name: str
    output_kind: str  # the batch job that serves it: batch_inference or batch_segment
    per_user: bool  # batch input and cache are keyed by customer (True) or by product (False)
    batch_query: str  # include/sql/… listing the batch job's input keys
    # The cache view's columns: key, rank, value[, score]. The snapshot behind it holds one row
    # per key with its ranked values as an array.
    cache_columns: tuple[str, ...]
    output_lists: tuple[str, ...]  # batch output fields holding the ranked list (first present wins)
    snapshot_sql: str  # include/sql/… creating a snapshot table

    @property
    def scored(self) -> bool:
        return "score" in self.cache_columns

    @property
    def input_key(self) -> str:
        """The key of every batch input line (and of the output's ``input`` object)."""
        return "userId" if self.per_user else "itemId"

    @property
    def key_column(self) -> str:
        return self.cache_columns[0]

    @property
    def job_operator(self) -> str:
        """The provider operator that runs the batch job (by name: this module imports no Airflow)."""
        return {
            "batch_inference": "PersonalizeCreateBatchInferenceJobOperator",
            "batch_segment": "PersonalizeCreateBatchSegmentJobOperator",
        }[self.output_kind]

    @property
    def pool(self) -> str:
        from personalize_pipeline.pools import pool_for

        return pool_for(self.output_kind)


USER_PERSONALIZATION = RecipeType(
    "USER_PERSONALIZATION",
    output_kind="batch_inference",
    per_user=True,
    batch_query="extract/batch_users.sql",
    cache_columns=("user_id", "rank", "item_id", "score"),
    output_lists=("recommendedItems",),
    snapshot_sql="cache/user_recommendations_table.sql",
)
RELATED_ITEMS = RecipeType(
    "RELATED_ITEMS",
    output_kind="batch_inference",
    per_user=False,
    batch_query="extract/batch_items.sql",
    cache_columns=("item_id", "rank", "similar_item_id", "score"),
    output_lists=("recommendedItems",),
    snapshot_sql="cache/related_items_table.sql",
)
USER_SEGMENTATION = RecipeType(
    "USER_SEGMENTATION",
    output_kind="batch_segment",
    per_user=False,
    batch_query="extract/batch_items.sql",
    cache_columns=("item_id", "rank", "user_id"),
    # The developer guide and the service name the list recommendedUsers; usersList is accepted too.
    output_lists=("recommendedUsers", "usersList"),
    snapshot_sql="cache/user_segments_table.sql",
)
RECIPE_TYPES = {t.name: t for t in (USER_PERSONALIZATION, RELATED_ITEMS, USER_SEGMENTATION)}


@dataclass(frozen=True)
class Recipe:
    recipe_type: RecipeType
    supports_update: bool  # trainingMode UPDATE: the developer guide allows it for two recipes only


RECIPES: dict[str, Recipe] = {
    "aws-user-personalization": Recipe(USER_PERSONALIZATION, supports_update=True),
    "aws-user-personalization-v2": Recipe(USER_PERSONALIZATION, supports_update=False),
    "aws-popularity-count": Recipe(USER_PERSONALIZATION, supports_update=True),
    "aws-sims": Recipe(RELATED_ITEMS, supports_update=False),
    "aws-similar-items": Recipe(RELATED_ITEMS, supports_update=False),
    "aws-item-affinity": Recipe(USER_SEGMENTATION, supports_update=False),
}
