"""SQL lives in include/sql/; this finds and formats it with safely quoted identifiers."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psycopg import sql

SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql"


@cache
def read_sql(name: str) -> str:
    """Text of ``include/sql/<name>``; names a missing file clearly."""
    path = SQL_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} does not exist")
    return path.read_text().strip().rstrip(";")


def compose(name: str, **identifiers: str | tuple[str, ...]) -> sql.Composed:
    """The SQL file with ``{placeholder}`` identifiers quoted (a tuple is schema-qualified)."""
    from psycopg import sql  # here, not at import: DAG files read SQL_DIR while they parse

    quoted = {
        key: sql.Identifier(*value) if isinstance(value, tuple) else sql.Identifier(value)
        for key, value in identifiers.items()
    }
    return sql.SQL(read_sql(name)).format(**quoted)
