"""Filtered GetRecommendations right after a PutItems or a PutUsers, against the number of
items and users, from the repo root:

    python -m bench.filter_after_put_items                 # 10k and 100k items and users
    python -m bench.filter_after_put_items --rows 100000 --calls 50
    python -m bench.filter_after_put_items --rows 4182 --users 180484   # the store's size

For each size: a dataset group with that many items and users imported (and 20 interactions
per 20th user), a popularity-count campaign and a filter that reads both views
(``INCLUDE ItemID WHERE Items.GENRES IN ("a") IF CurrentUser.MEMBERSHIP IN ("gold")``).
Then ``--calls`` rounds of: one PutItems, the filtered GetRecommendations; one PutUsers, the
filtered GetRecommendations; the filtered request again (nothing new: the filter's own cost);
the same request without the filter (the baseline the machine's load also slows). Before that,
in process, the cost of bringing the items view up to date after one PutItems record: applying
the record (what filters do) beside deriving the view from the whole dataset (what they did).
Prints the median and p90 milliseconds of each.

Measured on the shared 2-core machine under other work (load average 9-12), median / p90 ms
over 20 rounds:

    view update after one PutItems record: 10k items: record applied 6.3 / 15.7, view derived
    again (every call before) 22.0 / 31.7; 100k items: 20.3 / 29.2 against 171.8 / 241.8
    over loopback, 10k items and users: PutItems 17.2, filtered after it 267.6, after PutUsers
    269.3, filtered with nothing new 242.8, unfiltered 9.8; 100k: PutItems 19.8, filtered after it
    2381.2, after PutUsers 2463.9, nothing new 2151.8, unfiltered 11.5. What remains is the filter's
    own cost per request (matching the whole catalogue's and users' values), not the views' upkeep.

Filters now keep the items' columns lined up with each model per view version (``item_columns``)
and look up only the requesting user. Load average 3-4, median / p90 ms (filtered with nothing
new; unfiltered in brackets): before, 10k 116.4 / 165.5 (5.1), 100k 990.8 / 1195.5 (4.6), the
store's 4,182 items and 180,484 users 2166.3 / 2390.1 (8.7); after, 10k 5.9 / 7.4 (3.6), 100k
7.3-13.8 / 15.0-17.2 (4.2-4.3), store 6.3 / 7.7 (3.1). After a PutItems / a PutUsers: 100k 20.1 /
21.8, store 10.8 / 14.3 (before: ~1050 at 100k, ~2060 at store size). In process the filter's
own share of a request is ~3.5 ms at 100k items and users; the rest is ranking with a mask.
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.filter_after_events import endpoint_clients, print_times, serving
from bench.local_personalize import import_dataset, import_group, synthetic
from local_aws.personalize.filtering import by_id, items_view, with_appended_records
from local_aws.personalize.imports import DatasetFiles
from local_aws.testing import running_endpoint

BY_GENRE_AND_MEMBERSHIP = 'INCLUDE ItemID WHERE Items.GENRES IN ("a") IF CurrentUser.MEMBERSHIP IN ("gold")'


def _schema(name: str, id_field: str, attribute: str) -> str:
    fields = [
        {"name": id_field, "type": "string"},
        {"name": attribute, "type": "string", "categorical": True},
    ]
    return json.dumps(
        {"type": "record", "name": name, "namespace": "com.amazonaws.personalize.schema", "fields": fields}
    )


def group_with_metadata(p, s3, name: str, rows: int, n_users: int | None = None) -> tuple[str, str, str]:
    """(dataset group, items dataset, users dataset) ARNs, ``rows`` items and ``n_users`` users
    (``rows`` unless given)."""
    n_users = rows if n_users is None else n_users
    frame, _ = synthetic(max(1, n_users // 20), rows, 20)
    group = import_group(p, s3, name, frame)
    rng = np.random.default_rng(0)
    items = pd.DataFrame(
        {"ITEM_ID": [f"item{i}" for i in range(rows)], "GENRES": rng.choice(["a", "b|c"], rows)}
    )
    users = pd.DataFrame(
        {
            "USER_ID": [f"user{u}" for u in range(n_users)],
            "MEMBERSHIP": rng.choice(["gold", "basic"], n_users),
        }
    )
    items_arn = import_dataset(p, s3, group, name, "ITEMS", _schema("Items", "ITEM_ID", "GENRES"), items)
    users_arn = import_dataset(p, s3, group, name, "USERS", _schema("Users", "USER_ID", "MEMBERSHIP"), users)
    return group, items_arn, users_arn


def _ms(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def rounds(clients: dict, datasets: tuple[str, str], targets: tuple[str, str], calls: int) -> dict:
    """Milliseconds of each PutItems/PutUsers and of the filtered GetRecommendations after it."""
    (items_arn, users_arn), (campaign, filter_arn) = datasets, targets
    events, runtime = clients["personalize-events"], clients["personalize-runtime"]
    took: dict[str, list[float]] = {
        k: []
        for k in (
            "PutItems",
            "filtered after PutItems",
            "PutUsers",
            "filtered after PutUsers",
            "filtered, nothing new",
            "unfiltered",
        )
    }
    for n in range(calls + 1):
        user = f"user{n % 97}"

        def recommend(user=user, **extra):
            return runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=25, **extra)

        item = {"itemId": f"item{n}", "properties": json.dumps({"genres": "b|c" if n % 2 else "a"})}
        took["PutItems"].append(_ms(lambda item=item: events.put_items(datasetArn=items_arn, items=[item])))
        took["filtered after PutItems"].append(_ms(lambda: recommend(filterArn=filter_arn)))
        member = {"userId": user, "properties": json.dumps({"membership": "basic" if n % 2 else "gold"})}
        took["PutUsers"].append(
            _ms(lambda member=member: events.put_users(datasetArn=users_arn, users=[member]))
        )
        took["filtered after PutUsers"].append(_ms(lambda: recommend(filterArn=filter_arn)))
        took["filtered, nothing new"].append(_ms(lambda: recommend(filterArn=filter_arn)))
        took["unfiltered"].append(_ms(recommend))
    return {kind: times[1:] for kind, times in took.items()}  # the first round builds the filter's views


def view_update_times(rows: int, calls: int) -> dict[str, list[float]]:
    """Milliseconds to bring an items view of ``rows`` items up to date after one PutItems record."""
    arn = "arn:aws:personalize:us-east-1:123456789012:dataset/bench/ITEMS"

    def typed(ids: range, genre: str) -> pd.DataFrame:  # as the events API and imports type them
        return pd.DataFrame(
            {
                "ITEM_ID": pd.array([f"item{i}" for i in ids], dtype="string"),
                "GENRES": pd.array([genre] * len(ids), dtype="string"),
            }
        )

    rebuild = functools.partial(by_id, column="ITEM_ID")  # a cache entry of its own, never extended
    took: dict[str, list[float]] = {"record applied": [], "view derived again": []}
    with tempfile.TemporaryDirectory() as tmp:
        files = DatasetFiles(Path(tmp))
        files.save(arn, typed(range(rows), "b|c"))
        files.cached(arn, items_view, with_appended_records)
        files.cached(arn, rebuild)
        for n in range(calls):
            files.append(arn, typed(range(n, n + 1), "a"))
            took["record applied"].append(_ms(lambda: files.cached(arn, items_view, with_appended_records)))
            took["view derived again"].append(_ms(lambda: files.cached(arn, rebuild)))
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument(
        "--users",
        type=int,
        help="users per group (default: as many as items), "
        "e.g. --rows 4182 --users 180484 for the store's size",
    )
    parser.add_argument("--views-only", action="store_true", help="only the in-process view update")
    args = parser.parse_args()
    for rows in args.rows:
        print_times(
            f"{rows:>9,} items, view update after a PutItems", args.calls, view_update_times(rows, args.calls)
        )
    if args.views_only:
        return
    with tempfile.TemporaryDirectory() as tmp, running_endpoint(tmp, step_seconds=0.1) as url:
        clients = endpoint_clients(url)
        p = clients["personalize"]
        for rows in args.rows:
            name = f"metadata{rows}"
            group, items_arn, users_arn = group_with_metadata(p, clients["s3"], name, rows, args.users)
            campaign, filter_arn, _ = serving(p, group, name, BY_GENRE_AND_MEMBERSHIP)
            took = rounds(clients, (items_arn, users_arn), (campaign, filter_arn), args.calls)
            print_times(f"{rows:>9,} items and {args.users or rows:,} users", args.calls, took)


if __name__ == "__main__":
    main()
