"""The traffic simulator's pure parts: the assignment it checks the API against, visits and choices."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from scipy.stats import chisquare

from devenv.simulator import (
    CLICK_BASE,
    Store,
    assigned_variant,
    click_probability,
    visit_events,
    visitors,
)

HALVES = [("popular", 50.0), ("personalized", 50.0)]


def test_assignment_is_the_published_hash():
    digest = hashlib.sha256(b"homepage-recs-2026-11:C000001").digest()
    bucket = int.from_bytes(digest[:8], "big") % 10_000
    assert assigned_variant("homepage-recs-2026-11", "C000001", HALVES) == (
        "popular" if bucket < 5000 else "personalized"
    )
    # Contiguous ranges in config order: 25 % weight holds buckets 0..2499.
    weights = [("a", 1.0), ("b", 3.0)]
    users = [f"u{i}" for i in range(4000)]
    for user in users[:200]:
        b = int.from_bytes(hashlib.sha256(f"s:{user}".encode()).digest()[:8], "big") % 10_000
        assert assigned_variant("s", user, weights) == ("a" if b < 2500 else "b")


def test_assignment_matches_the_api_s_own():
    assignment = pytest.importorskip("serving.assignment")
    for user in (f"C{i:06d}" for i in range(1, 500)):
        index = assignment.assign("homepage-recs-2026-11", [50.0, 50.0], user)
        assert assigned_variant("homepage-recs-2026-11", user, HALVES) == HALVES[index][0]


def test_an_even_split_passes_the_srm_test_and_a_new_seed_reshuffles():
    users = [f"C{i:06d}" for i in range(20_000)]
    first = [assigned_variant("one", u, HALVES) for u in users]
    counts = [first.count(name) for name, _ in HALVES]
    assert chisquare(counts).pvalue > 0.001
    second = [assigned_variant("two", u, HALVES) for u in users]
    same = sum(a == b for a, b in zip(first, second, strict=True)) / len(users)
    assert 0.45 < same < 0.55  # independent seeds: a coin flip, not the same split


STORE = Store(
    taste={"fan": {"Books": 1.0}, "mixed": {"Books": 0.5, "Shoes": 0.5}},
    category={"b1": "Books", "b2": "Books", "s1": "Shoes", "g1": "Grocery"},
)


def test_taste_drives_the_click_probability():
    assert STORE.fit("fan", "b1") == 1.0 and STORE.fit("fan", "s1") == 0.0
    assert STORE.fit("mixed", "s1") == 0.5 and STORE.fit("stranger", "b1") == 0.0
    assert click_probability(0.0) == CLICK_BASE
    assert click_probability(0.0) < click_probability(0.5) < click_probability(1.0) <= 1.0


def test_customers_view_items_of_their_taste_far_more_often():
    rng = np.random.default_rng(1)
    views = {"b1": 0, "g1": 0}
    for _ in range(2000):
        for event in visit_events(rng, STORE, "fan", ["b1", "g1"]):
            if event["event_type"] == "view":
                views[event["item_id"]] += 1
    assert views["b1"] > 5 * views["g1"] > 0


def test_a_purchase_follows_a_cart_which_follows_a_view_of_the_same_item():
    rng = np.random.default_rng(2)
    for _ in range(500):
        events = visit_events(rng, STORE, "fan", ["b1", "b2", "s1"])
        for i, event in enumerate(events):
            if event["event_type"] == "add_to_cart":
                assert events[i - 1] == {"item_id": event["item_id"], "event_type": "view"}
            if event["event_type"] == "purchase":
                assert events[i - 1] == {"item_id": event["item_id"], "event_type": "add_to_cart"}


def test_the_same_seed_plays_the_same_visits():
    customers = [f"C{i:06d}" for i in range(1000)]
    day = visitors(7, 3, customers, 0.2)
    assert day == visitors(7, 3, customers, 0.2)
    assert day != visitors(7, 4, customers, 0.2) and day != visitors(8, 3, customers, 0.2)
    assert 150 < len(day) < 250
    assert all(0 <= second < 22 * 3600 for _, second in day)
    events = [visit_events(np.random.default_rng([7, 3, 11]), STORE, "fan", ["b1", "b2"]) for _ in range(2)]
    assert events[0] == events[1]
