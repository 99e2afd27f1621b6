"""The local Personalize service: shared resources plus the table of operations, as one WSGI app."""

from __future__ import annotations

import logging

from . import work
from .errors import ServiceError
from .handlers import batch_jobs, datasets, events, filters, runtime, solutions, tags
from .protocol import PersonalizeApp
from .resources import Resources
from .state import CREATE_FAILED, RESTART_REASON, UPDATE_IN_PROGRESS

log = logging.getLogger(__name__)

HANDLER_MODULES = (datasets, solutions, batch_jobs, filters, events, tags, runtime)


class PersonalizeService(Resources):
    def app(self) -> PersonalizeApp:
        operations: dict = {}
        for module in HANDLER_MODULES:
            operations.update(module.handlers(self))
        return PersonalizeApp(operations)

    def resume(self) -> None:
        """After a restart, finish what the last process left running, as the real service would
        have: imports, trainings and batch jobs run again from their inputs under the same ARN."""
        for kind, arn in self.store.recover_after_restart():
            record = self.store.get(kind, arn)
            try:
                body = work.body_for(self, kind, record)
            except ServiceError as exc:  # what the job needs is gone (e.g. its solution version)
                log.warning("cannot resume %s: %s", arn, exc.message)
                self.store.update(kind, arn, status=CREATE_FAILED, failureReason=RESTART_REASON)
                continue
            log.info("resuming %s (%s)", arn, record["status"])
            self.jobs.resume(kind, arn, body, record["status"])
        for campaign in self.store.list("campaign", lambda r: (r.get("latestCampaignUpdate") or {}).get(
                "status") == UPDATE_IN_PROGRESS):
            work.deploy_campaign_update(self, campaign["campaignArn"])
