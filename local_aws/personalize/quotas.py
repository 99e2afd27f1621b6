"""The account's per-region quotas a pipeline can run into, with the guide's defaults.

Source: the developer guide's "Amazon Personalize endpoints and quotas" page (limits.md), table
"quotas for each region". The adjustable ones can be raised, as an account can ask AWS to, with
``LOCAL_PERSONALIZE_QUOTA_<NAME>`` (e.g. ``LOCAL_PERSONALIZE_QUOTA_DATASET_GROUPS=50``); test
suites that make many dataset groups on one endpoint do that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

ENV_PREFIX = "LOCAL_PERSONALIZE_QUOTA_"
ADJUSTABLE = ("dataset_groups", "batch_inference_jobs", "trainings")


@dataclasses.dataclass(frozen=True)
class Quotas:
    dataset_groups: int = 5  # active dataset groups (adjustable)
    import_jobs: int = 5  # dataset import jobs pending or in progress
    batch_inference_jobs: int = 5  # pending or in progress (adjustable)
    batch_segment_jobs: int = 5  # pending or in progress
    trainings: int = 20  # solution versions pending or in progress (adjustable)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Quotas:
        raised = {name: int(environ[ENV_PREFIX + name.upper()]) for name in ADJUSTABLE
                  if environ.get(ENV_PREFIX + name.upper())}
        return cls(**raised)

