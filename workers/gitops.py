"""The few git operations the job needs, run as subprocesses with the bot's identity.

The job never switches the user's own checkout: it works in a temporary ``git worktree`` at the
base commit and leaves behind only the branch it made, so uncommitted work in the checkout is safe.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

BOT_NAME = "refactor-bot"
BOT_EMAIL = "refactor-bot@users.noreply.github.com"


class GitError(RuntimeError):
    """A git command failed; the message holds the command and git's own words."""


def git(cwd: Path, *args: str, env: dict | None = None, check: bool = True) -> str:
    """Run git with a fixed locale and no prompts; return stdout stripped."""
    full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=full_env)
    if check and proc.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def bot_env() -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": BOT_NAME, "GIT_AUTHOR_EMAIL": BOT_EMAIL,
        "GIT_COMMITTER_NAME": BOT_NAME, "GIT_COMMITTER_EMAIL": BOT_EMAIL,
    }


def resolve(checkout: Path, ref: str) -> str:
    if git(checkout, "rev-parse", "--git-dir", check=False) == "":
        raise GitError(f"{checkout} is not a git repository (the job makes a branch, so it needs one)")
    if not ref.strip():
        raise GitError("an empty --base was given; name a branch, tag or commit")
    try:
        return git(checkout, "rev-parse", "--verify", f"{ref}^{{commit}}")
    except GitError as exc:
        raise GitError(f"cannot resolve {ref!r} to a commit in {checkout}") from exc


def branch_sha(checkout: Path, branch: str) -> str | None:
    return git(checkout, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False) or None


def is_dirty(checkout: Path) -> bool:
    return bool(git(checkout, "status", "--porcelain", "--untracked-files=no", check=False))


def add_worktree(checkout: Path, path: Path, branch: str, base_sha: str) -> None:
    """A fresh worktree at ``base_sha`` on ``branch`` (reset to base if it already existed)."""
    current = git(checkout, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if current == branch:
        raise GitError(f"branch {branch} is checked out in {checkout}; switch away from it first")
    _remove_stale_worktrees(checkout, branch)
    git(checkout, "worktree", "add", "--force", "-B", branch, str(path), base_sha)


WORKTREE_PREFIX = "refactor-bot-"


def _remove_stale_worktrees(checkout: Path, branch: str) -> None:
    """Drop worktrees a killed job left holding ``branch``; only ever our own temp worktrees.

    Jobs for one repo and group are serialised (a lock in the service, one process on the CLI),
    so a worktree of ours that still holds the branch belongs to a job that died.
    """
    git(checkout, "worktree", "prune")
    listing = git(checkout, "worktree", "list", "--porcelain")
    for block in listing.split("\n\n"):
        fields = dict(line.split(" ", 1) for line in block.splitlines() if " " in line)
        wt = Path(fields.get("worktree", ""))
        if fields.get("branch") == f"refs/heads/{branch}" and wt.parent.name.startswith(WORKTREE_PREFIX):
            git(checkout, "worktree", "remove", "--force", str(wt), check=False)
    git(checkout, "worktree", "prune")


def remove_worktree(checkout: Path, path: Path) -> None:
    git(checkout, "worktree", "remove", "--force", str(path), check=False)
    git(checkout, "worktree", "prune", check=False)


def commit_file(worktree: Path, relpath: str, message: str) -> str:
    """Commit exactly one file with the bot's identity; returns the new commit's sha."""
    git(worktree, "add", "--", relpath)
    proc = subprocess.run(
        ["git", "commit", "--quiet", "--no-verify", "--no-gpg-sign", "-F", "-", "--", relpath],
        cwd=worktree, input=message, capture_output=True, text=True,
        env={**os.environ, "LC_ALL": "C", **bot_env()},
    )
    if proc.returncode != 0:
        raise GitError(f"git commit of {relpath} failed: {proc.stderr.strip()}")
    return git(worktree, "rev-parse", "HEAD")
