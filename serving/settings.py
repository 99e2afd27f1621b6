"""What the process is started with: the pipeline's config plus a few environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass

from personalize_pipeline.config import DEFAULT_PIPELINE, PipelineConfig, load_config, pipeline_path

DATABASE_URL_ENV = "SERVING_DATABASE_URL"  # the cache database; falls back to PIPELINE_DATABASE_URL
SOURCE_DATABASE_URL_ENV = "SERVING_SOURCE_DATABASE_URL"  # the store, when it is another database
API_KEYS_ENV = "SERVING_API_KEYS"  # comma separated; unset: no key needed
SIMULATED_CLOCK_ENV = "SERVING_SIMULATED_CLOCK"  # "1": X-Simulated-Time sets a request's now


@dataclass(frozen=True)
class Settings:
    config: PipelineConfig
    database_url: str
    source_database_url: str
    api_keys: tuple[str, ...] = ()
    simulated_clock: bool = False

    @classmethod
    def from_env(cls, pipeline: str = DEFAULT_PIPELINE, database_url: str | None = None) -> Settings:
        config = load_config(pipeline_path(pipeline))
        url = database_url or os.environ.get(DATABASE_URL_ENV) or os.environ.get("PIPELINE_DATABASE_URL")
        if not url:
            raise SystemExit(f"set {DATABASE_URL_ENV} (or pass --database-url) to the cache database")
        source = os.environ.get(SOURCE_DATABASE_URL_ENV) or url
        keys = tuple(k.strip() for k in os.environ.get(API_KEYS_ENV, "").split(",") if k.strip())
        return cls(
            config=config,
            database_url=url,
            source_database_url=source,
            api_keys=keys,
            simulated_clock=os.environ.get(SIMULATED_CLOCK_ENV) == "1",
        )
