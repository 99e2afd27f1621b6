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


def compose(name: str, **parts: str | tuple[str, ...] | list[str] | sql.Composable) -> sql.Composed:
    """The SQL file with its ``{placeholder}`` parts filled in, identifiers quoted.

    A string is one identifier, a tuple a schema-qualified one, a list a comma-separated column
    list; an ``sql.Composable`` (another statement, a literal) goes in as it is.
    """
    from psycopg import sql  # here, not at import: DAG files read SQL_DIR while they parse

    return sql.SQL(read_sql(name)).format(**{key: _quoted(value) for key, value in parts.items()})


def _quoted(value: str | tuple[str, ...] | list[str] | sql.Composable) -> sql.Composable:
    from psycopg import sql

    if isinstance(value, sql.Composable):
        return value
    if isinstance(value, tuple):
        return sql.Identifier(*value)
    if isinstance(value, list):
        return sql.SQL(", ").join(map(sql.Identifier, value))
    return sql.Identifier(value)
