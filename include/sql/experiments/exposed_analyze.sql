-- Temporary tables get no autovacuum statistics; the counts' joins need them.
ANALYZE experiment_exposed, experiment_shown
