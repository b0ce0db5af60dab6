"""Fixtures for review tests that need the prepared database and knowledge base."""

import pytest

from agent.config import get_settings
from tests.review.helpers import private_settings, scripted_services


@pytest.fixture
def review_settings(prepared_data_dir, tmp_path, monkeypatch):
    yield private_settings(prepared_data_dir, tmp_path, monkeypatch)
    get_settings.cache_clear()


@pytest.fixture
def services(review_settings):
    return scripted_services(review_settings)
