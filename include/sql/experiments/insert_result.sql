INSERT INTO {schema}.experiment_results (
    experiment, day, metric, variant, users, exposures, conversions, crossovers, rate, ci_low, ci_high,
    lift, lift_ci_low, lift_ci_high, p_value, p_adjusted, srm_p, verdict, dag_id, run_id
) VALUES (
    %(experiment)s, %(day)s, %(metric)s, %(variant)s, %(users)s, %(exposures)s, %(conversions)s, %(crossovers)s,
    %(rate)s, %(ci_low)s, %(ci_high)s, %(lift)s, %(lift_ci_low)s, %(lift_ci_high)s, %(p_value)s,
    %(p_adjusted)s, %(srm_p)s, %(verdict)s, %(dag_id)s, %(run_id)s
)
