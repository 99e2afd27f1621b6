"""Fixtures shared by the cache tests."""

from __future__ import annotations

import json
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


@pytest.fixture
def subscribed(pipeline_env, aws_clients):
    """A fresh topic with an SQS queue subscribed to it; returns the topic ARN and a reader of the queue."""
    sns, sqs = aws_clients("sns"), aws_clients("sqs")
    name = f"pipeline-notes-{uuid.uuid4().hex[:8]}"
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    def received() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    yield topic, received
    sns.delete_topic(TopicArn=topic)
    sqs.delete_queue(QueueUrl=queue_url)
