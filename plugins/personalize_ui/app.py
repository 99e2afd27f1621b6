"""
The page's FastAPI app, mounted by the Airflow API server under ``/personalize``.

One server-rendered HTML page, every pipeline of the project on it (include/pipelines/*.yaml),
for logged-in Airflow users only (see :mod:`personalize_ui.auth`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from personalize_ui.auth import refused, require_user

TEMPLATES = Path(__file__).parent / "templates"


def _environment():
    import jinja2

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    environment.filters["duration"] = _duration
    return environment


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


def _pipelines() -> list[dict]:
    """Every pipeline file: its sections, or the configuration error that stops its DAGs too."""
    from personalize_pipeline.config import ConfigError, load_config
    from personalize_pipeline.pipelines import pipeline_files
    from personalize_ui.sections import pipeline_page

    pipelines = []
    for path in pipeline_files():
        try:
            cfg = load_config(path)
        except ConfigError as error:
            pipelines.append({"name": path.stem, "error": str(error)})
            continue
        pipelines.append({"name": cfg.name, "cfg": cfg, "sections": pipeline_page(cfg)})
    return pipelines


def create_app() -> FastAPI:
    app = FastAPI(title="Personalize", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(HTTPException, refused)
    environment = _environment()

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, user=Depends(require_user)) -> HTMLResponse:  # noqa: B008 - FastAPI's idiom
        html = environment.get_template("page.html").render(pipelines=_pipelines(), user=user.get_name())
        return HTMLResponse(html)

    return app
