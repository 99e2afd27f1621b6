"""The shipped IAM policies are valid and allow every Personalize call the provider makes, and no more."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IAM = ROOT / "include" / "iam"
PROVIDER = ROOT / "plugins" / "personalize_provider"


def _policy(name: str) -> dict:
    return json.loads((IAM / name).read_text())


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _personalize_calls() -> set[str]:
    from personalize_provider.hooks.personalize import KINDS

    source = "\n".join(p.read_text() for p in PROVIDER.rglob("*.py"))
    calls = set(re.findall(r"\.conn\.([a-z_]+)\(", source))
    calls |= set(re.findall(r"(?:iter_list|find_job|find_arn_by_name)\(\s*\"([a-z_]+)\"", source))
    calls |= {kind.describe for kind in KINDS.values()} | {kind.list_method for kind in KINDS.values()}
    calls -= {"get_waiter", "get_paginator", "exceptions"}
    return {f"personalize:{_pascal(c)}" for c in calls}


def test_every_policy_is_valid_json_with_statements():
    for path in IAM.glob("*.json"):
        doc = json.loads(path.read_text())
        assert doc["Version"] == "2012-10-17", path.name
        assert doc["Statement"], path.name


def test_airflow_policy_allows_every_call_the_provider_makes():
    allowed = {
        action
        for st in _policy("airflow-pipeline-policy.json")["Statement"]
        for action in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    missing = _personalize_calls() - allowed
    assert not missing, f"airflow-pipeline-policy.json lacks {sorted(missing)}"


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
