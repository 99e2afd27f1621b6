"""Items' attribute columns lined up with a model's items, built once per items-view version.

A filtered request used to reindex the catalogue by the model's items and split every
item's value on each call (~2 s at 100k items). ``ItemsView`` keeps, per model and column,
each item's value as a code into its distinct texts and each text's "|"-separated tokens,
so a condition costs a few array operations; a PutItems updates only the items it names.
"""

from __future__ import annotations

import threading
from functools import cached_property

import numpy as np
import pandas as pd

MAX_MODELS = 8  # models' alignments kept per view (a service serves a few campaigns per group)


class _Texts:
    """A column's distinct texts and their "|"-separated tokens, as codes shared by the column's
    versions: append-only, so a version's codes never change meaning."""

    def __init__(self):
        self.code_of: dict[str, int] = {}
        self.token_of: dict[str, int] = {}
        self.token_codes: list[np.ndarray] = []  # per text code
        self._lock = threading.Lock()

    def codes(self, strings: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Codes of ``strings``, and every text's token codes known now."""
        with self._lock:
            for text in strings:
                if text not in self.code_of:
                    self.code_of[text] = len(self.token_codes)
                    tokens = [self.token_of.setdefault(t, len(self.token_of)) for t in text.split("|")]
                    self.token_codes.append(np.array(tokens, dtype=np.int64))
            return np.array([self.code_of[t] for t in strings], dtype=np.int64), list(self.token_codes)


class ColumnValues:
    """One column over a model's items: the values as reindexing gives them, and their tokens."""

    def __init__(self, values: pd.Series, texts: _Texts, codes: np.ndarray,
                 pairs: tuple[np.ndarray, np.ndarray]):
        self.values = values  # per model item (NA where the view has no row)
        self.texts = texts
        self.codes = codes  # per model item: the code of its value's text
        self.pair_text, self.pair_token = pairs  # (text code, token code) of texts 0..n_texts-1
        self.n_texts = int(pairs[0].max(initial=-1)) + 1

    @classmethod
    def build(cls, column: pd.Series, rows: np.ndarray) -> ColumnValues:
        values = column.reset_index(drop=True).reindex(rows)  # what column.reindex(model ids) gives
        empty = np.zeros(0, dtype=np.int64)
        return cls(values, _Texts(), empty, (empty, empty)).updated(np.arange(len(rows)), values)

    def updated(self, positions: np.ndarray, values: pd.Series) -> ColumnValues:
        """A copy whose items at ``positions`` hold ``values`` (of the same dtype)."""
        new_codes, token_codes = self.texts.codes(values.astype("string").fillna("").tolist())
        added = token_codes[self.n_texts:]
        pair_text = np.concatenate([self.pair_text] + [np.full(len(t), self.n_texts + j, dtype=np.int64)
                                                       for j, t in enumerate(added)])
        pair_token = np.concatenate([self.pair_token, *added])
        codes = np.zeros(len(values), dtype=np.int64) if len(self.codes) == 0 else self.codes.copy()
        codes[positions] = new_codes
        merged = values
        if len(self.codes):
            merged = self.values.copy()
            merged.iloc[positions] = values.array
        out = ColumnValues(merged, self.texts, codes, (pair_text, pair_token))
        if "numbers" in self.__dict__:
            out.numbers = self.numbers.copy()
            out.numbers[positions] = _numbers(values)
        return out

    @cached_property
    def numbers(self) -> np.ndarray:
        return _numbers(self.values)

    def has_text(self, wanted: set[str]) -> np.ndarray:
        """Per item: does one of its "|"-separated values equal one of ``wanted``?"""
        codes = [c for c in map(self.texts.token_of.get, wanted) if c is not None]
        text_hit = np.zeros(len(self.texts.token_codes), dtype=bool)
        text_hit[self.pair_text[np.isin(self.pair_token, codes)]] = True
        return text_hit[self.codes]


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def _updatable(dtype) -> bool:
    """Reindexing keeps such a dtype whether items are missing or not (int and bool would change)."""
    return isinstance(dtype, pd.api.extensions.ExtensionDtype) or dtype.kind in "fO"


class ModelColumns:
    """A view's columns lined up with one model's items, built on first use."""

    def __init__(self, item_ids: np.ndarray, index: pd.Index | None = None,
                 columns: dict[str, tuple[object, ColumnValues]] | None = None):
        self.item_ids = item_ids  # held so its id() stays this model's while cached
        self.index = pd.Index(item_ids) if index is None else index
        self.columns = dict(columns or {})  # name -> (view column dtype, values)
        self._lock = threading.Lock()

    def column(self, frame: pd.DataFrame, name: str) -> ColumnValues:
        with self._lock:
            if name not in self.columns:
                self.columns[name] = (frame[name].dtype, ColumnValues.build(frame[name], self._rows(frame)))
            return self.columns[name][1]

    def _rows(self, frame: pd.DataFrame) -> np.ndarray:
        """Per model item: its row in the view, -1 without one."""
        if not self.index.is_unique:
            return frame.index.get_indexer(self.index)
        at = self.index.get_indexer(frame.index)  # hashes the model's ids, kept for updates
        rows = np.full(len(self.index), -1, dtype=np.int64)
        found = np.flatnonzero(at >= 0)
        rows[at[found]] = found
        return rows

    def updated(self, frame: pd.DataFrame, changed: pd.DataFrame) -> ModelColumns:
        """These columns after the view became ``frame`` by replacing or adding the ``changed`` rows;
        a column whose dtype the append changed (or could change) is built again when used."""
        if not self.index.is_unique:
            return ModelColumns(self.item_ids, self.index)
        at = self.index.get_indexer(changed.index)
        found = np.flatnonzero(at >= 0)
        columns = {}
        for name, (dtype, values) in self.columns.items():
            if name in frame and frame[name].dtype == dtype and _updatable(dtype):
                columns[name] = (dtype, values.updated(at[found], changed[name].iloc[found]))
        return ModelColumns(self.item_ids, self.index, columns)


class ItemsView:
    """The items view (the newest record per ITEM_ID) and its columns per model."""

    def __init__(self, frame: pd.DataFrame, models: dict[int, ModelColumns] | None = None):
        self.frame = frame
        self._models = dict(models or {})
        self._lock = threading.Lock()

    def column(self, item_ids: np.ndarray, name: str) -> ColumnValues:
        """Column ``name`` over ``item_ids`` (a model's array, reused across its requests)."""
        with self._lock:
            model = self._models.get(id(item_ids))
            if model is None or model.item_ids is not item_ids:
                model = self._models[id(item_ids)] = ModelColumns(item_ids)
                while len(self._models) > MAX_MODELS:
                    del self._models[next(iter(self._models))]
        return model.column(self.frame, name)

    def updated(self, frame: pd.DataFrame, changed: int) -> ItemsView:
        """The view after the append that made ``frame``, whose last ``changed`` rows are new."""
        rows = frame.iloc[len(frame) - changed:]
        with self._lock:
            models = dict(self._models)
        return ItemsView(frame, {key: m.updated(frame, rows) for key, m in models.items()})


class ByIdentity:
    """A few values computed from objects (a model's ids, an index's names), keyed by their
    identity; the objects are held while cached so their ids cannot be reused meanwhile."""

    def __init__(self, size: int = MAX_MODELS):
        self._entries: dict[tuple[int, ...], tuple[tuple, object]] = {}
        self._size = size
        self._lock = threading.Lock()

    def get(self, objects: tuple, compute):
        key = tuple(map(id, objects))
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None:
            return hit[1]
        value = compute()
        with self._lock:
            self._entries[key] = (objects, value)
            while len(self._entries) > self._size:
                del self._entries[next(iter(self._entries))]
        return value
