"""
Experiment assignment: deterministic and stateless, the same in every process and language.

bucket(seed, user) = first 8 bytes of SHA-256(UTF-8 of ``f"{seed}:{user}"``) as a big-endian
unsigned integer, modulo 10,000. Variants take contiguous bucket ranges in config order: variant
i holds [bound(i-1), bound(i)) with bound(i) = round(10,000 * (w_1 + … + w_i) / (w_1 + … + w_n)),
rounded half to even (Python's ``round``), bound(0) = 0.

What a weight change moves: a bucket moves only if a range boundary crosses it. With two variants
that is exactly the users between the old and the new boundary, all towards the variant that grew
(the least any scheme can move). With more, moving weight between neighbours (the total unchanged)
moves only the buckets between their old and new shared boundary; a change that alters the total
rescales every boundary after the first changed variant, and the buckets between each old and new
boundary move to the neighbouring variant. Users never move between variants whose ranges stay put.
Python's ``hash()`` is salted per process and must never be used here.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

BUCKETS = 10_000
DIGEST_WORDS = 4  # a SHA-256 digest is four 8-byte words; the bucket uses the first


@lru_cache(maxsize=256)
def _seeded(seed: str):
    """A hash already fed ``seed:``: copying it skips a new hash's set-up and the prefix, per user."""
    return hashlib.sha256(f"{seed}:".encode())


def bucket(seed: str, user_id: str) -> int:
    """The user's bucket in 0..9999 for an experiment's seed."""
    user_hash = _seeded(seed).copy()
    user_hash.update(user_id.encode())  # UTF-8 of "seed:" + UTF-8 of the user = UTF-8 of "seed:user"
    return int.from_bytes(user_hash.digest()[:8], "big") % BUCKETS


def bounds(weights: Sequence[float]) -> list[int]:
    """Upper bucket bound (exclusive) of each variant's range, in config order; the last is 10,000."""
    total = float(sum(weights))
    running, upper = 0.0, []
    for weight in weights:
        running += weight
        upper.append(round(BUCKETS * running / total))
    upper[-1] = BUCKETS
    return upper


def variant_index(bucket_number: int, upper: Sequence[int]) -> int:
    """Which range holds the bucket: the first whose upper bound is above it."""
    return bisect_right(upper, bucket_number)


def assign(seed: str, weights: Sequence[float], user_id: str) -> int:
    """The index of the user's variant."""
    return variant_index(bucket(seed, user_id), bounds(weights))


def buckets_bulk(seed: str, user_ids: Sequence[str]) -> np.ndarray:
    """:func:`bucket` for many users at once (the report and the benchmark assign a million in < 1 s).

    Copying a hash already fed the seed prefix skips the per-user algorithm set-up that a new
    ``sha256()`` pays (a third of the CPU); whole digests go into one buffer and numpy reads
    every fourth 8-byte word, so no per-user slicing either. UTF-8 of ``seed:`` + UTF-8 of the
    user is UTF-8 of ``f"{seed}:{user}"``, so the buckets are :func:`bucket`'s.
    """
    new_hash = _seeded(seed).copy
    digests = bytearray()
    append = digests.extend
    for user in map(str.encode, user_ids):
        user_hash = new_hash()
        user_hash.update(user)
        append(user_hash.digest())
    first_words = np.frombuffer(digests, dtype=">u8")[::DIGEST_WORDS].astype(np.uint64)
    return (first_words % BUCKETS).astype(np.int64)


def assign_bulk(seed: str, weights: Sequence[float], user_ids: Sequence[str]) -> np.ndarray:
    """:func:`assign` for many users: each user's variant index."""
    return np.searchsorted(np.asarray(bounds(weights)), buckets_bulk(seed, user_ids), side="right")
