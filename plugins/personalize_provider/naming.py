"""Deterministic resource names derived from the task instance, so reruns find what they made."""

from __future__ import annotations

import hashlib
import re
from typing import Any

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}$")
MAX_NAME = 63
_RETRY_SUFFIX_ROOM = 4  # "-r99"


def run_scoped_name(context: Any, prefix: str) -> str:
    """``<prefix>-<yyyymmdd>-<10 hex>``: stable across attempts of one task instance, unique per run."""
    ti = context["ti"]
    identity = f"{ti.dag_id}|{ti.task_id}|{ti.run_id}|{getattr(ti, 'map_index', -1)}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
    run = context.get("dag_run")
    when = getattr(run, "logical_date", None) or getattr(run, "run_after", None)
    stamp = f"-{when:%Y%m%d}" if when else ""
    room = MAX_NAME - _RETRY_SUFFIX_ROOM - len(stamp) - 11
    stem = re.sub(r"[^a-zA-Z0-9\-_]+", "-", prefix).strip("-_")[:room] or "job"
    return f"{stem}{stamp}-{digest}"


def retry_name(base: str, generation: int) -> str:
    """Name of the ``generation``-th replacement of a job that failed (generation 1 is ``base``)."""
    return base if generation <= 1 else f"{base}-r{generation}"


def generation_of(base: str, name: str) -> int | None:
    """Inverse of :func:`retry_name`; None when ``name`` is not a generation of ``base``."""
    if name == base:
        return 1
    if name.startswith(base + "-r") and name[len(base) + 2 :].isdigit():
        return int(name[len(base) + 2 :])
    return None


def validate_name(name: str, what: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise ValueError(
            f"{what} {name!r} is not a valid Personalize name: 1-63 characters, letters, digits, "
            "'-' and '_', starting with a letter or digit."
        )
    return name
