"""Filtered GetRecommendations right after a PutEvents, against the interactions dataset's size:

    python -m bench.filter_after_events                  # 100k, 1M and 2M rows
    python -m bench.filter_after_events --rows 100000 --calls 50

For each size: a dataset group with that many imported interactions, a
popularity-count campaign (the quickest to train; the filter's cost does not
depend on the recipe), an event tracker and the pipeline's kind of filter
(``EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("view")``). Then ``--calls``
rounds of one PutEvents followed by one filtered GetRecommendations for the
same user, each followed by the same request without the filter; prints the
median and p90 milliseconds of both.

Measured on the shared 2-core machine under other work (load average 7-12), median / p90 ms
over 40 rounds, filtered (unfiltered in brackets):

    before (every PutEvents made the next filtered call derive the filter's view from the
    whole dataset): 100k rows 183.8 / 256.2 (11.7), 1M rows 1697.3 / 2163.6 (12.0),
    2M rows 4000.0 / 5141.9 (11.9)
    after (the appended events are applied to the view): 100k rows 16.6 / 23.4 (4.6),
    1M rows 25.4 / 53.3 (8.5), 2M rows 25.8 / 46.0 (8.1)
    with the item columns computed once per model and index (load average 3-4, 20 rounds):
    100k rows 8.6 / 10.1 (3.2), 1M rows 11.1 / 12.6 (3.9)
"""

from __future__ import annotations

import argparse
import tempfile
import time

import boto3
import numpy as np

from bench.local_personalize import import_group, synthetic, train_version
from local_aws.testing import DUMMY_CREDENTIALS, running_endpoint, wait_for

EXCLUDE_VIEWED = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("view")'


def serving(p, group: str, name: str, expression: str = EXCLUDE_VIEWED) -> tuple[str, str, str]:
    """(campaign ARN, filter ARN, tracking id) for ``group``, all ACTIVE; the filter is ``expression``."""
    version = train_version(p, group, "aws-popularity-count", name)
    campaign = p.create_campaign(name=name, solutionVersionArn=version)["campaignArn"]
    filter_arn = p.create_filter(name=name, datasetGroupArn=group, filterExpression=expression)["filterArn"]
    tracker = p.create_event_tracker(name=name, datasetGroupArn=group)
    wait_for(lambda: p.describe_campaign(campaignArn=campaign)["campaign"], timeout=600)
    wait_for(lambda: p.describe_filter(filterArn=filter_arn)["filter"], timeout=600)
    wait_for(lambda: p.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])["eventTracker"])
    return campaign, filter_arn, tracker["trackingId"]


def rounds(events, runtime, targets: tuple[str, str, str], name: str, calls: int) -> dict[str, list[float]]:
    """Milliseconds of each filtered GetRecommendations that follows a PutEvents, and of the same
    request without the filter right after it (the baseline the machine's load also slows)."""
    campaign, filter_arn, tracking_id = targets
    took: dict[str, list[float]] = {"filtered": [], "unfiltered": []}
    for n in range(calls + 1):
        user = f"user{n % 97}"
        event = {
            "eventId": f"{name}-{n}",
            "eventType": "view",
            "itemId": f"item{n % 4000}",
            "sentAt": time.time(),
        }
        events.put_events(trackingId=tracking_id, userId=user, sessionId="bench", eventList=[event])
        for kind, extra in (("filtered", {"filterArn": filter_arn}), ("unfiltered", {})):
            start = time.perf_counter()
            runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=25, **extra)
            took[kind].append((time.perf_counter() - start) * 1000)
    return {kind: times[1:] for kind, times in took.items()}  # the first call builds the filter's view once


def endpoint_clients(url: str) -> dict:
    """S3, Personalize, its events and its runtime clients over ``url``; the "bench" bucket created."""
    clients = {
        name: boto3.client(name, endpoint_url=url, **DUMMY_CREDENTIALS)
        for name in ("s3", "personalize", "personalize-events", "personalize-runtime")
    }
    clients["s3"].create_bucket(Bucket="bench")
    return clients


def print_times(label: str, calls: int, took: dict[str, list[float]]) -> None:
    print(
        f"{label}, median / p90 ms of {calls}: "
        + ", ".join(
            f"{kind} {np.median(times):.1f} / {np.percentile(times, 90):.1f}" for kind, times in took.items()
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 2_000_000])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_endpoint(tmp, step_seconds=0.1) as url:
        clients = endpoint_clients(url)
        p = clients["personalize"]
        for rows in args.rows:
            name = f"filtered{rows}"
            frame, _ = synthetic(max(1, rows // 20), 4_000, 20)
            targets = serving(p, import_group(p, clients["s3"], name, frame.head(rows)), name)
            took = rounds(
                clients["personalize-events"], clients["personalize-runtime"], targets, name, args.calls
            )
            print_times(f"{rows:>9,} rows, GetRecommendations after PutEvents", args.calls, took)


if __name__ == "__main__":
    main()
