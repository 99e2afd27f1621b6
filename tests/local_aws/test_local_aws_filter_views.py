"""The filters' items and users views, kept up to date per PutItems/PutUsers instead of rebuilt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from local_aws.personalize.filter_expr import parse
from local_aws.personalize.filtering import (
    FilterContext,
    _matches,
    items_view,
    users_view,
    with_appended_records,
)
from local_aws.personalize.imports import DatasetFiles

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset/views"
DATASET_GROUP = GROUP.replace(":dataset/", ":dataset-group/")


def records(id_column: str, ids: list[int], seed: int) -> pd.DataFrame:
    """Records typed as the events API types them (nullable columns, some cells empty)."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    price = rng.integers(1, 500, n).astype("float64")
    price[rng.random(n) < 0.2] = np.nan
    genres = pd.array(rng.choice(["a", "b|c", "d", None], n), dtype="string")
    return pd.DataFrame(
        {
            id_column: pd.array([f"x{i}" for i in ids], dtype="string"),
            "GENRES": genres,
            "PRICE": price,
            "STOCK": pd.array([None if x < 3 else int(x) for x in rng.integers(0, 40, n)], dtype="Int64"),
            "ACTIVE": pd.array(rng.random(n) < 0.5, dtype="boolean"),
        }
    )


@pytest.mark.parametrize(
    ("dataset_type", "id_column", "view"),
    [("ITEMS", "ITEM_ID", items_view), ("USERS", "USER_ID", users_view)],
)
def test_appended_records_give_the_view_a_rebuild_gives(tmp_path, dataset_type, id_column, view):
    arn, files, built = f"{GROUP}/{dataset_type}", DatasetFiles(tmp_path), []

    def derive(frame):
        built.append(len(frame))
        return view(frame)

    files.save(arn, records(id_column, list(range(300)), seed=0))
    files.cached(arn, derive, with_appended_records)
    rng = np.random.default_rng(1)
    batches = [rng.integers(0, 400, 10).tolist() for _ in range(6)]  # replaced ids, new ids, repeats
    batches.append([5, 5, 6])  # the same id twice in one call: its last record counts
    for seed, ids in enumerate(batches, start=1):
        files.append(arn, records(id_column, ids, seed))
        served = files.cached(arn, derive, with_appended_records)
        pd.testing.assert_frame_equal(served, view(files.load(arn)))
    assert built == [300]


def test_an_append_that_replaces_every_record_still_equals_a_rebuild(tmp_path):
    arn, files = f"{GROUP}/ITEMS", DatasetFiles(tmp_path)
    files.save(arn, records("ITEM_ID", [1, 2], seed=0))
    files.cached(arn, items_view, with_appended_records)
    files.append(arn, records("ITEM_ID", [2, 1], seed=1))
    served = files.cached(arn, items_view, with_appended_records)
    pd.testing.assert_frame_equal(served, items_view(files.load(arn)))


class CountingFiles(DatasetFiles):
    """Counts the whole-dataset reads the served views cost."""

    def __init__(self, root):
        super().__init__(root)
        self.loads = 0

    def _load(self, dataset_arn):
        self.loads += 1
        return super()._load(dataset_arn)


def test_a_filter_after_put_items_reads_no_dataset_and_sees_the_new_records(tmp_path):
    arn, files = f"{GROUP}/ITEMS", CountingFiles(tmp_path)
    record = {
        "datasetGroupArn": DATASET_GROUP,
        "filterExpression": 'INCLUDE ItemID WHERE Items.GENRES IN ("a")',
    }
    item_ids = np.array([f"x{i}" for i in range(60)], dtype=object)
    files.save(arn, records("ITEM_ID", list(range(50)), seed=0))
    FilterContext(files, record, None).mask(item_ids)
    for seed in (1, 2, 3):
        files.append(arn, records("ITEM_ID", [seed, 50 + seed, 55], seed))
        served = FilterContext(files, record, None).mask(item_ids)
        rebuilt = FilterContext(DatasetFiles(tmp_path), record, None).mask(item_ids)
        assert served.tolist() == rebuilt.tolist()
    assert files.loads == 1


CONDITIONS = [
    ("GENRES", "IN", '("a", "c")'),
    ("GENRES", "NOT IN", '("b", "")'),
    ("GENRES", "NOT IN", '("b")'),
    ("GENRES", "=", '"d"'),
    ("PRICE", "<", "250"),
    ("PRICE", "IN", '("1.0", "7")'),
    ("STOCK", ">=", "20"),
    ("STOCK", "IN", '("5", "7")'),
    ("ACTIVE", "IN", '("True")'),
    ("RANK", "=", "3"),
    ("RANK", "NOT IN", '("3", "4.0")'),
]


def _reference(frame: pd.DataFrame, ids: list, field: str, op: str, value: str) -> np.ndarray:
    """What each request computed before the columns were kept per view version."""
    cond = parse(f"INCLUDE ItemID WHERE Items.{field} {op} {value}").clauses[0].terms[0][0]
    if field not in frame:
        return np.full(len(ids), op == "NOT IN")
    return _matches(frame[field].reindex(pd.Index(ids)), cond, cond.values)


def test_kept_columns_match_as_every_request_did_through_appends(tmp_path):
    """Random items with nullable, int and bool columns, a model with items missing from the view, and
    PutItems batches (replaced ids, new ids, a column the records lack): each mask equals the old one."""
    arn, files = f"{GROUP}/ITEMS", DatasetFiles(tmp_path)
    base = records("ITEM_ID", list(range(300)), seed=0)
    base["RANK"] = np.random.default_rng(9).integers(0, 6, len(base))  # int64: an append may widen it
    files.save(arn, base)
    rng = np.random.default_rng(4)
    item_ids = np.array([f"x{i}" for i in rng.permutation(450)[:380]], dtype=object)
    for seed in range(6):
        if seed:
            files.append(arn, records("ITEM_ID", rng.integers(0, 420, 8).tolist(), seed))
        frame = items_view(files.load(arn))
        for field, op, value in CONDITIONS:
            record = {"datasetGroupArn": DATASET_GROUP,
                      "filterExpression": f"INCLUDE ItemID WHERE Items.{field} {op} {value}"}
            served = FilterContext(files, record, None).mask(item_ids)
            expected = _reference(frame, item_ids.tolist(), field, op, value)
            assert served.tolist() == expected.tolist(), (seed, field, op, value)


@pytest.mark.parametrize(("field", "op", "value"), [c for c in CONDITIONS if c[0] != "RANK"])
def test_user_conditions_look_up_only_the_requesting_users(tmp_path, field, op, value):
    arn, files = f"{GROUP}/USERS", DatasetFiles(tmp_path)
    files.save(arn, records("USER_ID", list(range(200)), seed=5))
    users = [f"x{u}" for u in np.random.default_rng(6).integers(0, 260, 120)] + [None]
    record = {"datasetGroupArn": DATASET_GROUP,
              "filterExpression": f"INCLUDE UserID WHERE Users.{field} {op} {value}"}
    served = FilterContext(files, record, None, target="UserID").user_mask(np.array(users, dtype=object))
    frame = users_view(files.load(arn))
    cond = parse(record["filterExpression"]).clauses[0].terms[0][0]
    known = pd.Index(users).isin(frame.index)
    expected = known & _matches(frame[field].reindex(pd.Index(users)), cond, cond.values)
    assert served.tolist() == expected.tolist()
    context = FilterContext(files, record, None, target="UserID")
    singles = [context.user_mask(np.array([u], dtype=object))[0] for u in users[:12] + users[-1:]]
    assert singles == expected[:12].tolist() + expected[-1:].tolist()  # real-time: one user per call
