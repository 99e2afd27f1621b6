"""Assignment is a documented stable hash: the README's vectors, other processes, weight changes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from serving.assignment import BUCKETS, assign, assign_bulk, bounds, bucket, buckets_bulk, variant_index

ROOT = Path(__file__).resolve().parents[2]
USERS = [f"c{i:06d}" for i in range(20_000)]


def _readme_vectors() -> list[tuple[str, str, list[float], int, int]]:
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| ([\d/]+) \| (\d+) \| (\d+) \|$", text, re.MULTILINE)
    return [
        (seed, user, [float(w) for w in weights.split("/")], int(b), int(v))
        for seed, user, weights, b, v in rows
    ]


def test_the_readme_vectors_match_the_code():
    vectors = _readme_vectors()
    assert len(vectors) >= 6
    for seed, user, weights, expected_bucket, expected_variant in vectors:
        assert bucket(seed, user) == expected_bucket, (seed, user)
        assert assign(seed, weights, user) == expected_variant, (seed, user, weights)


def test_the_same_user_gets_the_same_bucket_in_processes_with_different_hash_seeds():
    script = (
        "import json, sys; from serving.assignment import bucket; "
        "print(json.dumps([bucket('seed-x', u) for u in sys.argv[1:]] + [hash('salted')]))"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", script, *USERS[:200]],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(json.loads(result.stdout))
    assert outputs[0][-1] != outputs[1][-1]  # the interpreters really were salted differently
    assert outputs[0][:-1] == outputs[1][:-1] == [bucket("seed-x", u) for u in USERS[:200]]


def test_the_bulk_path_agrees_with_one_at_a_time():
    assert buckets_bulk("s", USERS[:2000]).tolist() == [bucket("s", u) for u in USERS[:2000]]
    assert assign_bulk("s", [2, 3, 5], USERS[:2000]).tolist() == [
        assign("s", [2, 3, 5], u) for u in USERS[:2000]
    ]


def test_the_bulk_path_agrees_on_ids_of_any_length_and_script():
    """The bulk path hashes seed and id apart (a copied prefix); the bytes must be the same."""
    odd_ids = ["", "Zoë", "用户-7", "🙂" * 5, "x" * 55, "y" * 56, "z" * 300, "a:b", " c000001 "]
    for seed in ("s", "", "séed-ü", "k" * 70):
        assert buckets_bulk(seed, odd_ids).tolist() == [bucket(seed, u) for u in odd_ids], seed


def test_ranges_are_contiguous_in_config_order_and_proportional():
    assert bounds([50, 50]) == [5000, 10000]
    assert bounds([1, 1, 1]) == [3333, 6667, 10000]
    assert bounds([10, 90]) == [1000, 10000]
    shares = np.bincount(assign_bulk("split", [1, 3], USERS), minlength=2) / len(USERS)
    assert abs(shares[1] - 0.75) < 0.02


def test_a_bucket_on_a_bound_belongs_to_the_next_variant():
    upper = bounds([1, 1, 1])  # [3333, 6667, 10000]: variant i holds [bound(i-1), bound(i))
    cases = {0: 0, 3332: 0, 3333: 1, 6666: 1, 6667: 2, BUCKETS - 1: 2}
    assert {b: variant_index(b, upper) for b in cases} == cases
    assert variant_index(4999, [5000, 10000]) == 0 and variant_index(5000, [5000, 10000]) == 1


def test_seeds_split_users_independently():
    a, b = assign_bulk("exp-a", [1, 1], USERS), assign_bulk("exp-b", [1, 1], USERS)
    assert 0.45 < (a == b).mean() < 0.55  # not the same split for every experiment


def test_changing_one_weight_moves_only_the_users_it_must():
    before = assign_bulk("ramp", [50, 50], USERS)
    after = assign_bulk("ramp", [60, 40], USERS)
    moved = before != after
    assert set(zip(before[moved].tolist(), after[moved].tolist(), strict=True)) == {(1, 0)}  # only B → A
    buckets = buckets_bulk("ramp", USERS)
    assert (moved == ((buckets >= 5000) & (buckets < 6000))).all()  # exactly the crossed buckets
    assert abs(moved.mean() - 0.10) < 0.01


def test_weight_moved_between_neighbours_leaves_the_others_alone():
    before = assign_bulk("three", [20, 30, 50], USERS)
    after = assign_bulk("three", [30, 20, 50], USERS)
    moved = before != after
    assert set(zip(before[moved].tolist(), after[moved].tolist(), strict=True)) == {(1, 0)}
    assert (after[before == 2] == 2).all()  # the third variant keeps every user
    assert BUCKETS == 10_000
