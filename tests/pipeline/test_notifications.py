"""SNS notifications: built without I/O at parse time, delivered through SNS to a subscribed SQS queue."""

from __future__ import annotations

from airflow.sdk import DAG

from personalize_pipeline.config import NotificationsConfig, load_config
from personalize_pipeline.notifications import (
    gate_message,
    run_notifiers,
    subject_line,
)
from personalize_pipeline.run_notifier import RunNotifier

NDCG = "normalized_discounted_cumulative_gain_at_10"


def _config(topic: str | None, **switches: bool):
    base = load_config()
    return base.model_copy(update={"notifications": NotificationsConfig(sns_topic_arn=topic, **switches)})


# What the gate tasks push to XCom (GateDecision.as_dict()), written out: nothing here comes from the code.
SIMILAR_ITEMS_REJECTED = {
    "solution": "similar-items",
    "solution_version_arn": "arn:sv/similar-items/2",
    "live_version_arn": "arn:sv/similar-items/1",
    "promote": False,
    "reasons": ["ndcg@10 0.0412 is 9.1% below live 0.0453 (tolerance 5%)"],
    "metric": NDCG,
    "candidate_value": 0.0412,
    "live_value": 0.0453,
}
USER_PERSONALIZATION_PROMOTED = {
    "solution": "user-personalization",
    "solution_version_arn": "arn:sv/user-personalization/2",
    "live_version_arn": "arn:sv/user-personalization/1",
    "promote": True,
    "reasons": ["ndcg@10 0.2000 is 5.3% above live 0.1900 (tolerance 5%)"],
    "metric": NDCG,
    "candidate_value": 0.2,
    "live_value": 0.19,
}


def test_no_topic_or_event_switched_off_means_no_notifiers():
    topic = "arn:aws:sns:us-east-1:123456789012:pipeline"
    assert run_notifiers(_config(None), "success") == []
    assert run_notifiers(_config(None), "failure") == []
    assert run_notifiers(_config(topic, on_success=False), "success") == []
    assert run_notifiers(_config(topic, on_failure=False), "failure") == []
    (notifier,) = run_notifiers(_config(topic, on_success=False), "failure")
    assert isinstance(notifier, RunNotifier)
    assert (notifier.target_arn, notifier.aws_conn_id, notifier.region_name) == (
        topic,
        "aws_default",
        "us-east-1",
    )


def test_building_notifiers_needs_no_connection():
    """Parse time: an unknown connection id and an unreachable region must not matter until a run ends."""
    config = _config("arn:aws:sns:eu-west-1:123456789012:pipeline")
    config = config.model_copy(
        update={"connections": config.connections.model_copy(update={"aws": "no_such_connection"})}
    )
    (notifier,) = run_notifiers(config, "success")
    assert notifier.aws_conn_id == "no_such_connection"
    assert "hook" not in notifier.__dict__  # the cached hook is created on first use only
    assert notifier.region_name == "eu-west-1"


def test_subject_line_fits_sns_rules():
    assert subject_line("Personalize  dag\nfailed — run") == "Personalize dag failed run"
    long = subject_line("x" * 150)
    assert len(long) == 100 and long.endswith("...")


def test_gate_message_lists_each_decision():
    message = gate_message([SIMILAR_ITEMS_REJECTED, USER_PERSONALIZATION_PROMOTED])
    assert message.splitlines() == [
        "Quality gate: 1 promoted, 1 NOT promoted.",
        "- similar-items: NOT promoted — ndcg@10 0.0412 is 9.1% below live 0.0453 (tolerance 5%)",
        "- user-personalization: promoted — ndcg@10 0.2000 is 5.3% above live 0.1900 (tolerance 5%)",
    ]
    assert gate_message([]) == "Quality gate: no decisions in this run."


def test_failure_notifier_with_a_minimal_context_names_dag_run_and_state(subscribed):
    """The smallest context a DAG callback gets (dag, run_id, reason): it renders and is sent."""
    topic, received = subscribed
    (notifier,) = run_notifiers(_config(topic), "failure")
    dag = DAG("personalize_end_to_end", schedule=None)
    notifier({"dag": dag, "run_id": "manual__2025-11-02T00:00:00+00:00", "reason": "task_failure"})

    (envelope,) = received()
    assert (
        envelope["Subject"] == "Personalize personalize_end_to_end failed: manual__2025-11-02T00:00:00+00:00"
    )
    assert envelope["Message"].splitlines() == [
        "Personalize pipeline: DAG personalize_end_to_end, run manual__2025-11-02T00:00:00+00:00 failed.",
        "Reason: task_failure",
    ]
    assert envelope["MessageAttributes"]["event"]["Value"] == "failure"
    assert envelope["MessageAttributes"]["dag_id"]["Value"] == "personalize_end_to_end"


class _RunTaskInstance:
    """What a DAG callback's ``ti`` offers here: the run's task states and XComs."""

    dag_id = "personalize_end_to_end"
    run_id = "scheduled__2025-11-01T00:00:00+00:00"
    task_id = "user-personalization.train"

    def __init__(self, states: dict[str, str], xcoms: dict[str, dict]):
        self.states, self.xcoms = states, xcoms

    def get_task_states(self, dag_id: str, run_ids: list[str]) -> dict[str, dict[str, str]]:
        assert (dag_id, run_ids) == (self.dag_id, [self.run_id])
        return {self.run_id: self.states}

    def xcom_pull(self, task_ids: str) -> dict | None:
        return self.xcoms.get(task_ids)


def test_success_notifier_reports_the_gate_decisions_the_run_pushed(subscribed):
    topic, received = subscribed
    (notifier,) = run_notifiers(_config(topic), "success")
    ti = _RunTaskInstance({}, {"similar-items.gate": SIMILAR_ITEMS_REJECTED, "other.gate": {"x": 1}})
    notifier({"dag": DAG(ti.dag_id, schedule=None), "run_id": ti.run_id, "ti": ti, "reason": "success"})

    (envelope,) = received()
    assert envelope["Subject"] == f"Personalize {ti.dag_id} succeeded: {ti.run_id}"
    lines = envelope["Message"].splitlines()
    assert lines[0] == f"Personalize pipeline: DAG {ti.dag_id}, run {ti.run_id} succeeded."
    assert lines[2:] == [
        "Quality gate: 0 promoted, 1 NOT promoted.",
        "- similar-items: NOT promoted — ndcg@10 0.0412 is 9.1% below live 0.0453 (tolerance 5%)",
    ]


def test_failure_notifier_lists_every_failed_task(subscribed):
    topic, received = subscribed
    (notifier,) = run_notifiers(_config(topic), "failure")
    ti = _RunTaskInstance(
        {
            "similar-items.train": "failed",
            "extract": "success",
            "item-affinity.batch": "failed",
            "x": "skipped",
        },
        {},
    )
    notifier({"dag": DAG(ti.dag_id, schedule=None), "run_id": ti.run_id, "ti": ti, "reason": "task_failure"})

    (envelope,) = received()
    assert "Failed tasks: item-affinity.batch, similar-items.train" in envelope["Message"].splitlines()
