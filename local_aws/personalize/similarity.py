"""Item-to-item models: co-occurrence (aws-sims), blended with metadata (aws-similar-items), trends.

Similar items are precomputed at training time as the top ``RELATED`` neighbours per
item, so serving a related-items query is one row lookup.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

RELATED = 100
BLOCK = 512
META_WEIGHT = 0.5


def item_metadata(items: pd.DataFrame | None, item_ids: np.ndarray) -> sp.csr_matrix | None:
    """One-hot rows of the items' string attributes (multi-values split on ``|``), L2-normalised."""
    if items is None or items.empty or "ITEM_ID" not in items:
        return None
    frame = items.drop_duplicates("ITEM_ID", keep="last").set_index("ITEM_ID").reindex(item_ids)
    tokens: list[list[str]] = [[] for _ in range(len(item_ids))]
    for column in frame.columns:
        if column == "CREATION_TIMESTAMP" or frame[column].dtype.kind in "iufb":
            continue
        for row, value in enumerate(frame[column].tolist()):
            if isinstance(value, str) and value:
                tokens[row].extend(f"{column}={part}" for part in value.split("|"))
    vocab = {t: i for i, t in enumerate(sorted({t for row in tokens for t in row}))}
    if not vocab:
        return None
    rows = np.repeat(np.arange(len(tokens)), [len(t) for t in tokens])
    cols = np.fromiter((vocab[t] for row in tokens for t in row), dtype=np.int64, count=len(rows))
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(tokens), len(vocab)))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sp.diags(1.0 / np.maximum(norms, 1e-12)) @ matrix


def related_items(matrix: sp.csr_matrix, meta: sp.csr_matrix | None = None) -> np.ndarray:
    """Top neighbours per item by cosine co-occurrence (users in common), blended with metadata."""
    binary = (matrix > 0).astype(np.float64).tocsc()
    degree = np.sqrt(np.asarray(binary.sum(axis=0)).ravel())
    norm = sp.diags(1.0 / np.maximum(degree, 1e-12))
    cooc = (norm @ (binary.T @ binary) @ norm).tocsr()
    n = matrix.shape[1]
    r = min(RELATED, max(n - 1, 1))
    out = np.full((n, r), -1, dtype=np.int64)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        block = cooc[start:stop].toarray()
        if meta is not None:
            block = (1 - META_WEIGHT) * block + META_WEIGHT * (meta[start:stop] @ meta.T).toarray()
        block[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # never the item itself
        if r < n:
            top = np.argpartition(-block, r - 1, axis=1)[:, :r]
        else:
            top = np.tile(np.arange(n), (stop - start, 1))
        top_scores = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        top_scores = np.take_along_axis(top_scores, order, axis=1)
        out[start:stop] = np.where(top_scores > 0, top, -1)[:, :r]
    return out


def related_rows(model, item_rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(items, valid) for related-items queries; unknown items (-1) fall back to popular items."""
    related = model.related
    k = min(k, related.shape[1])
    items = np.zeros((len(item_rows), k), dtype=np.int64)
    popular = np.argsort(-model.popularity, kind="stable")
    for j, row in enumerate(item_rows.tolist()):
        picks = related[row][related[row] >= 0][:k] if row >= 0 else np.empty(0, dtype=np.int64)
        if len(picks) < k:  # pad with popular items so a query always gets a full list
            extra = popular[~np.isin(popular, np.append(picks, row))][: k - len(picks)]
            picks = np.concatenate([picks, extra])
        items[j, : len(picks)] = picks
    valid = np.zeros_like(items, dtype=bool)
    for j in range(len(item_rows)):
        valid[j, : min(k, len(model.item_ids) - (item_rows[j] >= 0))] = True
    return items, valid


def trend_scores(items: np.ndarray, timestamps: np.ndarray, n_items: int, windows: int = 10) -> np.ndarray:
    """Growth of each item's interaction count from the previous to the newest window.

    The time span is cut into ``windows`` equal windows; score = (newest + 1) /
    (previous + 1), plus a tiny share of the newest count to break ties.
    """
    if len(timestamps) == 0:
        return np.zeros(n_items)
    end, start = int(timestamps.max()) + 1, int(timestamps.min())
    width = max(1, (end - start) // windows)
    newest = np.bincount(items[timestamps >= end - width], minlength=n_items)
    previous = np.bincount(items[(timestamps >= end - 2 * width) & (timestamps < end - width)],
                           minlength=n_items)
    return (newest + 1.0) / (previous + 1.0) + 1e-6 * newest
