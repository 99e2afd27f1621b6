"""
Airflow pools that keep concurrent Personalize jobs within the service's quotas (per account and
region). Deferred tasks count against their pool, so a job waiting in the triggerer keeps its slot.

``python -m personalize_pipeline.pools`` creates or resizes them (run after ``airflow db migrate``).
"""

from __future__ import annotations

IMPORT_POOL = "personalize_import"
TRAINING_POOL = "personalize_training"
BATCH_INFERENCE_POOL = "personalize_batch_inference"
BATCH_SEGMENT_POOL = "personalize_batch_segment"

# Shared by every pipeline of the project: the quotas are per account and region.
POOLS: dict[str, tuple[int, str]] = {
    IMPORT_POOL: (5, "Personalize: dataset import jobs pending or in progress (quota 5)"),
    TRAINING_POOL: (20, "Personalize: solution versions in training (quota 20)"),
    BATCH_INFERENCE_POOL: (5, "Personalize: batch inference jobs (quota 5)"),
    BATCH_SEGMENT_POOL: (5, "Personalize: batch segment jobs (quota 5)"),
}


def pool_for(output_kind: str) -> str:
    """The pool of a batch job kind (``batch_inference`` or ``batch_segment``)."""
    return {"batch_inference": BATCH_INFERENCE_POOL, "batch_segment": BATCH_SEGMENT_POOL}[output_kind]


def create_pools() -> None:
    from airflow.models.pool import Pool

    for name, (slots, description) in POOLS.items():
        Pool.create_or_update_pool(name, slots, description, include_deferred=True)
        print(f"pool {name}: {slots} slots")


if __name__ == "__main__":
    create_pools()
