"""Request and response bodies (they make the OpenAPI docs at /docs)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, StringConstraints

MAX_ID = 256
MAX_RESULTS = 500
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
Id = Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_ID, pattern=NO_NUL)]
Source = Literal["personalized", "popular", "trending", "campaign"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecommendationRequest(_Body):
    """The request shape of the AWS samples."""

    user_id: Id
    num_results: StrictInt = Field(10, ge=1, le=MAX_RESULTS)


class RecommendationQuery(_Body):
    """GET /recommendations/{user_id}: its path and query parameters (checked by serving.plain_route)."""

    user_id: Id
    n: int = Field(10, ge=1, le=MAX_RESULTS)


class ItemQuery(_Body):
    """GET /similar-items/{item_id}: its path and query parameters (checked by serving.plain_route)."""

    item_id: Id
    n: int = Field(10, ge=1, le=MAX_RESULTS)


class SegmentQuery(ItemQuery):
    """GET /item-segments/{item_id}: the same, a longer list by default."""

    n: int = Field(100, ge=1, le=MAX_RESULTS)


class EventIn(_Body):
    user_id: Id
    item_id: Id
    event_type: Id
    session_id: Id | None = None
    timestamp: StrictInt | None = None  # epoch seconds; the server's now if absent
    event_id: Id | None = None
    recommendation_id: Id | None = None


class EventStored(BaseModel):
    event_id: str
    stored: bool  # False: this event_id was stored before (a retry), nothing added


class Item(BaseModel):
    item_id: str
    score: float | None = None


class Served(BaseModel):
    """Where a list came from: every recommendation-like response carries these."""

    recommendation_id: str
    source: Source
    cache_load_id: int | None
    experiment: str | None = None
    variant: str | None = None
    degraded: bool = False  # answered from memory: the database did not


class Recommendations(Served):
    user_id: str
    items: list[Item]


class SimilarItems(Served):
    item_id: str
    items: list[Item]


class ItemSegment(Served):
    item_id: str
    user_ids: list[str]


class CacheHealth(BaseModel):
    load_id: int | None
    rows: int | None
    age_seconds: float | None


class ExposureHealth(BaseModel):
    buffered: int
    written: int
    lost: int


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    caches: dict[str, CacheHealth]
    exposures: ExposureHealth
