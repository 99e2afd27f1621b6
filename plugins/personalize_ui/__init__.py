"""The Personalize page inside the Airflow UI, served by the Airflow API server (see personalize_plugin)."""

from __future__ import annotations


class LazyApp:
    """An ASGI app that builds the page's FastAPI app on its first request.

    The plugin module is imported by every Airflow process (scheduler, workers, DAG processor);
    only the API server ever calls this, so only it pays for FastAPI, Jinja and the page's code.
    """

    def __init__(self) -> None:
        self._app = None

    async def __call__(self, scope, receive, send) -> None:
        if self._app is None:
            from personalize_ui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)
