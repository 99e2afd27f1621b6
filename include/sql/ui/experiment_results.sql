-- The experiment report's rows: per experiment, metric, day and variant, with intervals and verdict.
SELECT experiment, day, metric, variant, users, exposures, crossovers, conversions, rate, ci_low, ci_high,
       lift, lift_ci_low, lift_ci_high, p_value, p_adjusted, srm_p, verdict
  FROM {schema}.experiment_results
 ORDER BY experiment, metric, day, variant
