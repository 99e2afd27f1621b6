"""Registers the Personalize console links so the UI can show them on tasks."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from personalize_provider.links.personalize import ALL_LINKS


class PersonalizePlugin(AirflowPlugin):
    name = "personalize"
    operator_extra_links = [link() for link in ALL_LINKS]
