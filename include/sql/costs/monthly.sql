-- Estimated cost per calendar month (UTC) of the runs recorded in it, the most recent month first.
SELECT date_trunc('month', recorded_at AT TIME ZONE 'UTC')::date AS month,
       count(*)                                    AS runs,
       sum(gb_ingested)                            AS gb_ingested,
       sum(training_hours)                         AS training_hours,
       sum(batch_recommendations)                  AS batch_recommendations,
       sum(segment_users)                          AS segment_users,
       sum(tps_hours)                              AS tps_hours,
       sum(total_usd)                              AS total_usd
  FROM {schema}.run_costs
 GROUP BY 1
 ORDER BY 1 DESC
 LIMIT %(months)s
