-- Gate decisions on one schema run one at a time: parallel solutions creating the tables on a
-- fresh database would otherwise race, and a rerun must see the decisions made before it.
SELECT pg_advisory_xact_lock(hashtext('personalize_pipeline.solution_metrics:' || %(schema)s))
