"""Answering recommendation queries for any trained recipe, shared by the runtime and batch jobs.

A query is a dict as in batch input lines (``userId``, ``itemId``, ``itemList``);
the answer is ``(items, scores or None)``. Filters come in as item masks per query
position, which user scoring applies block by block inside its top-k.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .errors import InvalidInput
from .scoring import Model, recommend
from .similarity import related_rows
from .training import RANKING_RECIPES


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


class Masks(Protocol):
    """Allowed items per query position (``filtering.QueryMasks``)."""

    def rows(self, positions: np.ndarray) -> np.ndarray: ...


def _one(masks: Masks | None, j: int) -> np.ndarray | None:
    return None if masks is None else masks.rows(np.array([j]))[0]


def answer(model: Model, queries: list[dict], k: int, masks: Masks | None = None):
    """(items, scores|None) per query; queries must have passed ``check``."""
    what = kind(model)
    if what == "ranking":
        out = []
        for j, query in enumerate(queries):
            input_list = query.get("itemList", query.get("inputList"))
            ranked = rank(model, query["userId"], input_list, _one(masks, j))
            out.append(([i for i, _ in ranked], [s for _, s in ranked]))
        return out
    if what == "related":
        index = _item_index(model)
        rows = np.array([index.get(q["itemId"], -1) for q in queries], dtype=np.int64)
        items, valid = related_rows(model, rows, len(model.item_ids) if masks is not None else k)
        return [(model.item_ids[_keep(items[j], valid[j], _one(masks, j), k)].tolist(), None)
                for j in range(len(queries))]
    rows = model.user_index([q["userId"] for q in queries])
    items, scores, valid = recommend(model, rows, k, allowed=None if masks is None else masks.rows)
    names = model.item_ids[items]
    name_rows = names.tolist()  # one conversion for the batch; rows with invalid entries are cut below
    score_rows = scores.tolist() if model.has_scores else [None] * len(queries)
    for j in np.flatnonzero(~valid.all(axis=1)).tolist():
        name_rows[j] = names[j][valid[j]].tolist()
        if model.has_scores:
            score_rows[j] = scores[j][valid[j]].tolist()
    return list(zip(name_rows, score_rows, strict=True))


def _keep(items: np.ndarray, valid: np.ndarray, mask: np.ndarray | None, k: int) -> np.ndarray:
    keep = valid if mask is None else valid & mask[items]
    return items[np.flatnonzero(keep)[:k]]
