"""Who may command the bot: people with write, maintain or admin permission on the repository."""

from __future__ import annotations

from github import GithubException
from github.Repository import Repository

#: GitHub's legacy ``permission`` field reports maintain as "write" and triage as "read";
#: "maintain" is listed too in case an endpoint reports the role name.
ALLOWED = frozenset({"admin", "maintain", "write"})


def can_run_commands(repo: Repository, login: str) -> bool:
    """Ask GitHub's collaborator-permission endpoint; anyone it does not know is refused.

    The answer is never cached: permissions change, and one extra request per command is cheap.
    """
    try:
        permission = repo.get_collaborator_permission(login)
    except GithubException as exc:
        if exc.status == 404:  # not a collaborator, or no such user
            return False
        raise
    return permission in ALLOWED
