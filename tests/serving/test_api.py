"""Every endpoint against the real database: where each answer comes from, and what it says so."""

from __future__ import annotations

import time
import uuid

import psycopg
from api_testdata import (
    AFTER_EXPERIMENT,
    IN_EXPERIMENT,
    PERSONAL,
    POPULAR,
    SCHEMA,
    SEGMENTS,
    SIMILAR,
    TRENDING,
    live_load,
)

from serving.assignment import assign


def _ids(body: dict) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def test_a_known_customer_gets_the_personalized_cache_with_its_load_id(client, caches):
    response = client.get("/recommendations/srv-c1", params={"n": 2})
    assert response.status_code == 200
    body = response.json()
    assert _ids(body) == PERSONAL["srv-c1"][:2]
    assert body["source"] == "personalized"
    assert body["cache_load_id"] == live_load(caches, "user_recommendations")
    assert uuid.UUID(body["recommendation_id"]).version == 4
    assert body["experiment"] is None and body["variant"] is None and body["degraded"] is False


def test_every_response_has_its_own_recommendation_id(client):
    ids = {client.get("/recommendations/srv-c1").json()["recommendation_id"] for _ in range(3)}
    assert len(ids) == 3


def test_a_cold_start_customer_gets_the_popular_list(client, caches):
    body = client.get("/recommendations/nobody-we-know", params={"n": 2}).json()
    assert _ids(body) == POPULAR[:2]
    assert body["source"] == "popular"
    assert body["cache_load_id"] == live_load(caches, "popular_items")


def test_post_takes_the_aws_samples_request_shape(client):
    body = client.post("/recommendations", json={"user_id": "srv-c2", "num_results": 5}).json()
    assert _ids(body) == PERSONAL["srv-c2"]
    assert body["source"] == "personalized"


def test_trending_answers_when_the_popular_list_is_empty(caches, serve, demo_config):
    config = demo_config(
        fallbacks={
            "popular": {"cache_table": "never_loaded_popular", "days": 30, "size": 10},
            "trending": {"cache_table": "trending_items", "days": 7, "size": 10},
        }
    )
    with serve(config, caches) as client:
        body = client.get("/recommendations/nobody-we-know").json()
    assert (body["source"], _ids(body)) == ("trending", TRENDING)
    assert body["cache_load_id"] == live_load(caches, "trending_items")


def test_similar_items_and_the_popular_list_for_an_unknown_product(client):
    known = client.get("/similar-items/srv-p1").json()
    assert (known["source"], _ids(known)) == ("personalized", SIMILAR["srv-p1"])
    unknown = client.get("/similar-items/srv-p7").json()
    assert unknown["source"] == "popular"
    assert _ids(unknown) == [p for p in POPULAR if p != "srv-p7"]  # never the product itself


def test_item_segments_and_404_naming_the_item_without_one(client):
    body = client.get("/item-segments/srv-p1").json()
    assert body["user_ids"] == SEGMENTS["srv-p1"] and body["source"] == "personalized"
    assert body["recommendation_id"]
    missing = client.get("/item-segments/srv-p2")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["field"] == "path.item_id"


def test_health_reports_every_cache_live_load_and_age(client, caches):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["database"] is True
    popular = body["caches"]["popular_items"]
    assert popular["load_id"] == live_load(caches, "popular_items")
    assert popular["rows"] == len(POPULAR) and popular["age_seconds"] >= 0
    assert set(body["caches"]) == {
        "user_recommendations",
        "similar_items",
        "item_affinity_segments",
        "popular_items",
        "trending_items",
    }
    assert body["exposures"]["lost"] == 0


def test_openapi_docs_list_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/recommendations/{user_id}",
        "/recommendations",
        "/similar-items/{item_id}",
        "/item-segments/{item_id}",
        "/events",
        "/health",
    ):
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_the_api_routes_are_matched_before_the_documentation(client):
    """Routes are tried in order: the documentation's four must not be tried before every request."""
    paths = [route.path for route in client.app.router.routes]
    documentation = ["/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"]
    assert paths[: -len(documentation)] and set(paths[-len(documentation) :]) == set(documentation)
    assert paths[0] == "/recommendations/{user_id}"
    assert client.get("/redoc").status_code == 200 and client.get("/ping").json() == {"ok": True}


def _exposures(url: str, recommendation_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT experiment, variant, user_id, source, exposed_at FROM {SCHEMA}.experiment_exposures "
            "WHERE recommendation_id = %s",
            (recommendation_id,),
        ).fetchall()


def _wait_for_exposure(url: str, recommendation_id: str) -> list[tuple]:
    deadline = time.monotonic() + 10
    while not (rows := _exposures(url, recommendation_id)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return rows


def test_simulated_time_is_ignored_unless_the_clock_is_enabled(client):
    header = {"X-Simulated-Time": str(IN_EXPERIMENT.timestamp())}
    body = client.get("/recommendations/srv-c1", headers=header).json()
    assert body["experiment"] is None  # the real clock is past the demo's experiment


def test_an_active_experiment_assigns_serves_and_logs_the_exposure(caches, serve, demo_config):
    config = demo_config()
    experiment = config.experiments["homepage-recs"]
    weights = [v.weight for v in experiment.variants]
    with serve(config, caches, simulated_clock=True) as client:
        header = {"X-Simulated-Time": str(int(IN_EXPERIMENT.timestamp()))}
        for user in ("srv-c1", "srv-c2", "cold-1", "cold-2"):
            body = client.get(f"/recommendations/{user}", headers=header).json()
            variant = experiment.variants[assign(experiment.seed, weights, user)]
            assert (body["experiment"], body["variant"]) == ("homepage-recs", variant.name)
            personal = variant.source.solution and user in PERSONAL
            assert body["source"] == ("personalized" if personal else "popular")
            rows = _wait_for_exposure(caches, body["recommendation_id"])
            assert rows == [("homepage-recs", variant.name, user, body["source"], IN_EXPERIMENT)]
        after = client.get(
            "/recommendations/srv-c1", headers={"X-Simulated-Time": str(AFTER_EXPERIMENT.timestamp())}
        ).json()
        assert after["experiment"] is None and after["source"] == "personalized"
        assert not _exposures(caches, after["recommendation_id"])
        assert client.get("/health").json()["exposures"]["written"] >= 4


def test_api_keys_guard_every_route_but_health(caches, serve, demo_config):
    with serve(demo_config(), caches, api_keys=("k-one", "k-two")) as client:
        assert client.get("/recommendations/srv-c1").status_code == 401
        wrong = client.get("/recommendations/srv-c1", headers={"X-API-Key": "k-three"})
        assert wrong.status_code == 401 and wrong.json()["errors"][0]["field"] == "header.X-API-Key"
        assert client.get("/recommendations/srv-c1", headers={"X-API-Key": "k-two"}).status_code == 200
        assert client.get("/health").status_code == 200
