"""Celery tasks: thin wrappers that re-fetch state from GitHub and call one function each.

Every task takes simple keyword arguments (names, numbers, SHAs), is safe to run twice (fixed
branch names, PRs found by branch, reviews once per commit), acknowledges late, and retries:
GitHub 5xx and rate limits with backoff that honours ``Retry-After``, a busy repo-and-group lock
after ``Settings.lock_retry_seconds``. Failures a user would notice become a comment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
from celery import Task
from github import Github, GithubException
from github.Repository import Repository
from redis import Redis

from bot import replies
from bot.commands import Command
from bot.github_auth import GitHubAuth
from bot.permissions import can_run_commands
from bot.settings import Settings, get_settings

from . import checkout as git_checkout
from . import skips
from .celery_app import HANDLE_COMMAND, MARK_OUTDATED, REFACTOR_GROUP, RERUN_CHECK, TICK_TASKS, app
from .github_publish import PrState, PublishResult, open_pull, publish
from .job import JobOptions, plan_for, run_job
from .locks import LockBusy, job_lock
from .repo_config import RepoConfig, load_repo_config, parse_repo_config
from .ticking import merged_evidence, tick_default_branch

logger = logging.getLogger(__name__)

MAX_RETRIES = 8


# ---- shared plumbing ------------------------------------------------------------------------

@dataclass
class Context:
    """Settings, a token and a client for one task run (the token is minted per run)."""

    settings: Settings
    auth: GitHubAuth
    installation_id: int | None
    token: str
    gh: Github

    @classmethod
    def create(cls, installation_id: int | None) -> Context:
        settings = get_settings()
        auth = GitHubAuth(settings)
        token = auth.token(installation_id)
        return cls(settings, auth, installation_id, token, auth.client(installation_id, token))

    def renew(self) -> None:
        """Mint a fresh installation token (they live one hour; a long job outlives its first)."""
        if self.settings.uses_app_auth:
            self.token = self.auth.token(self.installation_id)
            self.gh = self.auth.client(self.installation_id, self.token)

    def redis(self) -> Redis:
        return Redis.from_url(self.settings.redis_url)

    def workspace(self, repo: str, scope: str) -> Path:
        owner, name = repo.split("/", 1)
        return Path(self.settings.workspace_dir) / owner / name / scope


def retry_after(exc: GithubException) -> float | None:
    """Seconds GitHub asked us to wait, if it said so."""
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def is_retryable(exc: GithubException) -> bool:
    """5xx, and 403/429 that are rate limits (``Retry-After`` or GitHub's rate-limit message)."""
    if exc.status >= 500:
        return True
    if exc.status in (403, 429):
        return retry_after(exc) is not None or "rate limit" in str(exc.data).lower()
    return False


def is_transient(exc: BaseException) -> bool:
    """Failures that :func:`retrying` turns into a later retry rather than a failed job."""
    if isinstance(exc, GithubException):
        return is_retryable(exc)
    return isinstance(exc, (LockBusy, requests.ConnectionError, requests.Timeout))


@contextmanager
def retrying(task: Task) -> Iterator[None]:
    """Turn transient failures into ``task.retry`` with the right countdown."""
    retries = task.request.retries
    try:
        yield
    except LockBusy as exc:
        raise task.retry(exc=exc, countdown=get_settings().lock_retry_seconds, max_retries=None) from exc
    except GithubException as exc:
        if not is_retryable(exc):
            raise
        delay = retry_after(exc) or min(2 ** retries * 5, 600)
        logger.warning("GitHub answered %s; retrying in %ss", exc.status, delay,
                       extra={"task": task.name, "status": exc.status, "retries": retries})
        raise task.retry(exc=exc, countdown=delay) from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise task.retry(exc=exc, countdown=min(2 ** retries * 5, 600)) from exc


def describe(exc: Exception) -> str:
    """One line for a user: the exception's type and message (``KeyError: 'cause'``)."""
    return f"{type(exc).__name__}: {exc}".strip()


@contextmanager
def told_on_failure(tell: Callable[[Exception], None], **log_extra) -> Iterator[None]:
    """A failure a user would notice is told to them (``tell`` comments) plus ``logger.exception``.

    Transient failures are left to :func:`retrying`: the user hears about the final outcome only.
    """
    try:
        yield
    except Exception as exc:
        if is_transient(exc):
            raise
        logger.exception("job failed: %s", exc, extra=log_extra)
        tell(exc)
        raise


def remote_config(repo: Repository) -> RepoConfig:
    """The repository's ``[tool.refactor-bot]`` on its default branch, read through the API."""
    try:
        data = repo.get_contents("pyproject.toml", ref=repo.default_branch).decoded_content
    except GithubException as exc:
        if exc.status == 404:
            return RepoConfig()
        raise
    return parse_repo_config(data)


def group_of_branch(config: RepoConfig, branch: str) -> str | None:
    """The group a bot branch belongs to, or None for any other branch."""
    if not branch.startswith(config.branch_prefix):
        return None
    name = branch[len(config.branch_prefix):]
    return name if any(g.name == name for g in config.groups) else None


def open_bot_pulls(repo: Repository, config: RepoConfig) -> list[tuple[str, object]]:
    """(group, PR) for every open pull request on a bot branch."""
    out = []
    for pr in repo.get_pulls(state="open"):
        group = group_of_branch(config, pr.head.ref)
        if group is not None:
            out.append((group, pr))
    return out


# ---- the refactor job on GitHub -------------------------------------------------------------

def run_group(ctx: Context, repo: Repository, group: str, *, skip_paths: list[str],
              recreate: bool) -> PublishResult:
    """Fetch, run the job for ``group`` and publish its PR, holding the group's lock."""
    redis = ctx.redis()
    with job_lock(redis, repo.full_name, group, timeout=ctx.settings.lock_timeout_seconds):
        checkout = ctx.workspace(repo.full_name, group)
        base = git_checkout.sync(repo.clone_url, checkout, ctx.token, repo.default_branch)
        config = load_repo_config(checkout)
        config.group(group)  # unknown group → ConfigError before any work
        skips.remember(redis, repo.full_name, group, skip_paths)
        leave_out = skips.skipped(redis, repo.full_name, group)
        report = run_job(checkout, JobOptions(
            group=group, base=base, run_tests=ctx.settings.run_tests, run_bench=ctx.settings.run_bench,
            skip_paths=frozenset(leave_out), cache_dir=ctx.settings.cache_dir,
            progress=lambda msg: logger.info("%s %s: %s", repo.full_name, group, msg),
        ))
        ctx.renew()
        repo = ctx.gh.get_repo(repo.full_name)
        pr = open_pull(repo, config.branch_for(group))
        return publish(repo, checkout, report, config, ctx.token, pr=pr, skip_paths=leave_out,
                       recreate=recreate)


@app.task(name=REFACTOR_GROUP, bind=True, acks_late=True, max_retries=MAX_RETRIES)
def refactor_group(self: Task, *, repo: str, group: str, installation_id: int | None = None,
                   skip_paths: list[str] | None = None, recreate: bool = False,
                   reply_to: int | None = None, requested_by: str | None = None) -> dict:
    """Open or update ``refactor-bot/<group>``; reply on issue ``reply_to`` when it is done."""
    with retrying(self):
        ctx = Context.create(installation_id)
        def reply(text: str) -> None:  # through ctx.gh as it is then: the job may renew the token
            if reply_to is not None:
                ctx.gh.get_repo(repo).get_issue(reply_to).create_comment(text)

        with told_on_failure(lambda exc: reply(replies.group_failed(requested_by, group, describe(exc))),
                             repo=repo, group=group):
            result = run_group(ctx, ctx.gh.get_repo(repo), group, skip_paths=list(skip_paths or ()),
                               recreate=recreate)
        reply(replies.group_done(requested_by, group, result.status, result.pr_number, result.pr_url,
                                 result.message))
        return asdict(result)


# ---- comment commands -------------------------------------------------------------------------

def react(repo: Repository, number: int, kind: str, comment_id: int, content: str = "+1") -> None:
    """Acknowledge a command where it was written (reviews have no reactions)."""
    if kind == "issue":
        repo.get_issue(number).get_comment(comment_id).create_reaction(content)
    elif kind == "review_comment":
        repo.get_pull(number).get_review_comment(comment_id).create_reaction(content)


def _groups_for(repo: Repository, command: Command, number: int,
                is_pull_request: bool, author: str) -> list[str] | str:
    """The groups a command applies to, or the reply explaining why it applies to none."""
    config = remote_config(repo)
    known = [g.name for g in config.groups]
    pr_group = group_of_branch(config, repo.get_pull(number).head.ref) if is_pull_request else None
    arg = command.argument
    if command.name == "skip":
        return [pr_group] if pr_group else replies.not_a_bot_pr(author, "skip <path>")
    if command.name == "run" or arg:
        wanted = known if arg == "all" else [arg]
        unknown = [g for g in wanted if g not in known]
        return replies.unknown_group(author, unknown[0], known) if unknown else wanted
    if pr_group:
        return [pr_group]
    if command.name == "rebase":
        return sorted({g for g, _ in open_bot_pulls(repo, config)}) or "There are no open refactor-bot pull requests to rebase."
    return replies.not_a_bot_pr(author, command.name)


def reply_status(repo: Repository) -> str:
    config = remote_config(repo)
    head = repo.get_branch(repo.default_branch).commit.sha
    rows = []
    for group, pr in open_bot_pulls(repo, config):
        state = PrState.parse(pr.body)
        fresh = "up to date" if state.base_sha == head else f"outdated (based on {str(state.base_sha)[:10]})"
        rows.append((group, pr.number, pr.html_url, fresh))
    return replies.status_table(rows, repo.default_branch)


def reply_plan(ctx: Context, repo: Repository) -> str:
    checkout = ctx.workspace(repo.full_name, "_plan")
    with job_lock(ctx.redis(), repo.full_name, "_plan", timeout=600):
        git_checkout.sync(repo.clone_url, checkout, ctx.token, repo.default_branch)
        plan = plan_for(checkout)
    rows = [(name, gp.group.rule, gp.site_count, {p: len(s) for p, s in gp.files.items()})
            for name, gp in plan.groups.items()]
    return replies.plan_summary(rows, plan.tasks_path)


@app.task(name=HANDLE_COMMAND, bind=True, acks_late=True, max_retries=MAX_RETRIES)
def handle_command(self: Task, *, repo: str, number: int, comment_kind: str, comment_id: int,
                   author: str, command: str, args: list[str], installation_id: int | None = None,
                   is_pull_request: bool = False) -> dict:
    """Check permission, acknowledge, then answer or enqueue the group jobs the command asks for."""
    with retrying(self):
        ctx = Context.create(installation_id)
        gh_repo = ctx.gh.get_repo(repo)
        issue = gh_repo.get_issue(number)
        if not can_run_commands(gh_repo, author):
            issue.create_comment(replies.refusal(author, command))
            return {"status": "refused"}
        react(gh_repo, number, comment_kind, comment_id)
        with told_on_failure(lambda exc: issue.create_comment(replies.command_failed(author, command, describe(exc))),
                             repo=repo, command=command):
            return run_command(ctx, gh_repo, issue, Command(command, tuple(args)), author=author,
                               installation_id=installation_id, is_pull_request=is_pull_request)


def run_command(ctx: Context, gh_repo: Repository, issue, cmd: Command, *, author: str,
                installation_id: int | None, is_pull_request: bool) -> dict:
    """Answer ``cmd`` or enqueue the group jobs it asks for (permission already checked)."""
    error = cmd.error()
    if error or cmd.name == "help":
        issue.create_comment(replies.invalid(author, error or "here is what I can do.", ctx.settings.bot_name))
        return {"status": "help"}
    if cmd.name == "status":
        issue.create_comment(reply_status(gh_repo))
        return {"status": "answered"}
    if cmd.name == "plan":
        issue.create_comment(reply_plan(ctx, gh_repo))
        return {"status": "answered"}
    groups = _groups_for(gh_repo, cmd, issue.number, is_pull_request, author)
    if isinstance(groups, str):
        issue.create_comment(groups)
        return {"status": "answered"}
    for group in groups:
        refactor_group.apply_async(kwargs={
            "repo": gh_repo.full_name, "group": group, "installation_id": installation_id,
            "skip_paths": list(cmd.args[:1]) if cmd.name == "skip" else [],
            "recreate": cmd.name == "recreate", "reply_to": issue.number, "requested_by": author,
        })
    if len(groups) > 1:
        issue.create_comment(replies.queued(author, cmd.name, groups))
    return {"status": "queued", "groups": groups}


# ---- other events -----------------------------------------------------------------------------

@app.task(name=TICK_TASKS, bind=True, acks_late=True, max_retries=MAX_RETRIES)
def tick_tasks(self: Task, *, repo: str, pr_number: int, head_ref: str,
               installation_id: int | None = None) -> dict:
    """A PR was merged into the default branch: tick what the default branch now proves."""
    with retrying(self):
        ctx = Context.create(installation_id)
        gh_repo = ctx.gh.get_repo(repo)
        pr = gh_repo.get_pull(pr_number)
        evidence = merged_evidence(pr.body, pr.head.sha) if pr.merged else None
        with job_lock(ctx.redis(), repo, "_tasks", timeout=ctx.settings.lock_timeout_seconds):
            checkout = ctx.workspace(repo, "_tasks")
            sha = git_checkout.sync(gh_repo.clone_url, checkout, ctx.token, gh_repo.default_branch)
            result = tick_default_branch(gh_repo, checkout, sha, evidence=evidence, pr_number=pr_number)
        logger.info("tasks.md after #%s: %s %s", pr_number, result.status, sorted(result.ticked),
                    extra={"repo": repo, "pr": pr_number})
        return asdict(result)


@app.task(name=MARK_OUTDATED, bind=True, acks_late=True, max_retries=MAX_RETRIES)
def mark_outdated(self: Task, *, repo: str, after: str, installation_id: int | None = None) -> dict:
    """The default branch moved: rebase (or flag) every open bot PR built on an older base."""
    with retrying(self):
        ctx = Context.create(installation_id)
        gh_repo = ctx.gh.get_repo(repo)
        policy = ctx.settings.rebase_policy
        stale = [(g, pr) for g, pr in open_bot_pulls(gh_repo, remote_config(gh_repo))
                 if PrState.parse(pr.body).base_sha != after]
        for group, pr in stale if policy != "off" else ():
            if policy == "rebase":
                refactor_group.apply_async(kwargs={"repo": repo, "group": group,
                                                   "installation_id": installation_id})
            else:
                pr.create_issue_comment(replies.outdated(after))
        return {"policy": policy, "outdated": [pr.number for _, pr in stale]}


@app.task(name=RERUN_CHECK, bind=True, acks_late=True, max_retries=MAX_RETRIES)
def rerun_check(self: Task, *, repo: str, head_branch: str, check_run_id: int,
                installation_id: int | None = None) -> dict:
    """"Re-run" on a check of a bot branch regenerates that group; other branches are not ours."""
    with retrying(self):
        ctx = Context.create(installation_id)
        gh_repo = ctx.gh.get_repo(repo)
        group = group_of_branch(remote_config(gh_repo), head_branch)
        if group is None:
            return {"status": "ignored"}
        job = refactor_group.apply_async(kwargs={"repo": repo, "group": group, "installation_id": installation_id})
        return {"status": "queued", "group": group, "task_id": job.id}

