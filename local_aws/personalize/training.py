"""Training solution versions: interactions -> confidence matrix -> model (+ offline metrics).

user-personalization(-v2) is implicit-feedback ALS; aws-popularity-count ranks
items by the number of unique users who interacted with them and gives everyone
the same list. Like the service, recommendations keep items a user already
interacted with (EXCLUDE filters leave them out); the ``exclude_seen_items``
hyperparameter, or LOCAL_PERSONALIZE_EXCLUDE_SEEN=true for every solution, keeps
the local service's older behaviour. Metrics follow the service's split (see
``evaluate``), then the final model is trained on all the data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import similarity
from .als import als_factors, default_alpha, threads
from .errors import JobFailure
from .metrics import segment_metrics, summarise
from .scoring import Model, best_columns, recommend

MIN_INTERACTIONS = 1000
MIN_USERS = 25
SPLIT_SEED = 42
ALS_RECIPES = {"aws-user-personalization", "aws-user-personalization-v2"}  # UPDATE training allowed
RANKING_RECIPES = {"aws-personalized-ranking", "aws-personalized-ranking-v2"}
SEGMENT_RECIPES = {"aws-item-affinity", "aws-item-attribute-affinity"}
FACTOR_RECIPES = ALS_RECIPES | RANKING_RECIPES | SEGMENT_RECIPES  # all backed by an ALS model
RELATED_RECIPES = {"aws-sims", "aws-similar-items"}
TRAINABLE_RECIPES = FACTOR_RECIPES | RELATED_RECIPES | {"aws-popularity-count", "aws-trending-now"}


@dataclass
class TrainingConfig:
    recipe: str
    event_type: str | None = None
    event_value_threshold: float | None = None
    hyper: dict[str, str] = field(default_factory=dict)

    def flag(self, name: str, default: bool) -> bool:
        return str(self.hyper.get(name, str(default))).strip().lower() == "true"

    def number(self, name: str, default: float | None) -> float | None:
        if name not in self.hyper:
            return default
        try:
            return float(self.hyper.get(name, default))
        except (TypeError, ValueError) as exc:
            value = self.hyper.get(name)
            raise JobFailure(f"Hyperparameter {name} must be a number, got {value!r}.") from exc


@dataclass
class Interactions:
    """Interactions after filtering, as integer indices plus weights."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    timestamps: np.ndarray
    derived: dict = field(default_factory=dict, repr=False, compare=False)  # see ``shared``


def shared(data: Interactions, key: tuple, make: Callable[[], Any]) -> Any:
    """``make()`` once per prepared data: the solutions of a group (and the popularity baseline)
    train on the same ``Interactions`` (see ``work.prepared_interactions``), so they share the
    evaluation split and the confidence matrices built from it."""
    value = data.derived.get(key)
    return value if value is not None else data.derived.setdefault(key, make())


def prepare(frame: pd.DataFrame | None, config: TrainingConfig,
            item_order: np.ndarray | None = None) -> Interactions:
    """Filter by event type/value, weight events, check the training minimums."""
    if frame is None or frame.empty:
        raise JobFailure("The dataset group has no interactions data; import interactions first.")
    df = frame
    if config.event_type and "EVENT_TYPE" in df:
        df = df[df["EVENT_TYPE"] == config.event_type]
    if config.event_value_threshold is not None and "EVENT_VALUE" in df:
        df = df[df["EVENT_VALUE"].astype("float64") >= config.event_value_threshold]
    if len(df) < MIN_INTERACTIONS:
        raise JobFailure(f"Dataset has fewer than {MIN_INTERACTIONS} interactions "
                         f"({len(df)} after event type/value filtering).")
    per_user = df["USER_ID"].value_counts()
    if int((per_user >= 2).sum()) < MIN_USERS:
        raise JobFailure(f"Dataset has fewer than {MIN_USERS} users with at least 2 interactions each.")

    weights = np.ones(len(df))
    if "EVENT_TYPE" in df and df["EVENT_TYPE"].notna().any():
        # Rarer event types (purchases vs clicks) say more about a user: weight 1 + log(max/count).
        counts = df["EVENT_TYPE"].fillna("").value_counts()
        type_weight = 1.0 + np.log(counts.max() / counts)
        weights *= df["EVENT_TYPE"].fillna("").map(type_weight).to_numpy(dtype=float)
    if "EVENT_VALUE" in df:
        values = df["EVENT_VALUE"].astype("float64").to_numpy()
        positive = values[np.isfinite(values) & (values > 0)]
        if len(positive):
            scale = np.where(np.isfinite(values) & (values > 0), values / np.median(positive), 1.0)
            weights *= np.clip(scale, 0.1, 10.0)

    user_codes, user_ids = pd.factorize(df["USER_ID"].astype(str), sort=True)
    if item_order is None:
        item_codes, item_ids = pd.factorize(df["ITEM_ID"].astype(str), sort=True)
        item_ids = np.asarray(item_ids, dtype=str)
    else:  # keep an earlier model's item order, new items appended
        new_items = np.setdiff1d(df["ITEM_ID"].astype(str).unique(), item_order)
        item_ids = np.concatenate([item_order, new_items]).astype(str)
        item_codes = pd.Index(item_ids).get_indexer(df["ITEM_ID"].astype(str))
    return Interactions(
        user_ids=np.asarray(user_ids, dtype=str), item_ids=item_ids,
        users=np.asarray(user_codes), items=np.asarray(item_codes), weights=weights,
        timestamps=df["TIMESTAMP"].astype("int64").to_numpy(),
    )


def confidence(users, items, weights, shape, alpha: float | None) -> tuple[sp.csr_matrix, float]:
    """Sum weights per (user, item), damp repeats with log1p, scale to ALS confidence; with the
    alpha used (None: ``default_alpha`` of this data)."""
    summed = sp.csr_matrix((weights, (users, items)), shape=shape, dtype=np.float64)
    summed.sum_duplicates()
    summed.sort_indices()
    alpha = default_alpha(summed) if alpha is None else alpha
    summed.data = (1.0 + alpha * np.log1p(summed.data)).astype(np.float64)
    return summed.astype(np.float32), alpha


def _exclude_seen_default() -> bool:
    return os.environ.get("LOCAL_PERSONALIZE_EXCLUDE_SEEN", "false").strip().lower() == "true"


def unique_users_per_item(matrix: sp.csr_matrix) -> np.ndarray:
    """Popularity as the service's popularity-count defines it: distinct users per item."""
    return np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float64)


def repeat_share(matrix: sp.csr_matrix, n_rows: int) -> float:
    """Of the interactions after each user's first, the share on an item the user already had."""
    users = int((np.diff(matrix.indptr) > 0).sum())
    later = n_rows - users
    return float((n_rows - matrix.nnz) / later) if later > 0 else 0.0


def _shared_confidence(data: Interactions, rows: np.ndarray | None,
                       alpha: float | None) -> tuple[sp.csr_matrix, float]:
    """``confidence`` of the rows (a mask or indices; None = all), shared when they are all rows or
    the shared evaluation split's; callers only read the matrix."""
    split = data.derived.get(("split",))
    names = ("train_mask", "input_rows") if split is not None else ()
    name = "all" if rows is None else next((n for n in names if rows is getattr(split, n)), None)
    sel = slice(None) if rows is None else rows

    def make() -> tuple[sp.csr_matrix, float]:
        shape = (len(data.user_ids), len(data.item_ids))
        return confidence(data.users[sel], data.items[sel], data.weights[sel], shape, alpha)

    return make() if name is None else shared(data, ("confidence", name, alpha), make)


def fit(config: TrainingConfig, data: Interactions, mask: np.ndarray | None = None,
        items: pd.DataFrame | None = None) -> Model:
    """Train on the rows selected by ``mask`` (all rows when None); ``items`` = Items dataset."""
    sel = slice(None) if mask is None else mask
    shape = (len(data.user_ids), len(data.item_ids))
    matrix, alpha = _shared_confidence(data, mask, config.number("als_alpha", None))
    model = Model(
        recipe=config.recipe, user_ids=data.user_ids, item_ids=data.item_ids,
        popularity=unique_users_per_item(matrix),
        seen_indptr=matrix.indptr.astype(np.int64), seen_indices=matrix.indices.astype(np.int64),
        exclude_seen=config.flag("exclude_seen_items", _exclude_seen_default()),
        has_scores=config.recipe in ALS_RECIPES | RANKING_RECIPES, seen_data=matrix.data.copy(),
        repeat_share=repeat_share(matrix, len(data.users) if mask is None else int(mask.sum())),
        als_alpha=alpha,
    )
    if config.recipe == "aws-trending-now":
        model.popularity = similarity.trend_scores(data.items[sel], data.timestamps[sel], shape[1])
    if config.recipe in RELATED_RECIPES:
        similar = config.recipe == "aws-similar-items"
        meta = similarity.item_metadata(items, data.item_ids) if similar else None
        model.related = similarity.related_items(matrix, meta)
    if config.recipe in FACTOR_RECIPES:
        default_factors = int(min(64, max(8, shape[1] // 5)))
        settings = (int(config.number("hidden_dimension", default_factors)),
                    config.number("als_regularization", 0.1), int(config.number("als_iterations", 15)))
        model.user_factors, model.item_factors = als_factors(matrix, *settings, seed=SPLIT_SEED)
    return model


def refit_users(config: TrainingConfig, previous: Model, data: Interactions) -> Model:
    """UPDATE training: keep the item factors, recompute every user's factors on current data.

    Items the previous model never saw get zero factors (they rank as average).
    """
    if previous.item_factors is None:
        raise JobFailure("trainingMode UPDATE needs a user-personalization model.")
    from implicit.cpu.als import AlternatingLeastSquares

    shape = (len(data.user_ids), len(data.item_ids))
    matrix, alpha = confidence(data.users, data.items, data.weights, shape,
                               config.number("als_alpha", previous.als_alpha))
    factors = previous.item_factors.shape[1]
    item_factors = np.zeros((shape[1], factors), dtype=np.float32)
    item_factors[: len(previous.item_ids)] = previous.item_factors
    als = AlternatingLeastSquares(factors=factors, regularization=config.number("als_regularization", 0.1),
                                  num_threads=threads())
    als.item_factors = item_factors
    user_factors = als.recalculate_user(np.arange(shape[0]), matrix)
    return Model(
        recipe=config.recipe, user_ids=data.user_ids, item_ids=data.item_ids,
        popularity=unique_users_per_item(matrix),
        seen_indptr=matrix.indptr.astype(np.int64), seen_indices=matrix.indices.astype(np.int64),
        user_factors=np.ascontiguousarray(user_factors, dtype=np.float32), item_factors=item_factors,
        exclude_seen=previous.exclude_seen, has_scores=True, seen_data=matrix.data.copy(),
        repeat_share=repeat_share(matrix, len(data.users)), als_alpha=alpha,
    )


def _fold_in_inputs(config: TrainingConfig, model: Model, data: Interactions, rows: np.ndarray,
                    test_users: np.ndarray) -> None:
    """Give the trained model the test users' input interactions, as a campaign would see them:
    their factors solved against the fixed item factors, their input items as seen items."""
    shape = (len(data.user_ids), len(data.item_ids))
    inputs, _ = _shared_confidence(data, rows, model.als_alpha)
    if model.user_factors is not None:
        from implicit.cpu.als import AlternatingLeastSquares

        als = AlternatingLeastSquares(factors=model.item_factors.shape[1], num_threads=threads(),
                                      regularization=config.number("als_regularization", 0.1))
        als.item_factors = model.item_factors
        model.user_factors[test_users] = als.recalculate_user(test_users, inputs[test_users])
    seen = sp.csr_matrix((np.ones(len(model.seen_indices)), model.seen_indices, model.seen_indptr),
                         shape=shape) + inputs
    model.seen_indptr, model.seen_indices = seen.indptr.astype(np.int64), seen.indices.astype(np.int64)


@dataclass
class Split:
    """Rows of ``Interactions`` for the offline evaluation (see ``evaluation_split``)."""

    test_users: np.ndarray  # user codes, sorted
    train_mask: np.ndarray  # rows of the other users
    input_rows: np.ndarray  # the test users' oldest 90%, oldest first per user
    truth_rows: np.ndarray  # the test users' newest 10%


def evaluation_split(data: Interactions) -> Split:
    """The service's offline split: the model trains on 90% of the users; it is then given
    the oldest 90% of each other user's interactions as input and scored against the newest 10%
    ("Evaluating a solution version with metrics",
    https://docs.aws.amazon.com/personalize/latest/dg/working-with-training-metrics.html)."""
    order = np.lexsort((data.timestamps, data.users))
    users_sorted = data.users[order]
    size = np.bincount(data.users, minlength=len(data.user_ids))
    starts = np.concatenate([[0], np.cumsum(size)[:-1]])
    rank = np.arange(len(order)) - starts[users_sorted]
    rng = np.random.default_rng(SPLIT_SEED)
    eligible = np.flatnonzero(size >= 2)
    n_test = min(len(eligible), max(1, round(0.1 * len(data.user_ids))))
    test_users = np.sort(rng.choice(eligible, size=n_test, replace=False))
    n_truth = np.maximum(1, np.round(0.1 * size)).astype(np.int64)
    is_test = np.zeros(len(data.user_ids), dtype=bool)
    is_test[test_users] = True
    truth_sorted = is_test[users_sorted] & (rank >= size[users_sorted] - n_truth[users_sorted])
    return Split(test_users=test_users, train_mask=~is_test[data.users], truth_rows=order[truth_sorted],
                 input_rows=order[is_test[users_sorted] & ~truth_sorted])


def fit_for_evaluation(config: TrainingConfig, data: Interactions, split: Split,
                       items_frame: pd.DataFrame | None = None) -> Model:
    model = fit(config, data, split.train_mask, items_frame)
    _fold_in_inputs(config, model, data, split.input_rows, split.test_users)
    return model


def evaluate(config: TrainingConfig, data: Interactions,
             items_frame: pd.DataFrame | None = None) -> dict[str, float]:
    """Offline metrics of a model trained and given input as ``evaluation_split`` says."""
    split = shared(data, ("split",), partial(evaluation_split, data))
    test_users, input_rows, truth_rows = split.test_users, split.input_rows, split.truth_rows
    model = fit_for_evaluation(config, data, split, items_frame)
    if model.related is not None:  # related items: query with each test user's newest input item
        last_input = np.full(len(data.user_ids), -1)
        last_input[data.users[input_rows]] = data.items[input_rows]
        items, valid = similarity.related_rows(model, last_input[test_users], 25)
    else:
        items, _, valid = recommend(model, test_users, 25)
    truth_by_user: dict[int, set] = {}
    for u, i in zip(data.users[truth_rows].tolist(), data.items[truth_rows].tolist(), strict=True):
        truth_by_user.setdefault(u, set()).add(i)
    rankings = [items[j][valid[j]].tolist() for j in range(len(test_users))]
    truths = [truth_by_user.get(int(u), set()) for u in test_users]
    return summarise(rankings, truths, len(data.item_ids))


SEGMENT_TEST_SHARE = 0.2  # USER_SEGMENTATION: each user's newest 20% is the test set
SEGMENT_TOP_USERS = 0.01  # K = the top 1% of users
SEGMENT_ITEMS_PER_BLOCK = 32  # items scored against every user at once (a few MB per block)


def evaluate_segments(config: TrainingConfig, data: Interactions) -> dict[str, float]:
    """The guide's split for USER_SEGMENTATION recipes: the oldest 80% of each user's interactions
    train, the newest 20% test; for each item in the test set, the top 1% of users by affinity, other
    than those it was trained with (they are known, not predicted), are compared with the users who
    interacted with it there (see ``metrics.segment_summary``)."""
    order = np.lexsort((data.timestamps, data.users))
    users_sorted = data.users[order]
    size = np.bincount(data.users, minlength=len(data.user_ids))
    starts = np.concatenate([[0], np.cumsum(size)[:-1]])
    rank = np.arange(len(order)) - starts[users_sorted]
    n_test = np.where(size >= 2, np.maximum(1, np.round(SEGMENT_TEST_SHARE * size)), 0).astype(np.int64)
    test_rows = order[rank >= size[users_sorted] - n_test[users_sorted]]
    train_mask = np.ones(len(data.users), dtype=bool)
    train_mask[test_rows] = False
    model = fit(config, data, train_mask)
    shape = (len(data.item_ids), len(data.user_ids))
    actual = _item_users(data.items[test_rows], data.users[test_rows], shape)
    known = _item_users(data.items[train_mask], data.users[train_mask], shape)
    k = max(1, int(np.ceil(SEGMENT_TOP_USERS * len(data.user_ids))))
    return _segment_scores(model, actual, known, k)


def _item_users(items: np.ndarray, users: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Items x users, 1 where the user interacted with the item (repeats counted once)."""
    matrix = sp.csr_matrix((np.ones(len(items), dtype=np.int8), (items, users)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def _segment_scores(model: Model, actual: sp.csr_matrix, known: sp.csr_matrix, k: int) -> dict[str, float]:
    """``segment_summary`` without a Python set per item: blocks of test items are scored against
    every user at once (threads share the blocks; numpy releases the GIL), the known users of an
    item are left out, and the top k users are counted against the item's test users."""
    items = np.flatnonzero(np.diff(actual.indptr))
    hits = np.zeros(len(items), dtype=np.int64)
    predicted = np.zeros(actual.shape[1], dtype=bool)
    users_t = np.ascontiguousarray(model.user_factors.T)

    def work(span: tuple[int, int]) -> None:
        block = items[span[0]:span[1]]
        rows = np.arange(len(block))
        affinity = model.item_factors[block] @ users_t  # items x users
        seen = known[block]
        affinity[np.repeat(rows, np.diff(seen.indptr)), seen.indices] = -np.inf
        top = best_columns(affinity, min(k, affinity.shape[1]))
        truth = actual[block].toarray().astype(bool)
        hits[span[0]:span[1]] = np.take_along_axis(truth, top, axis=1).sum(axis=1)
        predicted[top.ravel()] = True

    spans = [(i, min(i + SEGMENT_ITEMS_PER_BLOCK, len(items)))
             for i in range(0, len(items), SEGMENT_ITEMS_PER_BLOCK)]
    with ThreadPoolExecutor(max(1, min(threads(), len(spans)))) as pool:
        list(pool.map(work, spans))
    truth_sizes = np.diff(actual.indptr)[items]
    return segment_metrics(hits.tolist(), truth_sizes.tolist(), int(predicted.sum()), actual.shape[1])


Prepared = Callable[[TrainingConfig], Interactions]  # FULL training's data, when the caller keeps it


def train(frame: pd.DataFrame | None, config: TrainingConfig, mode: str = "FULL",
          previous: Model | None = None, items: pd.DataFrame | None = None,
          prepared: Prepared | None = None) -> tuple[Model, dict[str, float] | None]:
    """Returns the final model and, for FULL training, the offline metrics (``prepared``, when
    given, stands for ``prepare(frame, config)``)."""
    if config.recipe not in TRAINABLE_RECIPES:
        raise JobFailure(f"Recipe {config.recipe} is not supported by the local Personalize service; "
                         f"supported: {sorted(TRAINABLE_RECIPES)}.")
    if mode == "UPDATE":
        if previous is None:
            raise JobFailure("trainingMode UPDATE needs an ACTIVE solution version trained with FULL.")
        data = prepare(frame, config, item_order=previous.item_ids)
        return refit_users(config, previous, data), None
    if config.recipe == "aws-similar-items" and (items is None or items.empty):
        raise JobFailure("aws-similar-items needs an Items dataset with data; import items first.")
    data = prepared(config) if prepared is not None else prepare(frame, config)
    if config.recipe in SEGMENT_RECIPES:
        return fit(config, data), evaluate_segments(config, data)
    metrics = evaluate(config, data, items)
    return fit(config, data, items=items), metrics
