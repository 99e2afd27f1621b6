"""
Plays the demo store's customers against the running recommendation API for a number of simulated
days, so an experiment has traffic to analyse.

Each day a share of the customers visit at a random time: they ask for recommendations, view
(click) each recommended item with a probability that rises with how much of their history is in
the item's category, add a viewed item to the cart and buy it with fixed probabilities. Every
request carries ``X-Simulated-Time`` (the API must run with ``SERVING_SIMULATED_CLOCK=1``) and
every event its ``recommendation_id`` and an ``event_id``: a retried post never counts twice.
Taste is read from the store's history (what the data generator made), so it is the same taste
the models learnt. Deterministic from ``--seed``: each visit draws from its own generator seeded
by (seed, day, customer), whatever order the concurrent requests finish in.

    python -m devenv.simulator --api http://127.0.0.1:8000 --start 2026-11-01 --days 14
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np

VISIT_SHARE = 0.1  # customers visiting on a day
RESULTS = 10  # recommendations asked for per visit
CLICK_BASE = 0.01  # chance to view a recommended item outside the customer's taste
CLICK_PER_TASTE = 0.15  # added for an item in a category holding all of the customer's history
CART_RATE = 0.3  # viewed items added to the cart
PURCHASE_RATE = 0.5  # carted items bought
SECONDS_BETWEEN_EVENTS = 30
RETRIES = 3

TASTE_SQL = """
SELECT h.customer_id, p.category, count(*)
FROM (
    SELECT customer_id, product_id FROM store.events
    UNION ALL
    SELECT o.customer_id, i.product_id FROM store.orders o JOIN store.order_items i USING (order_id)
) AS h
JOIN store.products AS p USING (product_id)
GROUP BY 1, 2
"""


def assigned_variant(seed: str, user_id: str, variants: Sequence[tuple[str, float]]) -> str:
    """The variant the API should serve a customer: the published assignment (serving.assignment)."""
    from serving.assignment import assign

    return variants[assign(seed, [weight for _, weight in variants], user_id)][0]


@dataclass(frozen=True)
class Store:
    """What the simulator knows of the store: customers' category shares and items' categories."""

    taste: dict[str, dict[str, float]]
    category: dict[str, str]

    @classmethod
    def read(cls, database_url: str) -> Store:
        import psycopg

        with psycopg.connect(database_url) as conn:
            history = conn.execute(TASTE_SQL).fetchall()
            category = dict(conn.execute("SELECT product_id, category FROM store.products").fetchall())
        counts: dict[str, Counter] = {}
        for customer, cat, n in history:
            counts.setdefault(customer, Counter())[cat] += n
        taste = {c: {cat: n / sum(cs.values()) for cat, n in cs.items()} for c, cs in counts.items()}
        return cls(taste=taste, category=category)

    @property
    def customers(self) -> list[str]:
        return sorted(self.taste)

    def fit(self, customer: str, item: str) -> float:
        """The share of the customer's history in the item's category, 0..1."""
        return self.taste.get(customer, {}).get(self.category.get(item, ""), 0.0)


def click_probability(fit: float) -> float:
    return CLICK_BASE + CLICK_PER_TASTE * fit


def visit_events(rng: np.random.Generator, store: Store, customer: str, items: Sequence[str]) -> list[dict]:
    """What one customer does with one recommended list: views, carts and purchases, in order."""
    events = []
    for item in items:
        if rng.random() >= click_probability(store.fit(customer, item)):
            continue
        events.append({"item_id": item, "event_type": "view"})
        if rng.random() < CART_RATE:
            events.append({"item_id": item, "event_type": "add_to_cart"})
            if rng.random() < PURCHASE_RATE:
                events.append({"item_id": item, "event_type": "purchase"})
    return events


def visitors(seed: int, day: int, customers: Sequence[str], share: float) -> list[tuple[str, float]]:
    """The customers visiting on a day and the second of the day each arrives (at most 22:00)."""
    rng = np.random.default_rng([seed, day])
    chosen = rng.random(len(customers)) < share
    seconds = rng.uniform(0, 22 * 3600, len(customers))
    return [(c, s) for c, s, visit in zip(customers, seconds, chosen, strict=True) if visit]


@dataclass
class Tally:
    visits: int = 0
    requests: int = 0
    events: Counter = field(default_factory=Counter)
    variants: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    misassigned: int = 0  # responses whose variant differs from the published assignment

    @property
    def exposed(self) -> int:
        """Responses served under an experiment: the exposures the API logs."""
        return sum(n for variant, n in self.variants.items() if variant is not None)


async def _send(client: httpx.AsyncClient, method: str, url: str, at: float, **kwargs):
    """One request at simulated time ``at``; transport errors and 5xx are retried as they are."""
    headers = {"X-Simulated-Time": str(int(at))}
    for attempt in range(RETRIES):
        try:
            response = await client.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError:
            if attempt == RETRIES - 1:
                raise
        else:
            if response.status_code < 500:
                response.raise_for_status()
                return response.json()
        await asyncio.sleep(0.05 * 2**attempt)
    raise RuntimeError(f"{method} {url} failed {RETRIES} times")


async def _visit(client, store: Store, tally: Tally, seed: int, day: int, customer: str, at: float, expected):
    rng = np.random.default_rng([seed, day, int(hashlib.sha256(customer.encode()).hexdigest()[:8], 16)])
    answer = await _send(client, "GET", f"/recommendations/{customer}", at, params={"n": RESULTS})
    tally.visits += 1
    tally.requests += 1
    tally.variants[answer.get("variant")] += 1
    tally.sources[answer["source"]] += 1
    if expected is not None and answer.get("variant") != expected(customer):
        tally.misassigned += 1
    items = [item["item_id"] for item in answer["items"]]
    for k, event in enumerate(visit_events(rng, store, customer, items)):
        moment = at + SECONDS_BETWEEN_EVENTS * (k + 1)
        body = {
            **event,
            "user_id": customer,
            "timestamp": int(moment),
            "session_id": f"sim-{seed}-{day}-{customer}",
            "event_id": f"sim-{seed}-{day}-{customer}-{k}",
            "recommendation_id": answer["recommendation_id"],
        }
        await _send(client, "POST", "/events", moment, json=body)
        tally.requests += 1
        tally.events[event["event_type"]] += 1


async def simulate(
    api: str,
    store: Store,
    start: datetime,
    days: int,
    *,
    seed: int = 7,
    share: float = VISIT_SHARE,
    concurrency: int = 16,
    expected=None,
) -> Tally:
    """Play ``days`` days from ``start`` (UTC midnight); ``expected(customer)`` checks the variants."""
    tally = Tally()
    limit = asyncio.Semaphore(concurrency)
    customers = store.customers

    async def one(day: int, customer: str, second: float) -> None:
        async with limit:
            at = (start + timedelta(days=day)).timestamp() + second
            await _visit(client, store, tally, seed, day, customer, at, expected)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=api, timeout=30, limits=limits) as client:
        for day in range(days):  # a day at a time: exposures and events stay in time order per day
            await asyncio.gather(*(one(day, c, s) for c, s in visitors(seed, day, customers, share)))
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--database-url", default=os.environ.get("PIPELINE_DATABASE_URL"))
    parser.add_argument(
        "--start", required=True, type=lambda s: datetime.fromisoformat(s).replace(tzinfo=UTC)
    )
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--share", type=float, default=VISIT_SHARE, help="customers visiting a day")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or PIPELINE_DATABASE_URL) is needed to read the customers' taste")
    tally = asyncio.run(
        simulate(
            args.api, Store.read(args.database_url), args.start, args.days, seed=args.seed, share=args.share
        )
    )
    print(f"{tally.visits} visits, {tally.requests} requests; events {dict(tally.events)}")
    print(f"variants {dict(tally.variants)}; sources {dict(tally.sources)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
