"""An experiment report's summaries as text: for the run's SNS message and the demo (no heavy imports)."""

from __future__ import annotations


def _percent(value: float | None, signed: bool = False) -> str:
    return "n/a" if value is None else f"{value:+.1%}" if signed else f"{value:.1%}"


def _p(value: float) -> str:
    return f"{value:.4f}" if value >= 0.0001 else "< 0.0001"


def variant_line(variant: dict) -> str:
    crossed = f" ({variant['crossovers']} crossed over)" if variant.get("crossovers") else ""
    line = (
        f"{variant['variant']}: {variant['users']} users{crossed}, {variant['conversions']} converted, "
        f"{_percent(variant['rate'])} [{_percent(variant['ci_low'])}, {_percent(variant['ci_high'])}]"
    )
    if variant["p_value"] is not None:
        line += (
            f"; lift {_percent(variant['lift'], True)} [{_percent(variant['lift_ci_low'], True)}, "
            f"{_percent(variant['lift_ci_high'], True)}], p {_p(variant['p_value'])}"
            f" (Holm {_p(variant['p_adjusted'])})"
        )
    return line


def experiment_message(summaries: list[dict]) -> str:
    """One block per experiment: the verdict, then the primary metric per variant and the guardrails."""
    if not summaries:
        return "Experiments: none running on the report's day."
    lines = []
    for summary in summaries:
        primary = summary["metrics"]["primary"]
        srm = "n/a" if primary["srm_p"] is None else f"{primary['srm_p']:.3g}"
        stage = "final" if summary["horizon_reached"] else "interim"
        crossovers = summary.get("crossover_share")  # absent from summaries made before it was counted
        crossed = f", {_percent(crossovers)} of users crossed over" if crossovers else ""
        lines.append(
            f"Experiment {summary['experiment']} to {summary['day']} ({stage}): {summary['verdict']} "
            f"(SRM p {srm}{crossed})"
        )
        lines += [f"- {variant_line(v)}" for v in primary["variants"]]
        lines += [
            f"- guardrail {name}: {metric['verdict']}"
            for name, metric in summary["metrics"].items()
            if name != "primary"
        ]
    return "\n".join(lines)
