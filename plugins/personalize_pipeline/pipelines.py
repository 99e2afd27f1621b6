"""
Several pipelines in one project: every ``<name>.yaml`` in include/pipelines/ is one pipeline.

Each pipeline has its own dataset group, S3 prefix, cache schema (gate history, cache snapshots,
import and event-sync bookkeeping live there) and event tracker, and its DAG ids start with its
name. :func:`load_pipeline` validates one file and then checks it against the others, so two
pipelines can never read or drop each other's data; a broken file fails only its own pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personalize_pipeline.config import (
    ConfigError,
    ConnectionsConfig,
    PipelineConfig,
    load_config,
    pipeline_path,
    pipelines_dir,
    read_yaml,
)

_DEFAULT_CACHE_DB = ConnectionsConfig().cache_db
_DEFAULT_CACHE_SCHEMA = PipelineConfig.model_fields["cache_schema"].default


def pipeline_files() -> list[Path]:
    return sorted(pipelines_dir().glob("*.yaml"))


@dataclass(frozen=True)
class Claims:
    """What a pipeline owns and no other pipeline may share."""

    name: str
    dataset_group: str
    cache_schema: str  # with its connection: two databases may each have the same schema name
    tracker_name: str
    bucket: str
    prefix: str

    @classmethod
    def of(cls, cfg: PipelineConfig) -> Claims:
        return cls(
            cfg.name,
            cfg.dataset_group,
            f"{cfg.connections.cache_db}/{cfg.cache_schema}",
            cfg.event_sync.tracker_name,
            cfg.s3.bucket,
            cfg.s3.prefix,
        )

    @classmethod
    def read(cls, path: Path) -> Claims | None:
        """Another pipeline's claims from its raw file (validating it is its own DAG file's job:
        here it would only slow every parse); None if the file is too broken to tell."""
        try:
            raw: Any = read_yaml(path)
            cache_db = (raw.get("connections") or {}).get("cache_db", _DEFAULT_CACHE_DB)
            return cls(
                path.stem,
                raw["dataset_group"],
                f"{cache_db}/{raw.get('cache_schema', _DEFAULT_CACHE_SCHEMA)}",
                raw["event_sync"]["tracker_name"],
                raw["s3"]["bucket"],
                str(raw["s3"].get("prefix") or "").strip("/"),
            )
        except (ConfigError, AttributeError, KeyError, TypeError):
            return None

    def conflicts(self, other: Claims) -> list[str]:
        problems = [
            f"{key}: {value!r} is also used by pipeline {other.name}"
            for key, value, theirs in (
                ("dataset_group", self.dataset_group, other.dataset_group),
                ("cache_schema", self.cache_schema, other.cache_schema),
                ("event_sync.tracker_name", self.tracker_name, other.tracker_name),
            )
            if value == theirs
        ]
        mine, theirs = self.prefix + "/", other.prefix + "/"
        if self.bucket == other.bucket and (mine.startswith(theirs) or theirs.startswith(mine)):
            problems.append(
                f"s3.prefix: s3://{self.bucket}/{self.prefix} overlaps pipeline {other.name}'s "
                f"s3://{other.bucket}/{other.prefix}"
            )
        return problems


def load_pipeline(name: str) -> PipelineConfig:
    """The validated pipeline ``name`` (include/pipelines/<name>.yaml), checked against the others."""
    path = pipeline_path(name)
    cfg = load_config(path)
    mine = Claims.of(cfg)
    problems = []
    for other_path in pipeline_files():
        other = None if other_path == path else Claims.read(other_path)
        if other is not None:
            problems += [f"  {problem} ({other_path})" for problem in mine.conflicts(other)]
    if problems:
        raise ConfigError("\n".join([f"{path}: shares what belongs to another pipeline", *problems]))
    return cfg
