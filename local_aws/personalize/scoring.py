"""Trained models and vectorised top-k scoring, shared by batch jobs, campaigns and metrics.

Scores are softmax-like: each user's logits are standardised and pushed through a
softmax over every candidate item, so a user's scores over the whole catalogue
sum to 1 (the service's shape of scores). Scoring works on blocks of users: a
matrix product, a mask for already-seen items, then ``argpartition``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BLOCK_USERS = 2048


@dataclass
class Model:
    recipe: str
    user_ids: np.ndarray  # str, index -> USER_ID
    item_ids: np.ndarray  # str, index -> ITEM_ID
    popularity: np.ndarray  # float per item, >= 0
    seen_indptr: np.ndarray  # CSR rows of items each known user interacted with
    seen_indices: np.ndarray
    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    exclude_seen: bool = True
    has_scores: bool = True
    seen_data: np.ndarray | None = None  # ALS confidence per seen cell, for folding in new events
    related: np.ndarray | None = None  # [items, R] most similar items (-1 pads), related-items recipes

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "recipe": np.array(self.recipe), "user_ids": self.user_ids, "item_ids": self.item_ids,
            "popularity": self.popularity, "seen_indptr": self.seen_indptr,
            "seen_indices": self.seen_indices, "exclude_seen": np.array(self.exclude_seen),
            "has_scores": np.array(self.has_scores),
        }
        for name in ("user_factors", "item_factors", "seen_data", "related"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Model:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                recipe=str(z["recipe"]), user_ids=z["user_ids"], item_ids=z["item_ids"],
                popularity=z["popularity"], seen_indptr=z["seen_indptr"], seen_indices=z["seen_indices"],
                user_factors=z.get("user_factors"),
                item_factors=z.get("item_factors"), seen_data=z.get("seen_data"), related=z.get("related"),
                exclude_seen=bool(z["exclude_seen"]), has_scores=bool(z["has_scores"]),
            )

    def user_index(self, user_ids) -> np.ndarray:
        """Row index per user id; -1 for users the model has not seen (cold start)."""
        lookup = getattr(self, "_lookup", None)
        if lookup is None:
            lookup = {u: i for i, u in enumerate(self.user_ids.tolist())}
            self._lookup = lookup
        return np.fromiter((lookup.get(u, -1) for u in user_ids), dtype=np.int64, count=len(user_ids))


def _softmax_topk(logits: np.ndarray, seen_rows: np.ndarray, seen_cols: np.ndarray, k: int):
    """Top-k columns per row with softmax probabilities; (seen_rows, seen_cols) are excluded.

    Logits are standardised per row (statistics over the whole row, which the few
    excluded entries barely move) so the softmax is neither flat nor one-hot.
    """
    mean = logits.mean(axis=1, keepdims=True)
    std = np.maximum(logits.std(axis=1, keepdims=True), 1e-6)
    z = logits - mean
    z /= std
    z[seen_rows, seen_cols] = -np.inf
    row_max = z.max(axis=1, keepdims=True)
    z -= np.where(np.isfinite(row_max), row_max, 0.0)  # rows with nothing left stay all -inf
    np.exp(z, out=z)  # exp(-inf) = 0: excluded items take no probability mass
    z /= np.maximum(z.sum(axis=1, keepdims=True), 1e-30)
    valid = np.ones(z.shape, dtype=bool)
    valid[seen_rows, seen_cols] = False
    if k < z.shape[1]:
        part = np.argpartition(-z, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(z.shape[1]), (z.shape[0], 1))
    part_scores = np.take_along_axis(z, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    part = np.take_along_axis(part, order, axis=1)
    return part, np.take_along_axis(part_scores, order, axis=1), np.take_along_axis(valid, part, axis=1)


def _seen_cells(model: Model, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row-in-block, item) pairs of already-seen items, without a Python loop per user."""
    if not model.exclude_seen:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    starts, ends = model.seen_indptr[rows], model.seen_indptr[rows + 1]
    lengths = ends - starts
    block_rows = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return block_rows, model.seen_indices[np.repeat(starts, lengths) + offsets]


def _block(model: Model, rows: np.ndarray, k: int):
    if model.user_factors is not None:
        logits = model.user_factors[rows] @ model.item_factors.T
    else:
        logits = np.tile(np.log1p(model.popularity).astype(np.float32), (len(rows), 1))
    seen_rows, seen_cols = _seen_cells(model, rows)
    return _softmax_topk(logits.astype(np.float32, copy=False), seen_rows, seen_cols, k)


def recommend_vector(model: Model, vector: np.ndarray, seen: np.ndarray, k: int):
    """Top-k for one user given a (folded-in) factor vector and its seen items."""
    logits = (model.item_factors @ vector)[None, :].astype(np.float32)
    cols = seen if model.exclude_seen else np.empty(0, dtype=np.int64)
    items, scores, valid = _softmax_topk(logits, np.zeros(len(cols), dtype=np.int64), cols,
                                         min(k, len(model.item_ids)))
    return items, scores.astype(np.float64), valid


def fold_in(model: Model, items: np.ndarray, confidence: np.ndarray, regularization: float = 0.1):
    """ALS user solve for one user: (YtY + Yt(C-I)Y + lambda I) x = Yt C p, p = 1 on ``items``."""
    y = model.item_factors.astype(np.float64)
    gram = getattr(model, "_gram", None)
    if gram is None:
        gram = model._gram = y.T @ y
    sub = y[items]
    a = gram + (sub.T * (confidence - 1.0)) @ sub + regularization * np.eye(y.shape[1])
    return np.linalg.solve(a, sub.T @ confidence).astype(np.float32)


def popular_topk(model: Model, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The cold-start list: most popular items, scores = share of all interactions."""
    k = min(k, len(model.item_ids))
    order = np.argsort(-model.popularity, kind="stable")[:k]
    total = model.popularity.sum()
    return order, (model.popularity[order] / total if total else np.zeros(k))


def recommend(model: Model, rows: np.ndarray, k: int, threads: int | None = None):
    """Top-k (item index, score) for each row; rows of -1 get popular items.

    Returns (items [n, k] int, scores [n, k] float, valid [n, k] bool); entries
    beyond the candidates available to a user are marked invalid.
    """
    n = len(rows)
    k = min(k, len(model.item_ids))
    items = np.zeros((n, k), dtype=np.int64)
    scores = np.zeros((n, k), dtype=np.float64)
    valid = np.ones((n, k), dtype=bool)
    cold = rows < 0
    if cold.any():
        pop_items, pop_scores = popular_topk(model, k)
        items[cold] = pop_items
        scores[cold] = pop_scores
    warm_positions = np.flatnonzero(~cold)
    blocks = [warm_positions[i:i + BLOCK_USERS] for i in range(0, len(warm_positions), BLOCK_USERS)]

    def work(positions: np.ndarray) -> None:
        items[positions], scores[positions], valid[positions] = _block(model, rows[positions], k)

    threads = threads or min(len(blocks), os.cpu_count() or 1) or 1
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, blocks))
    else:
        for positions in blocks:
            work(positions)
    return items, scores, valid
