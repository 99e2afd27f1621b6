"""The hook's client, mocked as the Amazon provider's own unit tests do."""

from __future__ import annotations

from unittest import mock

import pytest

from personalize_provider.hooks.personalize import PersonalizeHook


class _OnePage:
    """A paginator over one page: what the mocked ``list_*`` call of the same name returns."""

    def __init__(self, list_call: mock.Mock) -> None:
        self.list_call = list_call

    def paginate(self, **kwargs):
        return [self.list_call(**kwargs)]


@pytest.fixture
def conn():
    """``PersonalizeHook.conn`` mocked; set ``conn.list_<x>.return_value`` and paginators serve it."""
    with mock.patch.object(PersonalizeHook, "conn") as client:
        client.get_paginator.side_effect = lambda operation: _OnePage(getattr(client, operation))
        yield client
