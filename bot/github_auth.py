"""GitHub credentials: a personal token, or a GitHub App's installation token per event.

One place builds every PyGithub client, so the base URL (GitHub, Enterprise or the test
emulator), the retry policy and the request pacing are the same for the web app and the workers.
"""

from __future__ import annotations

from github import Auth, Github, GithubIntegration, GithubRetry

from .settings import Settings


class GitHubAuth:
    """Hands out API clients and git tokens for an installation (or for the personal token)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if not settings.uses_app_auth and settings.github_token is None:
            raise RuntimeError("set REFACTOR_BOT_GITHUB_TOKEN, or REFACTOR_BOT_GITHUB_APP_ID and a private key")

    def _retry(self) -> GithubRetry | None:
        """PyGithub's retry of 5xx and rate-limit answers, honouring ``Retry-After``."""
        if self.settings.github_retries <= 0:
            return None
        return GithubRetry(total=self.settings.github_retries, backoff_factor=0.5,
                           max_rate_limit_wait=self.settings.github_max_wait_seconds)

    def _client_kwargs(self) -> dict:
        return {
            "base_url": self.settings.github_api_url.rstrip("/"),
            "retry": self._retry(),
            "seconds_between_requests": self.settings.github_seconds_between_requests or None,
            "seconds_between_writes": self.settings.github_seconds_between_writes or None,
        }

    def token(self, installation_id: int | None) -> str:
        """A token good for API calls and ``git`` over HTTPS; never log or persist it."""
        if not self.settings.uses_app_auth:
            assert self.settings.github_token is not None
            return self.settings.github_token.get_secret_value()
        if installation_id is None:
            raise ValueError("GitHub App authentication needs the event's installation id")
        integration = GithubIntegration(
            auth=Auth.AppAuth(self.settings.github_app_id, self.settings.private_key()),
            **self._client_kwargs(),
        )
        return integration.get_access_token(installation_id).token

    def client(self, installation_id: int | None, token: str | None = None) -> Github:
        """An API client for the installation; pass ``token`` to reuse one already minted."""
        return Github(auth=Auth.Token(token or self.token(installation_id)), **self._client_kwargs())
