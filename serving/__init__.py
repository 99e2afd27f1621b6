"""The recommendation API: serves the pipeline's caches, runs its experiments, takes events.

A small process of its own (``python -m serving``) that imports no Airflow: it shares the
pipeline's validated configuration (personalize_pipeline.config) and SQL (include/sql/serving/).
"""
