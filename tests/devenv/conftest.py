"""The tiny demo data set, generated once and loaded into the session database."""

from __future__ import annotations

import pandas as pd
import pytest

from devenv import datagen, postgres

SEED = 7


@pytest.fixture(scope="session")
def tiny_frames() -> dict[str, pd.DataFrame]:
    return datagen.generate("tiny", SEED)


@pytest.fixture(scope="module")
def loaded_tiny(database_url: str, tiny_frames: dict[str, pd.DataFrame]) -> str:
    """Loads tiny into the store tables (per module, since other modules may replace them)."""
    postgres.apply_schema(database_url)
    datagen.load(database_url, tiny_frames)
    return database_url
