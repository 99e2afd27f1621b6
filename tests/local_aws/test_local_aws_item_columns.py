"""The items view's columns kept per model (local_aws.personalize.item_columns): each model's
alignment must read as a fresh build does, through appends and when the cache evicts models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from local_aws.personalize.filtering import items_columns, with_appended_items
from local_aws.personalize.item_columns import MAX_MODELS

WANTED = ({"a"}, {"c"}, {"b", "z"}, {"nothing"})


def _items(ids: list[int], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "ITEM_ID": pd.array([f"x{i}" for i in ids], dtype="string"),
            "GENRES": pd.array(rng.choice(["a", "b|c", "z", None], len(ids)), dtype="string"),
            "PRICE": rng.integers(1, 500, len(ids)).astype("float64"),
        }
    )


def _assert_reads_the_newest_records(view, records: pd.DataFrame, item_ids: np.ndarray) -> None:
    """Per model item, in the model's order: the value of its newest record (missing without one),
    that value as a number, and whether one of its "|"-separated parts is wanted."""
    newest = records.drop_duplicates("ITEM_ID", keep="last").set_index("ITEM_ID")
    for name in ("GENRES", "PRICE"):
        kept = view.column(item_ids, name)
        expected = newest[name].reindex(pd.Index(item_ids)).reset_index(drop=True)
        pd.testing.assert_series_equal(kept.values.reset_index(drop=True), expected, check_names=False)
        np.testing.assert_array_equal(kept.numbers, pd.to_numeric(expected, errors="coerce").to_numpy(float))
        for wanted in WANTED:
            hits = [not pd.isna(value) and bool(set(str(value).split("|")) & wanted) for value in expected]
            assert kept.has_text(wanted).tolist() == hits, (name, wanted)


def test_every_model_reads_its_own_items_through_appends_and_evictions():
    """Models that order (and miss) items differently share one view; after PutItems that replace,
    add and retype records, each reads its items' newest records, and so does a model evicted
    from the cache and asked again."""
    rng = np.random.default_rng(3)
    records = _items(list(range(60)), seed=0)
    models = [
        np.array([f"x{i}" for i in rng.permutation(80)[:50]], dtype=object) for _ in range(MAX_MODELS + 2)
    ]
    view = items_columns(records)
    for item_ids in models[:3]:  # aligned and cached before the appends, so the appends update them
        view.column(item_ids, "GENRES"), view.column(item_ids, "PRICE").numbers
    for seed in range(1, 5):
        appended = _items(rng.integers(0, 80, 12).tolist(), seed)
        if seed == 4:  # a text price: the column's dtype changes, so it is built again
            appended["PRICE"] = appended["PRICE"].astype(object)
            appended.loc[0, "PRICE"] = "n/a"
        records = pd.concat([records, appended], ignore_index=True)
        view = with_appended_items(view, appended)
        for item_ids in models:  # more models than the cache keeps: the first ones are evicted
            _assert_reads_the_newest_records(view, records, item_ids)
        assert len(view._models) == MAX_MODELS
