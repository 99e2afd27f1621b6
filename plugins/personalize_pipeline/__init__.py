"""Task logic of the Personalize pipelines: moving data between PostgreSQL, S3 and Personalize."""
