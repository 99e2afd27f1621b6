"""Offline metrics the way the service defines them (pure functions, easy to test)."""

from __future__ import annotations

import math
from collections.abc import Sequence

METRIC_NAMES = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
)


def ndcg_at_k(ranked: Sequence, relevant: set, k: int) -> float:
    """Gain 1/log(1+rank) for relevant items in the top k, over the ideal ordering's gain."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log(1 + rank) for rank, item in enumerate(ranked[:k], start=1) if item in relevant)
    ideal = sum(1.0 / math.log(1 + rank) for rank in range(1, min(k, len(relevant)) + 1))
    return dcg / ideal


def precision_at_k(ranked: Sequence, relevant: set, k: int) -> float:
    return sum(1 for item in ranked[:k] if item in relevant) / k


def reciprocal_rank_at_k(ranked: Sequence, relevant: set, k: int) -> float:
    for rank, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def summarise(rankings: list[Sequence], truths: list[set], n_items: int) -> dict[str, float]:
    """Average the per-user metrics over test users; coverage over everything recommended."""
    n = len(rankings)
    if n == 0:
        return dict.fromkeys(METRIC_NAMES, 0.0)
    out = {
        "mean_reciprocal_rank_at_25": sum(map(reciprocal_rank_at_k, rankings, truths, [25] * n)) / n,
    }
    for k in (5, 10, 25):
        out[f"normalized_discounted_cumulative_gain_at_{k}"] = sum(
            map(ndcg_at_k, rankings, truths, [k] * n)) / n
        out[f"precision_at_{k}"] = sum(map(precision_at_k, rankings, truths, [k] * n)) / n
    recommended = {item for ranked in rankings for item in ranked[:25]}
    out["coverage"] = len(recommended) / n_items if n_items else 0.0
    return {name: round(float(out[name]), 4) for name in METRIC_NAMES}


# USER_SEGMENTATION recipes (item affinity) are scored on users, not items. The guide ("Evaluating a
# solution version with metrics", metric definitions) describes "coverage" over users, "hit (hit at K)"
# and "recall (recall at K)" with K the top 1% of users, and no MRR, NDCG or precision; it does not
# spell the keys, so they follow its wording the way average_rewards_at_k does.
SEGMENT_METRIC_NAMES = ("coverage", "hit_at_k", "recall_at_k")


def segment_summary(predicted: list[Sequence], actual: list[set], n_users: int) -> dict[str, float]:
    """Per queried item: hits = predicted top-K users who did interact with it in the test set,
    recall = hits / those users; both averaged over items; coverage = distinct users predicted / all."""
    hits = [len(set(users) & truth) for users, truth in zip(predicted, actual, strict=True)]
    predicted_users = len({u for users in predicted for u in users})
    return segment_metrics(hits, [len(truth) for truth in actual], predicted_users, n_users)


def segment_metrics(hits: Sequence[int], truth_sizes: Sequence[int], predicted_users: int,
                    n_users: int) -> dict[str, float]:
    """``segment_summary`` from counts: what a vectorised evaluation computes without sets."""
    if not len(hits):
        return dict.fromkeys(SEGMENT_METRIC_NAMES, 0.0)
    out = {
        "hit_at_k": sum(hits) / len(hits),
        "recall_at_k": sum(h / size for h, size in zip(hits, truth_sizes, strict=True)) / len(hits),
        "coverage": predicted_users / n_users if n_users else 0.0,
    }
    return {name: round(float(out[name]), 4) for name in SEGMENT_METRIC_NAMES}
