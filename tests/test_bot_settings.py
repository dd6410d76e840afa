"""Settings come from REFACTOR_BOT_* variables when asked for, and secrets never print."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.settings import Settings, get_settings
from tests.conftest import REPO_ROOT


def test_reads_prefixed_environment_on_demand(monkeypatch):
    monkeypatch.setenv("REFACTOR_BOT_REDIS_URL", "redis://example:6379/3")
    monkeypatch.setenv("REFACTOR_BOT_GITHUB_APP_ID", "")  # .env.example leaves it empty
    monkeypatch.setenv("REFACTOR_BOT_GITHUB_TOKEN", "ghp_supersecretvalue")
    monkeypatch.setenv("REFACTOR_BOT_REBASE_POLICY", "comment")
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.redis_url == settings.broker_url == settings.result_backend == "redis://example:6379/3"
        assert settings.github_app_id is None and not settings.uses_app_auth
        assert settings.rebase_policy == "comment"
        assert "ghp_supersecretvalue" not in repr(settings) and "ghp_supersecretvalue" not in str(settings.model_dump())
        assert settings.github_token.get_secret_value() == "ghp_supersecretvalue"
    finally:
        get_settings.cache_clear()


def test_importing_the_service_reads_no_settings():
    """With an invalid variable set, importing every service module still works: only asking
    for the settings would fail."""
    env = {**os.environ, "REFACTOR_BOT_MAX_BODY_BYTES": "not a number"}
    code = ("import bot.app, bot.webhook, workers.celery_app, workers.tasks\n"
            "from bot.settings import get_settings\n"
            "try:\n    get_settings()\nexcept Exception as exc:\n    print(type(exc).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ValidationError"


def test_private_key_from_file(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\n...")
    assert Settings(github_app_id=1, github_private_key_path=key).private_key().startswith("-----BEGIN")
