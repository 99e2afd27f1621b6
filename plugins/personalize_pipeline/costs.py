"""
Estimated AWS cost of what Personalize did: usage in the units it bills, times the configured prices.

Pure arithmetic, so the numbers can be checked by hand: :class:`Usage` is what a run (or a month)
consumed, :func:`estimate` prices it with the pipeline's ``pricing:`` block, and
:func:`store_scenario` is the store-size month the README and the demo compare with the store
team's own figures. What a real run consumed is gathered by :mod:`personalize_pipeline.run_costs`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime

from personalize_pipeline.config import PricingConfig

GB = 1024**3
HOURS_PER_MONTH = 730  # AWS bills a month as 730 hours
UPDATE_RUNS_PER_MONTH = 52 / 12  # weekly


@dataclass(frozen=True)
class Usage:
    """What was consumed, in the units Personalize bills."""

    gb_ingested: float = 0.0  # bulk import input (the import jobs' S3 objects)
    training_hours: float = 0.0  # as DescribeSolutionVersion reports them
    batch_recommendations: int = 0  # batch inference output lines (one per user or item)
    segment_users: int = 0  # users across every batch segment
    tps_hours: float = 0.0  # campaigns' minProvisionedTPS × hours they existed

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def times(self, factor: float) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) * factor for f in fields(self)})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class CostEstimate:
    usage: Usage
    lines: dict[str, float]  # USD per billed item

    @property
    def total(self) -> float:
        return sum(self.lines.values())

    def as_dict(self) -> dict:
        return {"usage": self.usage.as_dict(), "lines": self.lines, "total": self.total}

    def summary(self) -> list[str]:
        """The estimate as aligned lines, for the run's log and the demo."""
        u = self.usage
        quantities = {
            "ingestion": f"{u.gb_ingested:.4f} GB",
            "training": f"{u.training_hours:.3f} h",
            "batch_recommendations": f"{u.batch_recommendations:,.0f} recommendations",
            "batch_segments": f"{u.segment_users:,.0f} segment users",
            "campaigns": f"{u.tps_hours:,.1f} TPS-hours",
        }
        rows = [f"  {item:<22} {quantities[item]:>28}  ${usd:>9,.2f}" for item, usd in self.lines.items()]
        return [*rows, f"  {'total':<22} {'':>28}  ${self.total:>9,.2f}"]


def estimate(usage: Usage, pricing: PricingConfig) -> CostEstimate:
    return CostEstimate(
        usage,
        {
            "ingestion": usage.gb_ingested * pricing.ingestion_per_gb,
            "training": usage.training_hours * pricing.training_per_hour,
            "batch_recommendations": usage.batch_recommendations
            / 1000
            * pricing.batch_recommendations_per_1000,
            "batch_segments": usage.segment_users / 1000 * pricing.batch_segment_users_per_1000,
            "campaigns": usage.tps_hours * pricing.tps_hour,
        },
    )


def tps_hours(
    min_tps: int, created: datetime, deleted: datetime | None, start: datetime, end: datetime
) -> float:
    """Provisioned TPS-hours of a campaign within [start, end): it bills while it exists, used or not."""
    alive_from, alive_to = max(created, start), min(deleted or end, end)
    return max((alive_to - alive_from).total_seconds(), 0.0) / 3600 * min_tps


@dataclass(frozen=True)
class Scenario:
    """A month of the pipeline at a given size. The sizes are the store team's; the bytes per row
    and training hours are assumptions (their playbook: 30-60 min of training per recipe)."""

    interactions: int = 1_970_000
    customers: int = 180_484
    products: int = 4_182
    segment_size: int = 100  # item-affinity num_results
    interaction_bytes: int = 40  # "C0123456,P01234,purchase,1730000000\n"
    customer_bytes: int = 24
    product_bytes: int = 48
    full_training_hours: float = 1.0  # per solution
    update_training_hours: float = 0.25  # user-personalization trained with UPDATE
    solutions: int = 3  # user-personalization, similar-items, item-affinity (UPDATE only the first)

    def run(self, *, full: bool, user_batch: bool = True) -> Usage:
        """One retraining run: FULL imports every interaction, UPDATE (event sync on) only the catalogue."""
        catalogue = self.customers * self.customer_bytes + self.products * self.product_bytes
        ingested = catalogue + (self.interactions * self.interaction_bytes if full else 0)
        others = self.solutions - 1
        hours = (
            self.solutions * self.full_training_hours
            if full
            else (self.update_training_hours + others * self.full_training_hours)
        )
        return Usage(
            gb_ingested=ingested / GB,
            training_hours=hours,
            batch_recommendations=(self.customers if user_batch else 0) + self.products,
            segment_users=self.products * self.segment_size,
        )


def store_scenario(pricing: PricingConfig, *, campaign_tps: int = 0, scenario: Scenario = Scenario()):
    """A month of monthly FULL + weekly UPDATE runs. With ``campaign_tps`` an always-on campaign
    serves the customers instead of their batch job (similar items and segments stay batch)."""
    batch = campaign_tps == 0
    month = scenario.run(full=True, user_batch=batch) + scenario.run(full=False, user_batch=batch).times(
        UPDATE_RUNS_PER_MONTH
    )
    month = month + Usage(tps_hours=campaign_tps * HOURS_PER_MONTH)
    return estimate(month, pricing)
