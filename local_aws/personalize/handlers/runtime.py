"""Runtime (GetRecommendations, GetPersonalizedRanking) served from campaigns.

Answers come from ``queries`` like batch output; a known user's live events
(``live.LiveEvents``) are folded into the user's factors first.
"""

from __future__ import annotations

import uuid

import numpy as np

from .. import checks, queries
from ..batch import SCORE_DECIMALS
from ..filter_masks import query_masks
from ..filtering import FilterContext
from ..resources import Resources
from ..scoring import recommend_vector
from ..training import ALS_RECIPES


def handlers(res: Resources) -> dict:
    store = res.store

    def _campaign(campaign_arn: str | None):
        campaign = checks.active_campaign(store, campaign_arn)
        group = store.get("solution-version", campaign["solutionVersionArn"])["datasetGroupArn"]
        return res.load_model(campaign["solutionVersionArn"]), group

    def _masks(p, model, group):
        """The request's filter as (masks for its one query, that query's item mask); Nones without one."""
        if not p.get("filterArn"):
            return None, None
        record = checks.active_filter(store, p["filterArn"], group)
        context = FilterContext(res.files, record, p.get("filterValues"))
        masks = query_masks([context], model.item_ids, [{k: p.get(k) for k in ("userId", "itemId")}])
        return masks, masks.rows(np.zeros(1, dtype=np.int64))[0]

    def get_recommendations(p, region):
        model, group = _campaign(p.get("campaignArn"))
        k = checks.num_results(p, 500, "numResults must be between 1 and 500.")
        query = {key: p[key] for key in ("userId", "itemId") if key in p}
        checks.recommendation_query(model, query)
        masks, mask = _masks(p, model, group)
        live = res.live.user_state(model, group, p["userId"]) if (
            model.recipe in ALS_RECIPES and "userId" in p) else None
        if live is not None:
            items, scores, valid = recommend_vector(model, live[0], live[1], len(model.item_ids) if mask
                                                    is not None else k)
            keep = valid[0] if mask is None else valid[0] & mask[items[0]]
            chosen = np.flatnonzero(keep)[:k]
            names, values = model.item_ids[items[0][chosen]].tolist(), scores[0][chosen].tolist()
        else:
            names, values = queries.answer(model, [query], k, masks)[0]
        item_list = []
        for j, name in enumerate(names):
            entry = {"itemId": str(name)}
            if values is not None and model.has_scores:
                entry["score"] = round(float(values[j]), SCORE_DECIMALS)
            item_list.append(entry)
        return {"itemList": item_list, "recommendationId": f"RID-{uuid.uuid4()}"}

    def get_personalized_ranking(p, region):
        model, group = _campaign(p.get("campaignArn"))
        ranked = queries.rank(model, p["userId"], p["inputList"], _masks(p, model, group)[1])
        out = [{"itemId": item} if score is None else {"itemId": item, "score": round(score, SCORE_DECIMALS)}
               for item, score in ranked]  # unseen items go last without a score
        return {"personalizedRanking": out, "recommendationId": f"RID-{uuid.uuid4()}"}

    return {
        ("personalize-runtime", "GetRecommendations"): get_recommendations,
        ("personalize-runtime", "GetPersonalizedRanking"): get_personalized_ranking,
    }
