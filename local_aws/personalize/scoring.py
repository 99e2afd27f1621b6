"""Trained models and vectorised top-k scoring, shared by batch jobs, campaigns and metrics.

Scores are softmax-like: each user's logits are standardised and pushed through a
softmax over every candidate item, so a user's scores over the whole catalogue
sum to 1 (the service's shape of scores). Scoring works on blocks of users spread
over threads (numpy releases the GIL): a matrix product, the softmax, seen items
repeat-calibrated (or left out), the block's filter mask, then ``best_columns``
for the top k allowed items.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BLOCK_USERS = 512  # a block's scores stay in cache: 2048-user blocks cost twice the CPU


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
    exclude_seen: bool = False  # the service keeps seen items; EXCLUDE filters leave them out
    has_scores: bool = True
    seen_data: np.ndarray | None = None  # ALS confidence per seen cell, for folding in new events
    related: np.ndarray | None = None  # [items, R] most similar items (-1 pads), related-items recipes
    repeat_share: float | None = None  # share of training interactions that repeat a (user, item)
    als_alpha: float = 10.0  # seen_data = 1 + als_alpha * log1p(weight) (10: models saved before it)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "recipe": np.array(self.recipe), "user_ids": self.user_ids, "item_ids": self.item_ids,
            "popularity": self.popularity, "seen_indptr": self.seen_indptr,
            "seen_indices": self.seen_indices, "exclude_seen": np.array(self.exclude_seen),
            "has_scores": np.array(self.has_scores), "als_alpha": np.array(self.als_alpha),
        }
        for name in ("user_factors", "item_factors", "seen_data", "related", "repeat_share"):
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
                repeat_share=float(z["repeat_share"]) if "repeat_share" in z else None,
                als_alpha=float(z["als_alpha"]) if "als_alpha" in z else 10.0,
            )

    def user_index(self, user_ids) -> np.ndarray:
        """Row index per user id; -1 for users the model has not seen (cold start)."""
        lookup = getattr(self, "_lookup", None)
        if lookup is None:
            lookup = {u: i for i, u in enumerate(self.user_ids.tolist())}
            self._lookup = lookup
        return np.fromiter((lookup.get(u, -1) for u in user_ids), dtype=np.int64, count=len(user_ids))


def _softmax(logits: np.ndarray, seen_rows: np.ndarray, seen_cols: np.ndarray) -> np.ndarray:
    """Per-row probabilities; (seen_rows, seen_cols) get none.

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
    return z


def _topk(scores: np.ndarray, blocked: np.ndarray, k: int):
    """Top-k columns per row by score among the columns not ``blocked`` (those sort last, invalid).

    A filter only removes items: the scores keep the shares of the unfiltered list. Equal scores
    keep column order.
    """
    ranked = np.where(blocked, np.float32(-1), scores) if blocked.any() else scores
    part = best_columns(ranked, k) if k < ranked.shape[1] else np.argsort(-ranked, axis=1, kind="stable")
    return part, np.take_along_axis(scores, part, axis=1), ~np.take_along_axis(blocked, part, axis=1)


def best_columns(ranked: np.ndarray, k: int) -> np.ndarray:
    """The k best columns per row, best first, equal values in column order: each row's k-th best
    value by ``np.partition`` (values only: a third to an eighth of ``argpartition``'s cost), then
    the few cells at or above it sorted."""
    n_rows, n_cols = ranked.shape
    kth = np.partition(ranked, n_cols - k, axis=1)[:, n_cols - k, None]
    cells = np.flatnonzero(ranked >= kth)  # k or more per row (ties), rows in order
    rows, cols = np.divmod(cells, n_cols)
    order = np.lexsort((cols, -ranked.ravel()[cells], rows))
    cols = cols[order]
    first = np.searchsorted(rows, np.arange(n_rows))  # rows is sorted: each row's first cell
    return cols[(first[:, None] + np.arange(k)).ravel()].reshape(n_rows, k)


def csr_positions(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index into ``rows``, position in the CSR arrays) of every entry of those rows, no Python loop."""
    starts, ends = indptr[rows], indptr[rows + 1]
    lengths = ends - starts
    block_rows = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return block_rows, np.repeat(starts, lengths) + offsets


def _seen_cells(model: Model, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row-in-block, item) pairs of already-seen items, without a Python loop per user."""
    block_rows, positions = csr_positions(model.seen_indptr, rows)
    return block_rows, model.seen_indices[positions]


def _repeat_calibrated(scores: np.ndarray, seen_rows: np.ndarray, seen_cols: np.ndarray,
                       share: float) -> None:
    """Give a user's seen items together the share of probability that repeats had in training.

    ALS reconstructs a user's own items first; the service's models learn from the data how
    often users come back to an item, so where repeats are rare seen items sink, where they
    are common they stay on top. Scores still sum to 1 per row.
    """
    seen_mass = np.bincount(seen_rows, weights=scores[seen_rows, seen_cols], minlength=len(scores))
    has_seen = (seen_mass > 1e-12) & (seen_mass < 1 - 1e-12)
    unseen_factor = np.where(has_seen, (1 - share) / np.maximum(1 - seen_mass, 1e-12), 1.0)
    seen_factor = np.where(has_seen, share / np.maximum(seen_mass, 1e-12), 1.0)
    scores *= unseen_factor[:, None].astype(scores.dtype)
    scores[seen_rows, seen_cols] *= (seen_factor / unseen_factor)[seen_rows].astype(scores.dtype)


def _scores(model: Model, logits: np.ndarray, seen_rows: np.ndarray, seen_cols: np.ndarray) -> np.ndarray:
    """Softmax scores over a block; seen items excluded (old default) or repeat-calibrated."""
    if model.exclude_seen:
        return _softmax(logits, seen_rows, seen_cols)
    none = np.empty(0, dtype=np.int64)
    scores = _softmax(logits, none, none)
    if model.repeat_share is not None:
        _repeat_calibrated(scores, seen_rows, seen_cols, model.repeat_share)
    return scores


def _block(model: Model, rows: np.ndarray, k: int, allowed: np.ndarray | None):
    logits = (model.user_factors[rows] @ model.item_factors.T).astype(np.float32, copy=False)
    seen_rows, seen_cols = _seen_cells(model, rows)
    scores = _scores(model, logits, seen_rows, seen_cols)
    blocked = np.zeros(scores.shape, dtype=bool) if allowed is None else ~allowed
    if model.exclude_seen:
        blocked[seen_rows, seen_cols] = True
    return _topk(scores, blocked, k)


def recommend_vector(model: Model, vector: np.ndarray, seen: np.ndarray, k: int):
    """Top-k for one user given a (folded-in) factor vector and its seen items."""
    logits = (model.item_factors @ vector)[None, :].astype(np.float32)
    rows = np.zeros(len(seen), dtype=np.int64)
    scores = _scores(model, logits, rows, seen)
    blocked = np.zeros(scores.shape, dtype=bool)
    if model.exclude_seen:
        blocked[rows, seen] = True
    items, top, valid = _topk(scores, blocked, min(k, len(model.item_ids)))
    return items, top.astype(np.float64), valid


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
    """The popular list: most popular items, scores = share of the popularity total."""
    k = min(k, len(model.item_ids))
    order = np.argsort(-model.popularity, kind="stable")[:k]
    total = model.popularity.sum()
    return order, (model.popularity[order] / total if total else np.zeros(k))


def _popular_block(model: Model, k: int, allowed: np.ndarray):
    """The popular list per row, keeping each row's allowed items in popularity order."""
    order, shares = popular_topk(model, len(model.item_ids))
    allowed_sorted = allowed[:, order]
    pick = np.argsort(~allowed_sorted, axis=1, kind="stable")[:, :k]
    return order[pick], shares[pick], np.take_along_axis(allowed_sorted, pick, axis=1)


Allowed = Callable[[np.ndarray], np.ndarray]  # query positions -> allowed items [len, n_items]


def recommend(model: Model, rows: np.ndarray, k: int, threads: int | None = None,
              allowed: Allowed | None = None):
    """Top-k (item index, score) for each row; rows of -1, and every row of a model
    without user factors (popularity-count, trending-now), get the popular list.

    ``allowed`` gives a filter's item masks for query positions, evaluated per block.
    Returns (items [n, k] int, scores [n, k] float, valid [n, k] bool); entries
    beyond the candidates available to a user are marked invalid.
    """
    n = len(rows)
    k = min(k, len(model.item_ids))
    items = np.zeros((n, k), dtype=np.int64)
    scores = np.zeros((n, k), dtype=np.float64)
    valid = np.ones((n, k), dtype=bool)
    cold = (rows < 0) | (model.user_factors is None)
    if cold.any() and allowed is None:
        items[cold], scores[cold] = popular_topk(model, k)
    blocks = [(positions[i:i + BLOCK_USERS], is_cold)
              for positions, is_cold in ((np.flatnonzero(~cold), False), (np.flatnonzero(cold), True))
              for i in range(0, len(positions), BLOCK_USERS) if not is_cold or allowed is not None]

    def work(block: tuple[np.ndarray, bool]) -> None:
        positions, is_cold = block
        mask = None if allowed is None else allowed(positions)
        if is_cold:
            items[positions], scores[positions], valid[positions] = _popular_block(model, k, mask)
        else:
            items[positions], scores[positions], valid[positions] = _block(model, rows[positions], k, mask)

    threads = threads or min(len(blocks), os.cpu_count() or 1) or 1
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, blocks))
    else:
        for block in blocks:
            work(block)
    return items, scores, valid
