"""End-to-end timing at a realistic size: ``python -m local_aws.bench --users 180000 --items 4000``.

Starts its own endpoint, imports generated interactions, trains, runs a batch job
and prints the wall time of each stage (the figures quoted in the README).
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time

import boto3
import numpy as np

from .testing import DUMMY_CREDENTIALS, running_endpoint, wait_for

ROLE = "arn:aws:iam::123456789012:role/bench"
SCHEMA = json.dumps({"type": "record", "name": "Interactions", "fields": [
    {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"}]})


def generate(n_users: int, n_items: int, per_user: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    clusters = users % 20
    span = max(1, n_items // 20)
    items = (clusters * span + rng.zipf(1.5, size=len(users)) % span) % n_items
    stamps = 1_700_000_000 + rng.integers(0, 10**6, len(users))
    buf = io.StringIO()
    buf.write("USER_ID,ITEM_ID,TIMESTAMP\n")
    buf.writelines(f"user{u},item{i},{t}\n" for u, i, t in zip(users, items, stamps, strict=True))
    return buf.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=180_000)
    parser.add_argument("--items", type=int, default=4_000)
    parser.add_argument("--per-user", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_endpoint(tmp, step_seconds=0.1) as url:
        s3 = boto3.client("s3", endpoint_url=url, **DUMMY_CREDENTIALS)
        p = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        s3.create_bucket(Bucket="bench")
        body = generate(args.users, args.items, args.per_user)
        s3.put_object(Bucket="bench", Key="interactions.csv", Body=body)
        s3.put_object(Bucket="bench", Key="in/users.json", Body="".join(
            f'{{"userId": "user{u}"}}\n' for u in range(args.users)).encode())

        group = p.create_dataset_group(name="bench")["datasetGroupArn"]
        wait_for(lambda: p.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
        schema = p.create_schema(name="bench", schema=SCHEMA)["schemaArn"]
        dataset = p.create_dataset(name="bench", datasetGroupArn=group, schemaArn=schema,
                                   datasetType="INTERACTIONS")["datasetArn"]
        wait_for(lambda: p.describe_dataset(datasetArn=dataset)["dataset"])

        def timed(label, describe):
            start = time.monotonic()
            record, _ = wait_for(describe, timeout=1800, interval=0.2)
            print(f"{label}: {record['status']} in {time.monotonic() - start:.1f}s "
                  f"{record.get('failureReason', '')}", flush=True)
            return record

        job = p.create_dataset_import_job(jobName="bench", datasetArn=dataset, roleArn=ROLE,
                                          dataSource={"dataLocation": "s3://bench/interactions.csv"})
        timed("import", lambda: p.describe_dataset_import_job(
            datasetImportJobArn=job["datasetImportJobArn"])["datasetImportJob"])
        solution = p.create_solution(name="bench", datasetGroupArn=group,
                                     performAutoTraining=False)["solutionArn"]
        wait_for(lambda: p.describe_solution(solutionArn=solution)["solution"])
        version = p.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        timed("training (metrics + final model)", lambda: p.describe_solution_version(
            solutionVersionArn=version)["solutionVersion"])
        print("metrics:", p.get_solution_metrics(solutionVersionArn=version)["metrics"])
        batch = p.create_batch_inference_job(
            jobName="bench", solutionVersionArn=version, roleArn=ROLE, numResults=25,
            jobInput={"s3DataSource": {"path": "s3://bench/in/users.json"}},
            jobOutput={"s3DataDestination": {"path": "s3://bench/out/"}})["batchInferenceJobArn"]
        timed("batch inference", lambda: p.describe_batch_inference_job(
            batchInferenceJobArn=batch)["batchInferenceJob"])


if __name__ == "__main__":
    main()
