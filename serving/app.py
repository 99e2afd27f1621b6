"""The FastAPI application: its routes, error handlers and the lifespan that runs the Service.

``create_app(settings)`` builds it; ``python -m serving`` runs it under uvicorn. OpenAPI docs are
at /docs.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from serving import errors
from serving.auth import require_api_key
from serving.bodies import listed, ranked, recommendation_id
from serving.clock import request_now
from serving.database import UNAVAILABLE, fetch
from serving.errors import RequestProblem
from serving.events import store_event
from serving.models import (
    CacheHealth,
    EventIn,
    EventStored,
    ExposureHealth,
    Health,
    ItemQuery,
    ItemSegment,
    RecommendationQuery,
    RecommendationRequest,
    Recommendations,
    SegmentQuery,
    SimilarItems,
)
from serving.plain_route import PlainRoute, checked, documented
from serving.recommend import DatabaseDown
from serving.service import Service
from serving.settings import Settings

Now = Annotated[datetime, Depends(request_now)]
# where each plain route's parameters come from (name → "path" or "query")
PARAMETERS = {
    RecommendationQuery: {"user_id": "path", "n": "query"},
    ItemQuery: {"item_id": "path", "n": "query"},
    SegmentQuery: {"item_id": "path", "n": "query"},
}


# async: FastAPI would run a plain function in its thread pool, a hop per request
async def _service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(_service)]


def create_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        service = Service(settings)
        app.state.service = service
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="Personalize recommendations",
        summary=f"Serves pipeline {settings.config.name!r}: its caches, experiments and events.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app)
    keyed = [Depends(require_api_key)]

    async def recommend(service: Service, user_id: str, n: int, now: datetime) -> Response:
        answer = await service.recommender.for_user(user_id, n, now)
        rec_id = recommendation_id()
        if answer.experiment:
            service.exposures.record(answer.experiment, answer.variant, user_id, rec_id, answer.source, now)
        return ranked(rec_id, answer, "user_id", user_id)

    async def get_recommendations(request: Request) -> Response:
        """A customer's recommendations: experiment variant, else the personalized cache, else popular."""
        await require_api_key(request)  # the checks in the order FastAPI's dependencies made them
        now = await request_now(request)
        user_id, n = checked(RecommendationQuery, request, PARAMETERS[RecommendationQuery])
        return await recommend(request.app.state.service, user_id, n, now)

    def plain_get(path: str, endpoint, response_model: type[BaseModel], query: type[BaseModel]) -> None:
        """A GET route without dependency injection per request (see serving.plain_route)."""
        app.router.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            response_model=response_model,
            responses={422: {"description": "A parameter out of range: the body names it."}},
            openapi_extra=documented(query, PARAMETERS[query]),
            route_class_override=PlainRoute,
        )

    plain_get("/recommendations/{user_id}", get_recommendations, Recommendations, RecommendationQuery)

    @app.post("/recommendations", dependencies=keyed, response_model=Recommendations)
    async def post_recommendations(body: RecommendationRequest, service: ServiceDep, now: Now) -> Response:
        """The same, in the request shape of the AWS samples."""
        return await recommend(service, body.user_id, body.num_results, now)

    async def similar_items(request: Request) -> Response:
        """Products like this one; the popular ones for a product the model does not know."""
        await require_api_key(request)
        (item_id, n), service = checked(ItemQuery, request, PARAMETERS[ItemQuery]), request.app.state.service
        answer = await service.recommender.similar_items(item_id, n)
        return ranked(recommendation_id(), answer, "item_id", item_id)

    plain_get("/similar-items/{item_id}", similar_items, SimilarItems, ItemQuery)

    async def item_segments(request: Request) -> Response:
        """The customers most likely to buy this product."""
        await require_api_key(request)
        (item_id, n), service = (
            checked(SegmentQuery, request, PARAMETERS[SegmentQuery]),
            request.app.state.service,
        )
        answer = await service.recommender.item_segment(item_id, n)
        if answer is None:
            raise RequestProblem("path.item_id", "no segment for this product", status=404)
        return listed(recommendation_id(), answer, "item_id", item_id, "user_ids", answer.encoded)

    plain_get("/item-segments/{item_id}", item_segments, ItemSegment, SegmentQuery)

    @app.post("/events", dependencies=keyed)
    async def post_event(body: EventIn, service: ServiceDep, now: Now) -> EventStored:
        """Append an interaction to the store (idempotent by event_id)."""
        return await store_event(service.source_pool, service.statements, service.config, body, now)

    @app.get("/health")
    async def health(service: ServiceDep) -> Health:
        """Each cache's live load, its age and rows; degraded when PostgreSQL does not answer."""
        live: dict[str, tuple] = {}
        try:
            rows = await fetch(service.pool, service.statements.live_loads, {})
            live = {name: (load_id, count, age) for name, load_id, count, _, age in rows}
            database = True
        except UNAVAILABLE:
            database = False
        fields = ("load_id", "rows", "age_seconds")
        caches = {
            name: CacheHealth(**dict(zip(fields, live.get(name, (None,) * 3), strict=True)))
            for name in service.config.cache_tables
        }
        exposures = service.exposures
        return Health(
            status="ok" if database and service.recommender.database_ok else "degraded",
            database=database,
            caches=caches,
            exposures=ExposureHealth(
                buffered=exposures.buffered, written=exposures.written, lost=exposures.lost_total
            ),
        )

    @app.get("/ping")
    async def ping() -> dict:
        """Liveness only: touches nothing (the benchmark's do-nothing baseline)."""
        return {"ok": True}

    # FastAPI adds its documentation routes first; matched in order, they cost every request a
    # check each, so the API's own routes go before them
    documentation = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    app.router.routes.sort(key=lambda route: getattr(route, "path", None) in documentation)

    @app.exception_handler(DatabaseDown)
    async def _down(request: Request, error: DatabaseDown) -> JSONResponse:
        return JSONResponse({"errors": [{"field": "database", "message": "unavailable"}]}, 503)

    for unavailable in UNAVAILABLE:

        @app.exception_handler(unavailable)
        async def _unavailable(request: Request, error: Exception) -> JSONResponse:
            return JSONResponse({"errors": [{"field": "database", "message": "unavailable"}]}, 503)

    return app
