"""The service object: shared state, job runner, files and the operation table."""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import InvalidNextToken, LimitExceeded
from .imports import DatasetFiles
from .jobs import JobRunner
from .protocol import PersonalizeApp
from .s3io import S3
from .scoring import Model
from .state import BUSY_STATUSES, Store, make_arn

DEFAULT_PAGE = 100
MAX_BUSY_JOBS = 5


class PersonalizeService:
    def __init__(self, data_dir: Path, s3_endpoint: str, account: str = "123456789012",
                 step_seconds: float = 1.0, workers: int = 2):
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        self.account = account
        self.store = Store(data_dir / "state.json")
        self.jobs = JobRunner(self.store, step_seconds, workers)
        self.files = DatasetFiles(data_dir / "datasets")
        self.models_dir = data_dir / "models"
        self.s3 = S3(s3_endpoint)
        self._models: OrderedDict[str, Model] = OrderedDict()
        self._models_lock = threading.Lock()
        from .events import LiveEvents

        self.live = LiveEvents()

    def app(self) -> PersonalizeApp:
        from . import batch, control_data, control_ml, events, filters, runtime, segments, tags

        handlers: dict = {}
        for module in (control_data, control_ml, batch, segments, filters, events, tags, runtime):
            handlers.update(module.handlers(self))
        return PersonalizeApp(handlers)

    def resume(self) -> None:
        """After a restart: fail interrupted work, finish status-only chains."""
        for kind, arn in self.store.recover_after_restart():
            record = self.store.get(kind, arn)
            if record.get("status") == "CREATE IN_PROGRESS":
                self.store.update(kind, arn, status="CREATE PENDING")
            self.jobs.start(kind, arn)

    def shutdown(self) -> None:
        self.jobs.shutdown()

    # -- helpers for handlers ---------------------------------------------
    def arn(self, region: str, resource: str) -> str:
        return make_arn(region, self.account, resource)

    def check_busy_limit(self, kind: str) -> None:
        """The per-region quota of 5 pending/in-progress jobs; call with the store lock held."""
        if self.store.count(kind, lambda r: r.get("status") in BUSY_STATUSES) >= MAX_BUSY_JOBS:
            raise LimitExceeded(f"More than {MAX_BUSY_JOBS} resources with PENDING or IN_PROGRESS status.")

    @staticmethod
    def tags_field(params: dict[str, Any]) -> dict[str, Any]:
        """Tags given on Create* kept in a hidden field (see ``tags``)."""
        from .tags import check_tags

        return {"_tags": check_tags(params["tags"])} if params.get("tags") else {}

    def model_path(self, solution_version_arn: str) -> Path:
        solution, version = solution_version_arn.split(":solution/", 1)[1].split("/")
        return self.models_dir / solution / f"{version}.npz"

    def load_model(self, solution_version_arn: str) -> Model:
        """Models are immutable once trained: a small LRU cache avoids reloading per request."""
        with self._models_lock:
            model = self._models.get(solution_version_arn)
            if model is not None:
                self._models.move_to_end(solution_version_arn)
                return model
        model = Model.load(self.model_path(solution_version_arn))
        with self._models_lock:
            self._models[solution_version_arn] = model
            while len(self._models) > 4:
                self._models.popitem(last=False)
        return model


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record without internal (underscore) fields."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def pick(record: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: record[k] for k in keys if k in record}


def describe_handler(store, kind: str, arn_param: str, response_key: str) -> Callable:
    """Describe<X>: the stored record of that kind, without internal fields."""

    def describe(p: dict[str, Any], region: str) -> dict[str, Any]:
        return {response_key: public(store.get(kind, p[arn_param]))}

    return describe


def list_handler(store, kind: str, result_key: str, summary: tuple[str, ...], scope: str | None = None,
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
