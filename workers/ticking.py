"""After a merge: tick every ``tasks.md`` item whose evidence now holds on the default branch.

The default branch is re-scanned (workers/evidence.py judges each item), only the changed boxes
are written (workers/tasksmd.py ``tick``: every other byte, line endings included, kept), and the
file is committed through the contents API — straight to the default branch, or as a pull request
when the repository asks for that or the branch is protected.
Tests and benchmark items are ticked only on the merged bot PR's own measurements, and only if
the PR was merged at the very commit that was measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from github import GithubException
from github.Repository import Repository

from .evidence import items_to_tick
from .github_publish import PrState, open_pull
from .plan import load_plan
from .repo_config import load_repo_config
from .tasksmd import tick


@dataclass
class TickResult:
    """``status`` is ``no-plan``, ``nothing``, ``committed`` or ``pull-request``."""

    status: str
    ticked: dict[str, str] = field(default_factory=dict)
    path: str | None = None
    sha: str | None = None
    url: str | None = None


def merged_evidence(pr_body: str | None, merged_head_sha: str | None) -> PrState | None:
    """The bot's measurements for a merged PR, if it was merged exactly as measured."""
    state = PrState.parse(pr_body)
    if state.group and state.head_sha and state.head_sha == merged_head_sha:
        return state
    return None


def commit_message(path: str, ticked: dict[str, str], pr_number: int | None) -> str:
    """Title plus one line per ticked item with the evidence that allowed it."""
    after = f" after #{pr_number}" if pr_number else ""
    lines = [f"Tick {len(ticked)} item(s) in {path}{after}", ""]
    lines += [f"- {item_id}: {why}" for item_id, why in sorted(ticked.items())]
    return "\n".join(lines) + "\n"


def _is_protected(repo: Repository, branch: str) -> bool:
    return bool(repo.get_branch(branch).protected)


def _via_pull_request(repo: Repository, branch_prefix: str, path: str, content: bytes, message: str,
                      default_sha: str) -> tuple[str, str]:
    """Commit on ``<prefix>tick-tasks`` (reset to the default branch) and open or reuse its PR."""
    branch = f"{branch_prefix}tick-tasks"
    try:
        repo.get_git_ref(f"heads/{branch}").edit(default_sha, force=True)
    except GithubException as exc:
        if exc.status != 404:
            raise
        repo.create_git_ref(f"refs/heads/{branch}", default_sha)
    blob = repo.get_contents(path, ref=branch)
    commit = repo.update_file(path, message.splitlines()[0], content, blob.sha, branch=branch)["commit"]
    pr = open_pull(repo, branch) or repo.create_pull(
        title=message.splitlines()[0], body=message, head=branch, base=repo.default_branch)
    return commit.sha, pr.html_url


def tick_default_branch(repo: Repository, checkout: Path, default_sha: str, *,
                        evidence: PrState | None, pr_number: int | None = None) -> TickResult:
    """Re-scan ``checkout`` (at ``default_sha``) and commit the boxes whose evidence holds."""
    config = load_repo_config(checkout)
    plan = load_plan(checkout, config)
    if plan.tasks is None or plan.tasks_path is None or plan.tasks_text is None:
        return TickResult("no-plan")
    ticked = items_to_tick(
        plan,
        tests_ok=evidence.tests_ok if evidence else None,
        bench_ok=evidence.bench_ok if evidence else None,
        groups_done={evidence.group} if evidence and evidence.group else set(),
    )
    new_text = tick(plan.tasks_text, set(ticked))
    if not ticked or new_text == plan.tasks_text:
        return TickResult("nothing", path=plan.tasks_path)
    content = new_text.encode("utf-8")
    message = commit_message(plan.tasks_path, ticked, pr_number)
    default = repo.default_branch
    if not config.tick_via_pr and not _is_protected(repo, default):
        current = repo.get_contents(plan.tasks_path, ref=default_sha)
        try:
            commit = repo.update_file(plan.tasks_path, message.rstrip("\n"), content, current.sha,
                                      branch=default)["commit"]
            return TickResult("committed", ticked, plan.tasks_path, commit.sha, commit.html_url)
        except GithubException as exc:
            if exc.status not in (403, 422) or "protected" not in str(exc.data).lower():
                raise  # 409 (the file moved on) is retried by the task after a fresh fetch
    sha, url = _via_pull_request(repo, config.branch_prefix, plan.tasks_path, content, message, default_sha)
    return TickResult("pull-request", ticked, plan.tasks_path, sha, url)
