"""PutEvents cost per call against the size of the interactions dataset, from the repo root:

    python -m bench.put_events                     # 100k, 1M and 2M rows
    python -m bench.put_events --rows 100000 --calls 200

For each size: a dataset group with that many imported interactions and an event
tracker, then ``--calls`` sequential PutEvents of one event each over loopback;
prints the median and p90 milliseconds per call.

Measured on the shared 2-core machine, nearly idle (median / p90 ms per call, 100 calls):

    before (every call rewrote the dataset's parquet file):
        100k rows 49.4 / 59.6, 1M rows 259.8 / 322.4, 2M rows 555.8 / 658.2
    after (one Arrow stream appended to the dataset's log per call):
        100k rows 11.4 / 13.8, 1M rows 11.7 / 13.4, 2M rows 10.3 / 12.0
"""

from __future__ import annotations

import argparse
import tempfile
import time

import boto3
import numpy as np

from bench.local_personalize import import_group, synthetic
from local_aws.testing import DUMMY_CREDENTIALS, running_endpoint, wait_for


def call_times(p, events, group: str, name: str, calls: int) -> list[float]:
    tracker = p.create_event_tracker(name=name, datasetGroupArn=group)
    wait_for(lambda: p.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])["eventTracker"])
    took = []
    for n in range(calls):
        event = {
            "eventId": f"{name}-{n}",
            "eventType": "view",
            "itemId": f"item{n % 4000}",
            "sentAt": time.time(),
        }
        start = time.perf_counter()
        events.put_events(
            trackingId=tracker["trackingId"], userId=f"user{n % 97}", sessionId="bench", eventList=[event]
        )
        took.append((time.perf_counter() - start) * 1000)
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 2_000_000])
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_endpoint(tmp, step_seconds=0.1) as url:
        s3 = boto3.client("s3", endpoint_url=url, **DUMMY_CREDENTIALS)
        p = boto3.client("personalize", endpoint_url=url, **DUMMY_CREDENTIALS)
        events = boto3.client("personalize-events", endpoint_url=url, **DUMMY_CREDENTIALS)
        s3.create_bucket(Bucket="bench")
        for rows in args.rows:
            name = f"events{rows}"
            frame, _ = synthetic(max(1, rows // 20), 4_000, 20)
            took = call_times(p, events, import_group(p, s3, name, frame.head(rows)), name, args.calls)
            print(
                f"{rows:>9,} rows: PutEvents median {np.median(took):.1f} ms, "
                f"p90 {np.percentile(took, 90):.1f} ms over {args.calls} calls",
                flush=True,
            )


if __name__ == "__main__":
    main()
