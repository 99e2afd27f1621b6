"""Registers the Personalize console links on tasks and the Personalize page in the Airflow UI."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from personalize_provider.links.personalize import ALL_LINKS
from personalize_ui import LazyApp

PAGE_PREFIX = "/personalize"


class PersonalizePlugin(AirflowPlugin):
    name = "personalize"
    operator_extra_links = [link() for link in ALL_LINKS]
    # The API server mounts the page's app; the UI shows it in its navigation, framed at /plugin/personalize.
    fastapi_apps = [{"app": LazyApp(), "url_prefix": PAGE_PREFIX, "name": "Personalize page"}]
    external_views = [
        {
            "name": "Personalize",
            "href": PAGE_PREFIX.lstrip("/") + "/",  # relative to the UI's base URL, as Airflow requires
            "url_route": "personalize",
            "destination": "nav",
            "category": "browse",
        }
    ]
