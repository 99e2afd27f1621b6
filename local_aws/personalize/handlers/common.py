"""Pieces every handler module uses: Describe/List handlers, pagination, record fields."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from ..errors import InvalidNextToken
from ..state import Store

DEFAULT_PAGE = 100


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record without internal (underscore) fields."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def pick(record: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: record[k] for k in keys if k in record}


def describe_handler(store: Store, kind: str, arn_param: str, response_key: str) -> Callable:
    """Describe<X>: the stored record of that kind, without internal fields."""

    def describe(p: dict[str, Any], region: str) -> dict[str, Any]:
        return {response_key: public(store.get(kind, p[arn_param]))}

    return describe


def list_handler(store: Store, kind: str, result_key: str, summary: tuple[str, ...], scope: str | None = None,
                 scope_kind: str | None = None) -> Callable:
    """List<X>: summaries newest first, optionally scoped to a parent ARN (which must exist if scope_kind)."""

    def list_records(p: dict[str, Any], region: str) -> dict[str, Any]:
        parent = p.get(scope) if scope else None
        if parent and scope_kind:
            store.get(scope_kind, parent)
        records = store.list(kind, lambda r: parent is None or r[scope] == parent)
        return paginate([pick(r, summary) for r in records], p, result_key)

    return list_records


def paginate(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    """Offset-based pages; the token is opaque to clients."""
    size = params.get("maxResults") or DEFAULT_PAGE
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidNextToken("The nextToken is not valid.") from exc
    out: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        out["nextToken"] = base64.urlsafe_b64encode(f"offset:{start + size}".encode()).decode()
    return out
