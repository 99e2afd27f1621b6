"""What a run leaves behind: the caches it serves, for its report and the demo."""

from __future__ import annotations

from personalize_pipeline.db import connect, table_exists
from personalize_pipeline.sql_files import compose


def live_caches(*, db_conn_id: str, schema: str) -> list[dict]:
    """Every cache's live load (name, rows, keys, load id, solution version, time)."""
    with connect(db_conn_id) as conn:
        if not table_exists(conn, schema, "cache_loads"):
            return []
        cur = conn.execute(compose("reporting/live_caches.sql", schema=schema))
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
