"""Optional API keys (``SERVING_API_KEYS``), checked in constant time."""

from __future__ import annotations

import hmac

from fastapi import Request

from serving.errors import RequestProblem

HEADER = "X-API-Key"


# async: FastAPI would run a plain function in its thread pool, a hop per request
async def require_api_key(request: Request) -> None:
    """FastAPI dependency: passes when no keys are configured or the header matches one of them."""
    keys = request.app.state.settings.api_keys
    if not keys:
        return
    given = request.headers.get(HEADER, "").encode()
    # Every key is compared (no early exit), so the time taken says nothing about which one matched.
    matched = [hmac.compare_digest(given, key.encode()) for key in keys]
    if not any(matched):
        raise RequestProblem(f"header.{HEADER}", "missing or not a valid API key", status=401)
