"""
The Airflow DAGs of the pipeline configured in include/pipelines/personalize.yaml: personalize_export,
personalize_retrain_full, personalize_retrain_update, personalize_event_sync,
personalize_cleanup, personalize_cache_rollback and personalize_experiment_report.

Another pipeline is a copy of this file named after its configuration file: dags/brand_b.py
builds include/pipelines/brand_b.yaml as brand_b_export, brand_b_retrain_full, and so on. A
mistake in one pipeline's file fails only that pipeline's DAG file. (Airflow reads only files
that mention both "airflow" and "dag": keep this docstring in a copy.)
"""

# Airflow's DAG processor imports the airflow.* modules a DAG file names once, before it forks the
# process that parses the file (parsing_pre_import_modules): naming the Amazon provider's operator
# base here keeps boto3's import out of every pipeline's parse.
import airflow.providers.amazon.aws.operators.base_aws  # noqa: F401

from personalize_pipeline.dags import build_pipeline_dags

globals().update(build_pipeline_dags(__file__))
