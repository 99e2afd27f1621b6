"""Batch segment jobs: users most likely to engage with an item or with items matching attributes.

Both segmentation recipes train the ALS model; a segment is the transpose of its
scores: rank every user by affinity to one item (aws-item-affinity) or to the
mean factor of the items an attribute query selects (aws-item-attribute-affinity).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from .batch import parse_line
from .errors import InvalidInput, ServiceError
from .filtering import FilterContext
from .imports import DatasetFiles
from .scoring import Model

RECIPES = {"aws-item-affinity": "itemId", "aws-item-attribute-affinity": "itemAttributes"}


def top_users(model: Model, vector: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[str]:
    """The ``k`` users with the highest affinity; ``allowed`` = a UserID filter's user mask."""
    scores = model.user_factors @ vector
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    k = min(k, len(scores) if allowed is None else int(allowed.sum()))
    if k <= 0:
        return []
    top = np.argpartition(-scores, k - 1)[:k]
    return model.user_ids[top[np.argsort(-scores[top], kind="stable")]].tolist()


UserMaskFor = Callable[[dict], "np.ndarray | None"]


def segment_lines(files: DatasetFiles, model: Model, group: str, lines: list[str], k: int,
                  user_mask_for: UserMaskFor | None = None) -> list[str]:
    """Output lines (JSON text) for input lines; blank lines are skipped.

    ``user_mask_for`` gives a line's UserID filter mask over the model's users.
    """
    key = RECIPES[model.recipe]
    index = {name: i for i, name in enumerate(model.item_ids.tolist())}
    out = []
    for line in lines:
        if not line.strip():
            continue
        query, error = parse_line(line)
        output = None
        if error is None:
            try:
                allowed = None if user_mask_for is None else user_mask_for(query)
                output = {"recommendedUsers": _segment(files, model, group, index, query, key, k, allowed)}
            except ServiceError as exc:
                error = exc.message
        out.append(json.dumps({"input": query, "output": output, "error": error}))
    return out


def _segment(files: DatasetFiles, model: Model, group: str, index: dict, query: dict[str, Any], key: str,
             k: int, allowed: np.ndarray | None) -> list[str]:
    value = query.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"Line has no {key}; this solution makes segments for "
                           f"{'an item' if key == 'itemId' else 'an item attribute query'}.")
    if key == "itemId":
        if value not in index:
            raise InvalidInput(f"Item {value} is not in the training data.")
        return top_users(model, model.item_factors[index[value]], k, allowed)
    context = FilterContext(files, {"datasetGroupArn": group,
                                    "filterExpression": f"INCLUDE ItemID WHERE {value}"}, None)
    matched = np.flatnonzero(context.mask(model.item_ids))
    if not len(matched):
        raise InvalidInput(f"No items match {value}.")
    return top_users(model, model.item_factors[matched].mean(axis=0), k, allowed)
