"""No schema or filter expression, however malformed, makes the service answer with a 5xx.

A seeded generator mutates valid inputs (JSON trees for schemas, token lists and text for filter
expressions) and sends each through boto3 with retries off, so a 500 shows as itself.
"""

from __future__ import annotations

import json
import random
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import INTERACTIONS_SCHEMA

from local_aws.testing import DUMMY_CREDENTIALS

CASES = 1500
SEED = 20261203
SCALARS = ["string", "long", "int", "float", "double", "boolean", "null", "record", "map", "array", "enum"]
SCHEMA_SEEDS = [
    json.loads(INTERACTIONS_SCHEMA),
    {
        "type": "record",
        "name": "Items",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "CATEGORY", "type": ["null", "string"], "categorical": True},
        ],
    },
]
FILTER_SEEDS = [
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")',
    'INCLUDE ItemID WHERE Items.CATEGORY IN ($CAT) AND Items.PRICE < 10 | EXCLUDE ItemID WHERE Items.X = "a"',
    'INCLUDE UserID WHERE Users.AGE >= 18 OR Users.TIER NOT IN ("free") IF CurrentUser.TIER = "gold"',
    "INCLUDE ItemID WHERE Items.GENRE IN (CurrentItem.GENRE)",
]
FILTER_WORDS = [
    "INCLUDE",
    "EXCLUDE",
    "ItemID",
    "UserID",
    "WHERE",
    "AND",
    "OR",
    "IF",
    "IN",
    "NOT",
    "|",
    "(",
    ")",
    ",",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "*",
    "$P",
    '"x"',
    "1.5",
    "-3",
    "Items.A",
    "Users.B",
    "Interactions.EVENT_TYPE",
    "CurrentUser.C",
    "CurrentItem.D",
    "Items.",
    ".",
    '"',
    "\\",
    "$",
    "é",
]


def random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.choice(SCALARS)
    if kind == 1:
        return rng.choice([0, -1, 2**40, 1.5, float("1e308")])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return "".join(rng.choice('ab_Z0 "\\{}[]') for _ in range(rng.randrange(6)))
    if kind == 4:
        return ""
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 6:
        return {"type": random_json(rng, depth + 1), "values": random_json(rng, depth + 1)}
    return {rng.choice(["type", "name", "fields", "items"]): random_json(rng, depth + 1)}


def mutate_tree(rng: random.Random, node):
    """One random change somewhere in a JSON tree (a fresh copy is changed)."""
    node = json.loads(json.dumps(node))
    if not isinstance(node, dict | list) or not node or rng.random() < 0.2:
        return random_json(rng)
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    key = rng.choice(keys)
    action = rng.randrange(4)
    if action == 0:
        node[key] = mutate_tree(rng, node[key])
    elif action == 1:
        del node[key]
    elif action == 2 and isinstance(node, list):
        node.insert(rng.randrange(len(node) + 1), random_json(rng))
    elif action == 2:
        node[rng.choice(["type", "name", "fields", "extra"])] = random_json(rng)
    else:
        node[key] = [node[key], random_json(rng)]  # a union
    return node


def mutate_text(rng: random.Random, text: str) -> str:
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(text) + 1)
        text = (
            text[:at] + rng.choice(["", "\x00", "}", "]", '"', ",", "{", "ü"]) + text[at + rng.randrange(3) :]
        )
    return text


def mutate_schema(rng: random.Random, tree):
    """Half the time a change inside one field (where the types are), else anywhere."""
    fields = tree.get("fields") if isinstance(tree, dict) else None
    if not isinstance(fields, list) or not fields or rng.random() < 0.5:
        return mutate_tree(rng, tree)
    tree = json.loads(json.dumps(tree))
    at = rng.randrange(len(tree["fields"]))
    tree["fields"][at] = mutate_tree(rng, tree["fields"][at])
    return tree


def schema_cases(rng: random.Random):
    for _ in range(CASES):
        tree = rng.choice(SCHEMA_SEEDS)
        for _ in range(rng.randrange(1, 4)):
            tree = mutate_schema(rng, tree)
        text = json.dumps(tree)
        yield mutate_text(rng, text) if rng.random() < 0.2 else text


def filter_cases(rng: random.Random):
    for _ in range(CASES):
        tokens = rng.choice(FILTER_SEEDS).split()
        for _ in range(rng.randrange(1, 5)):
            at = rng.randrange(len(tokens) + 1)
            action = rng.randrange(3)
            if action == 0 and tokens[at:]:
                del tokens[at]
            elif action == 1:
                tokens.insert(at, rng.choice(FILTER_WORDS))
            elif tokens[at:]:
                tokens[at] = rng.choice(FILTER_WORDS)
        text = rng.choice([" ", ""]).join(tokens) or " "
        yield mutate_text(rng, text) if rng.random() < 0.2 else text


@pytest.fixture(scope="module")
def no_retries(endpoint):
    return boto3.client(
        "personalize",
        endpoint_url=endpoint,
        config=Config(retries={"total_max_attempts": 1}),
        **DUMMY_CREDENTIALS,
    )


def server_errors(call, inputs) -> list[tuple[str, str]]:
    """(input, error) for every input the service answered with a 5xx."""
    failures = []
    for text in inputs:
        try:
            call(text)
        except ClientError as exc:
            if exc.response["ResponseMetadata"]["HTTPStatusCode"] >= 500:
                failures.append((text, exc.response["Error"]["Code"]))
    return failures


def test_schemas_with_nested_types_are_invalid_input_naming_the_field(no_retries):
    for bad in (
        {"type": "string"},
        {"type": "map", "values": "string"},
        ["null", {"type": "array", "items": "int"}],
    ):
        schema = {
            "type": "record",
            "name": "S",
            "fields": [{"name": "USER_ID", "type": "string"}, {"name": "PRICE", "type": bad}],
        }
        with pytest.raises(no_retries.exceptions.InvalidInputException, match="Field PRICE"):
            no_retries.create_schema(name=f"nested-{uuid.uuid4().hex[:8]}", schema=json.dumps(schema))


def test_no_mutated_schema_gives_a_server_error(no_retries):
    rng = random.Random(SEED)
    failures = server_errors(
        lambda text: no_retries.create_schema(name=f"fuzz-{uuid.uuid4().hex[:12]}", schema=text),
        (text for text in schema_cases(rng) if text.strip()),
    )
    assert failures == []


def test_no_mutated_filter_expression_gives_a_server_error(no_retries, make_dataset):
    group, _ = make_dataset("fuzz-filters")
    rng = random.Random(SEED)
    failures = server_errors(
        lambda text: no_retries.create_filter(
            name=f"fuzz-{uuid.uuid4().hex[:12]}", datasetGroupArn=group, filterExpression=text
        ),
        filter_cases(rng),
    )
    assert failures == []


PARAM_FILTERS = [
    "INCLUDE ItemID WHERE Items.A IN ($P) AND Items.PRICE < $P | EXCLUDE ItemID WHERE Items.A = $Q",
    "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($P) IF CurrentUser.C IN ($Q)",
    'INCLUDE ItemID WHERE Items.A IN ("x") IF CurrentUser.C >= $P',
    "INCLUDE UserID WHERE Users.B IN ($P) OR Users.C > $Q",
]
FILTER_VALUE_SEEDS = ['"x"', '"x","y"', "1.5", "-3", '"a\\"b"', "*", "$P", "CurrentItem.D"]


def filter_values_cases(rng: random.Random):
    """Mostly maps of parameter names to mutated value strings; sometimes any JSON at all."""
    for _ in range(CASES):
        if rng.random() < 0.1:
            yield random_json(rng)
            continue
        values = {}
        for _ in range(rng.randrange(4)):
            name = rng.choice(["P", "Q", "p", "$P", "", "P" * 60, "é"])
            text = rng.choice(FILTER_VALUE_SEEDS)
            values[name] = (
                mutate_text(rng, text) if rng.random() < 0.3 else rng.choice([text, random_json(rng)])
            )
        yield values


def test_no_filter_values_fail_other_than_as_invalid_input(tmp_path):
    """Binding and applying fuzzed filterValues (what GetRecommendations and batch lines pass)
    raises InvalidInput or nothing: anything else would be a 500 or a failed batch job."""
    import numpy as np
    import pandas as pd

    from local_aws.personalize.errors import InvalidInput
    from local_aws.personalize.filtering import FilterContext
    from local_aws.personalize.imports import DatasetFiles
    from local_aws.personalize.state import dataset_arn

    group = "arn:aws:personalize:us-east-1:123456789012:dataset-group/fuzz"
    files = DatasetFiles(tmp_path)
    ids = [f"i{n}" for n in range(6)]
    files.save(
        dataset_arn(group, "ITEMS"),
        pd.DataFrame({"ITEM_ID": ids, "A": ["x", "y|x", "z", "", "x", "1.5"], "PRICE": np.arange(6.0)}),
    )
    files.save(
        dataset_arn(group, "USERS"),
        pd.DataFrame({"USER_ID": ["u1", "u2"], "B": ["x", "y"], "C": ["1.5", "-3"]}),
    )
    files.save(
        dataset_arn(group, "INTERACTIONS"),
        pd.DataFrame(
            {"USER_ID": ["u1", "u2"], "ITEM_ID": ["i1", "i2"], "EVENT_TYPE": ["x", "y"], "TIMESTAMP": [1, 2]}
        ),
    )
    rng = random.Random(SEED)
    expressions = PARAM_FILTERS + list(filter_cases(random.Random(SEED)))[:200]
    failures = []
    for values in filter_values_cases(rng):
        expression = rng.choice(expressions)
        target = "UserID" if "UserID" in expression else "ItemID"
        try:
            context = FilterContext(
                files, {"datasetGroupArn": group, "filterExpression": expression}, values, target=target
            )
            if target == "UserID":
                context.user_mask(np.array(["u1", "u2", "u3"]))
            else:
                context.mask(np.array(ids), "u1")
        except InvalidInput:
            pass
        except Exception as exc:  # any other error would be a 500 or a failed job
            failures.append((expression, values, repr(exc)))
    assert failures == []
