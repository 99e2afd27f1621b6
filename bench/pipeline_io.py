"""
Pipeline data movement against bare PostgreSQL COPY, at a chosen size.

    python -m bench.pipeline_io --size store

Measures (1) exporting interactions to a validated CSV in S3 against a bare
``COPY (query) TO STDOUT`` of the same rows, read by two clients: psycopg 3's
row iterator, and psycopg2's ``copy_expert`` into /dev/null (its loop is C, so
that is about the server's own time); and (2) loading batch output for every
customer (25 items each) into the cache against a bare ``COPY FROM`` of the same
rows into an unindexed table: as the view shows them (one row per customer and
rank) and as the snapshot stores them (one row per customer, arrays). Each phase
runs in its own process so its peak memory (max RSS) can be compared across sizes.

Library rows, for the choice between ours and them: the same export fed by the Apache Arrow
ADBC PostgreSQL driver (Arrow batches written as CSV, checked byte for byte against ours), and
ADBC's read alone; snapshot rows already in Arrow into a table by pgpq's encoder (what the
cache load uses) and by ADBC's ingest.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS_PER_USER = 25


def _max_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss it does not carry over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup(size: str, copies: int, workdir: Path) -> dict:
    import psycopg

    from devenv import datagen
    from devenv.postgres import apply_schema

    url = os.environ["BENCH_DATABASE_URL"]
    apply_schema(url)
    started = time.perf_counter()
    frames = datagen.generate(size)
    datagen.load(url, frames)
    if copies > 1:  # the same customers and products, each browsing event repeated: more rows only
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO store.events (event_id, customer_id, product_id, event_type, occurred_at) "
                "SELECT e.event_id + k * top.id, e.customer_id, e.product_id, e.event_type, e.occurred_at "
                "FROM store.events AS e, generate_series(1, %s) AS k, "
                "(SELECT max(event_id) AS id FROM store.events) AS top",
                (copies - 1,),
            )
    # Settle the fresh tables first (hint bits, statistics), or autovacuum would run on the
    # second core in the middle of whichever phase comes first.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (FREEZE, ANALYZE)")
    customers = frames["customers"]["customer_id"].tolist()
    products = frames["products"]["product_id"].to_numpy()
    out = workdir / "users.json.out"
    import numpy as np

    rng = np.random.default_rng(3)
    # Batch output in the service's shape, written once per size; each further copy is another
    # set of customers (their ids suffixed) with the same number of items each.
    with out.open("w") as handle:
        for copy, start in itertools.product(range(copies), range(0, len(customers), 10_000)):
            picks = rng.integers(
                0, len(products), size=(min(10_000, len(customers) - start), RESULTS_PER_USER)
            )
            for user, row in zip(customers[start : start + 10_000], picks, strict=False):
                user = f"{user}~{copy}" if copy else user
                items = products[row].tolist()
                scores = [round(1 / (r + 2), 6) for r in range(RESULTS_PER_USER)]
                handle.write(
                    json.dumps(
                        {
                            "input": {"userId": user},
                            "output": {"recommendedItems": items, "scores": scores},
                            "error": None,
                        }
                    )
                    + "\n"
                )
    return {
        "setup_seconds": round(time.perf_counter() - started, 1),
        "customers": len(customers),
        "batch_output_customers": len(customers) * copies,
        "batch_output_mb": round(out.stat().st_size / 1e6, 1),
    }


def _prepared_rows(workdir: Path) -> tuple[Path, Path]:
    """The batch output's rows, written once outside any timing: flat CSV, and snapshot rows in
    binary COPY format (what the cache load sends)."""
    flat_csv, snapshot_rows = workdir / "rows.csv", workdir / "snapshot_rows.copy"
    if flat_csv.exists() and snapshot_rows.exists():
        return flat_csv, snapshot_rows
    import numpy as np
    import pgpq
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv
    import pyarrow.feather as feather
    import pyarrow.json as pa_json

    from personalize_pipeline.batch_output import LAYOUTS, ranked_lists

    layout = LAYOUTS["USER_PERSONALIZATION"]
    table = pa_json.read_json(
        workdir / "users.json.out", parse_options=pa_json.ParseOptions(explicit_schema=layout.schema)
    )
    lists = ranked_lists(table.combine_chunks().to_batches()[0], layout).table
    items, scores = lists.column("item_ids").combine_chunks(), lists.column("scores").combine_chunks()
    parents = pc.list_parent_indices(items)
    starts = np.asarray(items.offsets)[np.asarray(parents)]
    flat = pa.table(
        {
            "user_id": pc.take(lists.column("user_id"), parents),
            "rank": pa.array(np.arange(len(parents)) - starts + 1, pa.int16()),
            "item_id": pc.list_flatten(items),
            "score": pc.list_flatten(scores),
        }
    )
    pa_csv.write_csv(flat, flat_csv, pa_csv.WriteOptions(include_header=False))
    feather.write_feather(lists, workdir / "snapshot_rows.arrow", compression="uncompressed")
    encoder = pgpq.ArrowToPostgresBinaryEncoder(layout.row_schema)
    with snapshot_rows.open("wb") as handle:
        handle.write(encoder.write_header())
        for batch in lists.to_batches():
            handle.write(encoder.write_batch(batch))
        handle.write(encoder.finish())
    return flat_csv, snapshot_rows


def _phase(name: str, workdir: Path) -> dict:
    """One measurement, run in a fresh process (see main)."""
    import psycopg
    from psycopg import sql

    from personalize_pipeline.sql_files import compose, read_sql

    url = os.environ["BENCH_DATABASE_URL"]
    bucket = "bench"
    params = {"start": "2000-01-01", "end": "2100-01-01"}
    result: dict = {}
    statement = compose("extract/csv_copy.sql", query=sql.SQL(read_sql("extract/interactions.sql")))
    if name == "bare_copy_to":
        started, size = time.perf_counter(), 0
        with (
            psycopg.connect(url) as conn,
            conn.cursor() as cur,
            cur.copy(statement.as_string(conn), params) as copy,
        ):
            for chunk in copy:
                size += len(chunk)
        result = {"seconds": time.perf_counter() - started, "mb": round(size / 1e6, 1)}
    elif name == "bare_copy_to_c_client":
        import psycopg2

        started = time.perf_counter()
        with psycopg2.connect(url) as conn, conn.cursor() as cur, open(os.devnull, "wb") as sink:
            cur.copy_expert(cur.mogrify(statement.as_string(), params).decode(), sink)
        result = {"seconds": time.perf_counter() - started}
    elif name == "adbc_read_arrow":  # the floor of an ADBC export: its Arrow batches, no CSV yet
        started = time.perf_counter()
        rows = sum(
            batch.num_rows
            for batch in _adbc_batches(
                url, _mogrified(url, sql.SQL(read_sql("extract/interactions.sql")), params)
            )
        )
        result = {"seconds": time.perf_counter() - started, "rows": rows}
    elif name in ("export_validated_to_s3", "export_validated_to_s3_adbc"):
        from personalize_pipeline import extract
        from personalize_pipeline.config import load_config

        key = "bench/interactions.csv"
        if name.endswith("_adbc"):  # the same pipeline, fed with CSV written from ADBC's Arrow batches
            key = "bench/interactions_adbc.csv"
            extract.copy_query_blocks = lambda _conn, query_file, query_params, block_bytes: _adbc_csv_blocks(
                url, _mogrified(url, sql.SQL(read_sql(query_file)), query_params), block_bytes
            )
        started = time.perf_counter()
        report = extract.export_dataset_to_s3(
            db_conn_id="store_db",
            aws_conn_id="aws_default",
            spec=load_config().dataset_specs()[0],
            params=params,
            s3_uri=f"s3://{bucket}/{key}",
            report_uri=f"s3://{bucket}/bench/validation.json",
        )
        result = {"seconds": time.perf_counter() - started, "rows": report["rows"]}
        if name.endswith("_adbc"):  # outside the timing: is the file the one PostgreSQL writes?
            ours, theirs = (
                _s3().get_object(Bucket=bucket, Key=k)["Body"].read() for k in ("bench/interactions.csv", key)
            )
            result["csv_identical"] = ours == theirs
    elif name in ("arrow_copy_from_pgpq", "arrow_copy_from_adbc"):
        result = {"seconds": _arrow_copy_from(url, workdir, name.rsplit("_", 1)[1])}
        with psycopg.connect(url) as conn:  # outside the timing: every row arrived
            result["rows"] = conn.execute("SELECT count(*) FROM bench_rows").fetchone()[0]
    elif name in ("bare_copy_from", "bare_copy_from_snapshot_rows"):
        flat_csv, snapshot_rows = _prepared_rows(workdir)
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_rows")
            if name == "bare_copy_from":
                conn.execute(
                    "CREATE TABLE bench_rows (user_id text, rank smallint, item_id text, score float8)"
                )
                copy_sql, source = "COPY bench_rows FROM STDIN WITH (FORMAT csv)", flat_csv
            else:
                conn.execute("CREATE TABLE bench_rows (user_id text, item_ids text[], scores float8[])")
                copy_sql, source = "COPY bench_rows FROM STDIN WITH (FORMAT binary)", snapshot_rows
            with conn.cursor().copy(copy_sql) as copy, source.open("rb") as handle:
                while block := handle.read(1 << 20):
                    copy.write(block)
        result = {"seconds": time.perf_counter() - started}
    elif name == "cache_load":
        from personalize_pipeline.cache import load_batch_output

        _s3().upload_file(str(workdir / "users.json.out"), bucket, "bench/out/users.json.out")
        started = time.perf_counter()
        loaded = load_batch_output(
            db_conn_id="store_db",
            recipe_type="USER_PERSONALIZATION",
            aws_conn_id="aws_default",
            output_uri=f"s3://{bucket}/bench/out/",
            schema="bench_cache",
            cache_name="user_recommendations",
            lineage={
                "dag_id": "bench",
                "run_id": "bench",
                "batch_job_arn": None,
                "solution_version_arn": None,
            },
        )
        result = {"seconds": time.perf_counter() - started, "rows": loaded.rows}
        with psycopg.connect(url) as conn:  # outside the timing: what readers see
            query = "SELECT count(*) FROM bench_cache.user_recommendations"
            result["rows_in_view"] = conn.execute(query).fetchone()[0]
    result["max_rss_mb"] = round(_max_rss_mb())
    result["seconds"] = round(result["seconds"], 2)
    return result


def _s3():
    import boto3

    from devenv.airflow_env import LOCAL_AWS_KEY, LOCAL_AWS_SECRET

    return boto3.client(
        "s3",
        endpoint_url=os.environ["BENCH_AWS_URL"],
        region_name="us-east-1",
        aws_access_key_id=LOCAL_AWS_KEY,
        aws_secret_access_key=LOCAL_AWS_SECRET,
    )


def _mogrified(url: str, statement, params: dict) -> str:
    """The statement with its values bound as psycopg2 binds them (ADBC's driver takes $n only)."""
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        return cur.mogrify(statement.as_string(), params).decode()


def _adbc_batches(url: str, query: str):
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query)
        yield from cur.fetch_record_batch()


def _adbc_csv_blocks(url: str, query: str, block_bytes: int):
    """Personalize CSV from ADBC's Arrow batches, in blocks as ``extract.copy_blocks`` gives them.

    pyarrow quotes every header name, so the header is written as PostgreSQL writes it (bare
    names). It also quotes every string value (its "needed" style), where PostgreSQL quotes only
    values holding a comma, quote or line break: valid CSV, not the same bytes (``csv_identical``).
    Read and written on a thread ahead of the consumer, as the COPY runs on a thread in ours.
    """
    import io

    import pyarrow.csv as pa_csv

    from personalize_pipeline.streams import in_background

    def blocks():
        batches = _adbc_batches(url, query)
        first = next(batches)
        pending = bytearray((",".join(first.schema.names) + "\n").encode())
        sink = io.BytesIO()
        options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
        with pa_csv.CSVWriter(sink, first.schema, write_options=options) as writer:
            for batch in itertools.chain([first], batches):
                writer.write_batch(batch)
                pending += sink.getbuffer()
                sink.seek(0)
                sink.truncate()
                while len(pending) >= block_bytes:
                    yield bytes(pending[:block_bytes])
                    del pending[:block_bytes]
        yield bytes(pending)

    return in_background(blocks())


def _arrow_copy_from(url: str, workdir: Path, how: str) -> float:
    """Snapshot rows already in Arrow (parsed, outside the timing) into an unindexed table."""
    import adbc_driver_postgresql.dbapi as adbc
    import pgpq
    import psycopg
    import pyarrow.feather as feather

    _prepared_rows(workdir)
    table = feather.read_table(workdir / "snapshot_rows.arrow")
    blocks = table.to_batches(max_chunksize=4096)  # about what one 4 MB block of batch output holds
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_rows")
        conn.execute("CREATE TABLE bench_rows (user_id text, item_ids text[], scores float8[])")
    started = time.perf_counter()
    if how == "adbc":
        with adbc.connect(url) as conn, conn.cursor() as cur:
            cur.adbc_ingest("bench_rows", table, mode="append")
            conn.commit()
        return time.perf_counter() - started
    copy_sql = "COPY bench_rows FROM STDIN WITH (FORMAT binary)"
    with psycopg.connect(url) as conn, conn.cursor().copy(copy_sql) as copy:
        encoder = pgpq.ArrowToPostgresBinaryEncoder(table.schema)
        copy.write(encoder.write_header())
        for block in blocks:
            copy.write(encoder.write_batch(block))
        copy.write(encoder.finish())
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--size", choices=["tiny", "demo", "store"], default="demo")
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="repeat the interactions and the batch output: more rows, same shape",
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs of each phase (the fastest counts)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        print(json.dumps(_phase(args.phase, Path(args.workdir))))
        return 0

    from devenv.airflow_env import configure
    from devenv.postgres import embedded_server
    from local_aws.testing import running_endpoint

    with (
        tempfile.TemporaryDirectory(prefix="bench-io-") as tmp,
        embedded_server(Path(tmp) / "pg") as url,
        running_endpoint(Path(tmp) / "aws") as aws_url,
    ):
        workdir = Path(tmp)
        configure(workdir / "airflow", db_url=url, aws_endpoint_url=aws_url)
        os.environ.update(BENCH_DATABASE_URL=url, BENCH_AWS_URL=aws_url)
        import boto3

        from devenv.airflow_env import LOCAL_AWS_KEY, LOCAL_AWS_SECRET

        boto3.client(
            "s3",
            endpoint_url=aws_url,
            region_name="us-east-1",
            aws_access_key_id=LOCAL_AWS_KEY,
            aws_secret_access_key=LOCAL_AWS_SECRET,
        ).create_bucket(Bucket="bench")
        report = {"size": args.size, "copies": args.copies, **_setup(args.size, args.copies, workdir)}
        phases = (
            "bare_copy_to",
            "bare_copy_to_c_client",
            "export_validated_to_s3",
            "adbc_read_arrow",
            "export_validated_to_s3_adbc",
            "bare_copy_from",
            "bare_copy_from_snapshot_rows",
            "arrow_copy_from_pgpq",
            "arrow_copy_from_adbc",
            "cache_load",
        )
        # ADBC is measured for comparison only; it is not among the project's requirements.
        has_adbc = importlib.util.find_spec("adbc_driver_postgresql") is not None
        for phase in phases:  # each run in a fresh process; the fastest run counts, all are shown
            if "adbc" in phase and not has_adbc:
                report[phase] = "skipped: pip install adbc-driver-postgresql to measure it"
                continue
            runs = []
            for _ in range(args.repeat):
                output = subprocess.run(
                    [sys.executable, "-m", "bench.pipeline_io", "--phase", phase, "--workdir", str(workdir)],
                    capture_output=True,
                    text=True,
                )
                if output.returncode:
                    sys.exit(f"phase {phase} failed:\n{output.stderr}")
                runs.append(json.loads(output.stdout.strip().splitlines()[-1]))
            report[phase] = {
                **min(runs, key=lambda run: run["seconds"]),
                "runs_seconds": [run["seconds"] for run in runs],
                "median_seconds": statistics.median(run["seconds"] for run in runs),
                "max_rss_mb": max(run["max_rss_mb"] for run in runs),
            }
        ratios = {
            "export_vs_bare_copy": ("export_validated_to_s3", "bare_copy_to"),
            "export_vs_bare_copy_c_client": ("export_validated_to_s3", "bare_copy_to_c_client"),
            "export_adbc_vs_bare_copy_c_client": ("export_validated_to_s3_adbc", "bare_copy_to_c_client"),
            "adbc_read_arrow_vs_bare_copy_c_client": ("adbc_read_arrow", "bare_copy_to_c_client"),
            "arrow_copy_from_adbc_vs_pgpq": ("arrow_copy_from_adbc", "arrow_copy_from_pgpq"),
            "cache_load_vs_bare_copy": ("cache_load", "bare_copy_from"),
            "cache_load_vs_bare_copy_snapshot_rows": ("cache_load", "bare_copy_from_snapshot_rows"),
        }
        for ratio, (ours, bare) in ratios.items():  # of the fastest runs, and of the medians
            if isinstance(report[ours], str) or isinstance(report[bare], str):
                continue
            report[ratio] = [
                round(report[ours][key] / report[bare][key], 2) for key in ("seconds", "median_seconds")
            ]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
