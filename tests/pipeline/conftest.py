"""Fixtures shared by the cache tests."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def put(pipeline_env, aws_clients):
    """Write batch output files to a fresh S3 prefix; returns the folder's URI, as a job leaves it."""
    s3, bucket = aws_clients("s3"), pipeline_env["bucket"]
    prefix = f"cache-tests/{uuid.uuid4().hex[:8]}"

    def put_output(folder: str, files: dict[str, list[str]]) -> str:
        for name, lines in files.items():
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{folder}/{name}", Body="\n".join(lines).encode())
        return f"s3://{bucket}/{prefix}/{folder}/"

    return put_output
