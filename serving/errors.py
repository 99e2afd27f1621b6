"""Every rejected request gets a JSON body naming the field: ``{"errors": [{"field", "message"}]}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


class RequestProblem(Exception):
    """A bad value in a request: answered with ``status`` and the field it was in."""

    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.status = field, message, status


def _body(problems: list[dict]) -> dict:
    return {"errors": problems}


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestProblem)
    async def _problem(request: Request, error: RequestProblem) -> JSONResponse:
        return JSONResponse(_body([{"field": error.field, "message": error.message}]), error.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in item["loc"]) or "body", "message": item["msg"]}
            for item in error.errors()
        ]
        return JSONResponse(_body(problems), 422)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(_body([{"field": "path", "message": str(error.detail)}]), error.status_code)
