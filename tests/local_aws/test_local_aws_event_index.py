"""The filters' interactions index, kept up to date per PutEvents instead of rebuilt."""

from __future__ import annotations

import numpy as np
import pandas as pd

from local_aws.personalize.event_index import RECENT_PER_TYPE, event_index, with_appended
from local_aws.personalize.imports import DatasetFiles

ARN = "arn:aws:personalize:us-east-1:123456789012:dataset/idx/INTERACTIONS"


def events(n: int, users: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "USER_ID": pd.array([f"u{x}" for x in rng.integers(0, users, n)], dtype="string"),
            "ITEM_ID": pd.array([f"i{x}" for x in rng.integers(0, 900, n)], dtype="string"),
            "EVENT_TYPE": pd.array(rng.choice(["view", "purchase", "cart"], n), dtype="string"),
            "TIMESTAMP": pd.array(rng.integers(0, 40, n), dtype="Int64"),  # many ties
        }
    )


def indexed(index, users: list) -> list[tuple]:
    positions, items, types = index.rows_of(users)
    names = [str(index.type_names[t]) if t >= 0 else "" for t in types.tolist()]
    return sorted(zip(positions.tolist(), index.item_names[items].tolist(), names, strict=True))


def test_appended_events_give_the_rows_a_rebuild_gives():
    base = events(6_000, users=10, seed=0)  # ~200 per user and type: the newest-100 cut applies
    index, everything = event_index(base), base
    for seed in range(1, 6):
        appended = events(400, users=14, seed=seed)  # some users are new, some items and types too
        appended.loc[appended.index[:5], "EVENT_TYPE"] = "wishlist" if seed == 3 else None
        index = with_appended(index, appended)
        everything = pd.concat([everything, appended], ignore_index=True)
    users = [f"u{u}" for u in range(16)] + [None]
    rebuilt = indexed(event_index(everything), users)
    assert indexed(index, users) == rebuilt
    per_user_type = pd.Series([(p, t) for p, _, t in rebuilt]).value_counts()
    assert per_user_type.max() == RECENT_PER_TYPE


def test_the_served_view_is_extended_by_the_log_not_derived_again(tmp_path):
    files, built, extended = DatasetFiles(tmp_path), [], []

    def derive(frame):
        built.append(len(frame))
        return event_index(frame)

    def extend(index, appended):
        extended.append(len(appended))
        return with_appended(index, appended)

    files.save(ARN, events(2_000, users=10, seed=0))
    files.cached(ARN, derive, extend)
    for seed in (1, 2):
        files.append(ARN, events(3, users=12, seed=seed))
        view = files.cached(ARN, derive, extend)
    assert built == [2_000] and extended == [3, 3]
    users = [f"u{u}" for u in range(12)]
    assert indexed(view, users) == indexed(event_index(files.load(ARN)), users)
    files.save(ARN, events(1_000, users=10, seed=4))  # an import: derived again, the log folded in
    assert indexed(files.cached(ARN, derive, extend), users) == indexed(event_index(files.load(ARN)), users)
    assert built == [2_000, 1_006]
