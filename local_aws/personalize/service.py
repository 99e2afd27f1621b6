"""The local Personalize service: shared resources plus the table of operations, as one WSGI app."""

from __future__ import annotations

from .handlers import batch_jobs, datasets, events, filters, runtime, solutions, tags
from .protocol import PersonalizeApp
from .resources import Resources

HANDLER_MODULES = (datasets, solutions, batch_jobs, filters, events, tags, runtime)


class PersonalizeService(Resources):
    def app(self) -> PersonalizeApp:
        operations: dict = {}
        for module in HANDLER_MODULES:
            operations.update(module.handlers(self))
        return PersonalizeApp(operations)
