"""Real-time recommendations: GetRecommendations on a solution's campaign, under a timeout.

The campaign and filter are the ones the retrain DAG creates (``config.resource_name(<solution>)``
and ``config.resource_name(<filter>)``). boto3 blocks, so calls run in a small thread pool and
the request stops waiting after ``serving.campaign_timeout_seconds`` (the thread finishes on its
own; botocore's timeouts bound it). The endpoint comes from boto3's usual settings, e.g.
``AWS_ENDPOINT_URL`` for the local service.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from personalize_pipeline.config import PipelineConfig

THREADS = 8


def resource_arn(config: PipelineConfig, region: str, kind: str, name: str) -> str:
    account = config.role_arn.split(":")[4]
    return f"arn:aws:personalize:{region}:{account}:{kind}/{config.resource_name(name)}"


class CampaignClient:
    def __init__(self, config: PipelineConfig, timeout: float):
        import boto3
        from botocore.config import Config

        self.config, self.timeout = config, timeout
        wait = max(1.0, timeout * 4)
        session = boto3.session.Session()
        self.client = session.client(
            "personalize-runtime",
            region_name=session.region_name or "us-east-1",
            config=Config(connect_timeout=wait, read_timeout=wait, retries={"max_attempts": 1}),
        )
        self.region = self.client.meta.region_name
        self.executor = ThreadPoolExecutor(THREADS, thread_name_prefix="campaign")

    def _request(self, solution: str, user_id: str, n: int) -> dict:
        request = {
            "campaignArn": resource_arn(self.config, self.region, "campaign", solution),
            "userId": user_id,
            "numResults": n,
        }
        output = self.config.solutions[solution].output
        if output and output.filter:
            request["filterArn"] = resource_arn(self.config, self.region, "filter", output.filter)
        return request

    async def recommend(self, solution: str, user_id: str, n: int) -> list[tuple[str, float | None]]:
        """The campaign's items; raises on error or after the timeout (the caller falls back)."""
        request = self._request(solution, user_id, n)
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self.executor, lambda: self.client.get_recommendations(**request))
        response = await asyncio.wait_for(call, self.timeout)
        return [(item["itemId"], item.get("score")) for item in response.get("itemList", [])]

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
