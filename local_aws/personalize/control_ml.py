"""Control plane, model side: recipes, solutions, solution versions, metrics, campaigns."""

from __future__ import annotations

import secrets
import time
from typing import Any

from . import recipes
from .errors import InvalidInput, LimitExceeded, ResourceInUse, ResourceNotFound
from .service import PersonalizeService, describe_handler, list_handler, paginate, pick, public
from .state import (
    ACTIVE,
    BUSY_STATUSES,
    CREATE_FAILED,
    CREATE_IN_PROGRESS,
    CREATE_PENDING,
    CREATE_STOPPED,
    CREATE_STOPPING,
)
from .training import ALS_RECIPES, TrainingConfig, train

SOLUTION_SUMMARY = ("name", "solutionArn", "status", "creationDateTime", "lastUpdatedDateTime", "recipeArn")
VERSION_SUMMARY = ("solutionVersionArn", "name", "status", "trainingMode", "trainingType", "creationDateTime",
                   "lastUpdatedDateTime", "failureReason")
CAMPAIGN_SUMMARY = ("name", "campaignArn", "status", "creationDateTime", "lastUpdatedDateTime",
                    "failureReason")
MAX_TRAININGS = 20


def handlers(svc: PersonalizeService) -> dict:
    store = svc.store

    def list_recipes(p, region):
        return paginate([recipes.summary(n) for n in recipes.RECIPES], p, "recipes")

    def describe_recipe(p, region):
        name = recipes.recipe_name(p["recipeArn"])
        if name is None:
            raise ResourceNotFound(f"Could not find recipe {p['recipeArn']}.")
        return {"recipe": recipes.describe(name)}

    def create_solution(p: dict[str, Any], region: str) -> dict[str, Any]:
        recipe_arn = p.get("recipeArn") or recipes.RECIPE_PREFIX + "aws-user-personalization"
        if recipes.recipe_name(recipe_arn) is None:
            raise ResourceNotFound(f"Could not find recipe {recipe_arn}.")
        if p.get("performAutoML"):
            raise InvalidInput("performAutoML is not supported; pass a recipeArn.")
        with store.locked():
            group = store.get("dataset-group", p["datasetGroupArn"])
            if group["status"] != ACTIVE:
                raise ResourceInUse(f"Dataset group {group['datasetGroupArn']} is not ACTIVE.")
            arn = svc.arn(region, f"solution/{p['name']}")
            store.add("solution", arn, {
                "name": p["name"], "solutionArn": arn, "recipeArn": recipe_arn,
                "datasetGroupArn": group["datasetGroupArn"], "status": CREATE_PENDING,
                "performHPO": bool(p.get("performHPO", False)), "performAutoML": False,
                "performAutoTraining": bool(p.get("performAutoTraining", True)),
                **pick(p, ("eventType", "solutionConfig")), **svc.tags_field(p)})
        svc.jobs.start("solution", arn)
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
            if record["status"] in BUSY_STATUSES or any(v["status"] in BUSY_STATUSES for v in versions):
                raise ResourceInUse(f"Solution {arn} has a creation or training in progress.")
            campaigns = store.list("campaign", lambda r: r["solutionVersionArn"] in version_arns)
            if campaigns:
                raise ResourceInUse(f"Solution {arn} is used by campaign(s): "
                                    f"{', '.join(c['campaignArn'] for c in campaigns)}")
            for version in version_arns:
                store.delete("solution-version", version)

            def cleanup():
                for version in version_arns:
                    svc.model_path(version).unlink(missing_ok=True)

            svc.jobs.delete_later("solution", arn, cleanup)

    def create_solution_version(p, region):
        mode = p.get("trainingMode", "FULL")
        if mode == "AUTOTRAIN":
            raise InvalidInput("trainingMode AUTOTRAIN is set by the service, not by callers.")
        with store.locked():
            solution = store.get("solution", p["solutionArn"])
            if solution["status"] != ACTIVE:
                raise ResourceInUse(f"Solution {solution['solutionArn']} is not ACTIVE "
                                    f"(status: {solution['status']}).")
            versions = store.list("solution-version", lambda r: r["solutionArn"] == solution["solutionArn"])
            if any(v["status"] in BUSY_STATUSES for v in versions):
                raise ResourceInUse(f"Solution {solution['solutionArn']} already has a version in training.")
            if store.count("solution-version", lambda r: r["status"] in BUSY_STATUSES) >= MAX_TRAININGS:
                raise LimitExceeded(f"More than {MAX_TRAININGS} solution versions in training.")
            previous = next((v for v in versions if v["status"] == ACTIVE), None)
            recipe = recipes.recipe_name(solution["recipeArn"])
            if mode == "UPDATE" and (recipe not in ALS_RECIPES or previous is None):
                raise InvalidInput("trainingMode UPDATE needs a user-personalization solution with an "
                                   "ACTIVE solution version.")
            config = solution.get("solutionConfig") or {}
            training_config = TrainingConfig(
                recipe=recipe, event_type=solution.get("eventType"),
                event_value_threshold=_threshold(config.get("eventValueThreshold")),
                hyper=dict(config.get("algorithmHyperParameters") or {}))
            arn = svc.arn(region, f"solution/{solution['name']}/{secrets.token_hex(4)}")
            store.add("solution-version", arn, {
                "solutionVersionArn": arn, "solutionArn": solution["solutionArn"],
                "recipeArn": solution["recipeArn"], "datasetGroupArn": solution["datasetGroupArn"],
                "performHPO": solution["performHPO"], "performAutoML": False, "trainingMode": mode,
                "trainingType": "MANUAL", "status": CREATE_PENDING,
                **pick(solution, ("eventType", "solutionConfig")), **pick(p, ("name",)), **svc.tags_field(p)})
        group_as_dataset = solution["datasetGroupArn"].replace(":dataset-group/", ":dataset/")
        interactions_arn = f"{group_as_dataset}/INTERACTIONS"

        def work():
            started = time.monotonic()
            previous_model = svc.load_model(previous["solutionVersionArn"]) if mode == "UPDATE" else None
            items = svc.files.load(f"{group_as_dataset}/ITEMS") if recipe == "aws-similar-items" else None
            model, metrics = train(svc.files.load(interactions_arn), training_config, mode, previous_model,
                                   items)
            model.save(svc.model_path(arn))
            if metrics is None:  # UPDATE keeps the metrics of the version it builds on
                metrics = store.get("solution-version", previous["solutionVersionArn"]).get("_metrics", {})
            return {"trainingHours": round((time.monotonic() - started) / 3600, 6), "_metrics": metrics}

        svc.jobs.start("solution-version", arn, work)
        return {"solutionVersionArn": arn}

    describe_solution_version = describe_handler(
        store, "solution-version", "solutionVersionArn", "solutionVersion"
    )

    list_solution_versions = list_handler(
        store, "solution-version", "solutionVersions", VERSION_SUMMARY, "solutionArn", "solution"
    )

    def get_solution_metrics(p, region):
        record = store.get("solution-version", p["solutionVersionArn"])
        if record["status"] != ACTIVE:
            raise ResourceInUse(f"Solution version {record['solutionVersionArn']} is not ACTIVE "
                                f"(status: {record['status']}).")
        return {"solutionVersionArn": record["solutionVersionArn"], "metrics": record.get("_metrics", {})}

    def stop_solution_version_creation(p, region):
        arn = p["solutionVersionArn"]
        with store.locked():
            record = store.get("solution-version", arn)
            if record["status"] == CREATE_PENDING:
                store.update("solution-version", arn, status=CREATE_STOPPED)
            elif record["status"] == CREATE_IN_PROGRESS:
                store.update("solution-version", arn, status=CREATE_STOPPING)
            else:
                raise ResourceInUse(f"Solution version {arn} cannot be stopped in status {record['status']}.")

    def create_campaign(p, region):
        with store.locked():
            version = _active_version(p["solutionVersionArn"])
            arn = svc.arn(region, f"campaign/{p['name']}")
            store.add("campaign", arn, {
                "name": p["name"], "campaignArn": arn, "solutionVersionArn": version["solutionVersionArn"],
                "minProvisionedTPS": p.get("minProvisionedTPS", 1), "status": CREATE_PENDING,
                **pick(p, ("campaignConfig",)), **svc.tags_field(p)})
        svc.jobs.start("campaign", arn)
        return {"campaignArn": arn}

    def _active_version(arn: str) -> dict[str, Any]:
        version = store.get("solution-version", arn)
        if version["status"] != ACTIVE:
            raise ResourceInUse(f"Solution version {arn} is not ACTIVE (status: {version['status']}).")
        return version

    describe_campaign = describe_handler(store, "campaign", "campaignArn", "campaign")

    def list_campaigns(p, region):
        solution = p.get("solutionArn")
        records = store.list("campaign", lambda r: solution is None
                             or r["solutionVersionArn"].startswith(solution + "/"))
        return paginate([pick(r, CAMPAIGN_SUMMARY) for r in records], p, "campaigns")

    def update_campaign(p, region):
        """Switches at once (the old version would keep serving during a real update)."""
        arn = p["campaignArn"]
        with store.locked():
            campaign = store.get("campaign", arn)
            if campaign["status"] not in (ACTIVE, CREATE_FAILED):
                raise ResourceInUse(f"Campaign {arn} cannot be updated in status {campaign['status']}.")
            version_arn = p.get("solutionVersionArn", campaign["solutionVersionArn"])
            _active_version(version_arn)
            changes = {"solutionVersionArn": version_arn,
                       "minProvisionedTPS": p.get("minProvisionedTPS", campaign["minProvisionedTPS"])}
            if "campaignConfig" in p:
                changes["campaignConfig"] = p["campaignConfig"]
            stamp = time.time()
            store.update("campaign", arn, **changes, latestCampaignUpdate={
                **changes, "status": ACTIVE, "creationDateTime": stamp, "lastUpdatedDateTime": stamp})
        return {"campaignArn": arn}

    def delete_campaign(p, region):
        arn = p["campaignArn"]
        record = store.get("campaign", arn)
        if record["status"] in BUSY_STATUSES:
            raise ResourceInUse(f"Campaign {arn} is in status {record['status']}.")
        svc.jobs.delete_later("campaign", arn)

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


def _threshold(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise InvalidInput(f"eventValueThreshold must be a number, got {value!r}.") from exc

