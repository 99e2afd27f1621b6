"""Amazon Personalize support for Airflow, written in the Amazon provider's idiom.

Layout mirrors ``airflow.providers.amazon.aws``: hooks/, operators/, sensors/,
triggers/, links/ and waiters/personalize.json.
"""
