"""Batch inference with and without the pipeline's exclude-purchased filter, from the repo root:

    python -m bench.batch_filter --size store     # 1.97M interactions, 180,484 customers, 4,182 items

Trains user-personalization on the generator's data through a local endpoint,
then times one batch job per customer line without a filter and one with
``EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")``.

Measured at store size on the shared 2-core machine (wall time of each job, polled at 0.2 s):

    before (per-customer pandas masks, full-catalogue ranking, 512-user chunks on one thread),
    load average 6-8 from other work: unfiltered 24.2 s, filtered 963.4 s (39.8x)
    after (sparse user x item masks per clause, masked top-k in 512-user blocks on 2 threads),
    load average about 1: unfiltered 24.6 s, filtered 26.3 s (1.07x)

The scoring step alone, in process (CPU seconds, unaffected by the other load): before
19.0 s unfiltered, 470.9 s filtered; after 30.6 s unfiltered, 27.1 s filtered (2048-user
blocks, before the 512-user blocks that halve the scoring CPU).

Then the top k by each row's k-th value (``scoring.best_columns``) and the output lines encoded
from whole arrays (same text; scores rounded as ``round`` does), load average 8-10 from other work;
CPU = the endpoint's user + system seconds during the job. Before (2f6cb4e), load 8-9: unfiltered
95.0 s, filtered 93.5 s. After: unfiltered 46.9 s (19.3 s CPU), filtered 65.7 s (30.0 s CPU, 1.40x:
the first filtered job also reads the interactions and builds the filter's event index, 6-9 s CPU),
filtered again 41.8 s (20.2 s CPU, 0.89x). Scoring alone in process, CPU per 15,360 users on one
thread: 1.04-1.35 s before, 0.75-0.87 s after (filtered 0.82-0.96 s).

``./scripts/demo.sh --size store`` after these changes, load average about 1: total 231.2 s
(6 min 15 s before, per issue 14); retrain_full 155.9 s, of which user-personalization.train
26.6 s, item-affinity.train 29.7 s, user-personalization.batch_inference (exclude-purchased)
23.2 s, item-affinity.batch_segment 16.6 s; export 41.5 s and data load 23.6 s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import boto3

from bench.local_personalize import ROLE, from_generator, import_group, timed, train_version, upload_customers
from local_aws.testing import DUMMY_CREDENTIALS, endpoint_process, wait_for

EXCLUDE_PURCHASED = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")'


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far, every thread (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batch_seconds(p, version: str, name: str, filter_arn: str | None, pid: int) -> float:
    """Wall seconds of one batch job; prints its CPU seconds in the endpoint and the load average."""
    cpu = cpu_seconds(pid)
    extra = {"filterArn": filter_arn} if filter_arn else {}
    arn = p.create_batch_inference_job(
        jobName=name,
        solutionVersionArn=version,
        roleArn=ROLE,
        numResults=25,
        jobInput={"s3DataSource": {"path": "s3://bench/in/users.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://bench/{name}/"}},
        **extra,
    )["batchInferenceJobArn"]
    _, took = timed(
        f"batch {name}", lambda: p.describe_batch_inference_job(batchInferenceJobArn=arn)["batchInferenceJob"]
    )
    print(f"  endpoint CPU {cpu_seconds(pid) - cpu:.1f}s, load average {os.getloadavg()[0]:.1f}", flush=True)
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="store", help="devenv.datagen size (tiny, demo, store)")
    args = parser.parse_args()
    frame, customers = from_generator(args.size)
    print(
        f"data: {len(frame):,} interactions, {len(customers):,} customers, "
        f"{frame['ITEM_ID'].nunique():,} items",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp, endpoint_process(tmp, step_seconds=0.1) as (url, endpoint):
        s3 = boto3.client("s3", endpoint_url=url, **DUMMY_CREDENTIALS)
        p = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        upload_customers(s3, customers)
        group = import_group(p, s3, "bench", frame)
        version = train_version(p, group, "aws-user-personalization", "bench")
        filter_arn = p.create_filter(
            name="exclude-purchased", datasetGroupArn=group, filterExpression=EXCLUDE_PURCHASED
        )["filterArn"]
        wait_for(lambda: p.describe_filter(filterArn=filter_arn)["filter"])
        plain = batch_seconds(p, version, "unfiltered", None, endpoint.pid)
        filtered = batch_seconds(p, version, "filtered", filter_arn, endpoint.pid)  # builds its index
        again = batch_seconds(p, version, "filtered-again", filter_arn, endpoint.pid)  # the index kept
        print(
            f"unfiltered {plain:.1f}s, filtered {filtered:.1f}s ({filtered / plain:.2f}x), "
            f"filtered again {again:.1f}s ({again / plain:.2f}x)"
        )


if __name__ == "__main__":
    main()
