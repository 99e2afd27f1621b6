"""Batch segment jobs: users most likely to engage with an item or with items matching attributes.

Both segmentation recipes train the ALS model; a segment is the transpose of its
scores: rank every user by affinity to one item (aws-item-affinity) or to the
mean factor of the items an attribute query selects (aws-item-attribute-affinity).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .batch import parse_line
from .errors import InvalidInput, ServiceError
from .filtering import FilterContext
from .imports import DatasetFiles
from .scoring import Model, best_columns

RECIPES = {"aws-item-affinity": "itemId", "aws-item-attribute-affinity": "itemAttributes"}


SEGMENTS_PER_BLOCK = 32  # queries scored against every user at once


def top_users(model: Model, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[str]:
    """The ``k`` users with the highest affinity; ``allowed`` = a UserID filter's user mask."""
    return top_users_of(model, vector[None, :], k, allowed)[0]


def top_users_of(model: Model, vectors: np.ndarray, k: int,
                 allowed: np.ndarray | None = None) -> list[list[str]]:
    """``top_users`` for each row of ``vectors`` (one shared mask): one matrix product per block."""
    k = min(k, len(model.user_ids) if allowed is None else int(allowed.sum()))
    if k <= 0:
        return [[] for _ in vectors]

    def block(start: int) -> list[list[str]]:
        affinity = vectors[start:start + SEGMENTS_PER_BLOCK] @ model.user_factors.T
        if allowed is not None:
            affinity[:, ~allowed] = -np.inf
        return model.user_ids[best_columns(affinity, k)].tolist()

    starts = range(0, len(vectors), SEGMENTS_PER_BLOCK)
    with ThreadPoolExecutor(max(1, min(len(starts), os.cpu_count() or 1))) as pool:  # numpy frees the GIL
        return [users for part in pool.map(block, starts) for users in part]


UserMaskFor = Callable[[dict], "np.ndarray | None"]


def segment_lines(files: DatasetFiles, model: Model, group: str, lines: list[str], k: int,
                  user_mask_for: UserMaskFor | None = None) -> list[str]:
    """Output lines (JSON text) for input lines; blank lines are skipped.

    ``user_mask_for`` gives a line's UserID filter mask over the model's users; lines that
    share a mask (the same filterValues) are scored together.
    """
    key = RECIPES[model.recipe]
    index = {name: i for i, name in enumerate(model.item_ids.tolist())}
    parsed = []  # (query, error, vector, mask)
    for line in lines:
        if not line.strip():
            continue
        query, error = parse_line(line)
        vector = allowed = None
        if error is None:
            try:
                allowed = None if user_mask_for is None else user_mask_for(query)
                vector = _query_vector(files, model, group, index, query, key)
            except ServiceError as exc:
                error = exc.message
        parsed.append((query, error, vector, allowed))
    users: dict[int, list[str]] = {}
    for positions in _by_mask(parsed).values():
        vectors = np.stack([parsed[i][2] for i in positions])
        users.update(zip(positions, top_users_of(model, vectors, k, parsed[positions[0]][3]), strict=True))
    return [json.dumps({"input": query, "output": None if error else {"recommendedUsers": users[i]},
                        "error": error}) for i, (query, error, _, _) in enumerate(parsed)]


def _by_mask(parsed: list[tuple]) -> dict[int, list[int]]:
    """Positions of the answerable lines, grouped by their mask (masks are shared per filterValues)."""
    groups: dict[int, list[int]] = {}
    for i, (_, error, _, allowed) in enumerate(parsed):
        if error is None:
            groups.setdefault(id(allowed), []).append(i)
    return groups


def _query_vector(files: DatasetFiles, model: Model, group: str, index: dict, query: dict[str, Any],
                  key: str) -> np.ndarray:
    """The factor vector a line asks about: its item's, or the mean of the items its query selects."""
    value = query.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"Line has no {key}; this solution makes segments for "
                           f"{'an item' if key == 'itemId' else 'an item attribute query'}.")
    if key == "itemId":
        if value not in index:
            raise InvalidInput(f"Item {value} is not in the training data.")
        return model.item_factors[index[value]]
    context = FilterContext(files, {"datasetGroupArn": group,
                                    "filterExpression": f"INCLUDE ItemID WHERE {value}"}, None)
    matched = np.flatnonzero(context.mask(model.item_ids))
    if not len(matched):
        raise InvalidInput(f"No items match {value}.")
    return model.item_factors[matched].mean(axis=0)
