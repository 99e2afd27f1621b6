"""A filter's clauses evaluated for many queries, turned into dense item masks one block at a time.

``filtering.FilterContext`` builds the parts; scoring asks ``rows(positions)`` for
each block of users it ranks, so a batch never holds a users x items matrix.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

# A clause's value for a set of queries: one item vector for all, a sparse query x item
# matrix, or a function giving dense rows for query positions.
Part = np.ndarray | sp.csr_matrix | Callable[[np.ndarray], np.ndarray]


def _rows(part: Part, positions: np.ndarray, n_items: int) -> np.ndarray:
    if isinstance(part, np.ndarray):
        return np.broadcast_to(part, (len(positions), n_items))
    if sp.issparse(part):
        return part[positions].toarray()
    return part(positions)


class ClauseMasks:
    """One filter context's clauses evaluated for a list of queries."""

    def __init__(self, n_items: int, parts: list[tuple[str, Part, np.ndarray | None]]):
        self.n_items = n_items
        self.parts = parts  # (INCLUDE/EXCLUDE, part, per-query gate or None)

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """Dense allowed-item rows for the queries at ``positions``."""
        shape = (len(positions), self.n_items)
        include, exclude = None, np.zeros(shape, dtype=bool)
        any_include = np.zeros(len(positions), dtype=bool)
        for action, part, gate in self.parts:
            applies = np.ones(len(positions), dtype=bool) if gate is None else gate[positions]
            if action == "EXCLUDE" and sp.issparse(part):  # scatter the cells: no dense copy
                cells = part[positions[applies]].tocoo()
                exclude[np.flatnonzero(applies)[cells.row], cells.col] = True
                continue
            block = _rows(part, positions, self.n_items) & applies[:, None]
            if action == "INCLUDE":
                include = block if include is None else include | block
                any_include |= applies
            else:
                exclude |= block
        if include is not None:
            exclude |= ~include & any_include[:, None]
        return ~exclude


class QueryMasks:
    """Allowed items for every query of a batch, which may use several filterValues."""

    def __init__(self, n_queries: int, groups: list[tuple[np.ndarray, ClauseMasks]]):
        self.group_of = np.full(n_queries, -1)
        self.local = np.zeros(n_queries, dtype=np.int64)
        self.groups = [masks for _, masks in groups]
        for g, (positions, _) in enumerate(groups):
            self.group_of[positions] = g
            self.local[positions] = np.arange(len(positions))

    def rows(self, positions: np.ndarray) -> np.ndarray:
        n_items = self.groups[0].n_items if self.groups else 0
        out = np.ones((len(positions), n_items), dtype=bool)
        for g, masks in enumerate(self.groups):
            mine = self.group_of[positions] == g
            if mine.any():
                out[mine] = masks.rows(self.local[positions[mine]])
        return out


def query_masks(contexts: list, item_ids: np.ndarray, queries: list[dict]) -> QueryMasks | None:
    """Masks for ``queries``, each with its own ``FilterContext`` (None = unfiltered); None if none filter."""
    by_context: dict[int, list[int]] = {}
    for j, context in enumerate(contexts):
        if context is not None:
            by_context.setdefault(id(context), []).append(j)
    if not by_context:
        return None
    groups = []
    for positions in by_context.values():
        context = contexts[positions[0]]
        groups.append((np.array(positions), context.clause_masks(item_ids, [queries[j] for j in positions])))
    return QueryMasks(len(queries), groups)
