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

from . import queries
from .errors import JobFailure, ServiceError
from .filter_masks import query_masks
from .filtering import FilterContext
from .s3io import S3
from .scoring import Model

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
    answers = queries.answer(model, ok_queries, k, masks)
    outputs: dict[int, dict[str, Any]] = {}
    for i, (items, scores) in zip(ok, answers, strict=True):
        output: dict[str, Any] = {"recommendedItems": items}
        if scores is not None and model.has_scores:
            output["scores"] = [None if s is None else round(s, SCORE_DECIMALS) for s in scores]
        outputs[i] = output
    return [json.dumps({"input": query, "output": outputs.get(i), "error": error})
            for i, (query, error, _) in enumerate(parsed)]


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
