"""A request's "now": the server's clock, or, for traffic simulations only, the request's own.

With ``SERVING_SIMULATED_CLOCK=1`` a request may send ``X-Simulated-Time: <epoch seconds>``; it
then stamps that request's exposures and events and picks the experiment active at that time.
Off by default: in production clients never choose their timestamps this way.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request

from serving.errors import RequestProblem

HEADER = "X-Simulated-Time"


# async: FastAPI would run a plain function in its thread pool, a hop per request
async def request_now(request: Request) -> datetime:
    """FastAPI dependency: the time this request happens at."""
    if not request.app.state.settings.simulated_clock:  # the usual case: no header to look up
        return datetime.now(UTC)
    raw = request.headers.get(HEADER)
    if raw is None:
        return datetime.now(UTC)
    try:
        return datetime.fromtimestamp(float(raw), UTC)
    except (ValueError, OverflowError, OSError):
        raise RequestProblem(f"header.{HEADER}", "must be epoch seconds") from None
