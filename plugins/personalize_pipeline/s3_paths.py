"""Where each run's files live in S3: deterministic per run, so a rerun overwrites its own files."""

from __future__ import annotations

import re


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key address: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def run_folder(bucket: str, prefix: str, dag_id: str, run_id: str) -> str:
    """``s3://bucket/prefix/dag_id/run_id/`` with the run id made key-safe."""
    safe_run = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)
    prefix = prefix.strip("/")
    return f"s3://{bucket}/{prefix + '/' if prefix else ''}{dag_id}/{safe_run}/"
