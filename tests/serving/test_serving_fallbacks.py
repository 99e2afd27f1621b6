"""When PostgreSQL or a campaign does not answer, the API still does, from the next source down."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import threading
import time

import psycopg
import pytest
from api_testdata import IN_EXPERIMENT, PERSONAL, POPULAR, SCHEMA
from psycopg.conninfo import conninfo_to_dict, make_conninfo


class Proxy:
    """TCP on 127.0.0.1 to the database's unix socket: closing it is the database going away."""

    def __init__(self, url: str):
        params = conninfo_to_dict(url)
        self.target = os.path.join(params["host"], f".s.PGSQL.{params.get('port', 5432)}")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = make_conninfo(url, host="127.0.0.1", port=self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                server = socket.socket(socket.AF_UNIX)
                server.connect(self.target)
                self.sockets += [client, server]
                for a, b in ((client, server), (server, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept (close alone does not)
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def test_database_down_serves_popular_from_memory_and_counts_lost_exposures(caches, serve, demo_config):
    proxy = Proxy(caches)
    header = {"X-Simulated-Time": str(IN_EXPERIMENT.timestamp())}
    config = demo_config(serving={"exposure_flush_seconds": 0.2, "popular_refresh_seconds": 3600})
    with serve(config, proxy.url, simulated_clock=True) as client:
        assert client.get("/recommendations/srv-c1").json()["source"] == "personalized"
        proxy.close()
        started = time.monotonic()
        body = client.get("/recommendations/srv-c1", headers=header).json()
        assert time.monotonic() - started < 3  # short timeouts: no long wait on a dead database
        assert [i["item_id"] for i in body["items"]] == POPULAR
        assert body["source"] == "popular" and body["degraded"] is True
        assert body["experiment"] == "homepage-recs"
        post = client.post("/recommendations", json={"user_id": "srv-c2"}).json()
        assert (post["source"], post["degraded"]) == ("popular", True)
        time.sleep(0.6)  # a flush fails: its exposure is dropped and counted
        health = client.get("/health").json()
        assert health["status"] == "degraded" and health["database"] is False, health
        assert health["exposures"]["lost"] >= 1
        assert (
            client.post(
                "/events", json={"user_id": "srv-c1", "item_id": "srv-p1", "event_type": "view"}
            ).status_code
            == 503
        )


def test_lost_exposures_reach_their_table_when_the_database_answers(caches, serve, demo_config):
    config = demo_config(serving={"exposure_buffer_size": 10, "exposure_flush_seconds": 300})
    header = {"X-Simulated-Time": str(IN_EXPERIMENT.timestamp())}
    with psycopg.connect(caches) as conn:
        before = conn.execute(
            f"SELECT coalesce(sum(lost), 0) FROM {SCHEMA}.experiment_exposures_lost WHERE minute = %s",
            (IN_EXPERIMENT,),
        ).fetchone()[0]
    with serve(config, caches, simulated_clock=True) as client:
        for _ in range(15):  # the buffer holds 10: 5 are dropped, none blocks
            assert client.get("/recommendations/srv-c1", headers=header).status_code == 200
        exposures = client.get("/health").json()["exposures"]
        assert (exposures["buffered"], exposures["lost"]) == (10, 5)
    with psycopg.connect(caches) as conn:
        after = conn.execute(
            f"SELECT sum(lost) FROM {SCHEMA}.experiment_exposures_lost WHERE minute = %s", (IN_EXPERIMENT,)
        ).fetchone()[0]
    assert after - before == 5


def test_an_unreachable_database_at_start_up_still_answers(serve, demo_config):
    url = f"postgresql://nobody@127.0.0.1:{_closed_port()}/nothing"
    with serve(demo_config(), url) as client:
        started = time.monotonic()
        body = client.get("/recommendations/srv-c1").json()
        assert time.monotonic() - started < 3
        assert (body["source"], body["items"], body["degraded"]) == ("popular", [], True)
        assert client.get("/health").json()["status"] == "degraded"


class _Runtime(http.server.BaseHTTPRequestHandler):
    """GetRecommendations (REST-JSON POST /recommendations): slow or canned, as the test sets."""

    delay = 0.0
    requests: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        time.sleep(self.delay)
        payload = json.dumps(
            {"itemList": [{"itemId": "live-1", "score": 0.9}, {"itemId": "live-2"}], "recommendationId": "x"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def runtime(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    _Runtime.requests = []
    yield _Runtime
    server.shutdown()
    server.server_close()


def _campaign_config(demo_config, timeout: float):
    from api_testdata import demo_config_data

    data = demo_config_data(serving={"campaign_timeout_seconds": timeout})
    data["solutions"]["user-personalization"]["campaign"]["enabled"] = True
    data["experiments"]["homepage-recs"]["variants"] = [
        {"name": "realtime", "weight": 1, "source": {"campaign": "user-personalization"}},
        {"name": "realtime-too", "weight": 1, "source": {"campaign": "user-personalization"}},
    ]
    from api_testdata import config_of

    return config_of(data)


def test_the_campaign_answers_with_the_configured_filter(caches, serve, demo_config, runtime):
    header = {"X-Simulated-Time": str(IN_EXPERIMENT.timestamp())}
    with serve(_campaign_config(demo_config, 2.0), caches, simulated_clock=True) as client:
        body = client.get("/recommendations/srv-c1", headers=header, params={"n": 2}).json()
    assert body["source"] == "campaign" and body["cache_load_id"] is None
    assert [i["item_id"] for i in body["items"]] == ["live-1", "live-2"]
    assert runtime.requests == [
        {
            "campaignArn": "arn:aws:personalize:eu-west-1:123456789012:campaign/"
            "personalize-pipelines-demo-user-personalization",
            "userId": "srv-c1",
            "numResults": 2,
            "filterArn": "arn:aws:personalize:eu-west-1:123456789012:filter/"
            "personalize-pipelines-demo-exclude-purchased",
        }
    ]


def test_a_campaign_timeout_falls_back_to_the_cache(caches, serve, demo_config, runtime):
    runtime.delay = 1.5
    header = {"X-Simulated-Time": str(IN_EXPERIMENT.timestamp())}
    try:
        with serve(_campaign_config(demo_config, 0.2), caches, simulated_clock=True) as client:
            started = time.monotonic()
            body = client.get("/recommendations/srv-c1", headers=header).json()
            waited = time.monotonic() - started
            cold = client.get("/recommendations/cold-user", headers=header).json()
    finally:
        runtime.delay = 0.0
    assert waited < 1.2  # the request stopped waiting at the timeout, not at the slow answer
    assert (body["source"], [i["item_id"] for i in body["items"]]) == ("personalized", PERSONAL["srv-c1"])
    assert body["variant"] in {"realtime", "realtime-too"}
    assert cold["source"] == "popular"
