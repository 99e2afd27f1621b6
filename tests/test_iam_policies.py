"""The shipped IAM policies are valid; the Airflow policy grants every AWS call plugins/ makes, and no more.

The calls are read from the code itself: every method call on a boto3 client or on the Amazon
provider's S3/SNS hooks, every operation named in a string (paginators), the hook's ResourceKind
table and the waiters file. Each is mapped to the IAM action that authorizes it.
"""

from __future__ import annotations

import ast
import json
from collections import defaultdict
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[1]
IAM = ROOT / "include" / "iam"
PLUGINS = ROOT / "plugins"
WAITERS = PLUGINS / "personalize_provider" / "waiters" / "personalize.json"
SERVICES = ("personalize", "personalize-events", "s3", "sns")

# What the Amazon provider's hook methods used in plugins/ call, as plugins/ calls them (checked against
# the local endpoint by test_the_hook_methods_make_the_calls_listed_for_them).
HOOK_CALLS: dict[str, set[tuple[str, str]]] = {
    "list_keys": {("s3", "ListObjectsV2")},
    "iter_file_metadata": {("s3", "ListObjectsV2")},
    "check_for_key": {("s3", "HeadObject")},
    "read_key": {("s3", "HeadObject"), ("s3", "GetObject")},
    "get_key": {("s3", "HeadObject"), ("s3", "GetObject")},  # the S3 object it returns is read: .get()
    "load_string": {("s3", "PutObject")},  # with replace=True; otherwise a HeadObject first
    "delete_objects": {("s3", "DeleteObjects")},
    "publish_to_target": {("sns", "Publish")},
}

# S3 authorizes several operations by one action (AWS: "Actions, resources, and condition keys for S3").
S3_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObjects": "s3:DeleteObject",
}


def _policy(name: str) -> dict:
    return json.loads((IAM / name).read_text())


def _allowed(name: str) -> set[str]:
    return {
        action
        for st in _policy(name)["Statement"]
        for action in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }


def _operations() -> dict[str, set[tuple[str, str]]]:
    """boto3 method name -> (service, operation) in the services plugins/ uses, from botocore's models."""
    session = botocore.session.get_session()
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for service in SERVICES:
        for operation in session.get_service_model(service).operation_names:
            found[xform_name(operation)].add((service, operation))
    return found


def _hook_methods() -> set[str]:
    """Methods the Amazon provider's S3 and SNS hooks add to its base hook: each makes its own calls."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    return {name for cls in (S3Hook, SnsHook) for name in vars(cls) if not name.startswith("_")}


def _code_calls() -> tuple[set[tuple[str, str]], set[str]]:
    """Every AWS operation plugins/ calls, and the extra actions its request parameters need."""
    from personalize_provider.hooks.personalize import KINDS

    operations, hook_methods = _operations(), _hook_methods()
    calls: set[tuple[str, str]] = set()
    extra: set[str] = set()
    unknown: set[str] = set()
    for path in PLUGINS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
                if name in hook_methods:
                    if name not in HOOK_CALLS:
                        unknown.add(f"{path.relative_to(ROOT)}: {name}")
                    calls |= HOOK_CALLS.get(name, set())
                elif name in operations:
                    calls |= operations[name]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                # Paginated List* calls are named by string: iter_list("list_datasets", ...).
                calls |= {op for op in operations.get(node.value, ()) if op[0] == "personalize"}
                if node.value == "roleArn":
                    extra.add("iam:PassRole")  # a role handed to Personalize is passed to it
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_tags":
                extra.add("personalize:TagResource")  # create calls that carry tags
            if isinstance(node, ast.keyword) and node.arg == "roleArn":
                extra.add("iam:PassRole")
    assert not unknown, f"add what these provider hook methods call to HOOK_CALLS: {sorted(unknown)}"
    for kind in KINDS.values():
        calls |= operations[kind.describe] | operations[kind.list_method]
    for waiter in json.loads(WAITERS.read_text())["waiters"].values():
        calls.add(("personalize", waiter["operation"]))
    return calls, extra


def _action(service: str, operation: str) -> str:
    if service == "s3":
        assert operation in S3_ACTIONS, f"plugins/ calls s3 {operation}: add its IAM action to S3_ACTIONS"
        return S3_ACTIONS[operation]
    prefix = "personalize" if service == "personalize-events" else service  # PutEvents is personalize:
    return f"{prefix}:{operation}"


def _needed_actions() -> set[str]:
    calls, extra = _code_calls()
    return {_action(service, operation) for service, operation in calls} | extra


def test_every_policy_is_valid_json_with_statements():
    for path in IAM.glob("*.json"):
        doc = json.loads(path.read_text())
        assert doc["Version"] == "2012-10-17", path.name
        assert doc["Statement"], path.name


def test_the_calls_are_read_from_both_packages():
    """The pipeline package's own calls count: S3 through hooks and clients, SNS, events, metrics."""
    needed = _needed_actions()
    assert {
        "personalize:GetSolutionMetrics",
        "personalize:PutEvents",
        "personalize:ListDatasets",
        "personalize:StopSolutionVersionCreation",
        "s3:ListBucket",
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "sns:Publish",
        "iam:PassRole",
    } <= needed


def test_airflow_policy_allows_every_call_the_plugins_make():
    missing = _needed_actions() - _allowed("airflow-pipeline-policy.json")
    assert not missing, f"airflow-pipeline-policy.json lacks {sorted(missing)}"


def test_airflow_policy_allows_nothing_the_plugins_do_not_call():
    unused = _allowed("airflow-pipeline-policy.json") - _needed_actions()
    assert not unused, (
        f"airflow-pipeline-policy.json grants {sorted(unused)}, which nothing in plugins/ calls"
    )


def test_no_wildcard_actions_and_pass_role_is_scoped():
    for path in IAM.glob("*.json"):
        for st in json.loads(path.read_text())["Statement"]:
            actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
            assert not any(a.endswith("*") for a in actions), (
                f"{path.name}: wildcard action in {st.get('Sid')}"
            )
            if "iam:PassRole" in actions:
                assert st["Condition"]["StringEquals"]["iam:PassedToService"] == "personalize.amazonaws.com"
                assert "*" not in st["Resource"]


@pytest.fixture
def recorded_calls(monkeypatch):
    """Every AWS operation any boto3 client makes in the test, in order, as (service, operation)."""
    from botocore.client import BaseClient

    calls: list[tuple[str, str]] = []
    make_api_call = BaseClient._make_api_call

    def recording(client, operation_name, api_params):
        calls.append((client.meta.service_model.service_name, operation_name))
        return make_api_call(client, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


def test_the_hook_methods_make_the_calls_listed_for_them(
    aws_endpoint, aws_clients, monkeypatch, recorded_calls
):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    from devenv.airflow_env import aws_connection_json

    monkeypatch.setenv("AIRFLOW_CONN_IAM_TEST", aws_connection_json(aws_endpoint))
    bucket, topic = "iam-test", aws_clients("sns").create_topic(Name="iam-test")["TopicArn"]
    aws_clients("s3").create_bucket(Bucket=bucket)
    s3, sns = S3Hook(aws_conn_id="iam_test"), SnsHook(aws_conn_id="iam_test")
    uses = {
        "load_string": lambda: s3.load_string("{}", key="k/a.json", bucket_name=bucket, replace=True),
        "list_keys": lambda: s3.list_keys(bucket_name=bucket, prefix="k/"),
        "iter_file_metadata": lambda: list(s3.iter_file_metadata(prefix="k/", bucket_name=bucket)),
        "check_for_key": lambda: s3.check_for_key("k/a.json", bucket_name=bucket),
        "read_key": lambda: s3.read_key("k/a.json", bucket_name=bucket),
        "get_key": lambda: s3.get_key("k/a.json", bucket_name=bucket).get()["Body"].read(),
        "delete_objects": lambda: s3.delete_objects(bucket=bucket, keys=["k/a.json"]),
        "publish_to_target": lambda: sns.publish_to_target(target_arn=topic, message="m", subject="s"),
    }
    assert set(uses) == set(HOOK_CALLS)
    for method, use in uses.items():
        recorded_calls.clear()
        use()
        assert set(recorded_calls) == HOOK_CALLS[method], method
