"""
The quality gate: store each trained solution version's offline metrics and decide whether it goes live.

A candidate is promoted when it meets the absolute minimums and scores, on the gate's metric, no
more than ``tolerance`` (relative) below the version promoted last. Every decision is kept in
``<schema>.solution_metrics`` with its reasons and lineage, so "why is this version serving?"
has an answer in the database, and the next candidate has something to be compared with.

A per-user candidate must also beat a popularity-count version trained on the same data in the
same run (kept in ``<schema>.baseline_versions``; a candidate's row has ``baseline_value`` and
``baseline_version_arn``). With
``approval`` set, a borderline (or every) candidate waits as ``awaiting_approval`` until a human's
answer, or the timeout, turns it into ``promoted`` or ``rejected`` (see approval.py).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from personalize_pipeline.config import BASELINE_RECIPE, GateConfig
from personalize_pipeline.db import connect, run_setup, table_exists
from personalize_pipeline.sql_files import compose

log = logging.getLogger(__name__)

TABLE = "solution_metrics"
PROMOTED = "promoted"
REJECTED = "rejected"
SKIPPED_GATE = "skipped_gate"
AWAITING_APPROVAL = "awaiting_approval"
SKIP_REASON = "gate skipped by the run's skip_gate param"
_LINEAGE_KEYS = ("dag_id", "run_id", "data_interval_start", "data_interval_end")
_ABBREVIATIONS = {
    "normalized_discounted_cumulative_gain": "ndcg",
    "mean_reciprocal_rank": "mrr",
}


def short_name(metric: str) -> str:
    """``normalized_discounted_cumulative_gain_at_10`` → ``ndcg@10``: readable in one-line summaries."""
    match = re.fullmatch(r"(.+)_at_(\d+)", metric)
    if not match:
        return metric
    base, k = match.groups()
    return f"{_ABBREVIATIONS.get(base, base)}@{k}"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def _value(metrics: dict[str, Any] | None, name: str) -> float | None:
    """The metric as a float, or None when it is absent or not a finite number (NaN compares as nothing)."""
    if not metrics or metrics.get(name) is None:
        return None
    try:
        value = float(metrics[name])
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class GateDecision:
    solution: str  # config key, e.g. "user-personalization"
    solution_version_arn: str  # the candidate
    live_version_arn: str | None  # the version it was compared with; None for the first
    promote: bool
    reasons: list[str]  # why promoted or not, with the numbers
    metric: str
    candidate_value: float | None
    live_value: float | None
    needs_approval: bool = False  # waits for a human before anything is promoted
    baseline_value: float | None = None
    tolerance: float | None = None

    def as_dict(self) -> dict:
        """Plain JSON types, for XCom."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GateDecision:
        """The decision back from :meth:`as_dict` output (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["reasons"] = list(values.get("reasons") or [])
        return cls(**values)

    def summary(self) -> str:
        """One line for logs and notifications."""
        verdict = "promoted" if self.promote else "NOT promoted"
        if self.needs_approval:
            verdict = "waiting for approval"
        because = "; ".join(self.reasons) or "no reason recorded"
        return f"{self.solution}: {verdict} — {because}"


def judge(
    candidate: dict[str, float], live: dict[str, float] | None, rules: GateConfig
) -> tuple[bool, list[str]]:
    """Pure decision: absolute minimums first, then the relative comparison with the live version.

    Promoted iff every minimum is met and ``candidate >= live * (1 - tolerance)`` on ``rules.metric``.
    Without a live version, the minimums alone decide ("first version").
    """
    promote = True
    reasons: list[str] = []
    met: list[str] = []
    for name, floor in sorted(rules.minimums.items()):
        value = _value(candidate, name)
        if value is None:
            promote = False
            reasons.append(
                f"{short_name(name)} is missing from the candidate's metrics (minimum {floor:.4f})"
            )
        elif value < floor:
            promote = False
            reasons.append(f"{short_name(name)} {value:.4f} is below the minimum {floor:.4f}")
        else:
            met.append(f"{short_name(name)} {value:.4f} >= {floor:.4f}")

    metric, tolerance = short_name(rules.metric), f"{rules.tolerance * 100:g}%"
    value = _value(candidate, rules.metric)
    if value is None:
        reasons.append(f"{metric} is missing from the candidate's metrics")
        return False, reasons
    if not promote:
        return False, reasons

    live_value = _value(live, rules.metric) if live is not None else None
    if live is None:
        reasons.append(f"first version: no promoted version to compare with ({metric} {value:.4f})")
    elif live_value is None:
        reasons.append(f"the live version has no {metric} to compare with; candidate {metric} {value:.4f}")
    else:
        threshold = live_value * (1 - rules.tolerance)
        within = value >= threshold or math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12)
        if live_value > 0:
            change = (value - live_value) / live_value
            direction = "above" if change >= 0 else "below"
            comparison = f"{metric} {value:.4f} is {_percent(abs(change))} {direction} live {live_value:.4f}"
        else:
            comparison = f"{metric} {value:.4f} against live {live_value:.4f}"
        promote = within
        reasons.append(f"{comparison} (tolerance {tolerance})")
    if promote and met:
        reasons.append("minimums met: " + ", ".join(met))
    return promote, reasons


@dataclass(frozen=True)
class Baseline:
    """The run's popularity-count version, or why a candidate is not compared with one."""

    version_arn: str | None = None
    metrics: dict[str, Any] | None = None
    skipped: str | None = None  # e.g. "not comparable: RELATED_ITEMS recipe"


def beats_baseline(
    candidate: dict[str, Any], baseline: dict[str, Any] | None, rules: GateConfig
) -> tuple[bool, str]:
    """Pure rule: the candidate must score above ``baseline * (1 + margin)`` on the gate's metric.

    A baseline without the metric cannot vouch for anything, so it refuses too (with the reason).
    """
    metric, margin = short_name(rules.metric), rules.baseline.margin
    value, floor = _value(candidate, rules.metric), _value(baseline, rules.metric)
    if floor is None:
        return False, f"the popularity baseline has no {metric}: cannot show the candidate beats it"
    if value is None:
        return False, f"{metric} is missing from the candidate's metrics"
    threshold = floor * (1 + margin)
    wins = value > threshold and not math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12)
    verb = "beats" if wins else "does not beat"
    return wins, f"{metric} {value:.4f} {verb} the popularity baseline {floor:.4f} (margin {margin * 100:g}%)"


def needs_approval(
    candidate_value: float | None, live_value: float | None, has_live: bool, rules: GateConfig
) -> str | None:
    """Why a candidate that passed waits for a human (None: it does not).

    ``borderline``: below the live version but within tolerance, or the first version.
    """
    if rules.approval == "always":
        return "approval: always"
    if rules.approval == "borderline":
        if not has_live:
            return "approval: borderline (first version, nothing live to compare with)"
        if candidate_value is not None and live_value is not None and candidate_value < live_value:
            return "approval: borderline (below the live version, within tolerance)"
    return None


def _rules_record(rules: GateConfig) -> dict[str, Any]:
    """The rules kept with a decision: metric, tolerance and minimums always, newer keys when set."""
    return {
        **rules.model_dump(include={"metric", "tolerance", "minimums"}),
        **rules.model_dump(exclude_defaults=True),
    }


def _storable(metrics: dict[str, Any]) -> dict[str, float | None]:
    """JSON that PostgreSQL accepts: jsonb has no NaN or infinity, so those are stored as null."""
    return {str(name): _value(metrics, name) for name in metrics}


def record_and_judge(
    *,
    db_conn_id: str,
    schema: str,
    solution: str,
    solution_version_arn: str,
    training_mode: str,
    metrics: dict[str, float],
    rules: GateConfig,
    skip_gate: bool,
    lineage: dict[str, str | None],
    baseline: Baseline | None = None,
) -> GateDecision:
    """Store the candidate's metrics, compare it with the latest promoted version, record the decision.

    Idempotent per version: a rerun updates the version's row and compares with the latest promoted
    version other than the candidate itself. ``skip_gate`` promotes whatever the metrics say.
    ``baseline`` is the run's popularity-count version, or why the candidate is not compared with
    one (recorded as a reason); None when the baseline is off.
    """
    record_lineage = {key: lineage.get(key) for key in _LINEAGE_KEYS}
    baseline = baseline or Baseline(skipped=None)
    with connect(db_conn_id) as conn:
        run_setup(conn, "gate/setup.sql", schema=schema, lock="gate/lock.sql")
        with conn.transaction():
            conn.execute(compose("gate/lock.sql"), {"schema": schema})
            row = conn.execute(
                compose("gate/live_version.sql", schema=schema),
                {
                    "solution": solution,
                    "exclude_arn": solution_version_arn,
                    # a version's ARN is its solution's ARN, then "/<version id>"
                    "solution_arn": solution_version_arn.rsplit("/", 1)[0],
                },
            ).fetchone()
            live_arn, live_metrics = row if row else (None, None)
            promote, reasons = judge(metrics, live_metrics, rules)
            if baseline.skipped:
                reasons.append(f"no popularity baseline: {baseline.skipped}")
            elif promote and baseline.version_arn:
                promote, reason = beats_baseline(metrics, baseline.metrics, rules)
                reasons.append(reason)
            candidate_value, live_value = _value(metrics, rules.metric), _value(live_metrics, rules.metric)
            waits_because = None
            if skip_gate:
                reasons = [SKIP_REASON] + (
                    [] if promote else ["the gate would have rejected it: " + "; ".join(reasons)]
                )
                promote, decision = True, SKIPPED_GATE
            elif promote and (
                waits_because := needs_approval(candidate_value, live_value, row is not None, rules)
            ):
                reasons.append(f"waiting for a human: {waits_because}")
                promote, decision = False, AWAITING_APPROVAL
            else:
                decision = PROMOTED if promote else REJECTED
            result = GateDecision(
                solution=solution,
                solution_version_arn=solution_version_arn,
                live_version_arn=live_arn,
                promote=promote,
                reasons=reasons,
                metric=rules.metric,
                candidate_value=candidate_value,
                live_value=live_value,
                needs_approval=waits_because is not None,
                baseline_value=_value(baseline.metrics, rules.metric),
                tolerance=rules.tolerance,
            )
            conn.execute(
                compose("gate/record.sql", schema=schema),
                {
                    "solution_version_arn": solution_version_arn,
                    "solution": solution,
                    "training_mode": training_mode,
                    "metrics": Jsonb(_storable(metrics)),
                    "gate_metric": rules.metric,
                    "candidate_value": result.candidate_value,
                    "live_value": result.live_value,
                    "compared_with": live_arn,
                    "decision": decision,
                    "reasons": reasons,
                    "rules": Jsonb(_rules_record(rules)),
                    "baseline_value": result.baseline_value,
                    "baseline_version_arn": baseline.version_arn,
                    **record_lineage,
                },
            )
    log.log(logging.INFO if promote else logging.WARNING, "Quality gate: %s", result.summary())
    return result


def record_baseline(
    *,
    db_conn_id: str,
    schema: str,
    solution_version_arn: str,
    metrics: dict[str, float],
    lineage: dict[str, str | None],
) -> None:
    """Keep the run's popularity-count version and its metrics (``<schema>.baseline_versions``)."""
    with connect(db_conn_id) as conn:
        run_setup(conn, "gate/setup.sql", schema=schema, lock="gate/lock.sql")
        with conn.transaction():
            conn.execute(compose("gate/lock.sql"), {"schema": schema})
            conn.execute(
                compose("gate/record_baseline.sql", schema=schema),
                {
                    "solution_version_arn": solution_version_arn,
                    "recipe": BASELINE_RECIPE,
                    "metrics": Jsonb(_storable(metrics)),
                    **{key: lineage.get(key) for key in _LINEAGE_KEYS},
                },
            )


def record_answer(
    *, db_conn_id: str, schema: str, decision: GateDecision, approved: bool, reason: str
) -> GateDecision:
    """A human's answer (or the timeout) on a waiting candidate: its final decision, recorded.

    Only a row still ``awaiting_approval`` changes; the returned decision is what the run acts on.
    """
    with connect(db_conn_id) as conn, conn.transaction():
        conn.execute(compose("gate/lock.sql"), {"schema": schema})
        conn.execute(
            compose("gate/answer.sql", schema=schema),
            {
                "solution_version_arn": decision.solution_version_arn,
                "decision": PROMOTED if approved else REJECTED,
                "reason": reason,
            },
        )
    final = replace(decision, promote=approved, needs_approval=False, reasons=[*decision.reasons, reason])
    log.log(logging.INFO if approved else logging.WARNING, "Quality gate: %s", final.summary())
    return final


def live_version(*, db_conn_id: str, schema: str, solution: str) -> tuple[str, dict[str, float]] | None:
    """The solution's latest promoted version and its metrics; None before the first promotion."""
    with connect(db_conn_id) as conn:
        if not table_exists(conn, schema, TABLE):
            return None
        row = conn.execute(
            compose("gate/live_version.sql", schema=schema),
            {"solution": solution, "exclude_arn": None, "solution_arn": None},
        ).fetchone()
    if row is None:
        return None
    arn, metrics = row
    return arn, {name: value for name, value in metrics.items() if value is not None}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def metrics_history(*, db_conn_id: str, schema: str, solution: str) -> list[dict]:
    """Every gated version of the solution with its metrics and decision, the most recent decision first."""
    with connect(db_conn_id) as conn:
        if not table_exists(conn, schema, TABLE):
            return []
        cursor = conn.execute(compose("gate/history.sql", schema=schema), {"solution": solution})
        names = [column.name for column in cursor.description]
        return [{name: _plain(value) for name, value in zip(names, row, strict=True)} for row in cursor]
