"""Runtime (GetRecommendations, GetPersonalizedRanking) served from campaigns; events are stubs."""

from __future__ import annotations

import uuid

import numpy as np

from .errors import InvalidInput, NotImplementedOperation, ResourceNotFound
from .scoring import recommend
from .service import PersonalizeService
from .state import ACTIVE


def handlers(svc: PersonalizeService) -> dict:
    store = svc.store

    def _campaign_model(campaign_arn: str | None):
        if not campaign_arn:
            raise InvalidInput("campaignArn is required (recommenders are not supported locally).")
        if not store.exists("campaign", campaign_arn):
            raise ResourceNotFound(f"Could not find campaign {campaign_arn}.")
        campaign = store.get("campaign", campaign_arn)
        if campaign["status"] != ACTIVE:
            raise ResourceNotFound(f"Campaign {campaign_arn} is not ACTIVE (status: {campaign['status']}).")
        return svc.load_model(campaign["solutionVersionArn"])

    def get_recommendations(p, region):
        if p.get("filterArn"):
            raise InvalidInput("Filters are not supported by the local runtime yet.")
        model = _campaign_model(p.get("campaignArn"))
        if not p.get("userId"):
            raise InvalidInput("userId is required for a user-personalization campaign.")
        k = p.get("numResults", 25)
        if not 1 <= k <= 500:
            raise InvalidInput("numResults must be between 1 and 500.")
        items, scores, valid = recommend(model, model.user_index([p["userId"]]), k, threads=1)
        item_list = []
        for item, score in zip(items[0][valid[0]], scores[0][valid[0]], strict=True):
            entry = {"itemId": str(model.item_ids[item])}
            if model.has_scores:
                entry["score"] = round(float(score), 7)
            item_list.append(entry)
        return {"itemList": item_list, "recommendationId": f"RID-{uuid.uuid4()}"}

    def get_personalized_ranking(p, region):
        model = _campaign_model(p.get("campaignArn"))
        if model.user_factors is None:
            raise InvalidInput("This campaign's recipe cannot rank items.")
        index = {name: i for i, name in enumerate(model.item_ids.tolist())}
        known = [item for item in p["inputList"] if item in index]
        unknown = [item for item in p["inputList"] if item not in index]
        row = model.user_index([p["userId"]])[0]
        ranked = []
        if known:
            vector = model.user_factors[row] if row >= 0 else np.zeros(model.user_factors.shape[1])
            logits = model.item_factors[[index[i] for i in known]] @ vector
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            order = np.argsort(-probs, kind="stable")
            ranked = [{"itemId": known[j], "score": round(float(probs[j]), 7)} for j in order]
        ranked += [{"itemId": item} for item in unknown]  # unseen items go last without a score
        return {"personalizedRanking": ranked, "recommendationId": f"RID-{uuid.uuid4()}"}

    def not_yet(p, region):
        raise NotImplementedOperation("Events are not implemented by the local Personalize service yet.")

    return {
        ("personalize-runtime", "GetRecommendations"): get_recommendations,
        ("personalize-runtime", "GetPersonalizedRanking"): get_personalized_ranking,
        ("personalize-events", "PutEvents"): not_yet,
        ("personalize-events", "PutItems"): not_yet,
        ("personalize-events", "PutUsers"): not_yet,
    }
