"""Applying filters to recommendation lists (the control-plane resource is in ``handlers.filters``).

An ItemID filter gives, for each query, a boolean mask over a model's items (True =
may be recommended): INCLUDE clauses union, EXCLUDE clauses union, result =
include minus exclude. Items conditions are one vector for every query, matched against
columns kept lined up with the model per items-view version (``item_columns``);
Interactions conditions are a sparse query x item matrix built from the user's
own newest events, so a batch of 180k users costs a few vectorised passes and
dense rows only exist block by block (see ``filter_masks``). A UserID filter
gives one mask over users (``FilterContext.user_mask``) for user segments.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InvalidInput
from .event_index import EventIndex, event_index, with_appended
from .filter_expr import Clause, Cond, Ref, bind, parse
from .filter_masks import ClauseMasks, Part
from .imports import DatasetFiles
from .item_columns import ByIdentity, ColumnValues, ItemsView
from .state import dataset_arn

_EVENT_COLUMNS = ByIdentity()


def _columns(index: EventIndex, item_ids: np.ndarray) -> np.ndarray:
    """Per indexed item: its position in ``item_ids`` (-1 if absent), through the index's hash table;
    computed once per model and index names, not per request."""

    def compute() -> np.ndarray:
        codes = index.item_names.get_indexer(item_ids)
        out = np.full(len(index.item_names), -1, dtype=np.int64)
        found = np.flatnonzero(codes >= 0)
        out[codes[found]] = found
        return out

    return _EVENT_COLUMNS.get((index.item_names, item_ids), compute)


def by_id(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame.drop_duplicates(column, keep="last").set_index(column)


def with_appended_records(view: pd.DataFrame, appended: pd.DataFrame) -> pd.DataFrame:
    """``view`` (items or users by id) with the records PutItems/PutUsers appended since: only
    those ids are replaced, so the call costs no dataset read. Equal to a rebuild, row order
    included (a replaced id moves to the end, where its newest record stands)."""
    new = by_id(appended, view.index.name)
    return pd.concat([view[~view.index.isin(new.index)], new])


def items_view(frame: pd.DataFrame) -> pd.DataFrame:
    return by_id(frame, "ITEM_ID")


def users_view(frame: pd.DataFrame) -> pd.DataFrame:
    return by_id(frame, "USER_ID")


def items_columns(frame: pd.DataFrame) -> ItemsView:
    return ItemsView(items_view(frame))


def with_appended_items(view: ItemsView, appended: pd.DataFrame) -> ItemsView:
    """``with_appended_records`` for an ``ItemsView``: its columns update only the items named."""
    frame = with_appended_records(view.frame, appended)
    return view.updated(frame, appended["ITEM_ID"].nunique(dropna=False))


def _matches(series: pd.Series, cond: Cond, values: list) -> np.ndarray:
    """Row mask of ``series`` (an attribute column) against one bound condition."""
    if _numeric(cond, values):
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        return _compare(numbers, cond.op, float(values[0]))
    wanted = {_text(v) for v in values}
    parts = series.astype("string").fillna("").str.split("|")
    hit = np.fromiter((bool(wanted.intersection(p)) for p in parts), dtype=bool, count=len(parts))
    return ~hit if cond.op == "NOT IN" else hit


def _numeric(cond: Cond, values: list) -> bool:
    """Is the condition a comparison of numbers (a range, or ``=`` with a number)?"""
    equals_number = cond.op == "=" and bool(values) and isinstance(values[0], float)
    return cond.op in ("<", "<=", ">", ">=") or equals_number


def _compare(numbers: np.ndarray, op: str, target: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return {"<": numbers < target, "<=": numbers <= target, ">": numbers > target,
                ">=": numbers >= target, "=": numbers == target}[op]


def _column_matches(column: ColumnValues, cond: Cond, values: list) -> np.ndarray:
    """``_matches`` on a column lined up with a model's items, from what it keeps per view version."""
    if _numeric(cond, values):
        return _compare(column.numbers, cond.op, float(values[0]))
    hit = column.has_text({_text(v) for v in values})
    return ~hit if cond.op == "NOT IN" else hit


def _text(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _column(frame: pd.DataFrame, name: str) -> str | None:
    return next((c for c in frame.columns if c.upper() == name), None)


FEW_USERS = 8


def _rows_of(index: pd.Index, users: list) -> np.ndarray:
    """Each user's row in a users view (-1 without one). A few users (a real-time request) are
    compared with the ids, ~1 ms at 180k users: a view a PutUsers just replaced has no hash
    table yet, and building one for a single lookup costs ~170 ms at that size."""
    compared = isinstance(index.dtype, pd.StringDtype)  # Arrow-backed; object ids compare ~10x slower
    if len(users) > FEW_USERS or not compared or not all(isinstance(u, str) for u in users):
        return index.get_indexer(pd.Index(users))
    rows = np.full(len(users), -1, dtype=np.int64)
    for j, user in enumerate(users):
        hit = np.flatnonzero(index == user)
        rows[j] = hit[0] if len(hit) else -1
    return rows


class FilterContext:
    """One filter with bound values, ready to produce item masks (or a user mask) for a model."""

    def __init__(self, files: DatasetFiles, record: dict[str, Any], filter_values: dict | None,
                 target: str = "ItemID"):
        self.files = files
        self.group = record["datasetGroupArn"]
        self.clauses = bind(parse(record["filterExpression"]), filter_values)
        if any(c.target != target for c in self.clauses):
            if target == "ItemID":
                raise InvalidInput(
                    "This filter selects users (UserID); item recommendations need an ItemID filter.")
            raise InvalidInput("This filter selects items (ItemID); user segments need a UserID filter.")

    def _frame(self, dataset_type: str, derive):
        """The items or users view, brought up to date with the records appended since."""
        return self.files.cached(dataset_arn(self.group, dataset_type), derive, with_appended_records)

    def _events(self) -> EventIndex | None:
        """The interactions index, brought up to date with the events appended since it was built."""
        return self.files.cached(dataset_arn(self.group, "INTERACTIONS"), event_index, with_appended)

    def mask(self, item_ids: np.ndarray, user_id: str | None = None,
             item_id: str | None = None) -> np.ndarray:
        """Allowed items for one query."""
        query = {"userId": user_id, "itemId": item_id}
        return self.clause_masks(item_ids, [query]).rows(np.zeros(1, dtype=np.int64))[0]

    def clause_masks(self, item_ids: np.ndarray, queries: list[dict]) -> ClauseMasks:
        users = [q.get("userId") for q in queries]
        parts = []
        for clause in self.clauses:
            gate = None if clause.condition is None else self._users_match(clause.condition, users)
            parts.append((clause.action, self._clause(clause, item_ids, queries), gate))
        return ClauseMasks(len(item_ids), parts)

    def _clause(self, clause: Clause, item_ids: np.ndarray, queries: list[dict]) -> Part:
        if clause.dataset == "Interactions":
            users = [q.get("userId") for q in queries]
            out = None
            for term in clause.terms:
                part = None
                for cond in term:
                    cells = self._interactions(cond, users, item_ids)
                    part = cells if part is None else part.multiply(cells).tocsr()
                out = part if out is None else (out + part).tocsr()
            return out
        if any(isinstance(v, Ref) for t in clause.terms for c in t for v in c.values):
            def per_query(positions: np.ndarray) -> np.ndarray:
                return np.stack([self._items_terms(clause, item_ids, queries[p].get("itemId"))
                                 for p in positions.tolist()])
            return per_query
        return self._items_terms(clause, item_ids, None)

    def _items_terms(self, clause: Clause, item_ids: np.ndarray, item_id: str | None) -> np.ndarray:
        out = np.zeros(len(item_ids), dtype=bool)
        for term in clause.terms:
            part = np.ones(len(item_ids), dtype=bool)
            for cond in term:
                part &= self._items(cond, item_ids, item_id)
            out |= part
        return out

    def _interactions(self, cond: Cond, users: list, item_ids: np.ndarray) -> sp.csr_matrix:
        """Query x item cells where the query's user has a matching event (newest per type only)."""
        shape = (len(users), len(item_ids))
        index = self._events()
        if index is None:
            return sp.csr_matrix(shape, dtype=bool)
        positions, items, types = index.rows_of(users)
        keep = self._event_types(cond, index)[types]
        cols = _columns(index, item_ids)[items]
        keep &= cols >= 0
        return sp.csr_matrix((np.ones(int(keep.sum()), dtype=bool),
                              (positions[keep], cols[keep])), shape=shape)

    @staticmethod
    def _event_types(cond: Cond, index: EventIndex) -> np.ndarray:
        """Per event-type code (last entry: rows without a type): does the condition match?"""
        if "*" in cond.values or index.type_names.tolist() == [None]:
            return np.ones(len(index.type_names) + 1, dtype=bool)
        wanted = {_text(v) for v in cond.values}
        hit = np.append(np.array([str(t) in wanted for t in index.type_names], dtype=bool), False)
        return ~hit if cond.op == "NOT IN" else hit

    def _items(self, cond: Cond, item_ids: np.ndarray, item_id: str | None) -> np.ndarray:
        view = self.files.cached(dataset_arn(self.group, "ITEMS"), items_columns, with_appended_items)
        column = None if view is None else _column(view.frame, cond.field)
        if column is None:
            return np.full(len(item_ids), cond.op == "NOT IN")
        values = self._resolve(cond.values, view.frame, item_id)
        return _column_matches(view.column(item_ids, column), cond, values)

    @staticmethod
    def _resolve(values: list, items: pd.DataFrame, item_id: str | None) -> list:
        out = []
        for value in values:
            if isinstance(value, Ref):
                if value.scope != "CurrentItem" or item_id not in items.index:
                    continue
                cell = items.at[item_id, _column(items, value.field)]
                out.extend(str(cell).split("|") if isinstance(cell, str) else [cell])
            else:
                out.append(value)
        return out

    def _users_match(self, cond: Cond, users: list) -> np.ndarray:
        """Per user: does the Users dataset row match ``cond``? (False without a row or column)."""
        frame = self._frame("USERS", users_view)
        column = None if frame is None else _column(frame, cond.field)
        if column is None:
            return np.zeros(len(users), dtype=bool)
        rows = _rows_of(frame.index, users)
        aligned = frame[column].reset_index(drop=True).reindex(rows)  # as reindexing by ids gives
        return (rows >= 0) & _matches(aligned, cond, cond.values)

    def user_mask(self, user_ids: np.ndarray) -> np.ndarray:
        """UserID filters: which of ``user_ids`` may appear in a segment."""
        users = user_ids.tolist()
        include, exclude = None, np.zeros(len(users), dtype=bool)
        for clause in self.clauses:
            out = np.zeros(len(users), dtype=bool)
            for term in clause.terms:
                part = np.ones(len(users), dtype=bool)
                for cond in term:
                    if cond.dataset == "Users":
                        part &= self._users_match(cond, users)
                    else:
                        part &= self._users_with_events(cond, users)
                out |= part
            if clause.action == "INCLUDE":
                include = out if include is None else include | out
            else:
                exclude |= out
        return (np.ones(len(users), dtype=bool) if include is None else include) & ~exclude

    def _users_with_events(self, cond: Cond, users: list) -> np.ndarray:
        """Per user: has the user a matching event among the newest ones?"""
        has = np.zeros(len(users), dtype=bool)
        index = self._events()
        if index is not None:
            positions, _, types = index.rows_of(users)
            has[positions[self._event_types(cond, index)[types]]] = True
        return has


def values_key(filter_values: dict | None) -> str:
    return json.dumps(filter_values or {}, sort_keys=True)
