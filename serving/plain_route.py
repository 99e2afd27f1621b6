"""A route FastAPI documents but does not run: for the hot path, where its per-request work costs most.

Profiled at 8 clients, FastAPI's dependency solving and parameter validation took about as much
of the API's CPU as reading the cache and answering together. A ``PlainRoute`` is answered by
Starlette's bare ``request_response``: its endpoint takes the ``Request`` and checks its
parameters with :func:`checked` against a pydantic model, which also gives the route its OpenAPI
parameters (:func:`documented`), so the docs and the checks cannot drift apart. Rejections are
the ``RequestValidationError`` FastAPI itself raises, so their bodies name the field as before.
The usual valid request (an id within its length, ``n`` in plain digits within range) is read
without pydantic, which cost the route as much as the rest of the check; whatever the quick
checks cannot vouch for goes through the model.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial
from typing import Any
from urllib.parse import parse_qsl

from annotated_types import Ge, Le
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, StringConstraints, ValidationError
from pydantic.types import Strict
from starlette.requests import Request
from starlette.routing import request_response

from serving.models import NO_NUL


class PlainRoute(APIRoute):
    """FastAPI builds the OpenAPI entry; each request goes straight to ``endpoint(request)``."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any):
        super().__init__(path, endpoint, **kwargs)
        self.app = request_response(endpoint)


def checked(model: type[BaseModel], request: Request, where: dict[str, str]) -> tuple:
    """The request's parameters ``where`` says (name → "path" or "query"), in its order, or a 422.

    A request :func:`quick_checks` can judge is answered without pydantic; any other goes through
    ``model``, whose errors make the 422 (and whose values it returns).
    """
    query = _query(request.scope["query_string"])
    given = {}
    for name, place in where.items():
        source = request.path_params if place == "path" else query
        if name in source:
            given[name] = source[name]
    quick = quick_checks(model)
    values = []
    for name in where:
        check, default = quick[name]
        values.append(check(given[name]) if name in given else default)
    if None not in values:
        return tuple(values)
    try:
        parsed = model.model_validate(given)
    except ValidationError as error:
        raise RequestValidationError(
            [{**problem, "loc": (where[problem["loc"][0]], *problem["loc"])} for problem in error.errors()]
        ) from None
    return tuple(getattr(parsed, name) for name in where)


def _query(raw: bytes) -> dict[str, str]:
    """The query string parsed as Starlette does (the last of repeated names wins), without its
    multidict; split by hand when it is one parameter with nothing to decode."""
    text = raw.decode("latin-1")
    if "&" in text or "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    if not text:
        return {}
    name, _, value = text.partition("=")
    return {name: value}


@cache  # per model, once
def quick_checks(model: type[BaseModel]) -> dict[str, tuple[Callable[[str], Any], Any]]:
    """Per field: a check giving the field's value from a valid parameter, or None when it cannot
    tell (pydantic then decides), and the value when the parameter is absent (None: required).

    Judged here: an ``int`` bounded by ``ge``/``le`` given in plain decimal digits, and an id
    (a strict ``str`` of bounded length without NUL, serving.models.Id); any other field leaves
    every request to pydantic.
    """
    checks = {}
    for name, field in model.model_fields.items():
        rules = {type(rule): rule for rule in field.metadata}
        default = None if field.is_required() else field.default
        if field.annotation is int and set(rules) <= {Ge, Le}:
            low, high = rules[Ge].ge if Ge in rules else None, rules[Le].le if Le in rules else None
            checks[name] = (partial(_bounded_int, low, high), default)
        elif field.annotation is str and _is_id(rules):
            text = rules[StringConstraints]
            checks[name] = (partial(_id, text.min_length or 0, text.max_length), default)
        else:
            checks[name] = (lambda value: None, default)
    return checks


def _is_id(rules: dict[type, Any]) -> bool:
    text = rules.get(StringConstraints)
    plain = dict.fromkeys(("strip_whitespace", "to_upper", "to_lower", "ascii_only"))
    return (
        set(rules) == {Strict, StringConstraints}
        and text.pattern == NO_NUL
        and text.max_length is not None
        and all(getattr(text, option) == value for option, value in plain.items())
    )


def _bounded_int(low: int | None, high: int | None, value: str) -> int | None:
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        return None
    number = int(value)
    return number if (low is None or number >= low) and (high is None or number <= high) else None


def _id(shortest: int, longest: int, value: str) -> str | None:
    return value if shortest <= len(value) <= longest and "\x00" not in value else None


def documented(model: type[BaseModel], where: dict[str, str]) -> dict:
    """``openapi_extra`` describing ``model``'s fields as the route's path and query parameters."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return {
        "parameters": [
            {
                "name": name,
                "in": place,
                "required": place == "path" or name in required,
                "schema": schema["properties"][name],
            }
            for name, place in where.items()
        ]
    }
