"""Applying filters to recommendation lists (the control-plane resource is in ``handlers.filters``).

Applying a filter gives a boolean mask over a model's items (True = may be
recommended): INCLUDE clauses union, EXCLUDE clauses union, result = include
minus exclude. Items conditions read the Items dataset, Interactions conditions
the user's own events; both through the cached dataset views.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from .errors import InvalidInput
from .filter_expr import Clause, Cond, Ref, bind, parse
from .imports import DatasetFiles
from .state import dataset_arn

RECENT_PER_TYPE = 100  # interaction filters look at each user's 100 newest events per type


def events_by_user(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Interactions indexed by user (newest 100 per event type), for interaction filters."""
    cols = [c for c in ("USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP") if c in frame]
    df = frame[cols].sort_values("TIMESTAMP", ascending=False, kind="stable")
    if "EVENT_TYPE" in df:
        df = df[df.groupby(["USER_ID", "EVENT_TYPE"], dropna=False).cumcount() < RECENT_PER_TYPE]
    df = df.reset_index(drop=True)
    return df, df.groupby("USER_ID").indices


def by_id(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame.drop_duplicates(column, keep="last").set_index(column)


def items_view(frame: pd.DataFrame) -> pd.DataFrame:
    return by_id(frame, "ITEM_ID")


def users_view(frame: pd.DataFrame) -> pd.DataFrame:
    return by_id(frame, "USER_ID")


def _matches(series: pd.Series, cond: Cond, values: list) -> np.ndarray:
    """Row mask of ``series`` (an attribute column) against one bound condition."""
    if cond.op in ("<", "<=", ">", ">=") or (cond.op == "=" and values and isinstance(values[0], float)):
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        target = float(values[0])
        with np.errstate(invalid="ignore"):
            return {"<": numbers < target, "<=": numbers <= target, ">": numbers > target,
                    ">=": numbers >= target, "=": numbers == target}[cond.op]
    wanted = {_text(v) for v in values}
    parts = series.astype("string").fillna("").str.split("|")
    hit = np.fromiter((bool(wanted.intersection(p)) for p in parts), dtype=bool, count=len(parts))
    return ~hit if cond.op == "NOT IN" else hit


def _text(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


class FilterContext:
    """One filter with bound values, ready to produce item masks for a model."""

    def __init__(self, files: DatasetFiles, record: dict[str, Any], filter_values: dict | None):
        self.files = files
        self.group = record["datasetGroupArn"]
        self.clauses = bind(parse(record["filterExpression"]), filter_values)
        if any(c.target != "ItemID" for c in self.clauses):
            raise InvalidInput(
                "This filter selects users (UserID); item recommendations need an ItemID filter.")
        self._static: dict[int, np.ndarray] = {}

    def _frame(self, dataset_type: str, derive):
        return self.files.cached(dataset_arn(self.group, dataset_type), derive)

    def mask(self, item_ids: np.ndarray, user_id: str | None = None,
             item_id: str | None = None) -> np.ndarray:
        include: np.ndarray | None = None
        exclude = np.zeros(len(item_ids), dtype=bool)
        for n, clause in enumerate(self.clauses):
            if clause.condition is not None and not self._user_condition(clause.condition, user_id):
                continue
            part = self._clause(n, clause, item_ids, user_id, item_id)
            if clause.action == "INCLUDE":
                include = part if include is None else include | part
            else:
                exclude |= part
        return (np.ones(len(item_ids), dtype=bool) if include is None else include) & ~exclude

    def _clause(self, n: int, clause: Clause, item_ids, user_id, item_id) -> np.ndarray:
        static = clause.dataset == "Items" and not any(isinstance(v, Ref) for t in clause.terms
                                                       for c in t for v in c.values)
        if static and n in self._static:
            return self._static[n]
        out = np.zeros(len(item_ids), dtype=bool)
        for term in clause.terms:
            part = np.ones(len(item_ids), dtype=bool)
            for cond in term:
                part &= self._cond(cond, item_ids, user_id, item_id)
            out |= part
        if static:
            self._static[n] = out
        return out

    def _cond(self, cond: Cond, item_ids, user_id, item_id) -> np.ndarray:
        if cond.dataset == "Interactions":
            events, groups = self._frame("INTERACTIONS", events_by_user) or (None, {})
            rows = groups.get(user_id) if user_id is not None else None
            if rows is None:
                return np.zeros(len(item_ids), dtype=bool)
            mine = events.iloc[rows]
            if "*" not in cond.values and "EVENT_TYPE" in mine:
                chosen = mine["EVENT_TYPE"].isin([_text(v) for v in cond.values])
                mine = mine[~chosen if cond.op == "NOT IN" else chosen]
            return np.isin(item_ids, mine["ITEM_ID"].astype(str).unique())
        items = self._frame("ITEMS", items_view)
        if items is None or cond.field not in {c.upper() for c in items.columns}:
            return np.full(len(item_ids), cond.op == "NOT IN")
        column = next(c for c in items.columns if c.upper() == cond.field)
        values = self._resolve(cond.values, items, item_id)
        aligned = items[column].reindex(pd.Index(item_ids))
        return _matches(aligned, cond, values)

    def _resolve(self, values: list, items: pd.DataFrame, item_id: str | None) -> list:
        out = []
        for value in values:
            if isinstance(value, Ref):
                frame = items if value.scope == "CurrentItem" else None
                key = item_id
                if frame is None or key not in frame.index:
                    continue
                cell = frame.at[key, next(c for c in frame.columns if c.upper() == value.field)]
                out.extend(str(cell).split("|") if isinstance(cell, str) else [cell])
            else:
                out.append(value)
        return out

    def _user_condition(self, cond: Cond, user_id: str | None) -> bool:
        users = self._frame("USERS", users_view)
        if users is None or user_id not in users.index:
            return False
        column = next((c for c in users.columns if c.upper() == cond.field), None)
        if column is None:
            return False
        return bool(_matches(users.loc[[user_id], column], cond, cond.values)[0])


def values_key(filter_values: dict | None) -> str:
    return json.dumps(filter_values or {}, sort_keys=True)
