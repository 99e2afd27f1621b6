"""The generator: deterministic, big enough for Personalize, and carrying a learnable signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from devenv import datagen


def interactions(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Events plus purchases (timed at the order), with the product's category, in time order per user."""
    events = frames["events"][["customer_id", "product_id", "occurred_at"]]
    purchases = frames["order_items"].merge(frames["orders"], on="order_id")
    purchases = purchases[["customer_id", "product_id", "ordered_at"]]
    purchases = purchases.rename(columns={"ordered_at": "occurred_at"})
    both = pd.concat([events, purchases], ignore_index=True)
    both = both.merge(frames["products"][["product_id", "category"]], on="product_id")
    return both.sort_values(["customer_id", "occurred_at", "product_id"], kind="stable", ignore_index=True)


def test_same_seed_gives_identical_frames():
    first, second = datagen.generate("tiny", 11), datagen.generate("tiny", 11)
    assert first.keys() == second.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])
    other = datagen.generate("tiny", 12)
    assert not first["events"].equals(other["events"])


def test_tiny_meets_personalize_minimums(tiny_frames):
    per_user = interactions(tiny_frames).groupby("customer_id").size()
    per_customer = per_user.reindex(tiny_frames["customers"]["customer_id"], fill_value=0)
    assert datagen.interaction_count(tiny_frames) >= 1_000
    assert (per_user >= 2).sum() >= 25
    assert (per_customer >= 3).mean() >= 0.9  # a 90/10 split still leaves most users some history
    assert len(tiny_frames["customers"]) == 120
    assert len(tiny_frames["products"]) == 150


@pytest.mark.parametrize("size", ["tiny", "demo"])
def test_sizes_and_consistency(size):
    spec = datagen.SIZES[size]
    frames = datagen.generate(size)
    assert len(frames["customers"]) == spec.customers
    assert len(frames["products"]) == spec.products
    assert abs(datagen.interaction_count(frames) - spec.interactions) <= 0.05 * spec.interactions
    events, orders = frames["events"], frames["orders"]
    assert set(events["event_type"]) == {"view", "add_to_cart"}
    assert events["event_id"].is_unique and orders["order_id"].is_unique
    assert not frames["order_items"].duplicated(["order_id", "line_no"]).any()
    assert events["occurred_at"].between(datagen.START, datagen.END).all()
    assert orders["ordered_at"].between(datagen.START, datagen.END).all()
    # Nobody acts before their account or a product before its launch.
    joined = events.merge(frames["customers"], on="customer_id").merge(
        frames["products"], on="product_id", suffixes=("_customer", "_product")
    )
    assert (joined["occurred_at"] >= joined["created_at_customer"]).all()
    assert (joined["occurred_at"] >= joined["created_at_product"]).all()


def test_store_size_matches_spec():
    frames = datagen.generate("store")
    assert len(frames["customers"]) == 180_484
    assert len(frames["products"]) == 4_182
    assert abs(datagen.interaction_count(frames) - 1_970_000) <= 0.02 * 1_970_000


def test_later_interactions_follow_earlier_categories(tiny_frames):
    """A user's first-half favourite category dominates their second half, unlike someone else's favourite."""
    data = interactions(tiny_frames)
    data["pos"] = data.groupby("customer_id").cumcount()
    data["n"] = data.groupby("customer_id")["pos"].transform("size")
    data = data[data["n"] >= 8]
    early, late = data[data["pos"] < data["n"] // 2], data[data["pos"] >= data["n"] // 2]
    favourite = early.groupby("customer_id")["category"].agg(lambda s: s.value_counts().index[0])

    def share(fav: pd.Series) -> float:
        hit = late["category"].to_numpy() == fav.loc[late["customer_id"]].to_numpy()
        return pd.Series(hit).groupby(late["customer_id"].to_numpy()).mean().mean()

    shuffled = pd.Series(np.random.default_rng(0).permutation(favourite.to_numpy()), index=favourite.index)
    own, other = share(favourite), share(shuffled)
    assert own > 0.45
    assert own > 3 * other


def test_category_popularity_beats_global_popularity():
    """On held-out last interactions, popular items of the user's category hit more than global top items."""
    data = interactions(datagen.generate("demo"))
    data["pos"] = data.groupby("customer_id").cumcount()
    data["n"] = data.groupby("customer_id")["pos"].transform("size")
    data = data[data["n"] >= 5]
    cut = (data["n"] * 0.9).astype(int)
    train, test = data[data["pos"] < cut], data[data["pos"] >= cut]
    k = 25
    global_top = set(train["product_id"].value_counts().index[:k])
    category_top = train.groupby("category")["product_id"].agg(lambda s: set(s.value_counts().index[:k]))
    favourite = train.groupby("customer_id")["category"].agg(lambda s: s.value_counts().index[0])
    personal_hits = [
        item in category_top[favourite[user]]
        for user, item in zip(test["customer_id"], test["product_id"], strict=True)
    ]
    assert np.mean(personal_hits) > 1.3 * test["product_id"].isin(global_top).mean()
