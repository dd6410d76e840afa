"""Credentials against the emulator: personal token, and GitHub App → installation token."""

from __future__ import annotations

import pytest

from bot.github_auth import GitHubAuth
from bot.settings import Settings
from workers.checkout import sync


def test_personal_token(github_emulator):
    github_emulator.add_user("refactor-bot", "write")
    github_emulator.add_repo("octo/demo")
    token = github_emulator.token_for("refactor-bot")
    auth = GitHubAuth(Settings(github_api_url=github_emulator.api_url, github_token=token))
    assert auth.token(None) == token
    assert auth.client(None).get_repo("octo/demo").full_name == "octo/demo"


def test_app_installation_token_per_event(github_emulator, tmp_path):
    github_emulator.add_repo("octo/demo")
    app = github_emulator.add_app(app_id=4242, slug="refactor-bot")
    inst = github_emulator.install_app(4242, ["octo/demo"])
    key_file = tmp_path / "app.pem"
    key_file.write_text(app.private_key_pem)
    settings = Settings(github_api_url=github_emulator.api_url, github_app_id=4242,
                        github_private_key_path=key_file, github_seconds_between_requests=0,
                        github_seconds_between_writes=0)
    auth = GitHubAuth(settings)
    token = auth.token(inst.id)
    assert ("POST", f"/app/installations/{inst.id}/access_tokens", 201) in github_emulator.requests
    repo = auth.client(inst.id, token).get_repo("octo/demo")
    assert repo.full_name == "octo/demo"
    # The same token clones over git, as the worker does.
    assert sync(repo.clone_url, tmp_path / "checkout", token, "main") == github_emulator.repo("octo/demo").branch_sha("main")
    with pytest.raises(ValueError):
        auth.token(None)  # an App cannot act without the event's installation


def test_inline_private_key_is_used(github_emulator):
    app = github_emulator.add_app(app_id=77)
    inst = github_emulator.install_app(77, [])
    settings = Settings(github_api_url=github_emulator.api_url, github_app_id=77,
                        github_private_key=app.private_key_pem)
    assert GitHubAuth(settings).token(inst.id)


def test_no_credentials_is_a_clear_error():
    with pytest.raises(RuntimeError, match="GITHUB_TOKEN"):
        GitHubAuth(Settings(github_token=None, github_app_id=None))
    with pytest.raises(RuntimeError, match="private key"):
        GitHubAuth(Settings(github_app_id=1, github_private_key=None, github_private_key_path=None)).token(5)
