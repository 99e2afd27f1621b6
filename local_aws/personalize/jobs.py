"""The asynchronous status chain every created resource goes through.

Clients poll Describe* like they would against AWS, so creation returns at
once and a worker thread walks PENDING -> IN_PROGRESS -> ACTIVE / CREATE FAILED,
pausing ``step_seconds`` between steps. Real work (imports, training, batch)
runs in a small pool sized for the machine; status-only resources use a
separate pool so they never queue behind a long training.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .errors import JobFailure
from .state import (
    ACTIVE,
    CREATE_FAILED,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    CREATE_STOPPED,
    CREATE_STOPPING,
    DELETE_PENDING,
    JOB_IN_PROGRESS,
    JOB_PENDING,
    Store,
)

log = logging.getLogger(__name__)

Work = Callable[[], dict[str, Any] | None]


class JobRunner:
    def __init__(self, store: Store, step_seconds: float, workers: int):
        self.store = store
        self.step_seconds = step_seconds
        self._stopping = threading.Event()
        self._light = ThreadPoolExecutor(8, thread_name_prefix="personalize-status")
        self._heavy = ThreadPoolExecutor(max(1, workers), thread_name_prefix="personalize-work")

    def start(self, kind: str, arn: str, work: Work | None = None, batch_statuses: bool = False) -> None:
        """Walk the resource's create chain in the background, running ``work`` if given."""
        self._submit(kind, arn, work, batch_statuses, at_work=False)

    def resume(self, kind: str, arn: str, work: Work | None, status: str) -> None:
        """Carry on with a resource a restart cut short, from the status it had (same ARN)."""
        batch_statuses = status in (JOB_PENDING, JOB_IN_PROGRESS)
        self._submit(kind, arn, work, batch_statuses, at_work=status in (CREATE_IN_PROGRESS, JOB_IN_PROGRESS))

    def _submit(self, kind: str, arn: str, work: Work | None, batch_statuses: bool, at_work: bool) -> None:
        pending, in_progress = (JOB_PENDING, JOB_IN_PROGRESS) if batch_statuses else (
            CREATE_PENDING, CREATE_IN_PROGRESS)
        pool = self._heavy if work is not None else self._light
        if at_work:
            pool.submit(self._work, kind, arn, work, in_progress)
        else:
            pool.submit(self._run, kind, arn, work, pending, in_progress)

    def later(self, steps: int, action: Callable[[], None]) -> None:
        """Run a quick ``action`` after ``steps`` status steps (not if the service stops first)."""
        self._light.submit(self._later, steps, action)

    def _later(self, steps: int, action: Callable[[], None]) -> None:
        if not self._stopping.wait(self.step_seconds * steps):
            action()

    def delete_later(self, kind: str, arn: str, cleanup: Callable[[], None] | None = None) -> None:
        """Mark DELETE PENDING now, remove the record one step later."""
        self.store.update(kind, arn, status=DELETE_PENDING)
        self._light.submit(self._delete, kind, arn, cleanup)

    def shutdown(self) -> None:
        self._stopping.set()
        self._light.shutdown(wait=False, cancel_futures=True)
        self._heavy.shutdown(wait=False, cancel_futures=True)

    def _delete(self, kind: str, arn: str, cleanup: Callable[[], None] | None) -> None:
        if self._stopping.wait(self.step_seconds):
            return
        self.store.delete(kind, arn)
        if cleanup is not None:
            try:
                cleanup()
            except Exception:  # noqa: BLE001 - cleanup is best effort
                log.exception("cleanup of %s failed", arn)

    def _run(self, kind: str, arn: str, work: Work | None, pending: str, in_progress: str) -> None:
        if self._stopping.wait(self.step_seconds):
            return  # shutting down: a restart fails or resumes this resource
        if self.store.compare_and_update(kind, arn, [pending], status=in_progress) is None:
            return  # stopped or deleted while pending
        self._work(kind, arn, work, in_progress)

    def _work(self, kind: str, arn: str, work: Work | None, in_progress: str) -> None:
        if self._stopping.wait(self.step_seconds):
            return
        try:
            fields = (work() if work is not None else None) or {}
        except JobFailure as exc:
            self._finish(kind, arn, in_progress, status=CREATE_FAILED, failureReason=str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - any crash must end as CREATE FAILED
            log.error("job %s crashed:\n%s", arn, traceback.format_exc())
            self._finish(kind, arn, in_progress, status=CREATE_FAILED,
                         failureReason=f"Internal error: {type(exc).__name__}: {exc}")
            return
        self._finish(kind, arn, in_progress, status=ACTIVE, **fields)

    def _finish(self, kind: str, arn: str, in_progress: str, **fields: Any) -> None:
        if self.store.compare_and_update(kind, arn, [in_progress], **fields) is None:
            # A stop request arrived while working: honour it.
            self.store.compare_and_update(kind, arn, [CREATE_STOPPING], status=CREATE_STOPPED)
