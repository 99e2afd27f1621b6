"""user-personalization's training settings: the confidence alpha follows the data's density, and
everything that rebuilds confidences from a model (evaluation fold-in, UPDATE, live events) uses
the alpha the model was trained with."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from local_aws.personalize import als, training
from local_aws.personalize.live import LiveEvents
from local_aws.personalize.scoring import Model, fold_in
from local_aws.testing import synthetic_interactions_csv

UP = "aws-user-personalization"


def interactions(n_users: int, n_items: int, per_user: int) -> training.Interactions:
    csv = synthetic_interactions_csv(n_users=n_users, n_items=n_items, per_user=per_user, seed=3)
    return training.prepare(pd.read_csv(io.StringIO(csv)), training.TrainingConfig(recipe=UP))


def cells(n_users: int, n_items: int, per_user: int) -> sp.csr_matrix:
    users = np.repeat(np.arange(n_users), per_user)
    items = (users * 7 + np.tile(np.arange(per_user), n_users)) % n_items
    return sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(n_users + 5, n_items))


def test_alpha_keeps_alpha_times_density_fixed_on_sparse_data():
    dense = cells(50, 100, 20)  # 20% of the cells (empty rows do not count)
    assert als.default_alpha(dense) == als.ALPHA_MIN
    sparse = cells(1000, 4000, 6)
    assert als.default_alpha(sparse) == pytest.approx(als.ALPHA_DENSITY * 4000 / 6)
    sparser = cells(1000, 8000, 6)
    assert als.default_alpha(sparser) == pytest.approx(2 * als.default_alpha(sparse))


def test_training_records_its_alpha_and_a_hyperparameter_overrides_it():
    data = interactions(n_users=200, n_items=2000, per_user=6)
    model = training.fit(training.TrainingConfig(recipe=UP), data)
    pairs = len(set(zip(data.users.tolist(), data.items.tolist(), strict=True)))
    density = pairs / (len(data.user_ids) * len(data.item_ids))
    assert model.als_alpha == pytest.approx(als.ALPHA_DENSITY / density) and model.als_alpha > als.ALPHA_MIN
    chosen = training.fit(training.TrainingConfig(recipe=UP, hyper={"als_alpha": "12.5"}), data)
    assert chosen.als_alpha == 12.5


def test_evaluation_folds_test_users_in_with_the_models_alpha():
    from implicit.cpu.als import AlternatingLeastSquares

    data = interactions(n_users=200, n_items=2000, per_user=6)
    config = training.TrainingConfig(recipe=UP)
    split = training.evaluation_split(data)
    model = training.fit_for_evaluation(config, data, split)
    rows = split.input_rows
    shape = (len(data.user_ids), len(data.item_ids))
    inputs, _ = training.confidence(
        data.users[rows], data.items[rows], data.weights[rows], shape, model.als_alpha
    )
    solver = AlternatingLeastSquares(factors=model.item_factors.shape[1], regularization=0.1)
    solver.item_factors = model.item_factors
    expected = solver.recalculate_user(split.test_users, inputs[split.test_users])
    assert np.allclose(model.user_factors[split.test_users], expected, atol=1e-4)


def test_update_training_keeps_the_previous_models_alpha():
    data = interactions(n_users=200, n_items=2000, per_user=6)
    previous = training.fit(training.TrainingConfig(recipe=UP, hyper={"als_alpha": "77"}), data)
    updated = training.refit_users(training.TrainingConfig(recipe=UP), previous, data)
    assert updated.als_alpha == 77
    assert np.allclose(updated.seen_data, previous.seen_data)


def test_a_model_keeps_its_alpha_when_saved(tmp_path):
    model = Model(
        recipe=UP,
        user_ids=np.array(["u"]),
        item_ids=np.array(["a", "b"]),
        popularity=np.ones(2),
        seen_indptr=np.array([0, 1]),
        seen_indices=np.array([0]),
        als_alpha=123.0,
    )
    model.save(tmp_path / "model.npz")
    assert Model.load(tmp_path / "model.npz").als_alpha == 123.0
    with np.load(tmp_path / "model.npz") as z:
        older = {name: z[name] for name in z.files if name != "als_alpha"}
    np.savez(tmp_path / "older.npz", **older)  # saved before models kept their alpha: the old default
    assert Model.load(tmp_path / "older.npz").als_alpha == 10.0


def test_live_events_fold_in_with_the_models_alpha():
    alpha, weights = 150.0, np.array([1.0, 3.0])
    rng = np.random.default_rng(0)
    model = Model(
        recipe=UP,
        user_ids=np.array(["u"]),
        item_ids=np.array([f"i{n}" for n in range(12)]),
        popularity=np.ones(12),
        seen_indptr=np.array([0, 2]),
        seen_indices=np.array([0, 1]),
        user_factors=rng.normal(size=(1, 3)).astype(np.float32),
        item_factors=rng.normal(size=(12, 3)).astype(np.float32),
        seen_data=(1 + alpha * np.log1p(weights)).astype(np.float32),
        als_alpha=alpha,
    )
    live = LiveEvents()
    live.add("group", "u", ["i1", "i2", "i3"])
    vector, items = live.user_state(model, "group", "u")
    assert items.tolist() == [0, 1, 2, 3]
    expected = fold_in(model, items, 1 + alpha * np.log1p(np.array([1.0, 4.0, 1.0, 1.0])))
    assert np.allclose(vector, expected, rtol=1e-4)
