"""Upload a stream of blocks to one S3 object while they are produced."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from personalize_pipeline.streams import Channel, Worker

log = logging.getLogger(__name__)

PART_BYTES = 8 << 20  # S3 parts must be 5 MiB or more (all but the last); also the unit handed on
QUEUED_BLOCKS = 2  # how far the producer may run ahead of the upload


class MultipartUpload(Worker):
    """Upload blocks to one S3 object while they are produced, on a thread of its own.

    Every block of ``part_bytes`` or more is sent as soon as it arrives, as the next part of a
    multipart upload; a shorter block must be the last. A file that fits in one short block
    (small datasets) is a single PUT. On failure or ``abort`` the multipart upload is aborted, so
    no half object appears and no orphan parts are billed. The client is made by ``connect`` on
    the upload's thread, so that setup overlaps with the query's first seconds.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        bucket: str,
        key: str,
        *,
        extra_args: dict[str, Any] | None = None,
        part_bytes: int = PART_BYTES,
        maxsize: int = QUEUED_BLOCKS,
    ) -> None:
        super().__init__(self._upload, name=f"upload s3://{bucket}/{key}")
        self._connect, self._bucket, self._key = connect, bucket, key
        self._client: Any = None
        self._extra_args = extra_args or {}
        self._part_bytes = part_bytes
        self._blocks = Channel(maxsize)
        self._aborted = False
        self.parts = 0

    def put(self, block: bytes) -> None:
        """Queue a block (waiting while the queue is full); raises the upload's error, if any."""
        if not self._blocks.put(block):  # the upload stopped taking blocks: it failed
            self.result()
            raise RuntimeError(f"the upload of s3://{self._bucket}/{self._key} has ended")

    def finish(self) -> None:
        """Complete the object and wait; raises the upload's error, if any."""
        self._blocks.close()
        self.result()

    def abort(self) -> None:
        """Drop the upload (the export failed) and wait."""
        self._aborted = True
        self._blocks.close()
        self.join()

    def _upload(self) -> None:
        upload_id: str | None = None
        etags: list[str] = []
        tail: bytes | None = None
        try:
            self._client = self._connect()
            for block in self._blocks:
                if tail is not None:
                    raise ValueError("only the last block may be shorter than a part")
                if len(block) < self._part_bytes:
                    tail = block
                    continue
                if upload_id is None:
                    upload_id = self._client.create_multipart_upload(
                        Bucket=self._bucket, Key=self._key, **self._extra_args
                    )["UploadId"]
                etags.append(self._upload_part(upload_id, len(etags) + 1, block))
            if self._aborted:
                return
            if upload_id is None:
                self._client.put_object(
                    Bucket=self._bucket, Key=self._key, Body=tail or b"", **self._extra_args
                )
                self.parts = 1
                return
            if tail:
                etags.append(self._upload_part(upload_id, len(etags) + 1, tail))
            self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]},
            )
            upload_id, self.parts = None, len(etags)
        except BaseException:
            self._blocks.stop()  # the producer's next put raises this error instead of waiting
            raise
        finally:
            if upload_id is not None:
                try:
                    self._client.abort_multipart_upload(
                        Bucket=self._bucket, Key=self._key, UploadId=upload_id
                    )
                except Exception:
                    log.warning("Could not abort the multipart upload of s3://%s/%s", self._bucket, self._key)

    def _upload_part(self, upload_id: str, number: int, body: bytes) -> str:
        return self._client.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=upload_id, PartNumber=number, Body=body
        )["ETag"]
