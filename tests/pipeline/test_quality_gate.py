"""The quality gate: the pure decision rules, then the decisions recorded in a real PostgreSQL."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from personalize_pipeline.config import BaselineConfig, GateConfig
from personalize_pipeline.quality_gate import (
    SKIP_REASON,
    Baseline,
    GateDecision,
    beats_baseline,
    judge,
    live_version,
    metrics_history,
    needs_approval,
    record_and_judge,
    record_answer,
    record_baseline,
)

NDCG = "normalized_discounted_cumulative_gain_at_10"
RULES = GateConfig(metric=NDCG, tolerance=0.05, minimums={"coverage": 0.01, "precision_at_10": 0.001})
SCHEMA = "gate_tests"


def _metrics(ndcg: float, coverage: float = 0.3, precision: float = 0.02) -> dict[str, float]:
    return {NDCG: ndcg, "coverage": coverage, "precision_at_10": precision}


# --- judge(): pure rules -------------------------------------------------------------------------


def test_within_tolerance_is_promoted_and_says_by_how_much():
    promote, reasons = judge(_metrics(0.096), _metrics(0.1), RULES)
    assert promote is True
    assert reasons[0] == "ndcg@10 0.0960 is 4.0% below live 0.1000 (tolerance 5%)"
    assert reasons[1].startswith("minimums met: coverage 0.3000 >= 0.0100")


def test_exactly_at_the_tolerance_boundary_is_promoted():
    """live * (1 - tolerance) is not exact in floating point; the boundary itself must still pass."""
    assert judge(_metrics(0.095), _metrics(0.1), RULES)[0] is True
    assert judge(_metrics(0.0949), _metrics(0.1), RULES)[0] is False


def test_beyond_tolerance_is_rejected_with_the_numbers():
    promote, reasons = judge(_metrics(0.0412), _metrics(0.0453), RULES)
    assert promote is False
    assert reasons == ["ndcg@10 0.0412 is 9.1% below live 0.0453 (tolerance 5%)"]


def test_better_than_live_is_promoted():
    promote, reasons = judge(_metrics(0.12), _metrics(0.1), RULES)
    assert promote is True
    assert reasons[0] == "ndcg@10 0.1200 is 20.0% above live 0.1000 (tolerance 5%)"


def test_each_failed_minimum_is_a_reason_even_when_better_than_live():
    promote, reasons = judge(_metrics(0.5, coverage=0.005, precision=0.0), _metrics(0.1), RULES)
    assert promote is False
    assert reasons == [
        "coverage 0.0050 is below the minimum 0.0100",
        "precision@10 0.0000 is below the minimum 0.0010",
    ]


def test_missing_gate_metric_is_rejected_naming_it():
    candidate = {"coverage": 0.3, "precision_at_10": 0.02}
    promote, reasons = judge(candidate, _metrics(0.1), RULES)
    assert promote is False
    assert reasons == ["ndcg@10 is missing from the candidate's metrics"]


def test_missing_minimum_metric_is_rejected_naming_it():
    promote, reasons = judge({NDCG: 0.2, "coverage": 0.3}, None, RULES)
    assert promote is False
    assert reasons == ["precision@10 is missing from the candidate's metrics (minimum 0.0010)"]


def test_nan_counts_as_missing():
    promote, reasons = judge(_metrics(math.nan), _metrics(0.1), RULES)
    assert promote is False
    assert "ndcg@10 is missing" in reasons[0]


def test_first_version_is_promoted_when_minimums_pass():
    promote, reasons = judge(_metrics(0.0412), None, RULES)
    assert promote is True
    assert reasons[0] == "first version: no promoted version to compare with (ndcg@10 0.0412)"


def test_first_version_still_needs_the_minimums():
    promote, reasons = judge(_metrics(0.0412, coverage=0.0), None, RULES)
    assert promote is False
    assert reasons == ["coverage 0.0000 is below the minimum 0.0100"]


def test_summary_and_xcom_round_trip():
    decision = GateDecision(
        solution="similar-items",
        solution_version_arn="arn:sv/2",
        live_version_arn="arn:sv/1",
        promote=False,
        reasons=["ndcg@10 0.0412 is 9.1% below live 0.0453 (tolerance 5%)"],
        metric=NDCG,
        candidate_value=0.0412,
        live_value=0.0453,
    )
    assert decision.summary() == (
        "similar-items: NOT promoted — ndcg@10 0.0412 is 9.1% below live 0.0453 (tolerance 5%)"
    )
    as_json = json.loads(json.dumps(decision.as_dict()))
    assert GateDecision.from_dict(as_json) == decision


# --- record_and_judge(): decisions kept in PostgreSQL ------------------------------------------------


@pytest.fixture
def solution(pipeline_env) -> str:
    """A fresh solution name per test, so tests (and concurrent sessions) never see each other's rows."""
    return f"sol-{uuid.uuid4().hex[:8]}"


def _gate(
    solution: str,
    version: str,
    metrics: dict[str, float],
    *,
    skip_gate: bool = False,
    dataset_group: str = "shop",
    rules: GateConfig = RULES,
    baseline: Baseline | None = None,
) -> GateDecision:
    return record_and_judge(
        db_conn_id="store_db",
        schema=SCHEMA,
        solution=solution,
        solution_version_arn=(
            f"arn:aws:personalize:us-east-1:123456789012:solution/{dataset_group}-{solution}/{version}"
        ),
        training_mode="FULL",
        metrics=metrics,
        rules=rules,
        skip_gate=skip_gate,
        baseline=baseline,
        lineage={
            "dag_id": "gate_tests",
            "run_id": f"run-{version}",
            "data_interval_start": "2025-11-01T00:00:00+00:00",
            "data_interval_end": None,
        },
    )


def _rows(url: str, solution: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT solution_version_arn, decision, compared_with FROM {SCHEMA}.solution_metrics"
            " WHERE solution = %s ORDER BY first_decided_at",
            (solution,),
        ).fetchall()


def test_sequence_promotes_better_rejects_worse_and_reruns_in_place(solution, pipeline_env):
    url = pipeline_env["database_url"]
    v1 = _gate(solution, "v1", _metrics(0.10))
    assert (v1.promote, v1.live_version_arn, v1.live_value) == (True, None, None)
    assert v1.reasons[0].startswith("first version")

    v2 = _gate(solution, "v2", _metrics(0.12))
    assert v2.promote is True
    assert v2.live_version_arn == v1.solution_version_arn
    assert (v2.candidate_value, v2.live_value) == (0.12, 0.10)

    v3 = _gate(solution, "v3", _metrics(0.10))
    assert v3.promote is False
    assert v3.live_version_arn == v2.solution_version_arn
    assert v3.reasons == ["ndcg@10 0.1000 is 16.7% below live 0.1200 (tolerance 5%)"]
    assert live_version(db_conn_id="store_db", schema=SCHEMA, solution=solution) == (
        v2.solution_version_arn,
        _metrics(0.12),
    )

    rerun = _gate(solution, "v3", _metrics(0.10))
    assert rerun == v3
    rows = _rows(url, solution)
    assert [r[0].rsplit("/", 1)[1] for r in rows] == ["v1", "v2", "v3"]
    assert [r[1] for r in rows] == ["promoted", "promoted", "rejected"]
    assert rows[2][2] == v2.solution_version_arn


def test_dataset_groups_sharing_a_schema_each_compare_with_their_own_live_version(solution):
    _gate(solution, "v1", _metrics(0.30), dataset_group="shop-eu")
    other = _gate(solution, "v1", _metrics(0.10), dataset_group="shop-us")
    assert (other.promote, other.live_version_arn) == (True, None)  # not held to shop-eu's 0.30
    worse = _gate(solution, "v2", _metrics(0.05), dataset_group="shop-us")
    assert worse.promote is False
    assert worse.live_version_arn == other.solution_version_arn


def test_rerun_of_a_promoted_version_compares_with_the_one_before_it(solution):
    v1 = _gate(solution, "v1", _metrics(0.10))
    v2 = _gate(solution, "v2", _metrics(0.11))
    again = _gate(solution, "v2", _metrics(0.11))
    assert again.promote is True
    assert again.live_version_arn == v1.solution_version_arn != v2.solution_version_arn


def test_skip_gate_promotes_a_worse_version_and_keeps_its_metrics(solution, pipeline_env):
    _gate(solution, "v1", _metrics(0.10))
    skipped = _gate(solution, "v2", _metrics(0.01, coverage=0.0), skip_gate=True)
    assert skipped.promote is True
    assert skipped.reasons[0] == SKIP_REASON
    assert skipped.reasons[1].startswith("the gate would have rejected it: coverage 0.0000 is below")
    assert skipped.summary().startswith(f"{solution}: promoted — {SKIP_REASON}")

    arn, metrics = live_version(db_conn_id="store_db", schema=SCHEMA, solution=solution)
    assert arn == skipped.solution_version_arn
    assert metrics == _metrics(0.01, coverage=0.0)
    assert _rows(pipeline_env["database_url"], solution)[1][1] == "skipped_gate"


def test_history_is_newest_first_with_lineage(solution):
    for version, ndcg in (("v1", 0.10), ("v2", 0.12), ("v3", 0.05)):
        _gate(solution, version, _metrics(ndcg))
    history = metrics_history(db_conn_id="store_db", schema=SCHEMA, solution=solution)
    assert [h["solution_version_arn"].rsplit("/", 1)[1] for h in history] == ["v3", "v2", "v1"]
    newest = history[0]
    assert newest["decision"] == "rejected"
    assert newest["metrics"] == _metrics(0.05)
    assert newest["reasons"] == ["ndcg@10 0.0500 is 58.3% below live 0.1200 (tolerance 5%)"]
    assert newest["rules"] == {"metric": NDCG, "tolerance": 0.05, "minimums": RULES.minimums}
    assert (newest["dag_id"], newest["run_id"], newest["training_mode"]) == ("gate_tests", "run-v3", "FULL")
    assert datetime.fromisoformat(newest["data_interval_start"]) == datetime(2025, 11, 1, tzinfo=UTC)
    assert newest["data_interval_end"] is None
    json.dumps(history)  # XCom-ready: plain JSON types only


def test_nan_metrics_are_stored_as_null(solution):
    decision = _gate(solution, "v1", {**_metrics(0.1), "coverage": math.nan})
    assert decision.promote is False
    (row,) = metrics_history(db_conn_id="store_db", schema=SCHEMA, solution=solution)
    assert row["metrics"]["coverage"] is None


def test_readers_of_a_schema_without_decisions_get_nothing(pipeline_env):
    schema = f"gate_empty_{uuid.uuid4().hex[:6]}"
    assert live_version(db_conn_id="store_db", schema=schema, solution="any") is None
    assert metrics_history(db_conn_id="store_db", schema=schema, solution="any") == []


# --- the popularity baseline and approval ----------------------------------------------------------

BASELINE_ARN = "arn:aws:personalize:us-east-1:123456789012:solution/shop-popularity-baseline/run"


def test_a_candidate_worse_than_popularity_is_refused_with_both_numbers():
    wins, reason = beats_baseline(_metrics(0.08), _metrics(0.09), RULES)
    assert wins is False
    assert reason == "ndcg@10 0.0800 does not beat the popularity baseline 0.0900 (margin 0%)"


def test_the_margin_is_relative_and_a_tie_does_not_beat():
    margin = RULES.model_copy(update={"baseline": BaselineConfig(margin=0.1)})
    assert beats_baseline(_metrics(0.111), _metrics(0.1), margin)[0] is True
    assert beats_baseline(_metrics(0.109), _metrics(0.1), margin)[0] is False
    assert beats_baseline(_metrics(0.1), _metrics(0.1), RULES)[0] is False
    assert beats_baseline(_metrics(0.1), {}, RULES) == (
        False,
        "the popularity baseline has no ndcg@10: cannot show the candidate beats it",
    )


def test_approval_asks_for_borderline_or_first_versions_only():
    borderline = RULES.model_copy(update={"approval": "borderline"})
    assert needs_approval(0.1, None, False, borderline).startswith("approval: borderline (first version")
    assert needs_approval(0.096, 0.1, True, borderline).startswith("approval: borderline (below")
    assert needs_approval(0.12, 0.1, True, borderline) is None
    assert needs_approval(0.12, 0.1, True, RULES) is None  # never, the default
    assert needs_approval(0.12, 0.1, True, RULES.model_copy(update={"approval": "always"})) is not None


def test_losing_to_the_baseline_is_recorded_as_rejected_with_the_baseline(solution, pipeline_env):
    """Better than live, all minimums met, but worse than "most popular": never promoted."""
    _gate(solution, "v1", _metrics(0.10))
    baseline = Baseline(version_arn=BASELINE_ARN, metrics=_metrics(0.2))
    decision = _gate(solution, "v2", _metrics(0.15), baseline=baseline)
    assert decision.promote is False and decision.baseline_value == 0.2
    assert "ndcg@10 0.1500 does not beat the popularity baseline 0.2000 (margin 0%)" in decision.reasons
    (row,) = _query(
        pipeline_env["database_url"],
        f"SELECT decision, baseline_value, baseline_version_arn FROM {SCHEMA}.solution_metrics "
        "WHERE solution_version_arn LIKE %s",
        (f"%-{solution}/v2",),
    )
    assert row == ("rejected", 0.2, BASELINE_ARN)


def test_a_skipped_baseline_is_a_recorded_reason(solution):
    decision = _gate(
        solution, "v1", _metrics(0.1), baseline=Baseline(skipped="RELATED_ITEMS: not comparable")
    )
    assert decision.promote is True
    assert "no popularity baseline: RELATED_ITEMS: not comparable" in decision.reasons


def test_borderline_waits_then_the_answer_is_the_final_decision(solution, pipeline_env):
    borderline = RULES.model_copy(update={"approval": "borderline"})
    first = _gate(solution, "v1", _metrics(0.1), rules=borderline)
    assert (first.promote, first.needs_approval) == (False, True)
    assert _rows(pipeline_env["database_url"], solution)[0][1] == "awaiting_approval"
    assert live_version(db_conn_id="store_db", schema=SCHEMA, solution=solution) is None

    approved = record_answer(
        db_conn_id="store_db", schema=SCHEMA, decision=first, approved=True, reason="approved by ana"
    )
    assert (approved.promote, approved.reasons[-1]) == (True, "approved by ana")
    assert live_version(db_conn_id="store_db", schema=SCHEMA, solution=solution)[0].endswith("/v1")

    second = _gate(solution, "v2", _metrics(0.098), rules=borderline)  # 2% below live: borderline
    assert second.needs_approval
    record_answer(db_conn_id="store_db", schema=SCHEMA, decision=second, approved=False, reason="timeout")
    # a late second answer cannot flip a decided row
    record_answer(db_conn_id="store_db", schema=SCHEMA, decision=second, approved=True, reason="late")
    rows = _query(
        pipeline_env["database_url"],
        f"SELECT decision, reasons[array_upper(reasons, 1)] FROM {SCHEMA}.solution_metrics "
        "WHERE solution = %s ORDER BY first_decided_at",
        (solution,),
    )
    assert rows == [("promoted", "approved by ana"), ("rejected", "timeout")]


def test_the_baseline_version_keeps_its_metrics_for_the_history(solution, pipeline_env):
    arn = f"{BASELINE_ARN}-{solution}"
    for ndcg in (0.04, 0.05):  # a rerun records it again
        record_baseline(
            db_conn_id="store_db",
            schema=SCHEMA,
            solution_version_arn=arn,
            metrics=_metrics(ndcg),
            lineage={"dag_id": "gate_tests", "run_id": solution},
        )
    (row,) = _query(
        pipeline_env["database_url"],
        f"SELECT recipe, metrics, run_id FROM {SCHEMA}.baseline_versions WHERE solution_version_arn = %s",
        (arn,),
    )
    assert row == ("aws-popularity-count", _metrics(0.05), solution)


def _query(url: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()
