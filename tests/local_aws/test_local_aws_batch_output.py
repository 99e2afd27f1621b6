"""Batch output at store speed gives the same text as the per-answer encoding, and exact top-k."""

from __future__ import annotations

import numpy as np

from local_aws.personalize import batch
from local_aws.personalize.scoring import Model, _topk


def _model(n_users=40, n_items=60, factors=6, seed=3) -> Model:
    rng = np.random.default_rng(seed)
    seen = [rng.choice(n_items, 4, replace=False) for _ in range(n_users)]
    return Model(
        recipe="aws-user-personalization",
        user_ids=np.array([f"u{i}" for i in range(n_users)]),
        item_ids=np.array([f'item "{i}" é\\' for i in range(n_items)]),  # needs JSON escapes
        popularity=rng.integers(1, 7, n_items).astype(float),  # shares with float64 ties
        seen_indptr=np.arange(0, 4 * n_users + 1, 4),
        seen_indices=np.concatenate(seen),
        user_factors=rng.normal(size=(n_users, factors)).astype(np.float32),
        item_factors=rng.normal(size=(n_items, factors)).astype(np.float32),
        repeat_share=0.2,
    )


class _FewAllowed:
    """Every third query may only get 5 items, fewer than asked for."""

    def __init__(self, n_items: int):
        self.n_items = n_items

    def rows(self, positions: np.ndarray) -> np.ndarray:
        out = np.ones((len(positions), self.n_items), dtype=bool)
        out[positions % 3 == 0, 5:] = False
        return out


def test_user_lines_are_the_per_answer_encoding_to_the_byte():
    model = _model()
    queries = [{"userId": f"u{i}"} for i in range(40)] + [{"userId": "stranger", "filterValues": {"a": "b"}}]
    for masks in (None, _FewAllowed(len(model.item_ids))):
        for has_scores in (True, False):
            model.has_scores = has_scores
            expected = batch._outputs(model, queries, 10, masks)
            assert batch._user_outputs(model, queries, 10, masks) == expected


def test_rounded_is_round_for_every_value():
    rng = np.random.default_rng(0)
    ties = (np.arange(1, 20000) + 0.5) / 1e7  # numpy's scaled rounding misses some of these
    values = np.concatenate([ties, rng.random(20000).astype(np.float32), rng.random(20000) ** 5, [0.0, 1.0]])
    assert batch.rounded(values, 7).tolist() == [round(v, 7) for v in values.tolist()]


def test_top_k_is_the_stable_full_ranking_among_allowed_items():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 40, size=(64, 300)).astype(np.float32) / 40  # many ties
    blocked = rng.random(scores.shape) < 0.3
    blocked[:4, :3], blocked[:4, 3:] = False, True  # rows with fewer allowed items than asked for
    items, top, valid = _topk(scores, blocked, 25)
    ranked = np.where(blocked, np.float32(-1), scores)
    expected = np.argsort(-ranked, axis=1, kind="stable")[:, :25]
    assert (items == expected).all()
    assert (top == np.take_along_axis(scores, expected, axis=1)).all()
    assert valid[:4].sum() == 12 and valid[4:].all()
