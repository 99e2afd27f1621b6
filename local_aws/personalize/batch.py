"""Batch inference: JSON Lines in S3 -> one vectorised scoring pass -> ``.out`` files.

Lines are parsed first, all valid users are scored together (see ``scoring``)
with their filter's masks built per block of users (see ``filtering``),
then every input line gets one output line; a bad line gets an ``error`` text
and the job goes on. ``run`` reads and writes the files of every batch job,
segment jobs too.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from typing import Any

import numpy as np

from . import queries
from .errors import JobFailure, ServiceError
from .filter_masks import query_masks
from .filtering import FilterContext
from .s3io import S3
from .scoring import Model, recommend

SCORE_DECIMALS = 7


def parse_line(text: str) -> tuple[Any, str | None]:
    """(echoed input, error) for one input line."""
    try:
        query = json.loads(text)
    except json.JSONDecodeError as exc:
        return text, f"Line is not valid JSON: {exc.msg} at column {exc.colno}."
    if not isinstance(query, dict):
        return query, "Line must be a JSON object such as {\"userId\": \"u1\"}."
    return query, None


ContextFor = Callable[[dict], "FilterContext | None"]


def score_lines(model: Model, lines: list[str], k: int, context_for: ContextFor | None = None) -> list[str]:
    """Output lines (JSON text) for input lines; blank lines are skipped.

    ``context_for`` gives the filter context of a line (by its filterValues); a
    line whose filter cannot be bound gets that error as its output.
    """
    parsed = []
    for line in lines:
        if not line.strip():
            continue
        query, error = parse_line(line)
        error = error or queries.check(model, query)
        context = None
        if error is None and context_for is not None:
            try:
                context = context_for(query)
            except ServiceError as exc:
                error = exc.message
        parsed.append((query, error, context))
    ok = [i for i, (_, error, _) in enumerate(parsed) if error is None]
    ok_queries = [parsed[i][0] for i in ok]
    masks = query_masks([parsed[i][2] for i in ok], model.item_ids, ok_queries)
    encode = _user_outputs if queries.kind(model) == "user" else _outputs
    outputs = dict(zip(ok, encode(model, ok_queries, k, masks), strict=True))
    return [_line(query, outputs.get(i), error) for i, (query, error, _) in enumerate(parsed)]


def _line(query: Any, output: str | None, error: str | None) -> str:
    """``json.dumps({"input": query, "output": output, "error": error})`` with the output already JSON."""
    if output is None:
        return json.dumps({"input": query, "output": None, "error": error})
    return f'{{"input": {json.dumps(query)}, "output": {output}, "error": null}}'


def _outputs(model: Model, ok_queries: list[dict], k: int, masks) -> list[str]:
    """Output objects (JSON text) of any recipe's queries, one answer at a time."""
    out = []
    for items, scores in queries.answer(model, ok_queries, k, masks):
        output: dict[str, Any] = {"recommendedItems": items}
        if scores is not None and model.has_scores:
            output["scores"] = [None if s is None else round(s, SCORE_DECIMALS) for s in scores]
        out.append(json.dumps(output))
    return out


def _user_outputs(model: Model, ok_queries: list[dict], k: int, masks) -> list[str]:
    """``_outputs`` for user recommendations, the same text from whole arrays: scores rounded at
    once, item ids JSON-encoded once per model, a row's text joined from them."""
    rows = model.user_index([q["userId"] for q in ok_queries])
    items, scores, valid = recommend(model, rows, k, allowed=None if masks is None else masks.rows)
    name_rows = _encoded_item_ids(model)[items].tolist()
    scores = rounded(scores, SCORE_DECIMALS)
    score_rows = scores.tolist() if model.has_scores else None
    for j in np.flatnonzero(~valid.all(axis=1)).tolist():  # users with fewer than k candidates
        name_rows[j] = [name for name, keep in zip(name_rows[j], valid[j].tolist(), strict=True) if keep]
        if score_rows is not None:
            score_rows[j] = scores[j][valid[j]].tolist()
    if score_rows is None:
        return [f'{{"recommendedItems": [{", ".join(names)}]}}' for names in name_rows]
    return [f'{{"recommendedItems": [{", ".join(names)}], "scores": {json.dumps(values)}}}'
            for names, values in zip(name_rows, score_rows, strict=True)]


def _encoded_item_ids(model: Model) -> np.ndarray:
    encoded = getattr(model, "_encoded_item_ids", None)
    if encoded is None:
        encoded = model._encoded_item_ids = np.array([json.dumps(name) for name in model.item_ids.tolist()],
                                                      dtype=object)
    return encoded


def rounded(values: np.ndarray, decimals: int) -> np.ndarray:
    """``round(value, decimals)`` of every value, vectorised. numpy rounds ``value * 10**decimals``,
    which is exact for float32 scores (24 + 17 bits of mantissa fit in 53) but can land on a tie
    for other float64 values (popularity shares): those few are rounded by ``round``."""
    out = np.round(values, decimals)
    scaled = values * 10.0**decimals
    near_tie = np.abs(scaled - np.floor(scaled) - 0.5) <= 1e-9 * np.maximum(np.abs(scaled), 1.0)
    for i in np.flatnonzero(near_tie).tolist():
        out.flat[i] = round(float(values.flat[i]), decimals)
    return out


def run(s3: S3, input_uri: str, output_uri: str, answer: Callable[[list[str]], list[str]]) -> None:
    """Read every input file, write ``<name>.out``; ``answer`` maps input lines to output lines."""
    try:
        keys = s3.keys_at(input_uri)
    except ValueError:
        keys = []
    if not keys:
        raise JobFailure(f"Invalid input location: no input files at {input_uri}.")
    base = output_uri if output_uri.endswith("/") else output_uri + "/"
    for bucket, key in keys:
        try:
            text = s3.read(bucket, key).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JobFailure(f"Input file s3://{bucket}/{key} is not UTF-8 text.") from exc
        lines = answer(text.splitlines())
        s3.write(base + posixpath.basename(key) + ".out", ("\n".join(lines) + "\n").encode())
