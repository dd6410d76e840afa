"""One settings object for the web app and the workers, read from the environment on demand.

Every variable is prefixed ``REFACTOR_BOT_`` (see ``.env.example``). Nothing here runs at import
time: callers ask :func:`get_settings` when they need a value, so tests and the CLI can set the
environment first and ``get_settings.cache_clear()`` to re-read it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: GitHub caps webhook payloads at 25 MB; anything larger is not from GitHub.
GITHUB_MAX_PAYLOAD_BYTES = 25 * 1024 * 1024


class Settings(BaseSettings):
    """Service configuration; secrets are ``SecretStr`` so they never print in a repr or a log."""

    model_config = SettingsConfigDict(env_prefix="REFACTOR_BOT_", env_file=None, env_ignore_empty=True,
                                      extra="ignore")

    # --- webhook ---------------------------------------------------------------------------
    webhook_secret: SecretStr = SecretStr("")
    max_body_bytes: int = GITHUB_MAX_PAYLOAD_BYTES
    delivery_ttl_seconds: int = 7 * 24 * 3600  # GitHub lets users redeliver for days

    # --- Redis / Celery --------------------------------------------------------------------
    redis_url: str = "redis://localhost:6379/0"
    broker_url: str | None = None  # defaults to redis_url
    result_backend: str | None = None  # defaults to redis_url
    task_time_limit_seconds: int = 3 * 3600
    lock_timeout_seconds: int = 3 * 3600  # a dead worker's lock expires after this
    lock_retry_seconds: int = 30  # a job that finds its group locked runs again after this

    # --- GitHub ----------------------------------------------------------------------------
    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    github_app_id: int | None = None
    github_private_key: SecretStr | None = None
    github_private_key_path: Path | None = None
    github_retries: int = 5  # PyGithub's own retry of 5xx and rate limits, per request
    github_max_wait_seconds: float = 300.0  # longest Retry-After we sleep in-request
    github_seconds_between_requests: float = 0.25  # GitHub's guidance for integrations
    github_seconds_between_writes: float = 1.0
    bot_name: str = "refactor-bot"  # the mention: "@refactor-bot run cache"
    command_prefix: str = "/refactor"  # the slash form: "/refactor run cache"

    # --- jobs ------------------------------------------------------------------------------
    workspace_dir: Path = Path("/tmp/refactor-bot/workspaces")
    cache_dir: Path | None = None  # baseline tests/benchmarks and venvs; None: the job's default
    run_tests: bool = True
    run_bench: bool = True
    rebase_policy: Literal["rebase", "comment", "off"] = "rebase"

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.broker_url is None:
            self.broker_url = self.redis_url
        if self.result_backend is None:
            self.result_backend = self.redis_url
        return self

    @property
    def uses_app_auth(self) -> bool:
        """True when the service authenticates as a GitHub App rather than with a token."""
        return self.github_app_id is not None

    def private_key(self) -> str:
        """The App's PEM key, from the variable itself or from the file it points at."""
        if self.github_private_key is not None:
            return self.github_private_key.get_secret_value()
        if self.github_private_key_path is not None:
            return self.github_private_key_path.read_text(encoding="utf-8")
        raise RuntimeError("REFACTOR_BOT_GITHUB_APP_ID is set but no private key was given")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
