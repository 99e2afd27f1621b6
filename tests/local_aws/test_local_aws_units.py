"""Pure-function checks: metrics, scoring, request routing helpers."""

from __future__ import annotations

import numpy as np

from local_aws.personalize.metrics import (
    ndcg_at_k,
    precision_at_k,
    reciprocal_rank_at_k,
    segment_summary,
    summarise,
)
from local_aws.personalize.protocol import credential_scope
from local_aws.personalize.scoring import Model, recommend


def test_ndcg_matches_the_guides_example():
    ranked = ["a", "r1", "b", "c", "r2"]
    assert round(ndcg_at_k(ranked, {"r1", "r2"}, 5), 4) == 0.6241


def test_precision_and_reciprocal_rank():
    ranked = ["a", "r1", "b", "c", "r2"]
    assert precision_at_k(ranked, {"r1", "r2"}, 5) == 0.4
    assert reciprocal_rank_at_k(ranked, {"r1", "r2"}, 25) == 0.5
    assert reciprocal_rank_at_k(ranked, {"zz"}, 25) == 0.0
    summary = summarise([ranked], [{"r1", "r2"}], n_items=10)
    assert summary["coverage"] == 0.5 and summary["precision_at_5"] == 0.4


def test_segment_metrics_count_the_predicted_users_who_did_interact():
    # item A: 2 of its 4 actual users predicted; item B: none of its 1
    predicted = [["u1", "u2", "u9"], ["u3", "u1", "u8"]]
    summary = segment_summary(predicted, [{"u1", "u2", "u4", "u5"}, {"u6"}], n_users=10)
    assert summary == {"coverage": 0.5, "hit_at_k": 1.0, "recall_at_k": 0.25}


def test_vectorised_segment_evaluation_matches_the_per_item_definition():
    import scipy.sparse as sp

    from local_aws.personalize.training import _segment_scores

    model, _ = _model(n_users=400, n_items=60)
    rng = np.random.default_rng(3)

    def item_users(n):  # items x users, repeats included (counted once)
        cells = (rng.integers(0, 60, n), rng.integers(0, 400, n))
        return sp.csr_matrix((np.ones(n, dtype=np.int8), cells), shape=(60, 400))

    actual, known = item_users(900), item_users(3000)
    actual[7] = 0  # an item without test users is not queried
    actual.eliminate_zeros()
    k = 4
    predicted, truths = [], []
    for item in np.flatnonzero(np.diff(actual.indptr)):
        scores = model.user_factors @ model.item_factors[item]
        scores[known[item].indices] = -np.inf
        predicted.append(np.argsort(-scores)[:k].tolist())
        truths.append(set(actual[item].indices.tolist()))
    assert _segment_scores(model, actual, known, k) == segment_summary(predicted, truths, n_users=400)


def test_segments_of_many_items_are_each_items_top_users():
    from local_aws.personalize.segments import top_users_of

    model, _ = _model(n_users=200, n_items=70)
    allowed = np.arange(200) % 3 > 0
    for mask in (None, allowed):
        segments = top_users_of(model, model.item_factors, 6, mask)  # more items than one block
        assert len(segments) == 70
        for item, users in enumerate(segments):
            scores = model.user_factors @ model.item_factors[item]
            if mask is not None:
                scores[~mask] = -np.inf
            assert users == model.user_ids[np.argsort(-scores)[:6]].tolist()


def test_solutions_trained_on_the_same_data_share_one_als_fit():
    import io

    import pandas as pd

    from local_aws.personalize import als, training
    from local_aws.testing import synthetic_interactions_csv

    frame = pd.read_csv(io.StringIO(synthetic_interactions_csv(n_users=60, n_items=80, per_user=20, seed=7)))
    personalization = training.TrainingConfig(recipe="aws-user-personalization")
    affinity = training.TrainingConfig(recipe="aws-item-affinity")
    data = training.prepare(frame, personalization)
    first = training.fit(personalization, data)
    fits = dict(als._fits)
    first.user_factors[:] = 0  # a caller's change stays in its copy
    second = training.fit(affinity, training.prepare(frame, affinity))
    assert als._fits.keys() == fits.keys()  # reused, not fitted again
    assert all(als._fits[key] is fitted for key, fitted in fits.items())
    assert second.user_factors.any() and second.user_factors.shape == (60, first.item_factors.shape[1])
    assert np.array_equal(second.item_factors, first.item_factors)
    fewer_iterations = training.TrainingConfig(recipe="aws-item-affinity", hyper={"als_iterations": "3"})
    other = training.fit(fewer_iterations, data)
    assert not np.array_equal(other.item_factors, first.item_factors)  # other settings: another fit


def test_credential_scope():
    header = (
        "AWS4-HMAC-SHA256 Credential=testing/20250101/eu-west-1/personalize/aws4_request, "
        "SignedHeaders=host, Signature=abc"
    )
    assert credential_scope(header) == ("eu-west-1", "personalize")
    assert credential_scope("") == (None, None)


def _model(n_users=50, n_items=300, factors=8, seed=0):
    rng = np.random.default_rng(seed)
    seen = [np.sort(rng.choice(n_items, size=5, replace=False)) for _ in range(n_users)]
    return Model(
        recipe="aws-user-personalization",
        user_ids=np.array([f"u{i}" for i in range(n_users)]),
        item_ids=np.array([f"i{i}" for i in range(n_items)]),
        popularity=rng.integers(0, 50, n_items).astype(float),
        seen_indptr=np.arange(0, 5 * n_users + 1, 5),
        seen_indices=np.concatenate(seen),
        user_factors=rng.normal(size=(n_users, factors)).astype(np.float32),
        item_factors=rng.normal(size=(n_items, factors)).astype(np.float32),
        exclude_seen=True,
    ), seen


def test_recommend_is_sorted_excludes_seen_and_scores_are_a_distribution():
    model, seen = _model()
    rows = np.array([0, 1, -1, 7])
    items, scores, valid = recommend(model, rows, 25, threads=2)
    assert items.shape == (4, 25) and valid.all()
    for j, row in enumerate(rows):
        assert np.all(np.diff(scores[j]) <= 0)
        if row >= 0:
            assert not set(items[j]) & set(seen[row])
            logits = model.user_factors[row] @ model.item_factors.T
            best = [i for i in np.argsort(-logits) if i not in set(seen[row])][:25]
            assert list(items[j]) == best
    # full-catalogue scores sum to one for a known user
    full_items, full_scores, full_valid = recommend(model, np.array([3]), 300)
    assert full_valid.sum() == 295
    assert abs(full_scores[0][full_valid[0]].sum() - 1.0) < 1e-4
    # cold users get the popular list with popularity shares
    assert list(items[2]) == list(np.argsort(-model.popularity, kind="stable")[:25])


def test_filter_parser_grammar():
    import pytest

    from local_aws.personalize.errors import InvalidInput
    from local_aws.personalize.filter_expr import Param, bind, parse, parse_condition, placeholder_values

    expr = parse(
        'INCLUDE ItemID WHERE Items.CATEGORY IN ($CAT) AND Items.PRICE <= 20 OR Items.X = "y" '
        '| EXCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN ("view")'
    )
    include, exclude = expr.clauses
    assert include.action == "INCLUDE" and len(include.terms) == 2 and len(include.terms[0]) == 2
    assert include.terms[0][0].values == [Param("CAT")] and include.terms[0][1].op == "<="
    assert exclude.terms[0][0].op == "NOT IN" and exclude.dataset == "Interactions"
    assert placeholder_values('"a","b"') == ["a", "b"] and placeholder_values("10") == [10.0]
    bound = bind(expr, {"CAT": '"books"'})
    assert bound[0].terms[0][0].values == ["books"]
    with pytest.raises(InvalidInput):
        bind(expr, {})  # INCLUDE needs every placeholder
    excl = parse("EXCLUDE ItemID WHERE Items.CATEGORY IN ($CAT)")
    assert bind(excl, {}) == []  # EXCLUDE without a value: that part is off
    assert parse_condition('ITEMS.CATEGORY = "books"')[0][0].values == ["books"]
    for bad in (
        'INCLUDE ItemID Items.X IN ("a")',
        'EXCLUDE ItemID WHERE Items.X < "a"',
        'INCLUDE ItemID WHERE Items.A IN ("a") AND Interactions.EVENT_TYPE IN ("b")',
        'INCLUDE ItemID WHERE Interactions.ITEM_ID IN ("a")',
        "INCLUDE ItemID WHERE Items.A IN (",
        "INCLUDE ItemID WHERE Users.AGE > 3",
        'INCLUDE ItemID WHERE Items.A ~ "x"',
    ):
        with pytest.raises(InvalidInput):
            parse(bad)


def test_related_items_and_trends():
    import scipy.sparse as sp

    from local_aws.personalize.similarity import related_items, trend_scores

    # items 0,1 always together; 2,3 together
    matrix = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 1]], dtype=float))
    related = related_items(matrix)
    assert related[0][0] == 1 and related[2][0] == 3 and 0 not in related[0]
    stamps = np.array([0, 1, 2, 3, 95, 96, 97, 98, 99, 50])
    items = np.array([0, 0, 0, 0, 1, 1, 1, 0, 2, 1])
    scores = trend_scores(items, stamps, 3)
    assert scores.argmax() == 1


def test_solutions_evaluated_on_the_same_data_share_its_split_and_matrices():
    import io

    import pandas as pd

    from local_aws.personalize import training
    from local_aws.testing import synthetic_interactions_csv

    frame = pd.read_csv(io.StringIO(synthetic_interactions_csv(n_users=80, n_items=60, per_user=20, seed=5)))
    data = training.prepare(frame, training.TrainingConfig(recipe=""))
    for recipe in ("aws-user-personalization", "aws-popularity-count", "aws-sims"):
        config = training.TrainingConfig(recipe=recipe)
        _, metrics = training.train(None, config, prepared=lambda _: data)
        _, alone = training.train(frame, config)  # prepared for this training only: nothing shared
        assert metrics == alone
    assert set(data.derived) == {
        ("split",),
        ("confidence", "all", None),  # alpha from the data's density (10 on data this dense)
        ("confidence", "train_mask", None),
        ("confidence", "input_rows", 10.0),  # the trained model's alpha
    }
    split = data.derived[("split",)]
    before = {key: value[0].copy() for key, value in data.derived.items() if key[0] == "confidence"}
    training.train(None, training.TrainingConfig(recipe="aws-user-personalization"), prepared=lambda _: data)
    assert data.derived[("split",)] is split  # reused, not made again
    assert all((data.derived[key][0] != matrix).nnz == 0 for key, matrix in before.items())  # only read
