"""Where each run's files live in S3: deterministic per run, so a rerun overwrites its own files."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from personalize_pipeline.config import S3Config


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key address: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def partition_label(interval_start: datetime) -> str:
    """Names an export partition after the start of its data interval (UTC), e.g. ``2025-11-01T0000``."""
    return interval_start.astimezone(UTC).strftime("%Y-%m-%dT%H%M")


def dataset_file(s3: S3Config, slug: str, label: str) -> str:
    """One export of a dataset: an interactions partition, or an items/users snapshot."""
    return s3.uri("datasets", slug, f"{label}.csv")


def dataset_folder(s3: S3Config, slug: str) -> str:
    """Every export of a dataset; a FULL import of interactions reads the whole folder."""
    return s3.uri("datasets", f"{slug}/")


def report_file(s3: S3Config, slug: str, label: str) -> str:
    """The validation report of one export (kept outside the data folder, which holds only CSVs)."""
    return s3.uri("reports", slug, f"{label}.json")


def runs_folder(s3: S3Config) -> str:
    """Every retraining run's files (what cleanup ages out)."""
    return s3.uri("runs/")


def run_files(s3: S3Config, dag_id: str, run_id: str, *parts: str) -> str:
    """A retraining run's own files (batch input and output), rewritten on rerun."""
    safe_run = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)
    return s3.uri("runs", dag_id, safe_run, *parts)
