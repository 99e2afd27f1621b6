"""
SNS notifications for pipeline runs, through the Amazon provider's notifier and hook.

``notifications.sns_topic_arn`` in the configuration switches them on (the notifier itself,
:class:`~personalize_pipeline.run_notifier.RunNotifier`, is imported only then). DAGs attach
``run_notifiers(cfg, "success")`` and ``run_notifiers(cfg, "failure")`` as DAG callbacks; building
them touches neither the network nor a database, so they are safe at parse time. When the callback
runs, the message names the DAG, the run and its state, plus the failed tasks and the quality
gate's decisions when the run's context can tell them: one message per run, whatever the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from personalize_pipeline.config import PipelineConfig

log = logging.getLogger(__name__)

Event = Literal["success", "failure"]
STATES: dict[str, str] = {"success": "succeeded", "failure": "failed"}
SUBJECT_LIMIT = 100  # SNS: at most 100 printable ASCII characters, no line breaks
EXPERIMENT_TASK = "experiment_report"  # the task id whose return value is the experiments' summaries
# The task ids whose return value is GateDecision.as_dict(), the final one first: the approval
# step returns the decision after a human's answer, the gate the decision before it.
DECISION_TASKS = ("{solution}.approval", "{solution}.gate")


def topic_region(topic_arn: str) -> str:
    """SNS publishes only in the topic's own region, whatever region the connection defaults to."""
    return topic_arn.split(":")[3]


def subject_line(text: str) -> str:
    """A subject SNS accepts: printable ASCII on one line, cut to 100 characters."""
    clean = "".join(c if " " <= c <= "~" else " " for c in text)
    clean = " ".join(clean.split())
    return clean if len(clean) <= SUBJECT_LIMIT else clean[: SUBJECT_LIMIT - 3].rstrip() + "..."


def gate_message(decisions: list[dict]) -> str:
    """The quality gate's decisions in a run, one summary line each (from ``GateDecision.as_dict()``)."""
    from personalize_pipeline.quality_gate import GateDecision  # not at parse: it loads the DB driver

    if not decisions:
        return "Quality gate: no decisions in this run."
    gated = [GateDecision.from_dict(d) for d in decisions]
    promoted = sum(d.promote for d in gated)
    head = f"Quality gate: {promoted} promoted, {len(gated) - promoted} NOT promoted."
    return "\n".join([head, *(f"- {d.summary()}" for d in gated)])


def _failed_tasks(context: dict[str, Any]) -> list[str]:
    """Every failed task of the run when the callback can ask, else the task that failed it."""
    ti = context.get("ti")
    if ti is None:
        return []
    run_id = context.get("run_id") or getattr(ti, "run_id", None)
    try:
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[run_id]).get(run_id, {})
        failed = sorted(task for task, state in states.items() if state == "failed")
    except Exception:  # the message must still go out: fall back to what the context itself holds
        log.warning("Could not read the run's task states for the notification", exc_info=True)
        failed = []
    return failed or [ti.task_id]


def _pushed(context: dict[str, Any], task_id: str) -> Any:
    """What a task of the run returned; None when it did not run, or the context has no task instance."""
    ti = context.get("ti")
    if ti is None:
        return None
    try:
        return ti.xcom_pull(task_ids=task_id)
    except Exception:
        log.warning("Could not read what %s returned for the notification", task_id, exc_info=True)
        return None


def _gate_decisions(context: dict[str, Any], solutions: Sequence[str]) -> list[dict]:
    """Each solution's final decision: the approval step's when it ran, else the gate's."""
    decisions = []
    for solution in solutions:
        for task_id in DECISION_TASKS:
            value = _pushed(context, task_id.format(solution=solution))
            if isinstance(value, dict):
                decisions.append(value)
                break
    return decisions


def run_details(context: dict[str, Any], event: Event, solutions: Sequence[str]) -> list[str]:
    """The lines that follow the message's heading: why the run ended, what failed, what was gated."""
    lines = []
    if context.get("reason"):
        lines.append(f"Reason: {context['reason']}")
    if event == "failure":
        failed = _failed_tasks(context)
        if failed:
            lines.append("Failed tasks: " + ", ".join(failed))
    decisions = _gate_decisions(context, solutions)
    if decisions:
        lines.append(gate_message(decisions))
    summaries = _pushed(context, EXPERIMENT_TASK)
    if isinstance(summaries, list) and summaries:
        from personalize_pipeline.experiments.summary import experiment_message

        lines.append(experiment_message(summaries))
    return lines


def run_notifiers(config: PipelineConfig, event: Event) -> list:
    """The DAG callbacks for ``event``: one SNS notifier, or none when no topic is set or the event is off."""
    settings = config.notifications
    topic = settings.sns_topic_arn
    enabled = settings.on_success if event == "success" else settings.on_failure
    if topic is None or not enabled:
        return []
    from personalize_pipeline.run_notifier import RunNotifier  # the provider's notifier only when used

    state = STATES[event]
    return [
        RunNotifier(
            event=event,
            solutions=list(config.solutions),
            aws_conn_id=config.connections.aws,
            region_name=topic_region(topic),
            target_arn=topic,
            subject=f"Personalize {{{{ dag.dag_id }}}} {state}: {{{{ run_id }}}}",
            message=f"Personalize pipeline: DAG {{{{ dag.dag_id }}}}, run {{{{ run_id }}}} {state}.",
            message_attributes={"event": event, "dag_id": "{{ dag.dag_id }}"},
        )
    ]
