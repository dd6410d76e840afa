"""Command permission: asked of the emulator's collaborator-permission endpoint per role."""

from __future__ import annotations

import pytest
from github import Auth, Github

from bot.permissions import can_run_commands


@pytest.fixture
def repo(github_emulator):
    github_emulator.add_user("octo", "admin")
    github_emulator.add_user("refactor-bot", "write")
    github_emulator.add_repo("octo/demo")
    gh = Github(base_url=github_emulator.api_url, auth=Auth.Token(github_emulator.token_for("refactor-bot")),
                retry=None)
    return gh.get_repo("octo/demo")


@pytest.mark.parametrize(("role", "allowed"), [
    ("admin", True), ("maintain", True), ("write", True),
    ("triage", False), ("read", False), ("none", False),
])
def test_role(github_emulator, repo, role, allowed):
    github_emulator.add_user("someone", "none")
    github_emulator.repo("octo/demo").set_role("someone", role)
    assert can_run_commands(repo, "someone") is allowed
    assert ("GET", "/repos/octo/demo/collaborators/someone/permission", 200) in github_emulator.requests


def test_unknown_user_is_refused(github_emulator, repo):
    assert can_run_commands(repo, "nobody-at-all") is False
