"""What a run leaves behind, summarised for its report, the demo and notifications."""

from __future__ import annotations

from personalize_pipeline.db import connect
from personalize_pipeline.sql_files import compose


def live_caches(*, db_conn_id: str, schema: str) -> list[dict]:
    """Every cache's live load (name, rows, keys, load id, solution version, time)."""
    with connect(db_conn_id) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".cache_loads',)).fetchone()[0]
        if exists is None:
            return []
        cur = conn.execute(compose("reporting/live_caches.sql", schema=schema))
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def cache_counts(*, db_conn_id: str, schema: str) -> dict[str, int]:
    """Live rows per cache table."""
    return {c["cache_name"]: c["row_count"] for c in live_caches(db_conn_id=db_conn_id, schema=schema)}
