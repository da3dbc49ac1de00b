"""Fixtures shared by the observability tests."""

from __future__ import annotations

import pytest

from ._records import ListHandler


@pytest.fixture
def handler() -> ListHandler:
    return ListHandler()
