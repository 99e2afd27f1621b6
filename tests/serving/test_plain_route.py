"""GET /recommendations/{user_id} runs outside FastAPI's dependency injection: it must still read,
reject and document its parameters as FastAPI did."""

from __future__ import annotations

import functools
import json
import operator
import uuid

import psycopg
import pytest
from api_testdata import PERSONAL, SCHEMA

_UUID4_FIXED = (0xF000 << 64) | (0xC000 << 48)  # the version and variant bits


def test_a_repeated_parameter_takes_its_last_value_as_fastapi_did(client):
    body = client.get("/recommendations/srv-c1?n=1&n=2").json()
    assert [item["item_id"] for item in body["items"]] == PERSONAL["srv-c1"][:2]


def test_a_percent_encoded_user_id_is_decoded(client):
    body = client.get("/recommendations/srv%2Dc1", params={"n": "3"}).json()
    assert body["user_id"] == "srv-c1" and len(body["items"]) == 3


def test_rejections_carry_fastapis_messages(client):
    errors = client.get("/recommendations/srv-c1", params={"n": "0"}).json()["errors"]
    assert errors == [{"field": "query.n", "message": "Input should be greater than or equal to 1"}]
    both = client.get(f"/recommendations/{'x' * 257}", params={"n": "ten"}).json()["errors"]
    assert [problem["field"] for problem in both] == ["path.user_id", "query.n"]


def test_the_docs_describe_its_parameters_and_response(client):
    operation = client.get("/openapi.json").json()["paths"]["/recommendations/{user_id}"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["user_id"]["in"] == "path" and parameters["user_id"]["required"] is True
    assert parameters["user_id"]["schema"]["maxLength"] == 256
    n = parameters["n"]
    assert n["in"] == "query" and n["required"] is False
    assert (n["schema"]["minimum"], n["schema"]["maximum"], n["schema"]["default"]) == (1, 500, 10)
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Recommendations"}


@pytest.mark.parametrize(
    ("path", "default", "model"),
    [("/similar-items/{item_id}", 10, "SimilarItems"), ("/item-segments/{item_id}", 100, "ItemSegment")],
)
def test_the_item_routes_document_their_parameters_and_response(client, path, default, model):
    operation = client.get("/openapi.json").json()["paths"][path]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert (parameters["item_id"]["in"], parameters["item_id"]["required"]) == ("path", True)
    assert parameters["item_id"]["schema"]["maxLength"] == 256
    n = parameters["n"]
    assert (n["in"], n["required"], n["schema"]["maximum"], n["schema"]["default"]) == (
        "query",
        False,
        500,
        default,
    )
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": f"#/components/schemas/{model}"}


def test_the_hand_encoded_body_reads_as_the_response_model_writes_it():
    from serving.bodies import ranked
    from serving.models import Item, Recommendations
    from serving.recommend import Answer

    values = [
        ("p-ü", 0.25),
        ("p2", float("inf")),
        ("p3", float("nan")),
        ("p4", float("-inf")),
        ("p5", 1e-300),
    ]
    served = {
        "recommendation_id": "r1",
        "source": "personalized",
        "cache_load_id": 7,
        "experiment": "e",
        "variant": "v",
        "degraded": False,
    }
    answer = Answer(values, "personalized", 7, experiment="e", variant="v")
    body = json.loads(ranked("r1", answer, "user_id", "c-\u2603").body)
    items = [Item(item_id=item, score=score) for item, score in values]
    model = Recommendations(user_id="c-\u2603", items=items, **served)
    assert body == json.loads(model.model_dump_json())


@pytest.mark.parametrize(
    ("answer", "key_value"),
    [
        (("personalized", 7, False, None, None), "c1"),
        (("popular", None, True, 'exp "ü"\n', "v\u2603\\"), 'c-"\u2603\x01</'),
    ],
)
def test_the_composed_body_is_the_text_json_dumps_writes(answer, key_value):
    """Byte for byte, so clients see the same text as before the body was composed by hand."""
    from serving.bodies import listed, recommendation_id
    from serving.recommend import Answer

    source, load_id, degraded, experiment, variant = answer
    rec_id = recommendation_id()
    served = Answer([], source, load_id, degraded, experiment, variant)
    body = listed(rec_id, served, "user_id", key_value, "items", '[{"item_id": "p1", "score": 0.5}]')
    fields = {
        "recommendation_id": rec_id,
        "source": source,
        "cache_load_id": load_id,
        "experiment": experiment,
        "variant": variant,
        "degraded": degraded,
        "user_id": key_value,
        "items": [{"item_id": "p1", "score": 0.5}],
    }
    assert body.body.decode() == json.dumps(fields)
    assert dict(body.raw_headers) == {
        b"content-length": str(len(body.body)).encode(),
        b"content-type": b"application/json",
    }


def test_recommendation_ids_are_random_uuids_as_uuid4_writes_them():
    from serving.bodies import recommendation_id

    ids = [recommendation_id() for _ in range(2000)]
    parsed = [uuid.UUID(text) for text in ids]
    assert all(
        str(u) == text and u.version == 4 and u.variant == uuid.RFC_4122
        for u, text in zip(parsed, ids, strict=True)
    )
    assert len(set(ids)) == len(ids)
    # every other bit varies: none is stuck at 0 or 1 across the ids
    assert functools.reduce(operator.or_, (u.int for u in parsed)) | _UUID4_FIXED == (1 << 128) - 1
    assert functools.reduce(operator.and_, (u.int for u in parsed)) & ~_UUID4_FIXED == 0


def test_the_list_the_database_encodes_reads_as_the_response_model_writes_it(caches, demo_config):
    from psycopg import sql

    from serving.database import Statements
    from serving.models import Item

    values = [
        ("p-ü", 0.25),
        ("p2", float("inf")),
        ("p3", float("nan")),
        ("p4", float("-inf")),
        ('p"5', -1e-300),
        ("p6", 1.0),
    ]
    view = sql.Identifier(SCHEMA, "odd_scores")
    lookup = Statements(demo_config()).ranked("odd_scores", "user_id", "item_id", scored=True)
    with psycopg.connect(caches, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE VIEW {} AS SELECT 'c-\u2603'::text AS user_id, r.rank::smallint AS rank, r.item_id, "
                "r.score FROM unnest({}::text[], {}::float8[]) WITH ORDINALITY AS r (item_id, score, rank)"
            ).format(view, sql.Literal([v for v, _ in values]), sql.Literal([s for _, s in values]))
        )
        loads = sql.Identifier(SCHEMA, "cache_loads")
        insert = "INSERT INTO {} (cache_name, snapshot_table, status) VALUES ('odd_scores', '-', 'live')"
        conn.execute(sql.SQL(insert).format(loads))
        try:
            params = {"cache_name": "odd_scores", "keys": ["c-\u2603", "nobody"], "n": 5}
            rows = conn.execute(lookup.query, params).fetchall()
        finally:
            conn.execute(sql.SQL("DELETE FROM {} WHERE cache_name = 'odd_scores'").format(loads))
            conn.execute(sql.SQL("DROP VIEW {}").format(view))
    [(key, encoded, _)] = rows
    items = [json.loads(Item(item_id=item, score=score).model_dump_json()) for item, score in values[:5]]
    assert (key, json.loads(encoded)) == ("c-\u2603", items)


ODD_VALUES = [
    "",
    "0",
    "1",
    "010",
    "500",
    "501",
    "-1",
    "+5",
    " 5",
    "5 ",
    "1_0",
    "1e2",
    "5.0",
    "\u0665",
    "²",
    "9" * 9,
    "9" * 10,
    "9" * 5000,
    "x",
    "x" * 256,
    "x" * 257,
    "a\x00b",
    "\n",
    "é" * 256,
    "ü" * 257,
]


@pytest.mark.parametrize("model_name", ["RecommendationQuery", "ItemQuery", "SegmentQuery"])
def test_the_quick_checks_accept_only_what_the_model_accepts_with_its_value(model_name):
    from pydantic import ValidationError

    from serving import models
    from serving.plain_route import quick_checks

    model = getattr(models, model_name)
    checks = quick_checks(model)
    assert set(checks) == set(model.model_fields)
    judged = 0
    for name, (check, default) in checks.items():
        assert default == (
            None if model.model_fields[name].is_required() else model.model_fields[name].default
        )
        others = {other: "1" for other in checks if other != name}
        for value in ODD_VALUES:
            quick = check(value)
            try:
                expected = getattr(model.model_validate({**others, name: value}), name)
            except ValidationError:
                assert quick is None, (name, value)
                continue
            assert quick in (None, expected), (name, value)
            judged += quick is not None
    assert judged >= 8  # the common values do take the quick path


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"n=10",
        b"n",
        b"=5",
        b"=",
        b"n=1=2",
        b"n=1&n=2",
        b"n=%31",
        b"n=1+2",
        b"a=b",
        b"n=\xe9",
        b"&",
        b"n=;",
    ],
)
def test_the_query_string_reads_as_parse_qsl_reads_it(raw):
    from urllib.parse import parse_qsl

    from serving.plain_route import _query

    assert _query(raw) == dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
