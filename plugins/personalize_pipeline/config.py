"""
One pipeline's configuration file (include/pipelines/<name>.yaml), validated once.

The DAG file of a pipeline loads it at parse time (see :mod:`personalize_pipeline.pipelines`):
it reads a local file and checks it, nothing more (no database, no network). A mistake raises
:class:`ConfigError` naming the file and the dotted key, e.g.
``solutions.similar-items.output.num_results``, so that pipeline's DAG file fails to parse with
a message that says what to fix.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from personalize_pipeline.datasets import DatasetSpec, avro_schema
from personalize_pipeline.recipes import RECIPES, RecipeType
from personalize_pipeline.sql_files import SQL_DIR

PIPELINES_DIR_ENV = "PERSONALIZE_PIPELINES_DIR"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "include" / "pipelines"
DEFAULT_PIPELINE = "personalize"
DEFAULT_PATH = DEFAULT_DIR / f"{DEFAULT_PIPELINE}.yaml"
METRICS = {
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
    # what USER_SEGMENTATION recipes (aws-item-affinity, aws-item-attribute-affinity) report instead
    "hit_at_k",
    "recall_at_k",
}
SCHEDULE_PRESETS = {
    "@once",
    "@continuous",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
    "@annually",
}
NAME = r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$"
# A pipeline's name is its file's name: it prefixes DAG ids, asset names and run folders.
PIPELINE_NAME = r"^[a-z][a-z0-9_]{0,39}$"
IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"


class ConfigError(ValueError):
    """The configuration file is wrong; the message names the file and every bad key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class S3Config(_Strict):
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
    prefix: str = ""

    @field_validator("prefix")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip("/")

    def uri(self, *parts: str) -> str:
        """``s3://bucket/prefix/part/part``; a trailing ``/`` on the last part is kept (a folder)."""
        key = "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))
        folder = parts and parts[-1].endswith("/")
        return f"s3://{self.bucket}/{key}{'/' if folder else ''}"


class ConnectionsConfig(_Strict):
    aws: str = "aws_default"
    source_db: str = "store_db"
    cache_db: str = "store_db"


class SchedulesConfig(_Strict):
    export: str | None = "@monthly"
    full_retrain: str | None = "@monthly"
    update_retrain: str | None = "@weekly"
    event_sync: str | None = "@hourly"
    cleanup: str | None = "@weekly"

    @field_validator("*")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from croniter import croniter

        if value is None or value in SCHEDULE_PRESETS or croniter.is_valid(value):
            return value
        raise ValueError(f"{value!r} is neither a cron expression nor one of {sorted(SCHEDULE_PRESETS)}")


class FieldConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: str | list[str]
    categorical: bool = False
    textual: bool = False

    @field_validator("type")
    @classmethod
    def _avro_type(cls, value: str | list[str]) -> str | list[str]:
        allowed = {"string", "long", "int", "float", "double", "boolean", "null"}
        types = value if isinstance(value, list) else [value]
        bad = [t for t in types if t not in allowed]
        if bad:
            raise ValueError(f"unknown Avro type {bad}; use one of {sorted(allowed)}")
        return value


class DatasetConfig(_Strict):
    query: str
    fields: list[FieldConfig] = Field(min_length=2)
    event_types: list[str] | None = None

    @field_validator("query")
    @classmethod
    def _query_exists(cls, value: str) -> str:
        if not (SQL_DIR / value).is_file():
            raise ValueError(f"no SQL file include/sql/{value}")
        return value


class DatasetsConfig(_Strict):
    interactions: DatasetConfig
    items: DatasetConfig | None = None
    users: DatasetConfig | None = None

    @model_validator(mode="after")
    def _required_columns(self) -> DatasetsConfig:
        needs = {
            "interactions": {"USER_ID", "ITEM_ID", "TIMESTAMP"},
            "items": {"ITEM_ID"},
            "users": {"USER_ID"},
        }
        for name, required in needs.items():
            dataset = getattr(self, name)
            if dataset is None:
                continue
            missing = required - {f.name for f in dataset.fields}
            if missing:
                raise ValueError(f"{name}.fields lacks the required field(s) {sorted(missing)}")
        return self


class CampaignConfig(_Strict):
    enabled: bool = False
    min_provisioned_tps: int = Field(1, ge=1, le=500)


class OutputConfig(_Strict):
    kind: Literal["batch_inference", "batch_segment"]
    num_results: int = Field(ge=1, le=500)
    cache_table: str = Field(pattern=IDENTIFIER)
    filter: str | None = None


# --- Human approval, popularity baseline and monitors (quality_gate.py, approval.py, monitors.py) ---

BASELINE_SOLUTION = "popularity-baseline"  # its Personalize solution: <dataset group>-popularity-baseline
BASELINE_RECIPE = "aws-popularity-count"


class BaselineConfig(_Strict):
    """A per-user candidate must beat a popularity-count version trained on the same data."""

    enabled: bool = True
    margin: float = Field(0.0, ge=0, le=1)  # relative: candidate > baseline * (1 + margin)


class MonitoringConfig(_Strict):
    """Checks that alert (SNS) or stop a run when the data or the caches change shape."""

    volume_factor: float = Field(3.0, gt=1)  # this interval vs the trailing mean, up or down
    trailing_intervals: int = Field(3, ge=1, le=24)
    unknown_items_max_share: float = Field(0.2, ge=0, le=1)  # interactions on items not in the snapshot
    coverage_factor: float = Field(1.5, gt=1)  # alert when coverage < previous load's / factor
    active_days: int = Field(90, ge=1)  # an active customer has history in these days
    freshness_grace: float = Field(1.5, ge=1)  # a live cache may be this many schedule intervals old


# --- end of the approval, baseline and monitoring block ---


class GateConfig(_Strict):
    metric: str
    tolerance: float = Field(0.02, ge=0, le=1)
    minimums: dict[str, float] = {}
    approval: Literal["never", "borderline", "always"] = "never"
    approval_timeout_hours: float = Field(24, gt=0, le=24 * 30)
    baseline: BaselineConfig = BaselineConfig()

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; GetSolutionMetrics reports {sorted(METRICS)}")
        return value

    @field_validator("minimums")
    @classmethod
    def _minimum_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - METRICS)
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; GetSolutionMetrics reports {sorted(METRICS)}")
        return value


class SolutionConfig(_Strict):
    recipe: str
    hyperparameters: dict[str, str | int | float] = {}
    campaign: CampaignConfig = CampaignConfig()
    output: OutputConfig | None = None
    quality_gate: GateConfig | None = None

    @field_validator("recipe")
    @classmethod
    def _known_recipe(cls, value: str) -> str:
        if value not in RECIPES:
            raise ValueError(f"unsupported recipe {value!r}; use one of {sorted(RECIPES)}")
        return value

    @model_validator(mode="after")
    def _output_fits_recipe(self) -> SolutionConfig:
        served_by = self.recipe_kind.output_kind
        if self.output is not None and self.output.kind != served_by:
            raise ValueError(f"recipe {self.recipe} is served by {served_by}, not {self.output.kind}")
        return self

    @property
    def recipe_arn(self) -> str:
        return f"arn:aws:personalize:::recipe/{self.recipe}"

    @property
    def recipe_kind(self) -> RecipeType:
        """What the pipeline knows of this solution's recipe type (output, cache layout, batch input)."""
        return RECIPES[self.recipe].recipe_type

    @property
    def recipe_type(self) -> str:
        return self.recipe_kind.name

    @property
    def supports_update(self) -> bool:
        return RECIPES[self.recipe].supports_update

    def training_mode(self, requested: str) -> str:
        """UPDATE where the recipe allows it, FULL otherwise."""
        return "UPDATE" if requested == "UPDATE" and self.supports_update else "FULL"


class FallbackConfig(_Strict):
    cache_table: str = Field(pattern=IDENTIFIER)
    days: int = Field(ge=1, le=3650)
    size: int = Field(ge=1, le=500)


class FallbacksConfig(_Strict):
    popular: FallbackConfig
    trending: FallbackConfig


class EventSyncConfig(_Strict):
    enabled: bool = True
    tracker_name: str = Field(pattern=NAME, max_length=63)
    max_events_per_run: int = Field(200_000, ge=10)


class RetentionConfig(_Strict):
    solution_versions: int = Field(3, ge=1)
    cache_snapshots: int = Field(3, ge=1)
    export_partitions: int = Field(24, ge=1)
    run_files_days: int = Field(30, ge=1)


class NotificationsConfig(_Strict):
    sns_topic_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_\-]+$")
    on_success: bool = True
    on_failure: bool = True


class RetriesConfig(_Strict):
    count: int = Field(3, ge=1, le=20)
    delay_seconds: int = Field(30, ge=1)
    max_delay_minutes: int = Field(30, ge=1)


class VariantSourceConfig(_Strict):
    """Where a variant's recommendations come from: exactly one of the three."""

    solution: str | None = None  # the batch cache of this configured (per-user) solution
    campaign: str | None = None  # GetRecommendations on this solution's campaign, cache as fallback
    fallback: Literal["popular", "trending"] | None = None  # the same list for everyone

    @model_validator(mode="after")
    def _exactly_one(self) -> VariantSourceConfig:
        given = [k for k in ("solution", "campaign", "fallback") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of solution, campaign, fallback (got {given or 'none'})")
        return self

    @property
    def label(self) -> str:
        """``solution:user-personalization``, ``campaign:…`` or ``fallback:popular``."""
        kind = next(k for k in ("solution", "campaign", "fallback") if getattr(self, k) is not None)
        return f"{kind}:{getattr(self, kind)}"


class VariantConfig(_Strict):
    name: str = Field(pattern=NAME, max_length=40)
    weight: float = Field(gt=0)
    source: VariantSourceConfig


class MetricConfig(_Strict):
    """A per-user conversion: the share of exposed users with this event after their first exposure."""

    event_type: str = "purchase"
    attributed: bool = False  # count only events carrying a recommendation_id of the experiment


PRIMARY_METRIC = "primary"  # the primary metric's name in the report's rows; no guardrail may take it


class ExperimentConfig(_Strict):
    """An A/B test of recommendation sources for the user-recommendation surface.

    Users are assigned by a stable hash of (seed, user id) into 10,000 buckets (see
    serving/assignment.py and the README); the first variant is the control.
    """

    seed: str = Field(min_length=1, max_length=100)
    start: datetime
    end: datetime | None = None
    variants: list[VariantConfig] = Field(min_length=2, max_length=10)
    primary_metric: MetricConfig = MetricConfig()
    guardrails: dict[str, MetricConfig] = {}
    alpha: float = Field(0.05, gt=0, lt=0.5)
    minimum_users_per_variant: int = Field(150, ge=1)
    srm_p_value: float = Field(0.001, gt=0, lt=0.5)
    # More users than this share shown a second variant after their first: the verdict is invalid.
    max_crossover_share: float = Field(0.01, ge=0, le=1)

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique: {names}")
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @property
    def control(self) -> VariantConfig:
        return self.variants[0]

    def active_at(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)


class ServingConfig(_Strict):
    """The recommendation API's knobs (serving/): short waits, so a slow dependency never holds a request."""

    db_timeout_seconds: float = Field(0.5, gt=0, le=30)  # waiting for a pooled connection or a query
    pool_size: int = Field(8, ge=1, le=100)
    campaign_timeout_seconds: float = Field(0.25, gt=0, le=10)  # GetRecommendations, then the cache
    popular_refresh_seconds: int = Field(30, ge=1, le=3600)  # the in-memory popular/trending lists
    exposure_buffer_size: int = Field(100_000, ge=10, le=10_000_000)  # beyond it exposures are dropped
    exposure_flush_seconds: float = Field(1.0, gt=0, le=300)
    max_future_skew_seconds: int = Field(300, ge=0, le=86_400)  # an event's timestamp may run this far ahead


class PricingConfig(_Strict):
    """Amazon Personalize list prices (USD) for the cost estimates: the first tier of each price.

    Defaults are the US East (N. Virginia) prices of the public price list on ``as_of``; set your
    region's or your contract's in the pipeline file. Estimates only: AWS bills by its own meters.
    """

    region: str = "us-east-1"
    source: str = "https://aws.amazon.com/personalize/pricing/"
    as_of: date = date(2026, 12, 2)
    ingestion_per_gb: float = Field(0.05, ge=0)
    training_per_hour: float = Field(0.24, ge=0)
    batch_recommendations_per_1000: float = Field(0.067, ge=0)
    batch_segment_users_per_1000: float = Field(0.016, ge=0)
    tps_hour: float = Field(0.20, ge=0)


class PipelineConfig(_Strict):
    name: str = Field(pattern=PIPELINE_NAME)  # from the file's name, never written in the file
    dataset_group: str = Field(pattern=NAME, max_length=40)
    role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    s3: S3Config
    connections: ConnectionsConfig = ConnectionsConfig()
    cache_schema: str = Field("personalize_cache", pattern=IDENTIFIER)
    start_date: date
    schedules: SchedulesConfig = SchedulesConfig()
    poll_seconds: int = Field(60, ge=1, le=3600)
    datasets: DatasetsConfig
    filters: dict[str, str] = {}
    solutions: dict[str, SolutionConfig] = Field(min_length=1)
    fallbacks: FallbacksConfig
    quality_gate: GateConfig
    event_sync: EventSyncConfig
    retention: RetentionConfig = RetentionConfig()
    retries: RetriesConfig = RetriesConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    experiments: dict[str, ExperimentConfig] = {}
    serving: ServingConfig = ServingConfig()
    monitoring: MonitoringConfig = MonitoringConfig()

    pricing: PricingConfig = PricingConfig()

    @field_validator("solutions", "filters", "experiments")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [name for name in value if not re.match(NAME, name) or len(name) > 20]
        if bad:
            raise ValueError(f"names {bad} must be letters, digits, - or _ (at most 20 characters)")
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> PipelineConfig:
        problems = []
        tables: dict[str, str] = {}
        for name, solution in self.solutions.items():
            output = solution.output
            if output and output.filter and output.filter not in self.filters:
                problems.append(
                    f"solutions.{name}.output.filter: no filter named {output.filter!r} in filters"
                )
            if output:
                tables.setdefault(output.cache_table, f"solutions.{name}.output.cache_table")
        for kind in ("popular", "trending"):
            table = getattr(self.fallbacks, kind).cache_table
            if table in tables:
                problems.append(f"fallbacks.{kind}.cache_table: {table!r} is already used by {tables[table]}")
            tables.setdefault(table, f"fallbacks.{kind}.cache_table")
        if len(self.filters) > 10:
            problems.append("filters: a dataset group holds at most 10 filters")
        if len(self.solutions) + bool(self.baseline_solutions) > 10:
            baseline = " (one of them the popularity baseline)" if self.baseline_solutions else ""
            problems.append(f"solutions: a dataset group holds at most 10 solutions{baseline}")
        problems += self._experiment_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _experiment_problems(self) -> list[str]:
        """Variants name real sources and metrics real event types; experiments never overlap in time."""
        problems = []
        event_types = set(self.datasets.interactions.event_types or ())
        for name, experiment in self.experiments.items():
            key = f"experiments.{name}"
            for i, variant in enumerate(experiment.variants):
                source = variant.source
                solution_name = source.solution or source.campaign
                if solution_name is None:
                    continue
                solution = self.solutions.get(solution_name)
                where = f"{key}.variants.{i}.source"
                if solution is None:
                    problems.append(f"{where}: no solution named {solution_name!r} in solutions")
                elif source.solution and not (solution.output and solution.recipe_kind.per_user):
                    problems.append(f"{where}: solution {solution_name!r} has no per-user cache to serve")
                elif source.campaign and not solution.campaign.enabled:
                    problems.append(f"{where}: solution {solution_name!r} has no campaign (campaign.enabled)")
            metrics = {"primary_metric": experiment.primary_metric} | {
                f"guardrails.{g}": m for g, m in experiment.guardrails.items()
            }
            if PRIMARY_METRIC in experiment.guardrails:
                problems.append(
                    f"{key}.guardrails.{PRIMARY_METRIC}: the name {PRIMARY_METRIC!r} is the primary metric's "
                    "in the report's rows; rename the guardrail"
                )
            for metric_key, metric in metrics.items():
                if event_types and metric.event_type not in event_types:
                    problems.append(
                        f"{key}.{metric_key}.event_type: {metric.event_type!r} is not one of the "
                        f"interactions' event_types {sorted(event_types)}"
                    )
        ordered = sorted(self.experiments.items(), key=lambda item: item[1].start)
        for (first, a), (second, b) in zip(ordered, ordered[1:], strict=False):
            if a.end is None or a.end > b.start:
                problems.append(
                    f"experiments.{second}: overlaps experiments.{first} in time; a user sees one "
                    "experiment at a time"
                )
        return problems

    @property
    def start(self) -> datetime:
        """``start_date`` as midnight UTC: the start of the first data interval."""
        return datetime.combine(self.start_date, time.min, tzinfo=UTC)

    def dag_id(self, kind: str) -> str:
        """This pipeline's DAG of one kind, e.g. ``personalize_export``."""
        return f"{self.name}_{kind}"

    @property
    def user_cache(self) -> str | None:
        """The cache the lookup function serves customers from (the first per-user solution's)."""
        return next(
            (s.output.cache_table for s in self.solutions.values() if s.output and s.recipe_kind.per_user),
            None,
        )

    @property
    def cache_tables(self) -> list[str]:
        """Every cache this pipeline loads: solutions' outputs, then the fallback lists."""
        outputs = [s.output.cache_table for s in self.solutions.values() if s.output]
        return outputs + [self.fallbacks.popular.cache_table, self.fallbacks.trending.cache_table]

    def default_args(self) -> dict[str, Any]:
        """Every task retries with exponential backoff, as configured."""
        from datetime import timedelta

        return {
            "retries": self.retries.count,
            "retry_delay": timedelta(seconds=self.retries.delay_seconds),
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=self.retries.max_delay_minutes),
        }

    def gate_for(self, solution: str) -> GateConfig:
        return self.solutions[solution].quality_gate or self.quality_gate

    @property
    def baseline_solutions(self) -> list[str]:
        """Solutions whose gate compares with the popularity baseline: per-user recipes, baseline on.

        Related-items and segment recipes answer other questions than "what will this user pick
        next", so popularity-count's metrics are not comparable with theirs.
        """
        return [
            name
            for name, solution in self.solutions.items()
            if solution.recipe_kind.per_user and self.gate_for(name).baseline.enabled
        ]

    def dataset_specs(self) -> list[DatasetSpec]:
        """The configured datasets, interactions first."""
        specs = []
        for slug in ("interactions", "items", "users"):
            dataset: DatasetConfig | None = getattr(self.datasets, slug)
            if dataset is not None:
                fields = [f.model_dump(exclude_defaults=True) for f in dataset.fields]
                specs.append(
                    DatasetSpec(
                        slug.upper(),
                        dataset.query,
                        avro_schema(slug.capitalize(), fields),
                        frozenset(dataset.event_types) if dataset.event_types else None,
                    )
                )
        return specs

    def resource_name(self, *parts: str) -> str:
        """Personalize resource names: the dataset group, then the parts (at most 63 characters)."""
        name = "-".join((self.dataset_group, *parts))
        if len(name) > 63:
            raise ConfigError(f"resource name {name!r} is longer than 63 characters; shorten dataset_group")
        return name


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: {error.error_count()} problem(s)"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (a typo?)"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def parse_config(data: Any, path: Path) -> PipelineConfig:
    """Validate one pipeline's file; its name is the file's name (``personalize.yaml`` → ``personalize``)."""
    if isinstance(data, dict) and "name" in data:
        raise ConfigError(f"{path}: name: a pipeline is named after its file ({path.stem!r}); remove the key")
    try:
        return PipelineConfig.model_validate({"name": path.stem, **data})
    except ValidationError as error:
        raise ConfigError(_format_errors(path, error)) from None


def read_yaml(path: Path) -> Any:
    """The file's YAML (libyaml's loader where built in: parsing runs in every DAG file's parse).

    A key written twice in one mapping is an error: YAML loaders silently keep the last one.
    """
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: configuration file not found (create it, or set {PIPELINES_DIR_ENV} to its folder)"
        ) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_duplicate_keys(path, node, "", set())
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    finally:
        loader.dispose()


def _refuse_duplicate_keys(path: Path, node: yaml.Node, at: str, seen: set[int]) -> None:
    """Walk the parsed nodes (before they become dicts) for a key given twice in one mapping."""
    if id(node) in seen:  # an alias: checked where its anchor stands
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(path, item, f"{at}[{index}]", seen)
    elif isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            key_path = f"{at}.{name}" if at else str(name)
            line = key.start_mark.line + 1
            if name is not None and name != "<<":  # a merge key may repeat; it never overrides
                if name in first_line:
                    raise ConfigError(
                        f"{path}:{line}: {key_path}: duplicate key (first given on line "
                        f"{first_line[name]}); remove one of them"
                    )
                first_line[name] = line
            _refuse_duplicate_keys(path, value, key_path, seen)


@cache
def _load(path: Path, mtime: float) -> PipelineConfig:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return parse_config(data, path)


def pipelines_dir() -> Path:
    """Where the pipelines' files are: ``PERSONALIZE_PIPELINES_DIR``, else include/pipelines/."""
    return Path(os.environ.get(PIPELINES_DIR_ENV) or DEFAULT_DIR)


def pipeline_path(name: str) -> Path:
    return pipelines_dir() / f"{name}.yaml"


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """One file's validated configuration, the default pipeline's without a path (cached per mtime)."""
    path = Path(path) if path else pipeline_path(DEFAULT_PIPELINE)
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _load(path, mtime)
