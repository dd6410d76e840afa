"""Every real GitHub payload in shared/github/webhook-payloads is accepted or cleanly ignored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import REPO_ROOT, queued_tasks, signed_headers

SECRET = "payload-test-secret"
PAYLOADS = Path(os.environ.get("REFACTOR_BOT_SHARED") or REPO_ROOT.parent / "shared") / "github" / "webhook-payloads"
FILES = sorted(PAYLOADS.glob("*.json"))


def test_payload_directory_is_there(webhook_payloads_dir):
    """Fails (rather than parametrizing over nothing) when the payloads are missing."""
    assert webhook_payloads_dir == PAYLOADS and len(FILES) >= 40


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_payload_is_accepted_or_ignored(path, redis_url):
    event = path.name.split(".")[0]
    body = path.read_bytes()
    with TestClient(create_app(Settings(webhook_secret=SECRET, redis_url=redis_url))) as client:
        response = client.post("/webhook", content=body, headers=signed_headers(SECRET, body, event))
    assert response.status_code in (200, 202), response.text
    status = response.json()["status"]
    assert status in ("pong", "queued", "ignored")
    assert len(queued_tasks(redis_url)) == (1 if status == "queued" else 0)
