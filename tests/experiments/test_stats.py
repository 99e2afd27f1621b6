"""The report's statistics against statsmodels/scipy on fixed data, and against numbers worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

from personalize_pipeline.experiments.stats import (
    INVALID_CROSSOVER,
    INVALID_SRM,
    KEEP_RUNNING,
    NO_DIFFERENCE,
    Rules,
    analyse,
    crossover_share,
    holm,
    srm_p,
)

FINAL = Rules(alpha=0.05, minimum_users=150, srm_p_value=0.001, horizon_reached=True)


def counts(*rows: tuple[str, float, int, int], crossovers: tuple[int, ...] | None = None) -> pd.DataFrame:
    """(variant, weight, users, conversions) per variant; exposures are twice the users; no
    crossovers unless given (one number per variant)."""
    frame = pd.DataFrame(rows, columns=["variant", "weight", "users", "conversions"])
    frame["exposures"] = frame["users"] * 2
    frame["crossovers"] = list(crossovers) if crossovers else 0
    return frame


THREE = counts(("control", 1, 500, 50), ("b", 1, 510, 80), ("c", 1, 490, 0))


def test_numbers_worked_by_hand():
    results, srm, _ = analyse(THREE, FINAL)
    control, b = results.iloc[0], results.iloc[1]
    # Wilson, 50 of 500: centre (p + z²/2n) / (1 + z²/n), half-width z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n).
    assert control.rate == 0.1
    assert (control.ci_low, control.ci_high) == pytest.approx((0.076678, 0.129422), abs=1e-6)
    # z = (80/510 - 50/500) / sqrt(p̄(1-p̄)(1/510 + 1/500)) with p̄ = 130/1010: z = 2.698, p = 0.00698.
    assert b.p_value == pytest.approx(0.006975, abs=1e-6)
    assert b.lift == pytest.approx((80 / 510) / 0.1 - 1)
    # χ² = (0 + 10² + 10²) / 500 = 0.4 with 2 degrees of freedom: p = exp(-0.2).
    assert srm == pytest.approx(math.exp(-0.2))


def test_every_number_is_the_library_s():
    results, srm, _ = analyse(THREE, FINAL)
    users, conversions = THREE["users"].to_numpy(), THREE["conversions"].to_numpy()
    low, high = proportion_confint(conversions, users, alpha=0.05, method="wilson")
    assert results["ci_low"].tolist() == pytest.approx(low.tolist())
    assert results["ci_high"].tolist() == pytest.approx(high.tolist())
    raw = []
    for i in (1, 2):
        _, p = proportions_ztest([conversions[i], conversions[0]], [users[i], users[0]])
        ratio_low, ratio_high = confint_proportions_2indep(
            conversions[i], users[i], conversions[0], users[0], compare="ratio", alpha=0.05
        )
        row = results.iloc[i]
        assert row.p_value == pytest.approx(p)
        assert (row.lift_ci_low, row.lift_ci_high) == pytest.approx((ratio_low - 1, ratio_high - 1))
        raw.append(p)
    assert results["p_adjusted"].iloc[1:].tolist() == pytest.approx(
        multipletests(raw, alpha=0.05, method="holm")[1].tolist()
    )
    assert srm == pytest.approx(chisquare([500, 510, 490], [500, 500, 500]).pvalue)


def test_holm_multiplies_the_smallest_p_by_the_number_of_tests_and_keeps_the_order():
    adjusted = holm(pd.Series([math.nan, 0.01, 0.04, 0.03]), alpha=0.05)
    assert math.isnan(adjusted[0])
    # Sorted 0.01, 0.03, 0.04: ×3, ×2 (0.06), ×1 but never below the previous step (0.06).
    assert adjusted[1:].tolist() == pytest.approx([0.03, 0.06, 0.06])


def test_srm_against_the_weights_not_an_even_split():
    users, weights = pd.Series([900, 100]), pd.Series([90.0, 10.0])
    assert srm_p(users, weights) == pytest.approx(1.0)
    assert srm_p(users, pd.Series([1.0, 1.0])) < 1e-100
    assert math.isnan(srm_p(pd.Series([0, 0]), weights))


def test_a_sample_ratio_mismatch_invalidates_whatever_the_rates_say():
    lopsided = counts(("control", 1, 1000, 100), ("b", 1, 850, 300))
    assert analyse(lopsided, FINAL)[2] == INVALID_SRM
    # Before the horizon too: a broken split is a fault to fix now, not a result to wait for.
    early = Rules(alpha=0.05, minimum_users=150, srm_p_value=0.001, horizon_reached=False)
    assert analyse(lopsided, early)[2] == INVALID_SRM
    # p = 0.0006 here: invalid at the default threshold, tolerated at a laxer one.
    slight = counts(("control", 1, 1000, 100), ("b", 1, 850, 100))
    assert analyse(slight, FINAL)[1] == pytest.approx(chisquare([1000, 850]).pvalue)
    assert analyse(slight, Rules(0.05, 150, 0.0001, True))[2] != INVALID_SRM


def test_winner_only_at_the_horizon_with_the_minimum_sample():
    clear = counts(("control", 1, 500, 50), ("b", 1, 500, 100))
    assert analyse(clear, FINAL)[2] == "winner: b"
    assert analyse(clear, Rules(0.05, 150, 0.001, horizon_reached=False))[2] == KEEP_RUNNING
    assert analyse(clear, Rules(0.05, 501, 0.001, horizon_reached=True))[2] == KEEP_RUNNING


def test_the_best_significant_challenger_wins():
    two = counts(("control", 1, 600, 60), ("b", 1, 600, 100), ("c", 1, 600, 130))
    assert analyse(two, FINAL)[2] == "winner: c"


def test_the_control_wins_when_every_challenger_is_significantly_worse():
    worse = counts(("control", 1, 500, 100), ("b", 1, 500, 40), ("c", 1, 500, 30))
    assert analyse(worse, FINAL)[2] == "winner: control"
    mixed = counts(("control", 1, 500, 100), ("b", 1, 500, 40), ("c", 1, 500, 95))
    assert analyse(mixed, FINAL)[2] == NO_DIFFERENCE


def test_holm_can_turn_a_nominal_win_into_no_difference():
    # b alone: z = 0.03 / sqrt(0.115 · 0.885 · 2/1000) = 2.103, p = 0.0355 wins at 0.05; beside a
    # useless c Holm doubles it (the smaller of two p-values) to 0.071.
    alone = counts(("control", 1, 1000, 100), ("b", 1, 1000, 130))
    assert analyse(alone, FINAL)[0].p_value.iloc[1] == pytest.approx(0.0355, abs=1e-4)
    assert analyse(alone, FINAL)[2] == "winner: b"
    crowded = counts(("control", 1, 1000, 100), ("b", 1, 1000, 130), ("c", 1, 1000, 100))
    assert analyse(crowded, FINAL)[0].p_adjusted.iloc[1] == pytest.approx(0.0710, abs=1e-4)
    assert analyse(crowded, FINAL)[2] == NO_DIFFERENCE


def test_edge_counts_give_numbers_or_nan_never_errors():
    nobody = counts(("control", 1, 300, 0), ("b", 1, 300, 0))
    results, _, decided = analyse(nobody, FINAL)
    assert results.p_value.iloc[1] == 1.0
    assert math.isnan(results.lift.iloc[1])  # no control conversions: a relative lift is undefined
    assert decided == NO_DIFFERENCE
    empty_arm = counts(("control", 1, 300, 30), ("b", 1, 0, 0))
    results, srm, decided = analyse(empty_arm, FINAL)
    assert math.isnan(results.rate.iloc[1]) and math.isnan(results.p_value.iloc[1])
    assert srm < 0.001 and decided == INVALID_SRM


def test_a_a_experiments_find_a_winner_about_alpha_of_the_time_and_rarely_an_srm():
    """400 A/A experiments (a fair split, one conversion rate): the verdict's false-positive rate is
    alpha's within sampling error, and the SRM test almost never fires."""
    rng = np.random.default_rng(3)
    verdicts = []
    for _ in range(400):
        users = rng.multinomial(2000, [0.5, 0.5])
        conversions = rng.binomial(users, 0.1)
        frame = counts(("control", 1, users[0], conversions[0]), ("b", 1, users[1], conversions[1]))
        verdicts.append(analyse(frame, FINAL)[2])
    winners = sum(v.startswith("winner") for v in verdicts) / len(verdicts)
    assert 0.02 < winners < 0.09
    assert verdicts.count(INVALID_SRM) <= 2


def test_crossovers_invalidate_above_the_share_and_leave_the_numbers_alone():
    """Crossed-over users stay in the variant of their first exposure: the statistics are those of
    the counts as given (the library's), only the verdict turns on the share of them."""
    clear = counts(("control", 1, 500, 50), ("b", 1, 500, 100))
    at_limit = counts(("control", 1, 500, 50), ("b", 1, 500, 100), crossovers=(6, 4))  # 10 of 1000
    above = counts(("control", 1, 500, 50), ("b", 1, 500, 100), crossovers=(6, 5))  # 11 of 1000
    assert crossover_share(at_limit) == pytest.approx(0.01)
    assert analyse(at_limit, FINAL)[2] == "winner: b"
    results, srm, decided = analyse(above, FINAL)
    assert decided == INVALID_CROSSOVER
    assert analyse(above, Rules(0.05, 150, 0.001, True, max_crossover_share=0.02))[2] == "winner: b"
    # Before the horizon too, like a sample-ratio mismatch; which comes first when both are broken.
    assert analyse(above, Rules(0.05, 150, 0.001, horizon_reached=False))[2] == INVALID_CROSSOVER
    lopsided = counts(("control", 1, 1000, 100), ("b", 1, 850, 300), crossovers=(100, 100))
    assert analyse(lopsided, FINAL)[2] == INVALID_SRM
    _, p = proportions_ztest([100, 50], [500, 500])
    assert results.p_value.iloc[1] == pytest.approx(p)
    assert results.drop(columns="crossovers").equals(analyse(clear, FINAL)[0].drop(columns="crossovers"))
    assert srm == pytest.approx(chisquare([500, 500]).pvalue)
    assert math.isnan(crossover_share(counts(("control", 1, 0, 0), ("b", 1, 0, 0))))
