"""Bad input gets a 4xx whose JSON body names the field; nothing answers 500."""

from __future__ import annotations

import json
import random
import time
from urllib.parse import quote

import pytest

LONG = "x" * 257
EVENT = {"user_id": "srv-c1", "item_id": "srv-p1", "event_type": "view"}


def _fields(response) -> list[str]:
    return [problem["field"] for problem in response.json()["errors"]]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("get", "/recommendations/srv-c1", {"params": {"n": 0}}, "query.n"),
        ("get", "/recommendations/srv-c1", {"params": {"n": 501}}, "query.n"),
        ("get", "/recommendations/srv-c1", {"params": {"n": "ten"}}, "query.n"),
        ("get", f"/recommendations/{LONG}", {}, "path.user_id"),
        ("get", f"/similar-items/{LONG}", {}, "path.item_id"),
        ("get", "/similar-items/srv-p1", {"params": {"n": 9999}}, "query.n"),
        ("get", f"/item-segments/{LONG}", {}, "path.item_id"),
        ("post", "/recommendations", {"json": {"user_id": "srv-c1", "num_results": 0}}, "body.num_results"),
        ("post", "/recommendations", {"json": {"user_id": LONG}}, "body.user_id"),
        ("post", "/recommendations", {"json": {"user_id": 7}}, "body.user_id"),
        ("post", "/recommendations", {"json": {"num_results": 3}}, "body.user_id"),
        ("post", "/recommendations", {"json": {"user_id": "a", "num_results": "3"}}, "body.num_results"),
        ("post", "/events", {"json": {**EVENT, "event_type": "wishlist"}}, "body.event_type"),
        ("post", "/events", {"json": {**EVENT, "user_id": LONG}}, "body.user_id"),
        ("post", "/events", {"json": {**EVENT, "item_id": LONG}}, "body.item_id"),
        ("post", "/events", {"json": {**EVENT, "event_id": LONG}}, "body.event_id"),
        ("post", "/events", {"json": {**EVENT, "session_id": LONG}}, "body.session_id"),
        ("post", "/events", {"json": {**EVENT, "recommendation_id": LONG}}, "body.recommendation_id"),
        ("post", "/events", {"json": {**EVENT, "user_id": "nul\x00"}}, "body.user_id"),
        ("post", "/events", {"json": {**EVENT, "timestamp": 1_764_000_000_000}}, "body.timestamp"),
        ("post", "/events", {"json": {**EVENT, "timestamp": 123}}, "body.timestamp"),
        ("post", "/events", {"json": {**EVENT, "timestamp": -(2**70)}}, "body.timestamp"),
        ("post", "/events", {"json": {**EVENT, "timestamp": "1764000000"}}, "body.timestamp"),
        ("post", "/events", {"json": {**EVENT, "timestamp": 1.5}}, "body.timestamp"),
        ("post", "/events", {"json": {**EVENT, "user_id": "no-such-customer"}}, "body.user_id"),
        ("post", "/events", {"json": {**EVENT, "item_id": "no-such-product"}}, "body.item_id"),
        ("post", "/events", {"json": {**EVENT, "colour": "red"}}, "body.colour"),
        (
            "post",
            "/events",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            "body.1",
        ),
        ("post", "/events", {"json": ["a", "list"]}, "body"),
    ],
)
def test_rejected_with_the_field_named(client, method, path, kwargs, field):
    response = getattr(client, method)(path, **kwargs)
    assert 400 <= response.status_code < 500, response.text
    assert field in _fields(response), response.text


def test_a_timestamp_in_the_future_beyond_the_skew_is_rejected(client):
    ahead = int(time.time()) + 3600
    response = client.post("/events", json={**EVENT, "timestamp": ahead})
    assert response.status_code == 422 and _fields(response) == ["body.timestamp"]
    near = client.post("/events", json={**EVENT, "timestamp": int(time.time()) + 5})
    assert near.status_code == 200


def test_a_bad_simulated_time_names_the_header(caches, serve, demo_config):
    with serve(demo_config(), caches, simulated_clock=True) as client:
        response = client.get("/recommendations/srv-c1", headers={"X-Simulated-Time": "yesterday"})
    assert response.status_code == 422 and _fields(response) == ["header.X-Simulated-Time"]


def _junk(rng: random.Random):
    pick = rng.randrange(-3, 9)
    if pick <= 0:  # numbers at the edges, more often: they reach conversions
        return rng.choice([-(2**70), -(2**63), -1, 0, 2**31, 2**63, 2**70, rng.randint(-(2**40), 2**40)])
    if pick == 1:
        return rng.random() * 10 ** rng.randint(-5, 20)
    if pick == 2:
        return "".join(chr(rng.randrange(0, 0x2FFF)) for _ in range(rng.randrange(0, 300)))
    if pick == 3:
        return None
    if pick == 4:
        return [rng.randrange(5)]
    if pick == 5:
        return {"k": "v"}
    if pick == 6:
        return rng.choice(["view", "purchase", "add_to_cart", "srv-c1", "srv-p1"])
    if pick == 7:
        return rng.choice([True, False])
    return int(time.time()) - rng.randrange(10**6)


def test_fuzzed_requests_never_answer_500(client):
    rng = random.Random(20261202)
    keys = [
        "user_id",
        "item_id",
        "event_type",
        "session_id",
        "timestamp",
        "event_id",
        "recommendation_id",
        "num_results",
    ]
    statuses = set()
    for _ in range(400):
        path = rng.choice(["/events", "/recommendations"])
        if rng.random() < 0.5:  # a valid request with one or two fields spoiled reaches deeper checks
            valid = {**EVENT, "timestamp": int(time.time())} if path == "/events" else {"user_id": "srv-c1"}
            spoiled = rng.sample(sorted(valid), min(len(valid), rng.randrange(1, 3)))
            body = {**valid, **{key: _junk(rng) for key in spoiled}}
        else:
            body = {key: _junk(rng) for key in rng.sample(keys, rng.randrange(len(keys) + 1))}
        statuses.add(client.post(path, json=body).status_code)
        statuses.add(
            client.post(
                path,
                content=json.dumps(body)[: rng.randrange(60)],
                headers={"content-type": "application/json"},
            ).status_code
        )
        segment = quote(str(_junk(rng)), safe="") or "_"
        route = rng.choice(["recommendations", "similar-items", "item-segments"])
        n = _junk(rng)
        response = client.get(f"/{route}/{segment}", params={"n": n} if n is not None else None)
        statuses.add(response.status_code)
    assert all(status < 500 for status in statuses), statuses
    assert statuses & {200} and statuses & {422}
