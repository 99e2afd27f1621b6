"""The AWS CLI against the endpoint, as subprocesses: what a person at a shell would do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import INTERACTIONS_SCHEMA

AWS = str(Path(sys.executable).with_name("aws"))


def cli(endpoint, *args):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    return subprocess.run(
        [AWS, "personalize", *args, "--endpoint-url", endpoint, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_lifecycle_with_the_aws_cli(endpoint):
    created = cli(endpoint, "create-dataset-group", "--name", "cli-group")
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["datasetGroupArn"]
    deadline = time.monotonic() + 30
    while True:
        described = cli(endpoint, "describe-dataset-group", "--dataset-group-arn", arn)
        status = json.loads(described.stdout)["datasetGroup"]["status"]
        if status == "ACTIVE" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == "ACTIVE"
    schema = cli(endpoint, "create-schema", "--name", "cli-schema", "--schema", INTERACTIONS_SCHEMA)
    assert schema.returncode == 0 and json.loads(schema.stdout)["schemaArn"].endswith(":schema/cli-schema")
    listed = cli(endpoint, "list-dataset-groups")
    assert arn in [g["datasetGroupArn"] for g in json.loads(listed.stdout)["datasetGroups"]]
    missing = cli(endpoint, "describe-dataset-group", "--dataset-group-arn", arn + "-nope")
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
