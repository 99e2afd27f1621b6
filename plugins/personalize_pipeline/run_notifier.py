"""The SNS notifier of a pipeline's runs: the Amazon provider's, completed from the run's context."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

from personalize_pipeline.notifications import Event, run_details, subject_line


class RunNotifier(SnsNotifier):
    """The provider's SnsNotifier, with the rendered message completed from the run's context.

    ``subject`` and ``message`` are Jinja templates rendered by Airflow as usual; at send time the
    subject is made acceptable to SNS and the message gains the details of :func:`run_details`.
    """

    def __init__(self, *, event: Event, solutions: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.event = event
        self.solutions = tuple(solutions)

    def notify(self, context) -> None:
        message = "\n".join([self.message, *run_details(context, self.event, self.solutions)])
        self.hook.publish_to_target(
            target_arn=self.target_arn,
            message=message,
            subject=subject_line(self.subject) if self.subject else None,
            message_attributes=self.message_attributes,
        )
