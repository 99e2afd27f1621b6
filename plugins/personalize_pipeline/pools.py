"""
Airflow pools that keep concurrent Personalize jobs within the service's quotas (per account and
region). Deferred tasks count against their pool, so a job waiting in the triggerer keeps its slot.

``python -m personalize_pipeline.pools`` creates or resizes them (run after ``airflow db migrate``).
"""

from __future__ import annotations

POOLS: dict[str, tuple[int, str]] = {
    "personalize_import": (5, "Personalize: dataset import jobs pending or in progress (quota 5)"),
    "personalize_training": (20, "Personalize: solution versions in training (quota 20)"),
    "personalize_batch_inference": (5, "Personalize: batch inference jobs (quota 5)"),
    "personalize_batch_segment": (5, "Personalize: batch segment jobs (quota 5)"),
}


def create_pools() -> None:
    from airflow.models.pool import Pool

    for name, (slots, description) in POOLS.items():
        Pool.create_or_update_pool(name, slots, description, include_deferred=True)
        print(f"pool {name}: {slots} slots")


if __name__ == "__main__":
    create_pools()
