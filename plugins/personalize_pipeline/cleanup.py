"""
Retention for the pipeline's S3 files: export partitions and snapshots beyond the newest N, and
retraining runs' batch files older than N days. Solution versions are handled by the provider's
PersonalizeCleanupSolutionVersionsOperator (Personalize cannot delete a version).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from personalize_pipeline.config import PipelineConfig
from personalize_pipeline.s3_paths import (
    dataset_file,
    dataset_folder,
    report_file,
    runs_folder,
    split_s3_uri,
)

log = logging.getLogger(__name__)


def _delete(s3, bucket: str, keys: list[str], dry_run: bool) -> None:
    for key in keys:
        log.info("%s s3://%s/%s", "Would delete" if dry_run else "Deleting", bucket, key)
    if keys and not dry_run:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            s3.delete_objects(bucket=bucket, keys=keys[start : start + 1000])


def prune_exports(cfg: PipelineConfig, s3, *, dry_run: bool = False) -> dict[str, list[str]]:
    """Keep the newest ``retention.export_partitions`` files of each dataset, and their reports."""
    keep = cfg.retention.export_partitions
    removed: dict[str, list[str]] = {}
    for spec in cfg.dataset_specs():
        bucket, folder = split_s3_uri(dataset_folder(cfg.s3, spec.slug))
        labels = sorted(
            key[len(folder) : -len(".csv")]
            for key in s3.list_keys(bucket_name=bucket, prefix=folder) or []
            if key.endswith(".csv") and "/" not in key[len(folder) :]
        )
        stale = labels[:-keep] if len(labels) > keep else []
        keys = [
            split_s3_uri(uri)[1]
            for label in stale
            for uri in (dataset_file(cfg.s3, spec.slug, label), report_file(cfg.s3, spec.slug, label))
        ]
        _delete(s3, bucket, keys, dry_run)
        removed[spec.slug] = stale
    return removed


def prune_run_files(cfg: PipelineConfig, s3, *, now: datetime, dry_run: bool = False) -> int:
    """Delete retraining runs' batch inputs and outputs older than ``retention.run_files_days``."""
    bucket, prefix = split_s3_uri(runs_folder(cfg.s3))
    cutoff = (now - timedelta(days=cfg.retention.run_files_days)).timestamp()
    stale = [
        obj["Key"]
        for obj in s3.iter_file_metadata(prefix=prefix, bucket_name=bucket)
        if obj["LastModified"].timestamp() < cutoff
    ]
    _delete(s3, bucket, stale, dry_run)
    return len(stale)
