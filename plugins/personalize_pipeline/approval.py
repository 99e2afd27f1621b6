"""
Human approval of a candidate the quality gate could not settle alone (``quality_gate.approval``).

The standard provider's ApprovalOperator, given the gate's decision: a candidate that needs no
human passes straight through; one that does waits (no worker held) with the numbers in the
request's body. The answer, or the timeout (which answers Reject), becomes the candidate's final
decision in ``solution_metrics``; Reject skips everything downstream, so nothing paid starts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

if TYPE_CHECKING:  # the gate's module loads the database driver: not at DAG parse
    from personalize_pipeline.quality_gate import GateDecision


def _number(value: float | None) -> str:
    return "none" if value is None else f"{value:.4f}"


def approval_body(decision: GateDecision, timeout_hours: float) -> str:
    """The request's Markdown: the numbers a person needs to decide, and what each answer does."""
    from personalize_pipeline.quality_gate import short_name

    metric = short_name(decision.metric)
    tolerance = "n/a" if decision.tolerance is None else f"{decision.tolerance * 100:g}%"
    rows = [
        ("metric", metric),
        ("candidate", _number(decision.candidate_value)),
        ("live version", _number(decision.live_value)),
        ("popularity baseline", _number(decision.baseline_value)),
        ("tolerance", tolerance),
    ]
    table = "\n".join(["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)])
    reasons = "\n".join(f"- {reason}" for reason in decision.reasons)
    return (
        f"Candidate `{decision.solution_version_arn}` of **{decision.solution}**\n\n{table}\n\n"
        f"Live version: `{decision.live_version_arn or 'none (first version)'}`\n\n{reasons}\n\n"
        f"Approve: it goes live (campaign, batch job, cache). Reject, or no answer within "
        f"{timeout_hours:g} h: nothing changes and nothing paid starts."
    )


def answer_reason(approved: bool, responded_by: dict[str, Any] | None, timeout_hours: float) -> str:
    """Who decided, for the record: the responding user, or the timeout."""
    if responded_by is None:
        return f"no answer within {timeout_hours:g} h: not promoted (timeout)"
    who = responded_by.get("name") or responded_by.get("id") or "unknown user"
    return f"{'approved' if approved else 'rejected'} by {who}"


class GateApprovalOperator(ApprovalOperator):
    """Asks a human when the gate's decision needs one; returns the final decision (XCom)."""

    template_fields = (*ApprovalOperator.template_fields, "decision")

    def __init__(
        self, *, pipeline: str, decision: Any, timeout_hours: float, db_conn_id: str, schema: str, **kwargs
    ) -> None:
        super().__init__(
            subject="Personalize: approve a model version?",
            defaults=ApprovalOperator.REJECT,  # what the timeout answers
            response_timeout=timedelta(hours=timeout_hours),
            **kwargs,
        )
        self.pipeline = pipeline
        self.decision = decision
        self.timeout_hours = timeout_hours
        self.db_conn_id = db_conn_id
        self.schema = schema

    def execute(self, context) -> Any:
        from personalize_pipeline.quality_gate import GateDecision

        gated = GateDecision.from_dict(self.decision)
        if not gated.needs_approval:
            return self.decision
        self.subject = f"Personalize {self.pipeline}: approve {gated.solution} version?"
        self.body = approval_body(gated, self.timeout_hours)
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        from personalize_pipeline.quality_gate import GateDecision, record_answer

        chosen = event.get("chosen_options") or []
        approved = chosen == [self.APPROVE]
        final = record_answer(
            db_conn_id=self.db_conn_id,
            schema=self.schema,
            decision=GateDecision.from_dict(self.decision),
            approved=approved,
            reason=answer_reason(approved, event.get("responded_by_user"), self.timeout_hours),
        )
        super().execute_complete(context, event)  # on Reject: skips what follows
        return {**self.decision, **final.as_dict()}
