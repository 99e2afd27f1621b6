INSERT INTO {schema}.run_costs
    (dag_id, run_id, data_interval_start, data_interval_end, gb_ingested, training_hours,
     batch_recommendations, segment_users, tps_hours, cost_lines, total_usd, pricing)
VALUES (%(dag_id)s, %(run_id)s, %(data_interval_start)s, %(data_interval_end)s, %(gb_ingested)s,
        %(training_hours)s, %(batch_recommendations)s, %(segment_users)s, %(tps_hours)s, %(cost_lines)s,
        %(total_usd)s, %(pricing)s)
ON CONFLICT (dag_id, run_id) DO UPDATE
   SET data_interval_start   = EXCLUDED.data_interval_start,
       data_interval_end     = EXCLUDED.data_interval_end,
       gb_ingested           = EXCLUDED.gb_ingested,
       training_hours        = EXCLUDED.training_hours,
       batch_recommendations = EXCLUDED.batch_recommendations,
       segment_users         = EXCLUDED.segment_users,
       tps_hours             = EXCLUDED.tps_hours,
       cost_lines            = EXCLUDED.cost_lines,
       total_usd             = EXCLUDED.total_usd,
       pricing               = EXCLUDED.pricing,
       recorded_at           = now()
