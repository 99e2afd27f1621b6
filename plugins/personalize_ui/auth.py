"""
Plugin endpoints are not protected by Airflow: the page checks the caller's Airflow login itself.

The JWT comes as the API server's own routes take it (``Authorization: Bearer`` or the ``_token``
cookie the UI's login sets) and is validated by Airflow's ``get_user``: the configured auth
manager's signature, expiry and revocation checks, not a copy of them.
"""

from __future__ import annotations

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import HTTPBearer

_bearer = HTTPBearer(auto_error=False)


async def require_user(request: Request):
    """The logged-in Airflow user; 401 without a token, 403 with an invalid one."""
    from airflow.api_fastapi.core_api.security import get_user

    return await get_user(request, None, await _bearer(request))


def refused(request: Request, error: HTTPException):
    """A browser is sent to Airflow's login page (and back here after it); other clients get the status."""
    wants_page = "text/html" in request.headers.get("accept", "")
    if error.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN) and wants_page:
        from airflow.api_fastapi.app import get_auth_manager

        login = get_auth_manager().get_url_login(next_url=str(request.url))
        return RedirectResponse(login, status_code=status.HTTP_303_SEE_OTHER)
    return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
