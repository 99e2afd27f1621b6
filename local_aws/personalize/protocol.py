"""Wire protocol: JSON 1.1 control plane and REST-JSON runtime/events, AWS-shaped errors.

Requests are checked against botocore's own service models (required members,
types, lengths, patterns, enums), so validation matches what the real API
declares without restating it here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import botocore.session
from werkzeug.wrappers import Request, Response

from .errors import InvalidInput, NotImplementedOperation, ServiceError, UnknownOperation

log = logging.getLogger(__name__)

TARGET_PREFIX = "AmazonPersonalize."
RUNTIME_PATHS = {
    "/recommendations": ("personalize-runtime", "GetRecommendations"),
    "/personalize-ranking": ("personalize-runtime", "GetPersonalizedRanking"),
    "/action-recommendations": ("personalize-runtime", "GetActionRecommendations"),
    "/events": ("personalize-events", "PutEvents"),
    "/users": ("personalize-events", "PutUsers"),
    "/items": ("personalize-events", "PutItems"),
    "/actions": ("personalize-events", "PutActions"),
    "/action-interactions": ("personalize-events", "PutActionInteractions"),
}
# REST-JSON clients read the status code: these differ from the control plane's 400.
REST_STATUS = {"ResourceNotFoundException": 404, "ResourceInUseException": 409}
_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")

_models: dict[str, Any] = {}


def service_model(name: str):
    if name not in _models:
        _models[name] = botocore.session.get_session().get_service_model(name)
    return _models[name]


def credential_scope(authorization: str) -> tuple[str | None, str | None]:
    """(region, service) from a SigV4 Authorization header, or (None, None)."""
    match = _CREDENTIAL.search(authorization or "")
    return (match.group(1), match.group(2)) if match else (None, None)


def validate(shape, value: Any, path: str = "") -> None:
    """Raise InvalidInput when ``value`` breaks the model's constraints for ``shape``."""
    where = path or "request"
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise InvalidInput(f"{where} must be an object.")
        for name in shape.required_members:
            if value.get(name) is None:
                raise InvalidInput(f"Missing required parameter {(path + '.' if path else '') + name}.")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                validate(member, value[name], f"{path}.{name}" if path else name)
        return
    if kind == "list":
        if not isinstance(value, list):
            raise InvalidInput(f"{where} must be a list.")
        _check_range(shape, len(value), where, "items")
        for i, item in enumerate(value):
            validate(shape.member, item, f"{where}[{i}]")
        return
    if kind == "map":
        if not isinstance(value, dict):
            raise InvalidInput(f"{where} must be a map.")
        _check_range(shape, len(value), where, "entries")
        for key, item in value.items():
            validate(shape.key, key, f"{where} key")
            validate(shape.value, item, f"{where}.{key}")
        return
    if kind == "string":
        if not isinstance(value, str):
            raise InvalidInput(f"{where} must be a string.")
        _check_range(shape, len(value), where, "characters")
        enum = shape.metadata.get("enum") or getattr(shape, "enum", None)
        if enum and value not in enum:
            raise InvalidInput(f"{where} must be one of {list(enum)}, got {value!r}.")
        pattern = shape.metadata.get("pattern")
        if pattern and "\\p{" not in pattern and not re.fullmatch(pattern, value):
            raise InvalidInput(f"Value {value!r} at {where} failed to satisfy constraint: "
                               f"Member must satisfy regular expression pattern: {pattern}")
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{where} must be an integer.")
        _check_range(shape, value, where, "")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{where} must be a number.")
    elif kind == "boolean" and not isinstance(value, bool):
        raise InvalidInput(f"{where} must be a boolean.")


def _check_range(shape, size: int, where: str, unit: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    what = f"{where} length" if unit else where
    if low is not None and size < low:
        raise InvalidInput(f"{what} must be at least {low}{' ' + unit if unit else ''}.")
    if high is not None and size > high:
        raise InvalidInput(f"{what} must be at most {high}{' ' + unit if unit else ''}.")


def error_response(error: ServiceError, rest: bool) -> Response:
    status = REST_STATUS.get(error.code, error.status) if rest else error.status
    body = json.dumps({"__type": error.code, "message": error.message})
    return Response(body, status=status, headers={"x-amzn-ErrorType": error.code},
                    content_type="application/x-amz-json-1.1")


Handler = Callable[[dict[str, Any], str], dict[str, Any] | None]


class PersonalizeApp:
    """WSGI app for all three Personalize APIs; ``handlers`` maps (api, op) to a callable."""

    def __init__(self, handlers: dict[tuple[str, str], Handler]):
        self.handlers = handlers

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        target = request.headers.get("X-Amz-Target", "")
        rest = not target
        try:
            if target:
                if not target.startswith(TARGET_PREFIX):
                    raise UnknownOperation(f"Unknown target {target}.")
                api, op = "personalize", target[len(TARGET_PREFIX):]
            elif request.path in RUNTIME_PATHS and request.method == "POST":
                api, op = RUNTIME_PATHS[request.path]
            else:
                raise UnknownOperation(f"No Personalize operation at {request.method} {request.path}.")
            model = service_model(api)
            if op not in model.operation_names:
                raise UnknownOperation(f"Unknown operation {op}.")
            params = self._body(request)
            validate(model.operation_model(op).input_shape, params)
            handler = self.handlers.get((api, op))
            if handler is None:
                raise NotImplementedOperation(f"{op} is not implemented by the local Personalize service.")
            region, _ = credential_scope(request.headers.get("Authorization", ""))
            result = handler(params, region or "us-east-1")
        except ServiceError as exc:
            return error_response(exc, rest)
        except Exception:  # noqa: BLE001 - never leak a stack trace as a non-AWS response
            log.exception("unhandled error")
            return error_response(_Internal("Internal error in the local Personalize service."), rest)
        content_type = "application/x-amz-json-1.1" if not rest else "application/json"
        if result is None:
            return Response(b"", status=200, content_type=content_type)
        return Response(json.dumps(result), status=200, content_type=content_type)

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        raw = request.get_data()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _Serialization(f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise _Serialization("Request body must be a JSON object.")
        return body


class _Internal(ServiceError):
    code = "InternalFailure"
    status = 500


class _Serialization(ServiceError):
    code = "SerializationException"
