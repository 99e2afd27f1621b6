"""Filters, popularity, seen items and appended events, checked against slow reference code."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from local_aws.personalize.errors import InvalidInput, JobFailure
from local_aws.personalize.filter_masks import query_masks
from local_aws.personalize.filtering import FilterContext
from local_aws.personalize.imports import DatasetFiles
from local_aws.personalize.scoring import Model, recommend
from local_aws.personalize.segments import top_users
from local_aws.personalize.state import dataset_arn
from local_aws.personalize.training import TrainingConfig, prepare, train
from local_aws.testing import synthetic_interactions_csv

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/sem"
N_USERS, N_ITEMS = 40, 60


def _interactions(rng: np.random.Generator, rows: int = 1200) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "USER_ID": pd.array([f"u{u}" for u in rng.integers(0, N_USERS, rows)], dtype="string"),
            "ITEM_ID": pd.array([f"i{i}" for i in rng.integers(0, N_ITEMS, rows)], dtype="string"),
            "EVENT_TYPE": pd.array(
                rng.choice(["view", "purchase", "cart"], rows, p=[0.6, 0.2, 0.2]), dtype="string"
            ),
            "TIMESTAMP": pd.array(1_700_000_000 + rng.permutation(rows), dtype="Int64"),
        }
    )


@pytest.fixture
def files(tmp_path) -> DatasetFiles:
    rng = np.random.default_rng(3)
    files = DatasetFiles(tmp_path)
    files.save(dataset_arn(GROUP, "INTERACTIONS"), _interactions(rng))
    files.save(
        dataset_arn(GROUP, "ITEMS"),
        pd.DataFrame(
            {
                "ITEM_ID": pd.array([f"i{i}" for i in range(N_ITEMS)], dtype="string"),
                "CATEGORY": pd.array([f"c{i % 4}" for i in range(N_ITEMS)], dtype="string"),
                "PRICE": np.arange(N_ITEMS, dtype=float),
            }
        ),
    )
    files.save(
        dataset_arn(GROUP, "USERS"),
        pd.DataFrame(
            {
                "USER_ID": pd.array(
                    [f"u{u}" for u in range(0, N_USERS, 2)], dtype="string"
                ),  # odd users: no row
                "AGE": pd.array(list(range(20, 20 + N_USERS // 2)), dtype="Int64"),
            }
        ),
    )
    return files


def _context(files, expression, values=None, target="ItemID") -> FilterContext:
    return FilterContext(files, {"datasetGroupArn": GROUP, "filterExpression": expression}, values, target)


def _reference_mask(files, user: str, item_ids: np.ndarray, expression: str) -> np.ndarray:
    """The documented semantics, one user at a time, in plain Python."""
    events = files.load(dataset_arn(GROUP, "INTERACTIONS"))
    mine = events[events["USER_ID"] == user].sort_values("TIMESTAMP", ascending=False)
    newest = {t: set(g["ITEM_ID"].head(100)) for t, g in mine.groupby("EVENT_TYPE")}
    items = files.load(dataset_arn(GROUP, "ITEMS")).set_index("ITEM_ID")
    users = files.load(dataset_arn(GROUP, "USERS")).set_index("USER_ID")
    age = users["AGE"].get(user)
    include, exclude = None, set()
    for clause in expression.split("|"):
        action = clause.split()[0]
        if "IF CurrentUser.AGE > 30" in clause and (age is None or pd.isna(age) or not age > 30):
            continue
        if "Interactions.EVENT_TYPE" in clause:
            types = [t for t in ("view", "purchase", "cart") if f'"{t}"' in clause]
            chosen = {i for t in types for i in newest.get(t, ())}
        elif "Items.CATEGORY" in clause:
            cats = [c for c in ("c0", "c1", "c2", "c3") if f'"{c}"' in clause]
            chosen = set(items.index[items["CATEGORY"].isin(cats)])
        else:  # Items.PRICE < 20
            chosen = set(items.index[items["PRICE"] < 20])
        if action == "INCLUDE":
            include = chosen if include is None else include | chosen
        else:
            exclude |= chosen
    return np.array([(include is None or i in include) and i not in exclude for i in item_ids])


EXPRESSIONS = (
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")',
    'INCLUDE ItemID WHERE Items.CATEGORY IN ("c1", "c2") '
    '| EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("view")',
    "INCLUDE ItemID WHERE Items.PRICE < 20 IF CurrentUser.AGE > 30 "
    '| EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("cart", "purchase")',
)


def _model(seed: int = 0, factors: int = 6) -> Model:
    rng = np.random.default_rng(seed)
    return Model(
        recipe="aws-user-personalization",
        user_ids=np.array([f"u{u}" for u in range(N_USERS)]),
        item_ids=np.array([f"i{i}" for i in rng.permutation(N_ITEMS)]),  # not the dataset's order
        popularity=rng.integers(0, 50, N_ITEMS).astype(float),
        seen_indptr=np.zeros(N_USERS + 1, dtype=np.int64),
        seen_indices=np.zeros(0, dtype=np.int64),
        user_factors=rng.normal(size=(N_USERS, factors)).astype(np.float32),
        item_factors=rng.normal(size=(N_ITEMS, factors)).astype(np.float32),
    )


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_batch_masks_and_filtered_top_k_equal_a_slow_reference(files, expression):
    model = _model()
    users = [f"u{u}" for u in range(N_USERS)] + ["stranger"]
    queries = [{"userId": u} for u in users]
    context = _context(files, expression)
    masks = query_masks([context] * len(queries), model.item_ids, queries)
    dense = masks.rows(np.arange(len(queries)))
    for j, user in enumerate(users):
        assert (dense[j] == _reference_mask(files, user, model.item_ids, expression)).all(), (
            expression,
            user,
        )
        assert (context.mask(model.item_ids, user) == dense[j]).all()

    items, scores, valid = recommend(model, model.user_index(users), 10, threads=2, allowed=masks.rows)
    unfiltered_items, unfiltered_scores, _ = recommend(model, model.user_index(users), N_ITEMS)
    for j in range(len(users)):
        keep = dense[j][unfiltered_items[j]]
        expected = unfiltered_items[j][keep][:10]
        assert items[j][valid[j]].tolist() == expected.tolist(), (expression, users[j])
        assert np.allclose(scores[j][valid[j]], unfiltered_scores[j][keep][:10])  # a filter only removes


def test_user_id_filters_select_segment_users(files):
    model = _model()
    adults = _context(files, "INCLUDE UserID WHERE Users.AGE > 30", target="UserID").user_mask(model.user_ids)
    assert adults.tolist() == [u % 2 == 0 and 20 + u // 2 > 30 for u in range(N_USERS)]
    events = files.load(dataset_arn(GROUP, "INTERACTIONS"))
    buyers = set(events.loc[events["EVENT_TYPE"] == "purchase", "USER_ID"])
    no_buyers = _context(
        files,
        "EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ($TYPE)",
        {"TYPE": '"purchase"'},
        target="UserID",
    ).user_mask(model.user_ids)
    assert no_buyers.tolist() == [u not in buyers for u in model.user_ids]
    chosen = top_users(model, model.item_factors[0], 5, adults)
    assert len(chosen) == 5 and all(adults[model.user_index([u])[0]] for u in chosen)
    assert top_users(model, model.item_factors[0], 5, np.zeros(N_USERS, dtype=bool)) == []
    with pytest.raises(InvalidInput, match="UserID"):
        _context(files, "INCLUDE UserID WHERE Users.AGE > 30")  # not for item recommendations
    with pytest.raises(InvalidInput, match="ItemID"):
        _context(files, 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("c1")', target="UserID")


def test_interaction_filters_see_only_the_newest_100_per_event_type(tmp_path):
    files = DatasetFiles(tmp_path)
    purchases = [("u1", f"i{n}", "purchase", 1_000 + n) for n in range(150)]  # i0..i49 are the oldest
    views = [("u1", f"v{n}", "view", 5_000 + n) for n in range(120)]  # newer, another type
    frame = pd.DataFrame(purchases + views, columns=["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"])
    files.save(dataset_arn(GROUP, "INTERACTIONS"), frame)
    item_ids = np.array([f"i{n}" for n in range(150)] + [f"v{n}" for n in range(120)])
    allowed = _context(files, 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")').mask(
        item_ids, "u1"
    )
    assert allowed[:50].all() and not allowed[50:150].any() and allowed[150:].all()
    allowed = _context(files, 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("view")').mask(item_ids, "u1")
    assert allowed[:150].all() and allowed[150:170].all() and not allowed[170:].any()


def _frame(csv: str) -> pd.DataFrame:
    return pd.read_csv(
        io.StringIO(csv), dtype={"USER_ID": "string", "ITEM_ID": "string", "EVENT_TYPE": "string"}
    )


def test_popularity_count_gives_everyone_one_list_ranked_by_unique_users():
    rng = np.random.default_rng(5)
    rows = [("fan", "busy", "view", n) for n in range(400)]  # many events, one user
    rows += [(f"u{u}", "shared", "view", 1_000 + u) for u in range(30)]  # fewer events, many users
    rows += [(f"u{u}", f"i{rng.integers(0, 40)}", "view", 2_000 + n) for n in range(900) for u in [n % 60]]
    frame = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"])
    model, metrics = train(frame, TrainingConfig(recipe="aws-popularity-count"))
    names = model.item_ids.tolist()
    assert model.popularity[names.index("shared")] == 30 and model.popularity[names.index("busy")] == 1
    items, _, valid = recommend(model, model.user_index(["fan", "u0", "u7", "stranger"]), 10)
    assert valid.all() and (items == items[0]).all()  # the same list for everyone, seen items included
    assert names[items[0][0]] == "shared" and names.index("busy") not in items[0]
    assert set(metrics) >= {"coverage", "precision_at_10"}


def test_seen_items_are_kept_by_default_and_the_option_drops_them(monkeypatch):
    frame = _frame(synthetic_interactions_csv())
    repeats = frame.sample(frac=0.6, random_state=1).assign(TIMESTAMP=lambda f: f["TIMESTAMP"] + 10**6)
    frame = pd.concat([frame, repeats], ignore_index=True)  # users come back to their items often

    def top(model) -> tuple[np.ndarray, list[set]]:
        rows = np.arange(20)
        items, _, valid = recommend(model, rows, 10)
        assert valid.all()
        seen = [
            set(model.seen_indices[model.seen_indptr[r] : model.seen_indptr[r + 1]].tolist()) for r in rows
        ]
        return items, seen

    kept, _ = train(frame, TrainingConfig(recipe="aws-user-personalization"))
    assert not kept.exclude_seen and kept.repeat_share > 0.3
    items, seen = top(kept)
    assert sum(len(set(items[j].tolist()) & seen[j]) for j in range(20)) >= 20  # seen items recommended

    dropped, _ = train(
        frame, TrainingConfig(recipe="aws-user-personalization", hyper={"exclude_seen_items": "true"})
    )
    items, seen = top(dropped)
    assert dropped.exclude_seen and all(not set(items[j].tolist()) & seen[j] for j in range(20))
    monkeypatch.setenv("LOCAL_PERSONALIZE_EXCLUDE_SEEN", "true")
    assert train(frame, TrainingConfig(recipe="aws-user-personalization"))[0].exclude_seen


def test_appended_events_reach_training_and_filters_without_rewriting_the_dataset(files):
    arn = dataset_arn(GROUP, "INTERACTIONS")
    parquet = files.path(arn)
    before = parquet.stat()
    rows = len(files.load(arn))
    item_ids = np.array([f"i{i}" for i in range(N_ITEMS)] + ["brand-new"])
    exclude = _context(files, 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")')
    assert exclude.mask(item_ids, "u1")[-1]
    for n in range(3):
        files.append(
            arn,
            pd.DataFrame(
                {
                    "USER_ID": pd.array(["u1"], dtype="string"),
                    "ITEM_ID": pd.array(["brand-new"], dtype="string"),
                    "EVENT_TYPE": pd.array(["purchase"], dtype="string"),
                    "TIMESTAMP": pd.array([1_800_000_000 + n], dtype="Int64"),
                }
            ),
        )
    after = parquet.stat()
    assert (after.st_mtime_ns, after.st_size) == (
        before.st_mtime_ns,
        before.st_size,
    )  # appended, not rewritten
    loaded = files.load(arn)
    assert len(loaded) == rows + 3 and loaded["TIMESTAMP"].dtype == "Int64"
    assert not exclude.mask(item_ids, "u1")[-1]  # filters see the new purchase
    data = prepare(loaded, TrainingConfig(recipe="aws-user-personalization"))
    assert "brand-new" in data.item_ids.tolist() and len(data.users) == rows + 3
    files.save(arn, files.bulk(arn))  # an import folds the log in
    assert not files.log_path(arn).exists() and len(files.load(arn)) == rows + 3


def test_trainings_on_one_version_of_the_data_prepare_it_once(tmp_path):
    from local_aws.personalize.work import prepared_interactions

    files = DatasetFiles(tmp_path)
    arn = dataset_arn(GROUP, "INTERACTIONS")
    frame = pd.read_csv(io.StringIO(synthetic_interactions_csv(n_users=80, n_items=80, per_user=20, seed=2)))
    files.save(arn, frame)
    first = prepared_interactions(files, arn, TrainingConfig(recipe="aws-user-personalization"))
    assert prepared_interactions(files, arn, TrainingConfig(recipe="aws-item-affinity")) is first
    views = prepared_interactions(files, arn, TrainingConfig(recipe="aws-item-affinity", event_type="click"))
    assert views is not first and len(views.users) == int((frame["EVENT_TYPE"] == "click").sum())
    files.save(arn, frame.iloc[:-5])  # a new version of the data is prepared again
    again = prepared_interactions(files, arn, TrainingConfig(recipe="aws-user-personalization"))
    assert len(again.users) == len(first.users) - 5
    empty = dataset_arn(GROUP.replace("/sem", "/none"), "INTERACTIONS")
    with pytest.raises(JobFailure, match="no interactions data"):
        prepared_interactions(files, empty, TrainingConfig(recipe="aws-user-personalization"))
