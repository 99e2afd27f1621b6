"""Answering recommendation queries for any trained recipe, shared by the runtime and batch jobs.

A query is a dict as in batch input lines (``userId``, ``itemId``, ``itemList``);
the answer is ``(items, scores or None)``. Filters come in as item masks: with a
mask, candidates are ranked over the whole catalogue and the first k allowed kept.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidInput
from .scoring import Model, recommend
from .similarity import related_rows
from .training import RANKING_RECIPES

CHUNK = 512


def kind(model: Model) -> str:
    if model.related is not None:
        return "related"
    if model.recipe in RANKING_RECIPES:
        return "ranking"
    return "user"


def check(model: Model, query: dict) -> str | None:
    """The error text for a query this model cannot answer, else None."""
    need = {"related": "itemId", "ranking": "userId", "user": "userId"}[kind(model)]
    value = query.get(need)
    if value is None:
        what = "related items for an item" if need == "itemId" else "items for a user"
        return f"Line has no {need}; this solution recommends {what}."
    if not isinstance(value, str) or not value or len(value) > 256:
        return f"{need} must be a non-empty string of at most 256 characters."
    if kind(model) == "ranking":
        items = query.get("itemList", query.get("inputList"))
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            return "Line needs an itemList of item ids to rank."
    return None


def _item_index(model: Model) -> dict[str, int]:
    index = getattr(model, "_item_lookup", None)
    if index is None:
        index = model._item_lookup = {name: i for i, name in enumerate(model.item_ids.tolist())}
    return index


def rank(model: Model, user: str, input_list: list[str], mask: np.ndarray | None = None):
    """Personalized ranking: softmax over the known input items; unseen items last, no score."""
    if model.user_factors is None:
        raise InvalidInput("This campaign's recipe cannot rank items.")
    index = _item_index(model)
    allowed = [i for i in input_list if mask is None or i not in index or mask[index[i]]]
    known = [i for i in allowed if i in index]
    unknown = [i for i in allowed if i not in index]
    row = model.user_index([user])[0]
    out: list[tuple[str, float | None]] = []
    if known:
        vector = model.user_factors[row] if row >= 0 else np.zeros(model.user_factors.shape[1])
        logits = model.item_factors[[index[i] for i in known]] @ vector
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        out = [(known[j], float(probs[j])) for j in np.argsort(-probs, kind="stable")]
    return out + [(i, None) for i in unknown]


def answer(model: Model, queries: list[dict], k: int, masks: list[np.ndarray | None] | None = None):
    """(items, scores|None) per query; queries must have passed ``check``."""
    masks = masks or [None] * len(queries)
    what = kind(model)
    if what == "ranking":
        out = []
        for query, mask in zip(queries, masks, strict=True):
            ranked = rank(model, query["userId"], query.get("itemList", query.get("inputList")), mask)
            out.append(([i for i, _ in ranked], [s for _, s in ranked]))
        return out
    if what == "related":
        index = _item_index(model)
        rows = np.array([index.get(q["itemId"], -1) for q in queries], dtype=np.int64)
        filtered = any(m is not None for m in masks)
        items, valid = related_rows(model, rows, len(model.item_ids) if filtered else k)
        return [(model.item_ids[_keep(items[j], valid[j], masks[j], k)].tolist(), None)
                for j in range(len(queries))]
    out: list = []
    for start in range(0, len(queries), CHUNK):
        part = queries[start:start + CHUNK]
        part_masks = masks[start:start + CHUNK]
        filtered = any(m is not None for m in part_masks)
        rows = model.user_index([q["userId"] for q in part])
        items, scores, valid = recommend(model, rows, len(model.item_ids) if filtered else k)
        for j in range(len(part)):
            keep = valid[j] if part_masks[j] is None else valid[j] & part_masks[j][items[j]]
            chosen = np.flatnonzero(keep)[:k]
            out.append((model.item_ids[items[j][chosen]].tolist(),
                        scores[j][chosen].tolist() if model.has_scores else None))
    return out


def _keep(items: np.ndarray, valid: np.ndarray, mask: np.ndarray | None, k: int) -> np.ndarray:
    keep = valid if mask is None else valid & mask[items]
    return items[np.flatnonzero(keep)[:k]]
