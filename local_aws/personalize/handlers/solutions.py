"""Control plane, model side: recipes, solutions, solution versions, metrics, campaigns."""

from __future__ import annotations

import secrets
import time
from functools import partial
from typing import Any

from .. import checks, recipes, work
from ..resources import Resources
from ..state import (
    ACTIVE,
    CREATE_FAILED,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    CREATE_STOPPED,
    CREATE_STOPPING,
    UPDATE_IN_PROGRESS,
)
from .common import describe_handler, list_handler, paginate, pick, public

SOLUTION_SUMMARY = ("name", "solutionArn", "status", "creationDateTime", "lastUpdatedDateTime", "recipeArn")
VERSION_SUMMARY = ("solutionVersionArn", "name", "status", "trainingMode", "trainingType", "creationDateTime",
                   "lastUpdatedDateTime", "failureReason")
CAMPAIGN_SUMMARY = ("name", "campaignArn", "status", "creationDateTime", "lastUpdatedDateTime",
                    "failureReason")


def handlers(res: Resources) -> dict:
    store = res.store

    def list_recipes(p, region):
        return paginate([recipes.summary(n) for n in recipes.RECIPES], p, "recipes")

    def describe_recipe(p, region):
        return {"recipe": recipes.describe(checks.recipe(p["recipeArn"]))}

    def create_solution(p: dict[str, Any], region: str) -> dict[str, Any]:
        recipe_arn = p.get("recipeArn") or recipes.RECIPE_PREFIX + "aws-user-personalization"
        checks.recipe(recipe_arn)
        checks.no_auto_ml(p)
        with store.locked():
            group = store.get("dataset-group", p["datasetGroupArn"])
            checks.require_active(group, "Dataset group", "datasetGroupArn", show_status=False)
            arn = res.arn(region, f"solution/{p['name']}")
            store.add("solution", arn, {
                "name": p["name"], "solutionArn": arn, "recipeArn": recipe_arn,
                "datasetGroupArn": group["datasetGroupArn"], "status": CREATE_PENDING,
                "performHPO": bool(p.get("performHPO", False)), "performAutoML": False,
                "performAutoTraining": bool(p.get("performAutoTraining", True)),
                **pick(p, ("eventType", "solutionConfig")), **checks.tags_field(p)})
        res.jobs.start("solution", arn)
        return {"solutionArn": arn}

    def describe_solution(p, region):
        record = public(store.get("solution", p["solutionArn"]))
        versions = store.list("solution-version", lambda r: r["solutionArn"] == record["solutionArn"])
        if versions:
            record["latestSolutionVersion"] = pick(versions[0], (
                "solutionVersionArn", "status", "trainingMode", "trainingType", "creationDateTime",
                "lastUpdatedDateTime", "failureReason"))
        return {"solution": record}

    list_solutions = list_handler(store, "solution", "solutions", SOLUTION_SUMMARY, "datasetGroupArn")

    def delete_solution(p, region):
        arn = p["solutionArn"]
        with store.locked():
            record = store.get("solution", arn)
            versions = store.list("solution-version", lambda r: r["solutionArn"] == arn)
            version_arns = {v["solutionVersionArn"] for v in versions}
            checks.no_work_in_progress(f"Solution {arn}", [record, *versions],
                                       "has a creation or training in progress")
            campaigns = store.list("campaign", lambda r: r["solutionVersionArn"] in version_arns)
            checks.not_in_use(f"Solution {arn} is used by campaign(s): ",
                              [c["campaignArn"] for c in campaigns])
            for version in version_arns:
                store.delete("solution-version", version)
            res.jobs.delete_later("solution", arn, partial(work.remove_models, res, version_arns))

    def create_solution_version(p, region):
        mode = checks.training_mode(p)
        with store.locked():
            solution = store.get("solution", p["solutionArn"])
            checks.require_active(solution, "Solution", "solutionArn")
            versions = store.list("solution-version", lambda r: r["solutionArn"] == solution["solutionArn"])
            checks.new_training(store, solution, versions, res.quotas.trainings)
            previous = next((v for v in versions if v["status"] == ACTIVE), None)
            checks.update_training(mode, work.training_config(solution).recipe, previous)
            # UPDATE builds on the newest ACTIVE version: kept on the record so a restart can resume.
            builds_on = {"_previousVersionArn": previous["solutionVersionArn"]} if mode == "UPDATE" else {}
            arn = res.arn(region, f"solution/{solution['name']}/{secrets.token_hex(4)}")
            record = store.add("solution-version", arn, {
                "solutionVersionArn": arn, "solutionArn": solution["solutionArn"],
                "recipeArn": solution["recipeArn"], "datasetGroupArn": solution["datasetGroupArn"],
                "performHPO": solution["performHPO"], "performAutoML": False, "trainingMode": mode,
                "trainingType": "MANUAL", "status": CREATE_PENDING,
                **pick(solution, ("eventType", "solutionConfig")), **pick(p, ("name",)),
                **checks.tags_field(p), **builds_on})
        res.jobs.start("solution-version", arn, work.body_for(res, "solution-version", record))
        return {"solutionVersionArn": arn}

    describe_solution_version = describe_handler(
        store, "solution-version", "solutionVersionArn", "solutionVersion"
    )

    list_solution_versions = list_handler(
        store, "solution-version", "solutionVersions", VERSION_SUMMARY, "solutionArn", "solution"
    )

    def get_solution_metrics(p, region):
        record = store.get("solution-version", p["solutionVersionArn"])
        checks.require_active(record, "Solution version", "solutionVersionArn")
        return {"solutionVersionArn": record["solutionVersionArn"], "metrics": record.get("_metrics", {})}

    def stop_solution_version_creation(p, region):
        arn = p["solutionVersionArn"]
        with store.locked():
            record = store.get("solution-version", arn)
            checks.in_status(record, "Solution version", "solutionVersionArn", "stopped",
                             (CREATE_PENDING, CREATE_IN_PROGRESS))
            stopped = CREATE_STOPPED if record["status"] == CREATE_PENDING else CREATE_STOPPING
            store.update("solution-version", arn, status=stopped)

    def create_campaign(p, region):
        with store.locked():
            version = store.get("solution-version", p["solutionVersionArn"])
            checks.require_active(version, "Solution version", "solutionVersionArn")
            arn = res.arn(region, f"campaign/{p['name']}")
            store.add("campaign", arn, {
                "name": p["name"], "campaignArn": arn, "solutionVersionArn": version["solutionVersionArn"],
                "minProvisionedTPS": p.get("minProvisionedTPS", 1), "status": CREATE_PENDING,
                **pick(p, ("campaignConfig",)), **checks.tags_field(p)})
        res.jobs.start("campaign", arn)
        return {"campaignArn": arn}

    describe_campaign = describe_handler(store, "campaign", "campaignArn", "campaign")

    def list_campaigns(p, region):
        solution = p.get("solutionArn")
        records = store.list("campaign", lambda r: solution is None
                             or r["solutionVersionArn"].startswith(solution + "/"))
        return paginate([pick(r, CAMPAIGN_SUMMARY) for r in records], p, "campaigns")

    def update_campaign(p, region):
        """The update deploys over a few status steps (minutes on AWS); the campaign stays
        ACTIVE and serves its old version until ``latestCampaignUpdate`` is ACTIVE (API reference:
        UpdateCampaign). Another update meanwhile is ResourceInUse."""
        arn = p["campaignArn"]
        with store.locked():
            campaign = store.get("campaign", arn)
            checks.in_status(campaign, "Campaign", "campaignArn", "updated", (ACTIVE, CREATE_FAILED))
            checks.no_campaign_update(campaign)
            version_arn = p.get("solutionVersionArn", campaign["solutionVersionArn"])
            checks.require_active(store.get("solution-version", version_arn), "Solution version",
                                  "solutionVersionArn")
            update = {"solutionVersionArn": version_arn,
                      "minProvisionedTPS": p.get("minProvisionedTPS", campaign["minProvisionedTPS"]),
                      **(pick(p, ("campaignConfig",)) or pick(campaign, ("campaignConfig",)))}
            stamp = time.time()
            store.update("campaign", arn, latestCampaignUpdate={**update, "status": UPDATE_IN_PROGRESS,
                                                                "creationDateTime": stamp,
                                                                "lastUpdatedDateTime": stamp})
        work.deploy_campaign_update(res, arn)
        return {"campaignArn": arn}

    def delete_campaign(p, region):
        arn = p["campaignArn"]
        checks.require_idle(store.get("campaign", arn), "Campaign", "campaignArn")
        res.jobs.delete_later("campaign", arn)

    ops = {
        "ListRecipes": list_recipes,
        "DescribeRecipe": describe_recipe,
        "CreateSolution": create_solution,
        "DescribeSolution": describe_solution,
        "ListSolutions": list_solutions,
        "DeleteSolution": delete_solution,
        "CreateSolutionVersion": create_solution_version,
        "DescribeSolutionVersion": describe_solution_version,
        "ListSolutionVersions": list_solution_versions,
        "GetSolutionMetrics": get_solution_metrics,
        "StopSolutionVersionCreation": stop_solution_version_creation,
        "CreateCampaign": create_campaign,
        "DescribeCampaign": describe_campaign,
        "ListCampaigns": list_campaigns,
        "UpdateCampaign": update_campaign,
        "DeleteCampaign": delete_campaign,
    }
    return {("personalize", name): fn for name, fn in ops.items()}

