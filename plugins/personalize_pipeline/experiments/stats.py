"""
The statistics of one metric of an experiment, from per-variant counts (statsmodels and scipy).

Per variant: the per-user conversion ``rate`` with a Wilson interval; for each challenger the
relative ``lift`` against the control (rate / control rate - 1) with the interval of the ratio,
and a two-sided two-proportion z test whose p-values are Holm-corrected across the challengers.
Per experiment: a chi-square sample-ratio-mismatch test of users per variant against the weights,
and the share of users who crossed over (were shown a second variant after their first).
Intervals are at level 1 - alpha, uncorrected; the verdict uses the corrected p-values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

KEEP_RUNNING = "keep running"
NO_DIFFERENCE = "no detectable difference"
INVALID_SRM = "invalid: SRM"
INVALID_CROSSOVER = "invalid: crossover"
WINNER = "winner: {variant}"

COUNT_COLUMNS = ["variant", "weight", "users", "exposures", "conversions", "crossovers"]
RESULT_COLUMNS = [
    "rate",
    "ci_low",
    "ci_high",
    "lift",
    "lift_ci_low",
    "lift_ci_high",
    "p_value",
    "p_adjusted",
]


@dataclass(frozen=True)
class Rules:
    """When a verdict may be given: the experiment's settings and whether its horizon is reached."""

    alpha: float
    minimum_users: int
    srm_p_value: float
    horizon_reached: bool
    max_crossover_share: float = 0.01


def srm_p(users: pd.Series, weights: pd.Series) -> float:
    """Chi-square p-value of the users per variant against the configured split (NaN without users)."""
    from scipy.stats import chisquare

    total = users.sum()
    if total == 0:
        return math.nan
    expected = total * weights / weights.sum()
    return float(chisquare(users.to_numpy(float), expected.to_numpy(float)).pvalue)


def crossover_share(counts: pd.DataFrame) -> float:
    """The share of the users who were also shown another variant after their first (NaN without users)."""
    users = counts["users"].sum()
    return float(counts["crossovers"].sum() / users) if users else math.nan


def _rate_intervals(frame: pd.DataFrame, alpha: float) -> pd.DataFrame:
    from statsmodels.stats.proportion import proportion_confint

    seen = frame["users"] > 0
    out = pd.DataFrame(index=frame.index, columns=["rate", "ci_low", "ci_high"], dtype=float)
    if seen.any():
        users, conversions = frame.loc[seen, "users"], frame.loc[seen, "conversions"]
        low, high = proportion_confint(conversions, users, alpha=alpha, method="wilson")
        out.loc[seen, "rate"] = conversions / users
        out.loc[seen, "ci_low"], out.loc[seen, "ci_high"] = low, high
    return out


def _against_control(challenger: pd.Series, control: pd.Series, alpha: float) -> dict[str, float]:
    """Lift with its interval and the z test's p-value; NaN where a side has no users."""
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    nan = dict.fromkeys(["lift", "lift_ci_low", "lift_ci_high", "p_value"], math.nan)
    if challenger.users == 0 or control.users == 0:
        return nan
    counts = np.array([challenger.conversions, control.conversions])
    users = np.array([challenger.users, control.users])
    pooled = counts.sum() / users.sum()
    # Nobody or everybody converted in both: the rates are equal and the test's variance is 0.
    p_value = 1.0 if pooled in (0.0, 1.0) else float(proportions_ztest(counts, users)[1])
    low, high = confint_proportions_2indep(
        *counts[[0]], *users[[0]], *counts[[1]], *users[[1]], compare="ratio", alpha=alpha
    )
    control_rate = control.conversions / control.users
    lift = challenger.conversions / challenger.users / control_rate - 1 if control_rate else math.nan
    return {"lift": lift, "lift_ci_low": low - 1, "lift_ci_high": high - 1, "p_value": p_value}


def holm(p_values: pd.Series, alpha: float) -> pd.Series:
    """Holm-adjusted p-values of the tested variants; NaN stays NaN (an untested variant)."""
    from statsmodels.stats.multitest import multipletests

    tested = p_values.dropna()
    adjusted = pd.Series(math.nan, index=p_values.index)
    if len(tested) == 1:  # Holm of one test is that test; multipletests' Holm also runs gc.collect()
        adjusted[tested.index] = tested
    elif len(tested):
        adjusted[tested.index] = multipletests(tested.to_numpy(), alpha=alpha, method="holm")[1]
    return adjusted


def analyse(counts: pd.DataFrame, rules: Rules) -> tuple[pd.DataFrame, float, str]:
    """The metric's per-variant results (first row the control), the SRM p-value and the verdict."""
    frame = counts[COUNT_COLUMNS].reset_index(drop=True)
    frame = frame.join(_rate_intervals(frame, rules.alpha))
    control = frame.iloc[0]
    tests = [_against_control(row, control, rules.alpha) for _, row in frame.iloc[1:].iterrows()]
    tested = pd.DataFrame(tests, index=frame.index[1:])
    frame = frame.join(tested)
    frame["p_adjusted"] = holm(frame["p_value"], rules.alpha)
    srm = srm_p(frame["users"], frame["weight"])
    return frame, srm, verdict(frame, srm, rules)


def verdict(results: pd.DataFrame, srm: float, rules: Rules) -> str:
    """The rules of the README's "Experiments" section, in order: SRM, crossovers, sample, horizon,
    significance."""
    if srm < rules.srm_p_value:  # False for NaN: no users, nothing to mismatch
        return INVALID_SRM
    if crossover_share(results) > rules.max_crossover_share:  # False for NaN too
        return INVALID_CROSSOVER
    if not rules.horizon_reached or (results["users"] < rules.minimum_users).any():
        return KEEP_RUNNING
    control, challengers = results.iloc[0], results.iloc[1:]
    significant = challengers["p_adjusted"] < rules.alpha
    better = challengers[significant & (challengers["rate"] > control.rate)]
    if len(better):
        return WINNER.format(variant=better.sort_values("rate").iloc[-1].variant)
    if significant.all() and (challengers["rate"] < control.rate).all():
        return WINNER.format(variant=control.variant)
    return NO_DIFFERENCE
