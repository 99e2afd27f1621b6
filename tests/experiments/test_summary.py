"""The verdicts in the run's SNS message, from the summaries the report task returns."""

from __future__ import annotations

from personalize_pipeline.notifications import EXPERIMENT_TASK, run_details

# What the report task returns for one experiment (written out: nothing here comes from the code).
SUMMARY = {
    "experiment": "homepage-recs",
    "day": "2026-11-14",
    "horizon_reached": True,
    "verdict": "winner: personalized",
    "metrics": {
        "primary": {
            "verdict": "winner: personalized",
            "srm_p": 0.4321,
            "variants": [
                {
                    "variant": "popular",
                    "users": 480,
                    "exposures": 900,
                    "conversions": 48,
                    "rate": 0.1,
                    "ci_low": 0.0763,
                    "ci_high": 0.1301,
                    "lift": None,
                    "lift_ci_low": None,
                    "lift_ci_high": None,
                    "p_value": None,
                    "p_adjusted": None,
                },
                {
                    "variant": "personalized",
                    "users": 500,
                    "exposures": 950,
                    "conversions": 80,
                    "rate": 0.16,
                    "ci_low": 0.1302,
                    "ci_high": 0.1951,
                    "lift": 0.6,
                    "lift_ci_low": 0.1402,
                    "lift_ci_high": 1.2455,
                    "p_value": 0.00512,
                    "p_adjusted": 0.00512,
                },
            ],
        },
        "click_through": {"verdict": "no detectable difference", "srm_p": 0.4321, "variants": []},
    },
}


class _TaskInstance:
    def __init__(self, pushed: dict):
        self.pushed = pushed

    def xcom_pull(self, task_ids: str):
        return self.pushed.get(task_ids)


def test_the_message_carries_each_verdict_with_its_numbers():
    lines = run_details({"ti": _TaskInstance({EXPERIMENT_TASK: [SUMMARY]})}, "success", solutions=())
    assert "\n".join(lines).splitlines() == [
        "Experiment homepage-recs to 2026-11-14 (final): winner: personalized (SRM p 0.432)",
        "- popular: 480 users, 48 converted, 10.0% [7.6%, 13.0%]",
        "- personalized: 500 users, 80 converted, 16.0% [13.0%, 19.5%]; lift +60.0% [+14.0%, +124.6%], "
        "p 0.0051 (Holm 0.0051)",
        "- guardrail click_through: no detectable difference",
    ]


def test_runs_of_other_dags_and_skipped_reports_add_nothing():
    assert run_details({"ti": _TaskInstance({})}, "success", solutions=()) == []
    assert run_details({}, "success", solutions=()) == []


def test_tiny_p_values_read_as_a_bound():
    import copy

    summary = copy.deepcopy(SUMMARY)
    summary["metrics"]["primary"]["variants"][1].update(p_value=2e-7, p_adjusted=4e-7)
    lines = run_details({"ti": _TaskInstance({EXPERIMENT_TASK: [summary]})}, "success", solutions=())
    assert "\n".join(lines).splitlines()[2].endswith("p < 0.0001 (Holm < 0.0001)")


def test_crossovers_show_only_when_some_user_crossed_over():
    import copy

    summary = copy.deepcopy(SUMMARY)
    summary["crossover_share"] = 0.0204
    summary["verdict"] = "invalid: crossover"
    summary["metrics"]["primary"]["variants"][0]["crossovers"] = 20
    summary["metrics"]["primary"]["variants"][1]["crossovers"] = 0
    lines = run_details({"ti": _TaskInstance({EXPERIMENT_TASK: [summary]})}, "success", solutions=())
    assert "\n".join(lines).splitlines()[:3] == [
        "Experiment homepage-recs to 2026-11-14 (final): invalid: crossover (SRM p 0.432, 2.0% of users "
        "crossed over)",
        "- popular: 480 users (20 crossed over), 48 converted, 10.0% [7.6%, 13.0%]",
        "- personalized: 500 users, 80 converted, 16.0% [13.0%, 19.5%]; lift +60.0% [+14.0%, +124.6%], "
        "p 0.0051 (Holm 0.0051)",
    ]
