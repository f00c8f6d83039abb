"""Fixtures of the accounts tests."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.accounts import mailbox


@pytest.fixture(autouse=True)
def _empty_mailbox(request: pytest.FixtureRequest) -> None:
    """Each test that uses the app reads only the mail it caused (see `mailbox`)."""
    if "app" in request.fixturenames or "client" in request.fixturenames:
        application: FastAPI = request.getfixturevalue("app")
        mailbox.empty(application)
