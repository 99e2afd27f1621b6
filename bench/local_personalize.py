"""Benchmark of the local Personalize service, from the repo root:

    python -m bench.local_personalize                 # the project's generator, demo size
    python -m bench.local_personalize --size store    # ~180k customers, ~2M interactions
    python -m bench.local_personalize --synthetic --users 180000 --items 4000

Starts its own endpoint, imports interactions (events as view/add_to_cart, order
lines as purchase, like include/sql/extract/interactions.sql), trains
user-personalization and popularity-count, prints both solutions' offline
metrics, the training and batch times (a batch line for every customer) and the
GetRecommendations latency over loopback.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time

import boto3
import numpy as np
import pandas as pd

from local_aws.testing import DUMMY_CREDENTIALS, running_endpoint, wait_for

ROLE = "arn:aws:iam::123456789012:role/bench"
RECIPE = "arn:aws:personalize:::recipe/"
SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Interactions",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
        ],
    }
)


def from_generator(size: str) -> tuple[pd.DataFrame, list[str]]:
    """(interactions, every customer id) from ``devenv.datagen``, mapped as the extract SQL does."""
    from devenv import datagen

    frames = datagen.generate(size)
    events = frames["events"]
    browsing = pd.DataFrame(
        {
            "USER_ID": events["customer_id"],
            "ITEM_ID": events["product_id"],
            "EVENT_TYPE": events["event_type"],
            "TIMESTAMP": events["occurred_at"].astype("int64") // 10**9,
        }
    )
    lines = frames["order_items"].merge(frames["orders"], on="order_id")
    purchases = pd.DataFrame(
        {
            "USER_ID": lines["customer_id"],
            "ITEM_ID": lines["product_id"],
            "EVENT_TYPE": "purchase",
            "TIMESTAMP": lines["ordered_at"].astype("int64") // 10**9,
        }
    )
    frame = pd.concat([browsing, purchases], ignore_index=True).sort_values("TIMESTAMP", kind="stable")
    return frame, frames["customers"]["customer_id"].astype(str).tolist()


def synthetic(n_users: int, n_items: int, per_user: int, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    span = max(1, n_items // 20)
    items = ((users % 20) * span + rng.zipf(1.5, size=len(users)) % span) % n_items
    frame = pd.DataFrame(
        {
            "USER_ID": np.char.add("user", users.astype(str)),
            "ITEM_ID": np.char.add("item", items.astype(str)),
            "EVENT_TYPE": "view",
            "TIMESTAMP": 1_700_000_000 + rng.integers(0, 10**6, len(users)),
        }
    )
    return frame, [f"user{u}" for u in range(n_users)]


def timed(label: str, describe) -> tuple[dict, float]:
    start = time.monotonic()
    record, _ = wait_for(describe, timeout=3600, interval=0.2)
    took = time.monotonic() - start
    print(f"{label}: {record['status']} in {took:.1f}s {record.get('failureReason', '')}", flush=True)
    return record, took


def upload_customers(s3, customers: list[str]) -> None:
    """The "bench" bucket with one batch input line per customer at in/users.json."""
    s3.create_bucket(Bucket="bench")
    lines = "".join(json.dumps({"userId": u}) + "\n" for u in customers)
    s3.put_object(Bucket="bench", Key="in/users.json", Body=lines.encode())


def import_group(p, s3, name: str, frame: pd.DataFrame) -> str:
    """A dataset group ``name`` with ``frame`` imported as its interactions (bucket "bench"); its ARN."""
    group = p.create_dataset_group(name=name)["datasetGroupArn"]
    wait_for(lambda: p.describe_dataset_group(datasetGroupArn=group)["datasetGroup"])
    import_dataset(
        p, s3, group, name, "INTERACTIONS", SCHEMA, frame[["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"]]
    )
    return group


def import_dataset(p, s3, group: str, name: str, dataset_type: str, schema: str, frame: pd.DataFrame) -> str:
    """A dataset of ``group`` with ``frame`` imported (bucket "bench"); its ARN."""
    label = f"{name}-{dataset_type.lower()}"
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    s3.put_object(Bucket="bench", Key=f"{label}.csv", Body=buf.getvalue().encode())
    schema_arn = p.create_schema(name=label, schema=schema)["schemaArn"]
    dataset = p.create_dataset(
        name=label, datasetGroupArn=group, schemaArn=schema_arn, datasetType=dataset_type
    )["datasetArn"]
    wait_for(lambda: p.describe_dataset(datasetArn=dataset)["dataset"])
    job = p.create_dataset_import_job(
        jobName=label,
        datasetArn=dataset,
        roleArn=ROLE,
        dataSource={"dataLocation": f"s3://bench/{label}.csv"},
    )["datasetImportJobArn"]
    record, _ = timed(
        f"import {dataset_type.lower()}",
        lambda: p.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"],
    )
    assert record["status"] == "ACTIVE", record
    return dataset


def train_version(p, group: str, recipe: str, name: str) -> str:
    """A trained solution version of ``recipe`` (no automatic training); its ARN."""
    solution = p.create_solution(
        name=name, datasetGroupArn=group, recipeArn=RECIPE + recipe, performAutoTraining=False
    )["solutionArn"]
    wait_for(lambda: p.describe_solution(solutionArn=solution)["solution"])
    version = p.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    record, _ = timed(
        f"training {recipe} (metrics + final model)",
        lambda: p.describe_solution_version(solutionVersionArn=version)["solutionVersion"],
    )
    print(f"  trainingHours reported: {record.get('trainingHours')}")
    return version


def latency(runtime, campaign: str, users: list[str], n: int, seed: int = 1) -> tuple[float, float]:
    """p50 and p99 in milliseconds of ``n`` sequential GetRecommendations (after a short warm-up)."""
    rng = np.random.default_rng(seed)
    picks = [users[i] for i in rng.integers(0, len(users), n + 20)]
    for user in picks[:20]:
        runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=25)
    took = []
    for user in picks[20:]:
        start = time.perf_counter()
        runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=25)
        took.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(took, 50)), float(np.percentile(took, 99))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="demo", help="devenv.datagen size (tiny, demo, store)")
    parser.add_argument("--synthetic", action="store_true", help="clustered synthetic data instead")
    parser.add_argument("--users", type=int, default=180_000)
    parser.add_argument("--items", type=int, default=4_000)
    parser.add_argument("--per-user", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()
    started = time.monotonic()
    frame, customers = (
        synthetic(args.users, args.items, args.per_user) if args.synthetic else from_generator(args.size)
    )
    print(
        f"data: {len(frame):,} interactions, {frame['USER_ID'].nunique():,} active users of "
        f"{len(customers):,} customers, {frame['ITEM_ID'].nunique():,} items "
        f"({time.monotonic() - started:.1f}s to generate)",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp, running_endpoint(tmp, step_seconds=0.1) as url:
        s3 = boto3.client("s3", endpoint_url=url, **DUMMY_CREDENTIALS)
        p = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        runtime = boto3.client("personalize-runtime", endpoint_url=url, **DUMMY_CREDENTIALS)
        upload_customers(s3, customers)
        group = import_group(p, s3, "bench", frame)
        versions, metrics = {}, {}
        for recipe in ("aws-user-personalization", "aws-popularity-count"):  # one at a time: clean timings
            versions[recipe] = train_version(p, group, recipe, f"bench-{recipe}")
            metrics[recipe] = p.get_solution_metrics(solutionVersionArn=versions[recipe])["metrics"]
        names = sorted(metrics["aws-user-personalization"])
        print(f"{'metric':<46}{'user-personalization':>22}{'popularity-count':>18}")
        for name in names:
            print(
                f"{name:<46}{metrics['aws-user-personalization'][name]:>22.4f}"
                f"{metrics['aws-popularity-count'][name]:>18.4f}"
            )

        batch = p.create_batch_inference_job(
            jobName="bench",
            solutionVersionArn=versions["aws-user-personalization"],
            roleArn=ROLE,
            numResults=25,
            jobInput={"s3DataSource": {"path": "s3://bench/in/users.json"}},
            jobOutput={"s3DataDestination": {"path": "s3://bench/out/"}},
        )["batchInferenceJobArn"]
        timed(
            f"batch inference, {len(customers):,} customers x 25",
            lambda: p.describe_batch_inference_job(batchInferenceJobArn=batch)["batchInferenceJob"],
        )

        campaign = p.create_campaign(name="bench", solutionVersionArn=versions["aws-user-personalization"])[
            "campaignArn"
        ]
        wait_for(lambda: p.describe_campaign(campaignArn=campaign)["campaign"])
        p50, p99 = latency(runtime, campaign, customers, args.requests)
        print(
            f"GetRecommendations over loopback, {args.requests} requests: p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
    print(f"total wall time {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
