"""Deterministic demo data for the store schema, with structure a recommender can learn.

Customers have stable tastes (1-3 favourite categories) and heavy-tailed activity; products have
Zipf-like popularity and per-category lognormal prices. Views become carts, carts become order lines.
Everything is vectorised so the ~2M-interaction "store" size generates in seconds.

    python -m devenv.datagen --size demo [--database-url URL] [--seed 7]
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql

# Fixed window so reruns are identical whatever the wall clock says.
END = pd.Timestamp("2026-10-31 23:59:59", tz="UTC")
START = pd.Timestamp("2025-11-01 00:00:00", tz="UTC")
DAY = 86_400

CART_RATE = 0.25  # share of views followed by add_to_cart
PURCHASE_RATE = 0.40  # share of carts bought
EXPLORE = 0.12  # share of category draws outside a customer's favourites
SESSION_VIEWS = 4  # mean views per visit
SESSION_FOCUS = 0.75  # share of a visit's views in the visit's category

# name, median price, price sigma, product nouns
CATEGORIES = [
    ("Electronics", 150.0, 0.9, ("Headphones", "Speaker", "Camera", "Charger")),
    ("Computers", 550.0, 0.7, ("Laptop", "Monitor", "Keyboard", "Tablet")),
    ("Phone Accessories", 25.0, 0.8, ("Case", "Cable", "Stand", "Screen Guard")),
    ("Home & Kitchen", 35.0, 0.8, ("Pan", "Kettle", "Knife Set", "Blender")),
    ("Furniture", 220.0, 0.7, ("Chair", "Desk", "Shelf", "Sofa")),
    ("Garden & Outdoor", 45.0, 0.9, ("Hose", "Planter", "Grill", "Lantern")),
    ("Sports & Fitness", 40.0, 0.9, ("Yoga Mat", "Dumbbell", "Racket", "Bottle")),
    ("Toys & Games", 25.0, 0.7, ("Puzzle", "Board Game", "Plush", "Building Set")),
    ("Books", 14.0, 0.4, ("Novel", "Cookbook", "Biography", "Guide")),
    ("Music & Movies", 15.0, 0.5, ("Vinyl", "Blu-ray", "Box Set", "CD")),
    ("Beauty", 18.0, 0.6, ("Serum", "Lipstick", "Palette", "Cream")),
    ("Health & Care", 15.0, 0.6, ("Vitamins", "Toothbrush", "Thermometer", "Balm")),
    ("Women's Clothing", 35.0, 0.6, ("Dress", "Blouse", "Skirt", "Jacket")),
    ("Men's Clothing", 35.0, 0.6, ("Shirt", "Chinos", "Hoodie", "Coat")),
    ("Shoes", 70.0, 0.5, ("Sneakers", "Boots", "Sandals", "Loafers")),
    ("Jewelry & Watches", 90.0, 1.0, ("Watch", "Necklace", "Ring", "Bracelet")),
    ("Grocery", 6.0, 0.6, ("Coffee", "Tea", "Olive Oil", "Chocolate")),
    ("Pet Supplies", 20.0, 0.8, ("Dog Bed", "Cat Toy", "Leash", "Pet Food")),
    ("Baby", 25.0, 0.7, ("Stroller", "Onesie", "Bottle Set", "Blanket")),
    ("Automotive", 30.0, 1.0, ("Wiper", "Car Mat", "Dash Cam", "Tyre Gauge")),
]
ADJECTIVES = np.array(
    ["Classic", "Premium", "Eco", "Compact", "Deluxe", "Urban", "Smart", "Vintage", "Pro", "Essential"]
)
COUNTRIES = (
    ["US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "PL", "CA"],
    [0.34, 0.14, 0.13, 0.10, 0.07, 0.06, 0.05, 0.04, 0.04, 0.03],
)
AGE_BANDS = (["18-24", "25-34", "35-44", "45-54", "55-64", "65+"], [0.14, 0.27, 0.23, 0.17, 0.12, 0.07])
# Nov-Oct; holiday peak, summer dip.
MONTH_FACTOR = {
    11: 1.35,
    12: 1.5,
    1: 0.9,
    2: 0.85,
    3: 0.95,
    4: 0.95,
    5: 1.0,
    6: 0.92,
    7: 0.88,
    8: 0.9,
    9: 1.0,
    10: 1.05,
}
HOUR_FACTOR = np.array([2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 7, 6, 6, 6, 6, 7, 8, 9, 10, 9, 6, 4], float)


@dataclass(frozen=True)
class Size:
    customers: int
    products: int
    interactions: int  # events + order_items rows
    min_views: int  # views per active customer, at least
    inactive_share: float  # registered customers who never interact


SIZES = {
    "tiny": Size(120, 150, 3_000, 4, 0.02),
    "demo": Size(1_000, 1_000, 25_000, 2, 0.03),
    "store": Size(180_484, 4_182, 1_970_000, 1, 0.04),
}

TABLE_COLUMNS = {  # load order respects foreign keys
    "customers": ["customer_id", "created_at", "country", "age_band"],
    "products": ["product_id", "name", "category", "price", "created_at"],
    "orders": ["order_id", "customer_id", "ordered_at"],
    "order_items": ["order_id", "line_no", "product_id", "quantity", "unit_price"],
    "events": ["event_id", "customer_id", "product_id", "event_type", "occurred_at"],
}


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def _ts(seconds: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(seconds, unit="s", utc=True))


def _products(rng: np.random.Generator, n: int, start: int, end: int) -> pd.DataFrame:
    """Catalogue sorted by category; `weight` is Zipf-like popularity normalised within each category."""
    n_cat = len(CATEGORIES)
    cat_share = 1.0 / np.arange(1, n_cat + 1) ** 0.6
    cat_share = rng.permutation(cat_share / cat_share.sum())
    counts = 1 + rng.multinomial(n - n_cat, cat_share)
    cat = np.repeat(np.arange(n_cat), counts)
    # Random rank within category -> Zipf weight, so each category has a few hits and a long tail.
    rank = pd.Series(rng.random(n)).groupby(cat).rank(method="first").to_numpy()
    weight = 1.0 / rank**1.1
    weight /= np.bincount(cat, weights=weight)[cat]

    median = np.array([c[1] for c in CATEGORIES])[cat]
    sigma = np.array([c[2] for c in CATEGORIES])[cat]
    price = np.clip(np.round(median * rng.lognormal(0.0, sigma)) - 0.01, 0.99, 9_999.99).round(2)

    nouns = np.array([noun for c in CATEGORIES for noun in c[3]])
    noun = nouns[cat * 4 + rng.integers(0, 4, n)]
    model = np.char.zfill(rng.integers(1, 1000, n).astype(str), 3)
    name = np.char.add(
        np.char.add(np.char.add(ADJECTIVES[rng.integers(0, len(ADJECTIVES), n)], " "), noun),
        np.char.add(" ", model),
    )

    # Most of the catalogue predates the window; a quarter launches during it.
    new = rng.random(n) < 0.25
    created = np.where(new, rng.integers(start, end - 30 * DAY, n), rng.integers(start - 730 * DAY, start, n))
    return pd.DataFrame(
        {
            "product_id": rng.permutation(_ids("P", n, 5)),  # ids carry no category information
            "name": name,
            "category": np.array([c[0] for c in CATEGORIES])[cat],
            "cat": cat,
            "price": price,
            "created": created,
            "weight": weight,
        }
    )


def _customers(rng: np.random.Generator, size: Size, start: int, end: int) -> pd.DataFrame:
    n = size.customers
    joined_before = rng.random(n) < 0.6
    joined = np.where(
        joined_before, rng.integers(start - 3 * 365 * DAY, start, n), rng.integers(start, end - 14 * DAY, n)
    )
    # Heavy-tailed activity, scaled by how much of the window the customer was around for.
    active_share = (end - np.maximum(joined, start)) / (end - start)
    activity = rng.lognormal(0.0, 1.1, n) * active_share
    activity[rng.random(n) < size.inactive_share] = 0.0
    return pd.DataFrame(
        {
            "customer_id": _ids("C", n, 6),
            "country": rng.choice(COUNTRIES[0], n, p=COUNTRIES[1]),
            "age_band_idx": rng.choice(len(AGE_BANDS[0]), n, p=AGE_BANDS[1]),
            "joined": joined,
            "activity": activity,
        }
    )


def _category_sampler(rng: np.random.Generator, customers: pd.DataFrame):
    """Per customer: 1-3 favourite categories with Dirichlet weights, plus an age-band exploration mix.

    Returns draw(cust) -> one category per entry of the customer-index array, from that customer's taste.
    """
    n, n_cat = len(customers), len(CATEGORIES)
    popularity = rng.permutation(1.0 / np.arange(1, n_cat + 1) ** 0.8)
    band_mix = popularity * rng.lognormal(0.0, 0.5, (len(AGE_BANDS[0]), n_cat))
    band_mix /= band_mix.sum(axis=1, keepdims=True)
    mix_cum = np.cumsum(band_mix, axis=1)
    band = customers["age_band_idx"].to_numpy()

    # Gumbel top-k draws favourites without replacement, weighted by the customer's band mix.
    keys = np.log(band_mix[band]) + rng.gumbel(size=(n, n_cat))
    favourites = np.argsort(-keys, axis=1)[:, :3]
    k = rng.choice([1, 2, 3], n, p=[0.35, 0.4, 0.25])
    weights = rng.gamma(1.0, size=(n, 3)) * (np.arange(3) < k[:, None])
    fav_cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)

    def draw(cust: np.ndarray) -> np.ndarray:
        m = len(cust)
        slot = (fav_cum[cust] < rng.random(m)[:, None]).sum(axis=1).clip(max=2)
        cat = favourites[cust, slot]
        explore = rng.random(m) < EXPLORE
        rows = mix_cum[band[cust[explore]]]
        cat[explore] = (rows < rng.random(explore.sum())[:, None]).sum(axis=1).clip(max=n_cat - 1)
        return cat

    return draw


def _day_weights(start: pd.Timestamp, n_days: int) -> np.ndarray:
    days = pd.date_range(start, periods=n_days, freq="D")
    w = days.month.map(MONTH_FACTOR).to_numpy(float, copy=True)
    w *= np.where(days.day_of_week >= 5, 1.15, 1.0)
    w *= np.linspace(0.9, 1.1, n_days)  # the shop grows
    black_friday = (days.month == 11) & (days.day_of_week == 4) & (days.day >= 22) & (days.day <= 28)
    w[black_friday] *= 3.0
    return w / w.sum()


def _views(rng, size: Size, customers: pd.DataFrame, products: pd.DataFrame, start: int, end: int):
    """One row per view: customer index, product index (catalogue order), epoch second.

    Views come in sessions (a visit of up to half an hour) that mostly stay in one category, so carts
    bought together share an order and short-term context carries signal too.
    """
    n_views = round(size.interactions / (1 + CART_RATE + CART_RATE * PURCHASE_RATE))
    activity = customers["activity"].to_numpy()
    counts = np.where(activity > 0, size.min_views, 0)
    counts += rng.multinomial(n_views - counts.sum(), activity / activity.sum())
    cust = np.repeat(np.arange(len(customers)), counts)
    m = len(cust)

    # Sessions: about one per SESSION_VIEWS views; each view lands in one of its customer's sessions.
    n_sessions = np.where(counts > 0, np.ceil(counts / SESSION_VIEWS), 0).astype(np.int64)
    session_base = np.concatenate([[0], np.cumsum(n_sessions)[:-1]])
    session = session_base[cust] + (rng.random(m) * n_sessions[cust]).astype(np.int64)
    session_cust = np.repeat(np.arange(len(customers)), n_sessions)

    draw = _category_sampler(rng, customers)
    cat = np.where(rng.random(m) < SESSION_FOCUS, draw(session_cust)[session], draw(cust))

    # Catalogue is sorted by category and weights sum to 1 per category, so category c spans (c, c+1].
    cum = np.cumsum(products["weight"].to_numpy())
    product_cat = products["cat"].to_numpy()
    prod = np.searchsorted(cum, cat + rng.random(m), side="right").clip(max=len(products) - 1)
    prod = np.where(product_cat[prod] == cat, prod, np.searchsorted(product_cat, cat))  # float-edge guard

    # Session start: seasonal day never before the customer joined, hour from a diurnal curve.
    s = len(session_cust)
    n_days = (end - start) // DAY + 1
    day_cdf = np.cumsum(_day_weights(START, n_days))
    joined = customers["joined"].to_numpy()
    first_day = np.clip((joined - start) // DAY, 0, n_days - 1)
    floor = np.concatenate([[0.0], day_cdf])[first_day][session_cust]
    day = np.searchsorted(day_cdf, floor + rng.random(s) * (1.0 - floor), side="right").clip(max=n_days - 1)
    hour = rng.choice(24, s, p=HOUR_FACTOR / HOUR_FACTOR.sum())
    session_start = start + day * DAY + hour * 3600 + rng.integers(0, 3600, s)
    session_start = np.maximum(session_start, joined[session_cust] + 60)
    ts = session_start[session] + rng.integers(0, 1800, m)
    last = end - 3600  # leaves room for carts and orders inside the window
    # Products launched mid-window can only be seen after launch.
    created = products["created"].to_numpy()[prod]
    early = ts < created
    ts[early] = created[early] + (rng.random(early.sum()) * (last - created[early])).astype(np.int64)
    return cust, prod, np.minimum(ts, last)


def generate(size: str = "demo", seed: int = 7) -> dict[str, pd.DataFrame]:
    """Frames for every store table, keyed by table name; identical for the same size and seed."""
    spec = SIZES[size]
    rng = np.random.default_rng(seed)
    start, end = int(START.timestamp()), int(END.timestamp())
    products = _products(rng, spec.products, start, end)
    customers = _customers(rng, spec, start, end)
    cust, prod, view_ts = _views(rng, spec, customers, products, start, end)

    cart = rng.random(len(cust)) < CART_RATE
    c_cust, c_prod = cust[cart], prod[cart]
    c_ts = view_ts[cart] + rng.integers(20, 1800, cart.sum())
    bought = rng.random(len(c_cust)) < PURCHASE_RATE

    # A customer's purchased carts on one day form one order, placed after the last of them.
    lines = pd.DataFrame({"cust": c_cust[bought], "prod": c_prod[bought], "ts": c_ts[bought]})
    lines["day"] = lines["ts"] // DAY
    grouped = lines.groupby(["cust", "day"], sort=False)
    lines["ordered"] = grouped["ts"].transform("max") + rng.integers(60, 1200, len(lines))
    lines["quantity"] = rng.geometric(0.7, len(lines))
    lines = lines.groupby(["cust", "day", "prod"], as_index=False, sort=False).agg(
        ts=("ts", "min"), ordered=("ordered", "max"), quantity=("quantity", "sum")
    )
    lines["ordered"] = lines.groupby(["cust", "day"])["ordered"].transform("max")
    lines = lines.sort_values(["ordered", "cust", "ts", "prod"], kind="stable", ignore_index=True)
    order_no = lines.groupby(["ordered", "cust"], sort=False).ngroup().to_numpy()
    order_ids = _ids("O", int(order_no.max()) + 1 if len(lines) else 0, 7)
    lines["order_id"] = order_ids[order_no]
    lines["line_no"] = lines.groupby("order_id").cumcount() + 1

    customer_ids = customers["customer_id"].to_numpy()
    product_ids = products["product_id"].to_numpy()
    orders = lines.drop_duplicates("order_id")
    order_items = pd.DataFrame(
        {
            "order_id": lines["order_id"],
            "line_no": lines["line_no"],
            "product_id": product_ids[lines["prod"].to_numpy()],
            "quantity": lines["quantity"],
            "unit_price": products["price"].to_numpy()[lines["prod"].to_numpy()],
        }
    )

    events = pd.DataFrame(
        {
            "cust": np.concatenate([cust, c_cust]),
            "prod": np.concatenate([prod, c_prod]),
            "kind": np.repeat([0, 1], [len(cust), len(c_cust)]),
            "ts": np.concatenate([view_ts, c_ts]),
        }
    ).sort_values(["ts", "cust", "kind", "prod"], kind="stable", ignore_index=True)

    # Accounts exist before their first interaction.
    first = np.full(len(customers), end, dtype=np.int64)
    np.minimum.at(first, events["cust"].to_numpy(), events["ts"].to_numpy())
    created = np.minimum(customers["joined"].to_numpy(), first - 60)

    return {
        "customers": pd.DataFrame(
            {
                "customer_id": customer_ids,
                "created_at": _ts(created),
                "country": customers["country"],
                "age_band": np.array(AGE_BANDS[0])[customers["age_band_idx"].to_numpy()],
            }
        ),
        "products": products.assign(created_at=_ts(products["created"].to_numpy())).sort_values(
            "product_id", ignore_index=True
        )[TABLE_COLUMNS["products"]],
        "orders": pd.DataFrame(
            {
                "order_id": orders["order_id"].to_numpy(),
                "customer_id": customer_ids[orders["cust"].to_numpy()],
                "ordered_at": _ts(orders["ordered"].to_numpy()),
            }
        ),
        "order_items": order_items,
        "events": pd.DataFrame(
            {
                "event_id": np.arange(1, len(events) + 1, dtype=np.int64),
                "customer_id": customer_ids[events["cust"].to_numpy()],
                "product_id": product_ids[events["prod"].to_numpy()],
                "event_type": np.array(["view", "add_to_cart"])[events["kind"].to_numpy()],
                "occurred_at": _ts(events["ts"].to_numpy()),
            }
        ),
    }


def interaction_count(frames: dict[str, pd.DataFrame]) -> int:
    """Rows the interactions dataset will have: events plus one purchase per order line."""
    return len(frames["events"]) + len(frames["order_items"])


def _csv_chunks(frame: pd.DataFrame, chunk_rows: int) -> Iterator[bytes]:
    """Headerless CSV in chunks; Arrow formats timestamps several times faster than DataFrame.to_csv."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    options = pa_csv.WriteOptions(include_header=False)
    for first in range(0, table.num_rows, chunk_rows):
        sink = io.BytesIO()
        pa_csv.write_csv(table.slice(first, chunk_rows), sink, options)
        yield sink.getvalue()


FOREIGN_KEYS_SQL = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint AS c
JOIN pg_namespace AS n ON n.oid = c.connamespace
WHERE n.nspname = 'store' AND c.contype = 'f'
ORDER BY 1, 2
"""
# Indexes that back no constraint (the interval and ingestion-order lookups): built once after the COPY.
PLAIN_INDEXES_SQL = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index AS i
JOIN pg_class AS t ON t.oid = i.indrelid
JOIN pg_namespace AS n ON n.oid = t.relnamespace
WHERE n.nspname = 'store' AND NOT EXISTS (SELECT FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""


def load(url: str, frames: dict[str, pd.DataFrame], chunk_rows: int = 200_000) -> None:
    """Replace the store tables' contents with frames in one transaction (reruns are idempotent).

    Foreign keys are dropped for the COPY and re-added (validated by one join each) before commit:
    per-row FK triggers would otherwise take most of the load time at the store size. Indexes that
    back no constraint are dropped too and built again after the COPY, in one sort each.
    """
    tables = [sql.Identifier("store", name) for name in TABLE_COLUMNS]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        foreign_keys = [
            (sql.SQL(table), sql.Identifier(name), sql.SQL(definition))
            for table, name, definition in cur.execute(FOREIGN_KEYS_SQL).fetchall()
        ]
        plain_indexes = cur.execute(PLAIN_INDEXES_SQL).fetchall()
        for table, name, _ in foreign_keys:
            cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table, name))
        for name, _ in plain_indexes:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
        cur.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(tables)))
        for (name, columns), table in zip(TABLE_COLUMNS.items(), tables, strict=True):
            copy_sql = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
                table, sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with cur.copy(copy_sql) as copy:
                for chunk in _csv_chunks(frames[name][columns], chunk_rows):
                    copy.write(chunk)
        for _, definition in plain_indexes:
            cur.execute(sql.SQL(definition))
        for table, name, definition in foreign_keys:
            cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(table, name, definition))
    # Fresh statistics so the per-interval extraction uses the timestamp indexes.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.SQL(", ").join(tables)))


def main(argv: list[str] | None = None) -> None:
    from devenv import postgres

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="demo")
    parser.add_argument("--database-url", default=None, help="default: devenv.postgres.database_url()")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    url = args.database_url or postgres.database_url()
    postgres.apply_schema(url)
    t0 = time.perf_counter()
    frames = generate(args.size, args.seed)
    t1 = time.perf_counter()
    load(url, frames)
    t2 = time.perf_counter()
    counts = ", ".join(f"{name}={len(frame):,}" for name, frame in frames.items())
    print(f"size={args.size} seed={args.seed}: {counts}, interactions={interaction_count(frames):,}")
    print(f"generated in {t1 - t0:.1f}s, loaded in {t2 - t1:.1f}s")


if __name__ == "__main__":
    main()
