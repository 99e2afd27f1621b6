"""S3 objects survive a SIGKILLed endpoint, as the Personalize state does."""

from __future__ import annotations

import os
import signal

import boto3
import psutil

from local_aws.s3_store import key_path, path_key
from local_aws.testing import DUMMY_CREDENTIALS, running_endpoint

OBJECTS = {
    "exports/interactions/2026-01/part-0001.csv": b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1767225600\n",
    "exports/items/snapshot.csv": b"ITEM_ID\ni1\n",
    "odd keys/a": b"a file and a folder of the same name",
    "odd keys/a/b": b"inside",
    "odd keys/../dots and %": b"escaped",
    "folder-marker/": b"",
}


def _endpoint_process(data_dir) -> psutil.Process:
    for child in psutil.Process().children(recursive=True):
        if str(data_dir) in child.cmdline():
            return child
    raise AssertionError("no endpoint process found")


def _listing(s3, bucket: str) -> dict[str, int]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def test_objects_survive_sigkill_and_restart(tmp_path):
    big = os.urandom(6 * 1024 * 1024)  # a multipart upload: two parts
    with running_endpoint(tmp_path) as url:
        s3 = boto3.client("s3", endpoint_url=url, **DUMMY_CREDENTIALS)
        s3.create_bucket(Bucket="kept")
        s3.create_bucket(Bucket="empty-but-kept")
        s3.create_bucket(Bucket="dropped")
        for key, body in OBJECTS.items():
            s3.put_object(Bucket="kept", Key=key, Body=body)
        s3.put_object(Bucket="kept", Key="overwritten", Body=b"old")
        s3.put_object(Bucket="kept", Key="overwritten", Body=b"new")
        s3.put_object(Bucket="kept", Key="deleted", Body=b"gone")
        s3.delete_object(Bucket="kept", Key="deleted")
        s3.copy_object(Bucket="kept", Key="copied", CopySource={"Bucket": "kept", "Key": "overwritten"})
        upload = s3.create_multipart_upload(Bucket="kept", Key="multipart.bin")["UploadId"]
        parts = [
            {
                "PartNumber": n,
                "ETag": s3.upload_part(
                    Bucket="kept", Key="multipart.bin", UploadId=upload, PartNumber=n, Body=chunk
                )["ETag"],
            }
            for n, chunk in enumerate((big[: 5 * 1024 * 1024], big[5 * 1024 * 1024 :]), start=1)
        ]
        s3.complete_multipart_upload(
            Bucket="kept", Key="multipart.bin", UploadId=upload, MultipartUpload={"Parts": parts}
        )
        s3.delete_objects(Bucket="kept", Delete={"Objects": [{"Key": "folder-marker/"}]})
        s3.delete_bucket(Bucket="dropped")
        before = _listing(s3, "kept")
        _endpoint_process(tmp_path).send_signal(signal.SIGKILL)  # no shutdown code runs

    with running_endpoint(tmp_path) as url:
        s3 = boto3.client("s3", endpoint_url=url, **DUMMY_CREDENTIALS)
        assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == ["empty-but-kept", "kept"]
        assert _listing(s3, "kept") == before
        expected = {**OBJECTS, "overwritten": b"new", "copied": b"new", "multipart.bin": big}
        del expected["folder-marker/"]
        assert set(before) == set(expected)
        for key, body in expected.items():
            assert s3.get_object(Bucket="kept", Key=key)["Body"].read() == body, key


def test_key_paths_round_trip_and_never_collide():
    keys = ["a", "a/b", "a/", "a//b", "../x", "./y", "%00/z", "100%", "q r/файл.csv"]
    paths = [key_path(k) for k in keys]
    assert [path_key(p) for p in paths] == keys
    assert len(set(paths)) == len(keys)
    assert all(".." not in p.parts and "." not in p.parts for p in paths)
