"""What handlers and job bodies share: the store, the job runner, dataset files, models, S3, live events."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from .imports import DatasetFiles
from .jobs import JobRunner
from .live import LiveEvents
from .quotas import Quotas
from .s3io import S3
from .scoring import Model
from .state import Store, make_arn

MODELS_CACHED = 4


class Resources:
    def __init__(self, data_dir: Path, s3_endpoint: str, account: str = "123456789012",
                 step_seconds: float = 1.0, workers: int = 2, quotas: Quotas | None = None):
        data_dir.mkdir(parents=True, exist_ok=True)
        self.account = account
        self.quotas = quotas or Quotas()
        self.store = Store(data_dir / "state.json")
        self.jobs = JobRunner(self.store, step_seconds, workers)
        self.files = DatasetFiles(data_dir / "datasets")
        self.models_dir = data_dir / "models"
        self.s3 = S3(s3_endpoint)
        self.live = LiveEvents()
        self._models: OrderedDict[str, Model] = OrderedDict()
        self._models_lock = threading.Lock()

    def shutdown(self) -> None:
        self.jobs.shutdown()

    def arn(self, region: str, resource: str) -> str:
        return make_arn(region, self.account, resource)

    def model_path(self, solution_version_arn: str) -> Path:
        solution, version = solution_version_arn.split(":solution/", 1)[1].split("/")
        return self.models_dir / solution / f"{version}.npz"

    def load_model(self, solution_version_arn: str) -> Model:
        """Models are immutable once trained: a small LRU cache avoids reloading per request."""
        with self._models_lock:
            model = self._models.get(solution_version_arn)
            if model is not None:
                self._models.move_to_end(solution_version_arn)
                return model
        model = Model.load(self.model_path(solution_version_arn))
        with self._models_lock:
            self._models[solution_version_arn] = model
            while len(self._models) > MODELS_CACHED:
                self._models.popitem(last=False)
        return model
