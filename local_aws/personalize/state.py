"""Resource records, ARNs and statuses, thread-safe and persisted as one JSON file.

Records are plain JSON-ready dicts so that Describe/List can return them as they
are and a restart can reload them. Every mutation rewrites ``state.json``
atomically; the state is small (metadata only, data lives in parquet/npz files).
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import ResourceAlreadyExists, ResourceNotFound

KINDS = (
    "dataset-group",
    "schema",
    "dataset",
    "dataset-import-job",
    "solution",
    "solution-version",
    "campaign",
    "filter",
    "event-tracker",
    "batch-inference-job",
    "batch-segment-job",
)

CREATE_PENDING = "CREATE PENDING"
CREATE_IN_PROGRESS = "CREATE IN_PROGRESS"
ACTIVE = "ACTIVE"
CREATE_FAILED = "CREATE FAILED"
DELETE_PENDING = "DELETE PENDING"
CREATE_STOPPING = "CREATE STOPPING"
CREATE_STOPPED = "CREATE STOPPED"
# Batch jobs use their own spelling (no CREATE prefix, a space in IN PROGRESS).
JOB_PENDING = "PENDING"
JOB_IN_PROGRESS = "IN PROGRESS"
# A campaign update's own status (latestCampaignUpdate.status) while it deploys; the campaign stays
# ACTIVE on its old version meanwhile. The API reference lists only the create chain for it; this
# spelling is what AWS's own solution "Maintaining personalized experiences with machine learning"
# stubs DescribeCampaign with while an update runs.
UPDATE_IN_PROGRESS = "UPDATE IN_PROGRESS"

BUSY_STATUSES = {CREATE_PENDING, CREATE_IN_PROGRESS, JOB_PENDING, JOB_IN_PROGRESS, CREATE_STOPPING}
RESTART_REASON = "Interrupted by a service restart."


def now() -> float:
    return time.time()


def make_arn(region: str, account: str, resource: str) -> str:
    return f"arn:aws:personalize:{region}:{account}:{resource}"


def dataset_arn(group_arn: str, dataset_type: str) -> str:
    """The ARN a dataset of ``dataset_type`` has in that dataset group."""
    return f"{group_arn.replace(':dataset-group/', ':dataset/')}/{dataset_type}"


class Store:
    """All resources by kind and ARN, guarded by one lock."""

    def __init__(self, path: Path | None):
        self._lock = threading.RLock()
        self._path = path
        self._data: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        if path is not None and path.exists():
            loaded = json.loads(path.read_text())
            for kind in KINDS:
                self._data[kind] = loaded.get(kind, {})

    def find(self, arn: str) -> tuple[str, dict[str, Any]]:
        """(kind, record) for an ARN of any kind; ResourceNotFound otherwise."""
        with self._lock:
            for kind in KINDS:
                if arn in self._data[kind]:
                    return kind, copy.deepcopy(self._data[kind][arn])
        raise ResourceNotFound(f"Could not find resource {arn}.")

    # -- persistence -------------------------------------------------------
    def _save(self) -> None:
        if self._path is None:
            return
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True))
        os.replace(tmp, self._path)

    # -- basic operations --------------------------------------------------
    def add(self, kind: str, arn: str, record: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if arn in self._data[kind]:
                raise ResourceAlreadyExists(arn)
            stamp = now()
            record.setdefault("creationDateTime", stamp)
            record.setdefault("lastUpdatedDateTime", stamp)
            self._data[kind][arn] = record
            self._save()
            return copy.deepcopy(record)

    def get(self, kind: str, arn: str) -> dict[str, Any]:
        with self._lock:
            record = self._data[kind].get(arn)
            if record is None:
                raise ResourceNotFound(f"Could not find resource {arn}." if arn else "Resource not found.")
            return copy.deepcopy(record)

    def exists(self, kind: str, arn: str) -> bool:
        with self._lock:
            return arn in self._data[kind]

    def update(self, kind: str, arn: str, **fields: Any) -> dict[str, Any]:
        """Set fields (None removes a field) and bump lastUpdatedDateTime."""
        with self._lock:
            record = self._data[kind].get(arn)
            if record is None:
                raise ResourceNotFound(f"Could not find resource {arn}.")
            for key, value in fields.items():
                if value is None:
                    record.pop(key, None)
                else:
                    record[key] = value
            record["lastUpdatedDateTime"] = now()
            self._save()
            return copy.deepcopy(record)

    def compare_and_update(
        self, kind: str, arn: str, allowed: Iterable[str], **fields: Any
    ) -> dict[str, Any] | None:
        """Update only if the current status is one of ``allowed``; None otherwise.

        Used by the job runner so a stop request is never overwritten by a late step.
        """
        with self._lock:
            record = self._data[kind].get(arn)
            if record is None or record.get("status") not in set(allowed):
                return None
            return self.update(kind, arn, **fields)

    def delete(self, kind: str, arn: str) -> None:
        with self._lock:
            self._data[kind].pop(arn, None)
            self._save()

    def list(self, kind: str, where: Callable[[dict[str, Any]], bool] | None = None) -> list[dict[str, Any]]:
        """Records of a kind, newest first."""
        with self._lock:
            records = [copy.deepcopy(r) for r in self._data[kind].values() if where is None or where(r)]
        records.sort(key=lambda r: r.get("creationDateTime", 0), reverse=True)
        return records

    def count(self, kind: str, where: Callable[[dict[str, Any]], bool]) -> int:
        with self._lock:
            return sum(1 for r in self._data[kind].values() if where(r))

    def locked(self) -> threading.RLock:
        """The store lock, for check-then-act sequences in handlers."""
        return self._lock

    def recover_after_restart(self) -> list[tuple[str, str]]:
        """Settle what a restart left half-done; return (kind, arn) of resources to carry on with.

        Deletions finish and stops take effect at once; everything else still being created
        (imports, trainings and batch jobs included) is returned, oldest first, to be resumed:
        the real service keeps working while its clients come and go.
        """
        resume: list[tuple[str, float, str]] = []
        with self._lock:
            for kind in KINDS:
                for arn, record in list(self._data[kind].items()):
                    status = record.get("status")
                    if status == DELETE_PENDING:
                        del self._data[kind][arn]
                    elif status == CREATE_STOPPING:
                        record.update(status=CREATE_STOPPED, lastUpdatedDateTime=now())
                    elif status in BUSY_STATUSES:
                        resume.append((kind, record.get("creationDateTime", 0), arn))
            self._save()
        return [(kind, arn) for kind, _, arn in sorted(resume, key=lambda r: r[1])]
