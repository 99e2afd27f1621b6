"""Runtime (GetRecommendations, GetPersonalizedRanking) served from campaigns.

Answers come from ``queries`` like batch output; a known user's live events
(``events.LiveEvents``) are folded into the user's factors first.
"""

from __future__ import annotations

import uuid

import numpy as np

from . import filters, queries
from .errors import InvalidInput, ResourceNotFound
from .scoring import recommend_vector
from .service import PersonalizeService
from .state import ACTIVE
from .training import ALS_RECIPES

SCORE_DECIMALS = 7


def handlers(svc: PersonalizeService) -> dict:
    store = svc.store

    def _campaign(campaign_arn: str | None):
        if not campaign_arn:
            raise InvalidInput("campaignArn is required (recommenders are not supported locally).")
        if not store.exists("campaign", campaign_arn):
            raise ResourceNotFound(f"Could not find campaign {campaign_arn}.")
        campaign = store.get("campaign", campaign_arn)
        if campaign["status"] != ACTIVE:
            raise ResourceNotFound(f"Campaign {campaign_arn} is not ACTIVE (status: {campaign['status']}).")
        group = store.get("solution-version", campaign["solutionVersionArn"])["datasetGroupArn"]
        return svc.load_model(campaign["solutionVersionArn"]), group

    def _mask(p, model, group):
        context = filters.context_for(svc, p.get("filterArn"), p.get("filterValues"), group)
        return None if context is None else context.mask(model.item_ids, p.get("userId"), p.get("itemId"))

    def get_recommendations(p, region):
        model, group = _campaign(p.get("campaignArn"))
        k = p.get("numResults", 25)
        if not 1 <= k <= 500:
            raise InvalidInput("numResults must be between 1 and 500.")
        if queries.kind(model) == "ranking":
            raise InvalidInput("A personalized-ranking campaign answers GetPersonalizedRanking only.")
        query = {key: p[key] for key in ("userId", "itemId") if key in p}
        error = queries.check(model, query)
        if error:
            raise InvalidInput(error.replace("Line has", "The request has"))
        mask = _mask(p, model, group)
        live = svc.live.user_state(model, group, p["userId"]) if (
            model.recipe in ALS_RECIPES and "userId" in p) else None
        if live is not None:
            items, scores, valid = recommend_vector(model, live[0], live[1], len(model.item_ids) if mask
                                                    is not None else k)
            keep = valid[0] if mask is None else valid[0] & mask[items[0]]
            chosen = np.flatnonzero(keep)[:k]
            names, values = model.item_ids[items[0][chosen]].tolist(), scores[0][chosen].tolist()
        else:
            names, values = queries.answer(model, [query], k, [mask])[0]
        item_list = []
        for j, name in enumerate(names):
            entry = {"itemId": str(name)}
            if values is not None and model.has_scores:
                entry["score"] = round(float(values[j]), SCORE_DECIMALS)
            item_list.append(entry)
        return {"itemList": item_list, "recommendationId": f"RID-{uuid.uuid4()}"}

    def get_personalized_ranking(p, region):
        model, group = _campaign(p.get("campaignArn"))
        ranked = queries.rank(model, p["userId"], p["inputList"], _mask(p, model, group))
        out = [{"itemId": item} if score is None else {"itemId": item, "score": round(score, SCORE_DECIMALS)}
               for item, score in ranked]  # unseen items go last without a score
        return {"personalizedRanking": out, "recommendationId": f"RID-{uuid.uuid4()}"}

    return {
        ("personalize-runtime", "GetRecommendations"): get_recommendations,
        ("personalize-runtime", "GetPersonalizedRanking"): get_personalized_ranking,
    }
