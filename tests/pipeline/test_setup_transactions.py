"""Setup files run in a transaction of their own, committed before the data's transaction."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from personalize_pipeline.db import connect, run_setup
from personalize_pipeline.sql_files import compose

SHARE_LOCKS_HELD = (
    "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND mode = 'ShareLock' "
    "AND relation = to_regclass(%s)"
)


@pytest.fixture
def schema(pipeline_env) -> str:
    return f"setup_{uuid.uuid4().hex[:8]}"


def test_the_data_transaction_holds_none_of_the_setups_locks(pipeline_env, schema):
    """A setup's CREATE INDEX share lock, held by two writers' data transactions, deadlocked them."""
    with connect("store_db") as conn:
        run_setup(conn, "experiments/setup.sql", schema=schema)
        with psycopg.connect(pipeline_env["database_url"]) as other:  # committed: others see it
            assert other.execute("SELECT to_regclass(%s)", (f"{schema}.experiment_exposures",)).fetchone()[0]
        with conn.transaction():
            held = conn.execute(SHARE_LOCKS_HELD, (f"{schema}.experiment_exposure_batches",)).fetchone()[0]
    assert held == 0


def test_setup_refuses_to_run_inside_an_open_transaction(pipeline_env, schema):
    with connect("store_db") as conn:
        conn.execute("SELECT 1")  # opens the transaction setup would otherwise join
        with pytest.raises(RuntimeError, match="transaction of its own"):
            run_setup(conn, "costs/setup.sql", schema=schema)


def test_the_lock_file_is_taken_before_the_setup(pipeline_env, schema):
    with psycopg.connect(pipeline_env["database_url"]) as holder, connect("store_db") as conn:
        holder.execute(compose("gate/lock.sql"), {"schema": schema})  # held until holder's transaction ends
        conn.execute("SET lock_timeout = '300ms'")
        conn.commit()
        with pytest.raises(psycopg.errors.LockNotAvailable):
            run_setup(conn, "gate/setup.sql", schema=schema, lock="gate/lock.sql")
        holder.rollback()
        run_setup(conn, "gate/setup.sql", schema=schema, lock="gate/lock.sql")
        assert conn.execute("SELECT to_regclass(%s)", (f"{schema}.solution_metrics",)).fetchone()[0]
