"""
The campaign path end to end with dag.test() against the local endpoint: a FULL retraining
creates the campaign for the promoted version, the next promoted version updates it and the task
ends only once the campaign serves that version, and a rejected version leaves it alone.

The assertions hold whether UpdateCampaign switches versions at once or takes time
(``latestCampaignUpdate`` CREATE PENDING/IN_PROGRESS, then ACTIVE): when the task has ended,
DescribeCampaign must already show the new version, with no update still in progress.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
import yaml

pytestmark = pytest.mark.e2e

GROUP = "campaign-e2e"
SOLUTION = "user-personalization"
SCHEMA = "campaign_e2e_cache"
# One export interval, a year long, so that one export run holds everything the FULL run imports.
START = datetime(2025, 10, 1, tzinfo=UTC)
RUN_AT = datetime(2026, 10, 1, tzinfo=UTC)  # the end of that interval, and of the retrain's
# Later retrainings import the same interval; each run (its own date) trains its own version.
NEXT_RUNS = [datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)]
FAST = {"poll_seconds": 1, "solutions": [SOLUTION]}


@pytest.fixture(scope="module")
def pipeline(pipeline_env, pipelines_dir, tmp_path_factory):
    """Tiny store data and a configuration with one solution whose campaign is enabled."""
    from devenv import datagen
    from personalize_pipeline.config import DEFAULT_PATH

    datagen.load(pipeline_env["database_url"], datagen.generate("tiny"))
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw.update(dataset_group=GROUP, start_date=START.date().isoformat(), poll_seconds=1, cache_schema=SCHEMA)
    raw["s3"] = {"bucket": pipeline_env["bucket"], "prefix": GROUP}
    raw["schedules"]["export"] = "0 0 1 10 *"
    raw["retries"] = {"count": 1, "delay_seconds": 1, "max_delay_minutes": 1}
    raw["event_sync"]["tracker_name"] = f"{GROUP}-events"
    solution = raw["solutions"][SOLUTION]
    solution["campaign"] = {"enabled": True, "min_provisioned_tps": 1}
    solution.pop("output")  # the batch job and cache are tested elsewhere; the campaign is the point
    raw["solutions"] = {SOLUTION: solution}
    raw.pop("experiments", None)  # its variant serves the solution's cache, which this one has not
    with pipelines_dir({"personalize": raw}, tmp_path_factory.mktemp("campaign-config")):
        yield pipeline_env


def _dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    from devenv.postgres import REPO_ROOT

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag(dag_id)


def _retrain(logical_date: datetime = RUN_AT, **conf):
    """A FULL retraining of the one solution: its run, task states, trained version, campaign ARN."""
    run = _dag("personalize_retrain_full").test(logical_date=logical_date, run_conf={**FAST, **conf})
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances() if ti.map_index < 0}
    assert str(run.state) == "success", {k: v for k, v in states.items() if v != "success"}
    version = run.get_task_instance(f"{SOLUTION}.train").xcom_pull(task_ids=f"{SOLUTION}.train")
    campaign = run.get_task_instance(f"{SOLUTION}.campaign").xcom_pull(task_ids=f"{SOLUTION}.campaign")
    return run, states, version, campaign


def _campaigns(personalize) -> list[dict]:
    """The campaigns of the group's solution, described."""
    (solution,) = [
        s["solutionArn"]
        for s in personalize.list_solutions(maxResults=100)["solutions"]
        if s["name"] == f"{GROUP}-{SOLUTION}"  # the group also holds the popularity baseline
    ]
    listed = personalize.list_campaigns(solutionArn=solution, maxResults=100)["campaigns"]
    return [personalize.describe_campaign(campaignArn=c["campaignArn"])["campaign"] for c in listed]


def _serves(campaign: dict, version: str) -> None:
    """The campaign serves ``version`` and no update is still on its way."""
    assert campaign["status"] == "ACTIVE"
    assert campaign["solutionVersionArn"] == version
    update = campaign.get("latestCampaignUpdate")
    if update is not None:  # a service whose updates take time: the task waited for this one
        assert (update["status"], update["solutionVersionArn"]) == ("ACTIVE", version)


@pytest.fixture(scope="module")
def created(pipeline):
    assert str(_dag("personalize_export").test(logical_date=RUN_AT).state) == "success"
    return _retrain()


@pytest.fixture(scope="module")
def updated(created):
    return _retrain(NEXT_RUNS[0], skip_gate=True)


def test_a_full_retrain_creates_the_campaign_for_the_promoted_version(created, aws_clients):
    _, states, version, campaign_arn = created
    assert states[f"{SOLUTION}.campaign"] == "success"
    (campaign,) = _campaigns(aws_clients("personalize"))
    assert campaign["campaignArn"] == campaign_arn
    assert campaign["minProvisionedTPS"] == 1
    _serves(campaign, version)


def test_a_new_promoted_version_updates_the_campaign_and_the_task_waits_for_it(created, updated, aws_clients):
    _, states, version, campaign_arn = updated
    assert version != created[2]
    assert states[f"{SOLUTION}.campaign"] == "success"
    (campaign,) = _campaigns(aws_clients("personalize"))  # updated in place, not a second campaign
    assert campaign["campaignArn"] == campaign_arn == created[3]
    _serves(campaign, version)


def test_a_rejected_version_leaves_the_campaign(updated, pipeline, aws_clients):
    with psycopg.connect(pipeline["database_url"]) as conn:
        conn.execute(
            f"UPDATE {SCHEMA}.solution_metrics SET metrics = metrics || "
            "'{\"normalized_discounted_cumulative_gain_at_10\": 0.99}'::jsonb "
            "WHERE solution = %s AND decision IN ('promoted', 'skipped_gate')",  # the live version's
            [SOLUTION],
        )
    run = _dag("personalize_retrain_full").test(logical_date=NEXT_RUNS[1], run_conf=FAST)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances() if ti.map_index < 0}
    assert str(run.state) == "success"
    assert states[f"{SOLUTION}.campaign"] == "skipped"
    with psycopg.connect(pipeline["database_url"]) as conn:
        (decision,) = conn.execute(
            f"SELECT decision FROM {SCHEMA}.solution_metrics WHERE run_id = %s", [run.run_id]
        ).fetchone()
    assert decision == "rejected"
    (campaign,) = _campaigns(aws_clients("personalize"))
    _serves(campaign, updated[2])
