"""S3 access for jobs, through a real boto3 client on our own endpoint.

Going through HTTP (rather than moto's backend objects) keeps the service the
same whether S3 is the in-process moto or something else.
"""

from __future__ import annotations

import threading

import boto3
from botocore.config import Config

from .errors import JobFailure


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); raises ValueError when not an S3 URI."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri}")
    return bucket, key


class S3:
    def __init__(self, endpoint_url: str):
        self.endpoint_url = endpoint_url
        self._local = threading.local()

    @property
    def client(self):
        # boto3 clients are thread-safe once built, but building one is not; one per thread.
        client = getattr(self._local, "client", None)
        if client is None:
            client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"}),
            )
            self._local.client = client
        return client

    def keys_at(self, uri: str) -> list[tuple[str, str]]:
        """Objects at a file URI, or under a folder URI ending in '/' (sorted)."""
        bucket, key = split_uri(uri)
        try:
            if key and not key.endswith("/"):
                self.client.head_object(Bucket=bucket, Key=key)
                return [(bucket, key)]
            found = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=key):
                for obj in page.get("Contents", []):
                    if not obj["Key"].endswith("/") and obj["Size"] > 0:
                        found.append((bucket, obj["Key"]))
            return sorted(found)
        except self.client.exceptions.ClientError:
            return []

    def read(self, bucket: str, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.client.exceptions.ClientError as exc:
            raise JobFailure(f"Could not read s3://{bucket}/{key}: {exc}") from exc

    def write(self, uri: str, body: bytes) -> None:
        bucket, key = split_uri(uri)
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=body)
        except self.client.exceptions.ClientError as exc:
            raise JobFailure(f"Could not write {uri}: {exc}") from exc
