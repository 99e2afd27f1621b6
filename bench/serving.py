"""Benchmark of the recommendation API (serving/), from the repo root:

    python -m bench.serving [--seconds 2] [--users 20000]

Starts a throwaway PostgreSQL with a user_recommendations cache (25 items per customer) and the
popular list, runs ``python -m serving`` under uvicorn on 127.0.0.1 in its own process, and
measures HTTP latency (p50/p99) and throughput at 1, 8 and 32 concurrent keep-alive clients for:
``/ping`` (a do-nothing route on the same server), ``/recommendations`` outside any experiment,
``/recommendations`` under an A/A experiment (assignment and exposure logging on), and a bare
prepared primary-key lookup on the snapshot over psycopg (no HTTP). Then 1M-user bulk assignment
and an A/A split of 100k users through the chi-square sample-ratio test.

One run (2026-12-03, --seconds 2 --users 20000) on 2 cores shared with other jobs (load average
11.5 to 12.8 throughout), client, API and PostgreSQL on the same cores: every HTTP figure carries
scheduler waits, and a request through the API wakes three processes where the bare lookup wakes
two. Rerun on an idle machine before judging the goals (p99 < 5 ms at 8 clients, throughput
>= 60 % of the do-nothing route, exposure logging < 10 % on p99) by these numbers; the API's CPU
per request (last lines) is the steadier figure.

    target                                   clients   p50 ms   p99 ms    req/s
    do-nothing /ping                               1     0.33     7.89      812
    /recommendations (no experiment)               1     3.88    15.95      213
    /recommendations (A/A, exposures on)           1     4.57    17.89      176
    bare primary-key lookup (psycopg)              1     0.20     6.50     1332
    do-nothing /ping                               8     6.67    21.32     1103
    /recommendations (no experiment)               8    22.81   168.44      303
    /recommendations (A/A, exposures on)           8    23.78    54.49      319
    bare primary-key lookup (psycopg)              8     3.65    11.78     1975
    do-nothing /ping                              32    30.36    66.19     1011
    /recommendations (no experiment)              32    97.61   191.14      302
    /recommendations (A/A, exposures on)          32    95.83   302.14      272
    bare primary-key lookup (psycopg)             32    15.52    27.85     1926
    do-nothing /ping                         API CPU    215 us/request
    /recommendations (no experiment)         API CPU    630 us/request
    /recommendations (A/A, exposures on)     API CPU    685 us/request

    assignment: 1,000,000 users in 2.90 s (0.80 to 0.86 s when the load average was 0.6)
    A/A split of 100,000 users: [50111, 49889], SRM chi-square p = 0.483

Rerun on an idle machine (2026-12-03, load average 0.5 before the run, --seconds 3):

    target                                   clients   p50 ms   p99 ms    req/s
    do-nothing /ping                               1     0.35     0.53     2800
    /recommendations (no experiment)               1     0.95     1.22     1039
    /recommendations (A/A, exposures on)           1     0.96     1.32     1024
    bare primary-key lookup (psycopg)              1     0.24     0.37     4060
    do-nothing /ping                               8     1.54     3.47     4957
    /recommendations (no experiment)               8     4.15     7.95     1803
    /recommendations (A/A, exposures on)           8     4.18     8.13     1728
    bare primary-key lookup (psycopg)              8     1.04     1.93     7232
    do-nothing /ping                              32     5.07    10.90     6186
    /recommendations (no experiment)              32    18.43    29.63     1578
    /recommendations (A/A, exposures on)          32    17.86    26.64     1727
    bare primary-key lookup (psycopg)             32     3.52     6.36     7666
    do-nothing /ping                         API CPU    235 us/request
    /recommendations (no experiment)         API CPU    740 us/request
    /recommendations (A/A, exposures on)     API CPU    670 us/request

    assignment: 1,000,000 users in 0.88 s
    A/A split of 100,000 users: [50111, 49889], SRM chi-square p = 0.483

Against the goals: exposure logging adds 2 % to p99 at 8 clients (met); 1M assignments in
0.88 s (met); p99 at 8 clients 7.95 ms (goal < 5 ms: not met); throughput at 8 clients 36 % of
/ping (goal >= 60 %: not met). Client, server and database share the 2 cores, and the route
costs 3.1x /ping in API CPU: the request path itself has to get leaner.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import yaml

from serving.process import running_api

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = (1, 8, 32)
IN_EXPERIMENT = str(datetime(2026, 11, 5, tzinfo=UTC).timestamp())
AFTER_EXPERIMENT = str(datetime(2026, 12, 1, tzinfo=UTC).timestamp())


def _config(folder: Path) -> None:
    data = yaml.safe_load((ROOT / "include/pipelines/personalize.yaml").read_text())
    both = {"solution": "user-personalization"}
    data["experiments"]["homepage-recs"]["variants"] = [
        {"name": "a1", "weight": 1, "source": both},
        {"name": "a2", "weight": 1, "source": both},
    ]
    (folder / "bench.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def _fill(url: str, users: int) -> None:
    from devenv import postgres
    from devenv.airflow_env import set_connections
    from personalize_pipeline.batch_output import LAYOUTS
    from personalize_pipeline.snapshots import load_snapshot, whole_table_view
    from personalize_pipeline.sql_files import compose

    postgres.apply_schema(url)
    set_connections(db_url=url, aws_endpoint_url=None)
    rng = np.random.default_rng(7)

    def loader(rows, columns):
        def fill(conn, table):
            with conn.cursor().copy(compose("cache/copy_in.sql", table=table, columns=list(columns))) as out:
                for row in rows:
                    out.write_row(row)
            return len(rows), len(rows), 0

        return fill

    layout = LAYOUTS["USER_PERSONALIZATION"]
    rows = [
        (f"c{u:06d}", [f"p{i:05d}" for i in rng.integers(0, 4000, 25)], sorted(rng.random(25).tolist()))
        for u in range(users)
    ]
    common = {
        "db_conn_id": "store_db",
        "schema": "personalize_cache",
        "source_uri": "bench://",
        "lineage": {},
        "keep_snapshots": 1,
    }
    load_snapshot(
        cache_name="user_recommendations",
        kind="USER_PERSONALIZATION",
        table_sql=layout.table_sql,
        key_columns=("user_id",),
        fill=loader(rows, layout.snapshot_columns),
        point_view=layout.view,
        **common,
    )
    popular = [(r, f"p{r:05d}", 1000.0 - r) for r in range(1, 101)]
    load_snapshot(
        cache_name="popular_items",
        kind="popular",
        table_sql="cache/fallback_table.sql",
        key_columns=("rank",),
        fill=loader(popular, ("rank", "item_id", "score")),
        point_view=whole_table_view,
        **common,
    )


async def _http_worker(
    port: int,
    paths: list[str],
    headers: str,
    until: float,
    latencies: list[float],
    count: float = float("inf"),
):
    """One keep-alive HTTP/1.1 client: a small hand-written loop, so the client costs little CPU."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    while time.perf_counter() < until and i < count:
        path = paths[i % len(paths)]
        i += 1
        started = time.perf_counter()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{headers}\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        body = await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        assert head.startswith(b"HTTP/1.1 200"), head + body
    writer.close()


async def _sql_worker(url: str, users: list[str], until: float, latencies: list[float]):
    from personalize_pipeline.sql_files import compose

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        table = (
            await (
                await conn.execute(
                    "SELECT snapshot_table FROM personalize_cache.cache_loads "
                    "WHERE cache_name = 'user_recommendations' AND status = 'live'"
                )
            ).fetchone()
        )[0]
        query = compose("serving/primary_key_lookup.sql", table=("personalize_cache", table)).as_string()
        i = 0
        while time.perf_counter() < until:
            started = time.perf_counter()
            cur = await conn.execute(query, {"key": users[i % len(users)], "n": 10}, prepare=True)
            await cur.fetchall()
            latencies.append(time.perf_counter() - started)
            i += 1


async def _measure(make_worker, clients: int, seconds: float) -> tuple[float, float, float]:
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(make_worker(until, latencies) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), len(ms) / elapsed


def _assignment_figures() -> None:
    from scipy.stats import chisquare

    from serving.assignment import assign_bulk

    users = [f"c{i:07d}" for i in range(1_000_000)]
    started = time.perf_counter()
    assign_bulk("bench-seed", [1, 1], users)
    print(f"assignment: 1,000,000 users in {time.perf_counter() - started:.2f} s")
    counts = np.bincount(assign_bulk("aa-seed", [1, 1], users[:100_000]), minlength=2)
    p_value = chisquare(counts).pvalue
    print(f"A/A split of 100,000 users: {counts.tolist()}, SRM chi-square p = {p_value:.3f}")


async def _run(url: str, port: int, users: int, seconds: float) -> None:
    ids = [f"c{u:06d}" for u in np.random.default_rng(1).integers(0, users, 5000)]
    routes = {
        "do-nothing /ping": (["/ping"], ""),
        "/recommendations (no experiment)": (
            [f"/recommendations/{u}?n=10" for u in ids],
            f"X-Simulated-Time: {AFTER_EXPERIMENT}\r\n",
        ),
        "/recommendations (A/A, exposures on)": (
            [f"/recommendations/{u}?n=10" for u in ids],
            f"X-Simulated-Time: {IN_EXPERIMENT}\r\n",
        ),
    }
    for paths, headers in routes.values():  # warm up: pool connections, prepared statements
        await _measure(lambda until, lat, p=paths, h=headers: _http_worker(port, p, h, until, lat), 8, 0.5)
    print(f"{'target':40} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for clients in CONCURRENCY:
        for name, (paths, headers) in routes.items():

            def worker(until, latencies, paths=paths, headers=headers):
                return _http_worker(port, paths, headers, until, latencies)

            p50, p99, rate = await _measure(worker, clients, seconds)
            print(f"{name:40} {clients:>7} {p50:8.2f} {p99:8.2f} {rate:8.0f}")
        p50, p99, rate = await _measure(
            lambda until, lat: _sql_worker(url, ids, until, lat), clients, seconds
        )
        print(f"{'bare primary-key lookup (psycopg)':40} {clients:>7} {p50:8.2f} {p99:8.2f} {rate:8.0f}")
    await _cpu_per_request(port, routes)


async def _cpu_per_request(port: int, routes: dict[str, tuple[list[str], str]], count: int = 2000) -> None:
    """The API process's CPU time per request, one client: steadier than latency on a busy machine."""
    import psutil

    api = next(p for p in psutil.Process().children() if "serving" in " ".join(p.cmdline()))
    for name, (paths, headers) in routes.items():
        before = sum(api.cpu_times()[:2])
        await _http_worker(port, paths, headers, float("inf"), [], count)
        used = sum(api.cpu_times()[:2]) - before
        print(f"{name:40} API CPU {used / count * 1e6:6.0f} us/request")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--users", type=int, default=20_000)
    args = parser.parse_args(argv)
    from devenv import postgres

    _assignment_figures()
    with (
        tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp,
        postgres.embedded_server(Path(tmp) / "pg") as url,
    ):
        _fill(url, args.users)
        _config(Path(tmp))
        env = {"PERSONALIZE_PIPELINES_DIR": tmp, "SERVING_SIMULATED_CLOCK": "1"}
        with running_api(url, "bench", env) as base:
            asyncio.run(_run(url, int(base.rsplit(":", 1)[1]), args.users, args.seconds))


if __name__ == "__main__":
    main()
