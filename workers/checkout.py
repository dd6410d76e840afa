"""Clone, fetch and push with a token that never touches the disk, the remote URL or argv.

git reads the credential from an ``http.extraHeader`` passed through ``GIT_CONFIG_*`` variables
in the environment of that one git process only: ``.git/config`` keeps the plain clone URL,
``ps`` shows no secret, and the job's test subprocesses (which inherit the worker's environment,
not this one) never see it. Any git error text is scrubbed of the token before it is raised.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

from . import gitops

#: Variables that would make git print request headers (and so the token) to stderr.
_TRACE_VARS = ("GIT_TRACE", "GIT_TRACE_CURL", "GIT_CURL_VERBOSE", "GIT_TRACE_PACKET")


class CheckoutError(RuntimeError):
    """A git operation against the remote failed; the message holds git's (redacted) words."""


def auth_env(token: str) -> dict[str, str]:
    """Environment for one git process: basic auth as ``x-access-token`` (GitHub's convention)."""
    credentials = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
    env = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {credentials}",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "true",  # never fall back to a prompt or a credential helper
    }
    env.update({name: "0" for name in _TRACE_VARS})
    return env


def redact(text: str, token: str) -> str:
    """``text`` with the token and its basic-auth encoding replaced by ``***``."""
    credentials = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
    return text.replace(credentials, "***").replace(token, "***") if token else text


def remote_git(cwd: Path, token: str, *args: str) -> str:
    """Run a git command that talks to the remote, authenticated, with errors redacted."""
    try:
        return gitops.git(cwd, *args, env=auth_env(token))
    except gitops.GitError as exc:
        raise CheckoutError(redact(str(exc), token)) from None


def sync(clone_url: str, dest: Path, token: str, default_branch: str) -> str:
    """Make ``dest`` a clone of ``clone_url`` detached at the default branch's tip; returns its sha.

    A workspace is reused between jobs (fetch instead of clone); a broken one is replaced.
    Bot branches are fetched too, so the publisher can inspect who committed to them.
    """
    dest = Path(dest)
    if dest.exists() and gitops.git(dest, "remote", "get-url", "origin", check=False) != clone_url:
        shutil.rmtree(dest)
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        remote_git(dest.parent, token, "clone", "--quiet", "--no-checkout", clone_url, str(dest))
    remote_git(dest, token, "fetch", "--quiet", "--prune", "--force", "origin",
               "+refs/heads/*:refs/remotes/origin/*")
    sha = gitops.resolve(dest, f"refs/remotes/origin/{default_branch}")
    gitops.git(dest, "checkout", "--quiet", "--force", "--detach", sha)
    gitops.git(dest, "clean", "-ffdxq")
    gitops.git(dest, "worktree", "prune")
    return sha


def remote_branch_sha(checkout: Path, branch: str) -> str | None:
    """The branch's sha as last fetched by :func:`sync`, or None when the remote lacks it."""
    out = gitops.git(checkout, "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}", check=False)
    return out or None


def push_branch(checkout: Path, token: str, branch: str, expected_remote: str | None) -> None:
    """Force-push ``branch`` only if the remote still holds ``expected_remote`` (None: absent).

    The lease makes a concurrent human push fail the job instead of being overwritten.
    """
    lease = f"--force-with-lease=refs/heads/{branch}:{expected_remote or ''}"
    remote_git(checkout, token, "push", "--quiet", "--porcelain", lease, "origin",
               f"refs/heads/{branch}:refs/heads/{branch}")
