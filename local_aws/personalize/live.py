"""Live events: new events of a user since the service started, folded into the user's factors.

PutEvents adds them here as well as to the Interactions dataset, so the next
GetRecommendations reflects them at once, as the service does for
user-personalization campaigns.
"""

from __future__ import annotations

import threading

import numpy as np

from .scoring import Model, fold_in


class LiveEvents:
    """New events per (dataset group, user) since the service started, for folding-in."""

    def __init__(self):
        self._lock = threading.Lock()
        self._events: dict[tuple[str, str], list[str]] = {}
        self._event_ids: dict[str, set[str]] = {}
        self._vectors: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def first_time(self, tracker: str, event_id: str) -> bool:
        """False for an eventId this tracker has already taken (it is not used twice)."""
        with self._lock:
            seen = self._event_ids.setdefault(tracker, set())
            if event_id in seen:
                return False
            seen.add(event_id)
            return True

    def add(self, group: str, user: str, items: list[str]) -> None:
        with self._lock:
            self._events.setdefault((group, user), []).extend(items)

    def user_state(self, model: Model, group: str, user: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(factor vector, seen item indices) with new events folded in; None if nothing to fold."""
        with self._lock:
            new = list(self._events.get((group, user), ()))
        row = int(model.user_index([user])[0])
        if not new or row < 0 or model.item_factors is None:
            return None
        key = (id(model), group, user, len(new))
        with self._lock:
            if key in self._vectors:
                return self._vectors[key]
        start, end = model.seen_indptr[row], model.seen_indptr[row + 1]
        items = model.seen_indices[start:end]
        alpha = model.als_alpha  # confidence = 1 + alpha * log1p(weight), as the model was trained
        conf = model.seen_data[start:end] if model.seen_data is not None else np.full(len(items), 1 + alpha)
        weights = dict(zip(items.tolist(), np.expm1((conf.astype(float) - 1) / alpha).tolist(), strict=True))
        lookup = {name: i for i, name in enumerate(model.item_ids.tolist())}
        for item in new:
            if item in lookup:  # items the model never saw arrive with the next training
                weights[lookup[item]] = weights.get(lookup[item], 0.0) + 1.0
        cols = np.fromiter(weights, dtype=np.int64, count=len(weights))
        confidence = 1 + alpha * np.log1p(np.fromiter(weights.values(), dtype=float, count=len(weights)))
        state = (fold_in(model, cols, confidence), cols)
        with self._lock:
            self._vectors[key] = state
        return state
