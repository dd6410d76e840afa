"""Step 8 on GitHub: push ``refactor-bot/<group>`` and open or update its one pull request.

Idempotent by construction: the branch name is fixed per group, an open PR for it is edited in
place, an unchanged branch is not pushed again, and a review is posted once per head commit.
A branch that carries someone else's commit is never force-pushed: the PR gets a comment and the
job stops. The PR body carries a hidden state line (measured verdicts, base and head sha) so a later
command or the merge handler can read what this job measured without any other storage.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from github import GithubException
from github.PullRequest import PullRequest
from github.Repository import Repository

from . import gitops
from .checkout import push_branch, remote_branch_sha
from .render import fit_body
from .repo_config import RepoConfig

logger = logging.getLogger(__name__)

STATE_RE = re.compile(r"<!-- refactor-bot:state (?P<json>\{.*?\}) -->")
REVIEW_MARKER = "<!-- refactor-bot:review -->"


@dataclass
class PrState:
    """What a bot PR remembers between jobs (serialised into its body)."""

    group: str | None = None
    base_sha: str | None = None
    head_sha: str | None = None
    tests_ok: bool | None = None
    bench_ok: bool | None = None

    def render(self) -> str:
        return f"<!-- refactor-bot:state {json.dumps(self.__dict__, sort_keys=True)} -->"

    @classmethod
    def parse(cls, body: str | None) -> PrState:
        """The state in ``body``; an empty state when there is none or it is unreadable."""
        match = STATE_RE.search(body or "")
        if not match:
            return cls()
        try:
            data = json.loads(match["json"])
        except json.JSONDecodeError:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class PublishResult:
    """``opened``, ``updated``, ``nothing`` (no change, no PR), ``closed`` (no change left, so
    the open PR was closed) or ``blocked`` (someone else's commit on the branch)."""

    status: str
    pr_number: int | None = None
    pr_url: str | None = None
    message: str = ""


def skipped_on_request(skip_paths: list[str]) -> str:
    """The visible paragraph listing files a reviewer asked the bot to leave out."""
    if not skip_paths:
        return ""
    files = "\n".join(f"- `{p}`" for p in sorted(skip_paths))
    return f"\n\n### Left out on request (`skip`)\n{files}\n"


def open_pull(repo: Repository, branch: str) -> PullRequest | None:
    """The open PR whose head is ``branch`` of this repository, if any."""
    for pr in repo.get_pulls(state="open", head=f"{repo.owner.login}:{branch}"):
        if pr.head.ref == branch:
            return pr
    return None


def foreign_commits(checkout: Path, remote_sha: str, default_sha: str) -> list[str]:
    """Commits on the remote branch (not on the default branch) that the bot did not make."""
    out = gitops.git(checkout, "log", "--format=%h %ae %ce %s", remote_sha, "--not", default_sha)
    mine = gitops.BOT_EMAIL.lower()
    return [line for line in out.splitlines()
            if line and (line.split(" ")[1].lower() != mine or line.split(" ")[2].lower() != mine)]


def _same_change(checkout: Path, remote_sha: str, head_sha: str, base_sha: str) -> bool:
    """True when the remote branch already holds this exact result on this exact base."""
    tree = gitops.git(checkout, "rev-parse", f"{remote_sha}^{{tree}}")
    if tree != gitops.git(checkout, "rev-parse", f"{head_sha}^{{tree}}"):
        return False
    merge_base = gitops.git(checkout, "merge-base", remote_sha, base_sha, check=False)
    return merge_base == base_sha


def _right_side_ranges(checkout: Path, base: str, head: str, path: str) -> list[range]:
    """Lines of the new file that appear in the PR diff (hunks with context)."""
    diff = gitops.git(checkout, "diff", "-U3", base, head, "--", path)
    ranges = []
    for match in re.finditer(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", diff, re.MULTILINE):
        start, count = int(match[1]), int(match[2] or 1)
        ranges.append(range(start, start + count))
    return ranges


def _new_line(old_text: str, new_text: str, old_line: int) -> int | None:
    """Where line ``old_line`` of the base file sits in the new file, if it survived unchanged."""
    matcher = difflib.SequenceMatcher(None, old_text.splitlines(), new_text.splitlines(), autojunk=False)
    for tag, i1, i2, j1, _ in matcher.get_opcodes():
        if tag == "equal" and i1 < old_line <= i2:
            return j1 + (old_line - i1)
    return None


def review_comments(checkout: Path, report) -> tuple[list[dict], list[str]]:
    """Inline comments for skipped sites that lie in the diff, and text lines for the rest."""
    changed = {c.path for c in report.commits}
    inline, elsewhere = [], []
    for outcome in report.skipped:
        site, text = outcome.site, f"needs a human: {outcome.reason}"
        line = None
        if site.path in changed:
            old = gitops.git(checkout, "show", f"{report.base_sha}:{site.path}")
            new = gitops.git(checkout, "show", f"{report.head_sha}:{site.path}")
            candidate = _new_line(old, new, site.line)
            ranges = _right_side_ranges(checkout, report.base_sha, report.head_sha, site.path)
            if candidate is not None and any(candidate in r for r in ranges):
                line = candidate
        if line is not None:
            inline.append({"path": site.path, "line": line, "side": "RIGHT",
                           "body": f"{text} (`{site.code}`)"})
        else:
            elsewhere.append(f"- `{site.path}:{site.line}` ({site.code}) — {text}")
    return inline, elsewhere


def post_review(repo: Repository, pr: PullRequest, checkout: Path, report, head_sha: str) -> bool:
    """One COMMENT review per head commit listing every skipped site; False if none was needed.

    ``head_sha`` is the PR's head, which may be an earlier push of the same tree as the report's.
    """
    if not report.skipped:
        return False
    for review in pr.get_reviews():
        if review.commit_id == head_sha and REVIEW_MARKER in (review.body or ""):
            return False
    inline, elsewhere = review_comments(checkout, report)
    body = [f"{len(report.skipped)} site(s) were left for a human; each says why.", REVIEW_MARKER]
    if elsewhere:
        body[1:1] = ["", "Outside the diff:", *elsewhere]
    pr.create_review(commit=repo.get_commit(head_sha), body="\n".join(body),
                     event="COMMENT", comments=inline)
    return True


def _apply_labels_and_reviewers(pr: PullRequest, config: RepoConfig) -> None:
    if config.labels:
        pr.add_to_labels(*config.labels)
    reviewers = [r for r in config.reviewers if r.lower() != pr.user.login.lower()]
    if reviewers:
        try:
            pr.create_review_request(reviewers=reviewers)
        except GithubException as exc:  # e.g. a reviewer without access: say so, keep the PR
            if exc.status != 422:
                raise
            logger.warning("could not request reviewers %s on #%s: %s", reviewers, pr.number, exc.data,
                           extra={"pr": pr.number})


def _create_or_find_pull(repo: Repository, branch: str, title: str, body: str) -> PullRequest:
    """Open the PR; if GitHub says one already exists (a retried request that had in fact
    succeeded, or a concurrent job), edit that one instead of failing."""
    try:
        return repo.create_pull(title=title, body=body, head=branch, base=repo.default_branch)
    except GithubException as exc:
        existing = open_pull(repo, branch) if exc.status == 422 else None
        if existing is None:
            raise
        existing.edit(title=title, body=body)
        return existing


def _blocked(pr: PullRequest | None, foreign: list[str]) -> PublishResult:
    message = ("This branch has commits that refactor-bot did not make, so I will not "
               "force-push over them:\n\n" + "\n".join(f"- {c}" for c in foreign) +
               "\n\nComment `@refactor-bot recreate` to start over from the default branch.")
    if pr is not None:
        pr.create_issue_comment(message)
    return PublishResult("blocked", pr.number if pr else None, pr.html_url if pr else None, message)


def publish(repo: Repository, checkout: Path, report, config: RepoConfig, token: str, *,
            pr: PullRequest | None, skip_paths: list[str] = (), recreate: bool = False) -> PublishResult:
    """Push the job's branch and open or update the group's PR (see the module docstring).

    ``pr`` is the group's open PR (:func:`open_pull`); ``skip_paths`` the files left out on
    request (listed in the body); ``recreate`` closes the open PR first and replaces the branch
    whoever committed to it (the user asked for exactly that).
    """
    branch = config.branch_for(report.group)
    remote = remote_branch_sha(checkout, branch)
    if report.branch is None:
        nothing = f"nothing in `{report.group}` needs a change on {report.base_sha[:10]}"
        if pr is None:
            return PublishResult("nothing", message=nothing)
        foreign = foreign_commits(checkout, remote, report.base_sha) if remote else []
        if foreign:
            return _blocked(pr, foreign)
        pr.create_issue_comment(f"Closing: {nothing}" + (
            f" (left out on request: {', '.join(f'`{p}`' for p in skip_paths)})" if skip_paths else "") + ".")
        pr.edit(state="closed")
        return PublishResult("closed", pr.number, pr.html_url, f"closed #{pr.number}: {nothing}")
    if recreate and pr is not None:
        pr.create_issue_comment("Recreating this pull request from scratch as requested; "
                                "the new one will link back here.")
        pr.edit(state="closed")
        old_number, pr = pr.number, None
    else:
        old_number = None
        foreign = foreign_commits(checkout, remote, report.base_sha) if remote else []
        if foreign:
            return _blocked(pr, foreign)
    if remote is not None and _same_change(checkout, remote, report.head_sha, report.base_sha):
        head = remote  # identical result already on GitHub: keep its commits (and CI runs)
    else:
        push_branch(checkout, token, branch, remote)
        head = report.head_sha
    tests_ok, bench_ok = (report.tests_ok, report.bench_ok)
    state = PrState(report.group, report.base_sha, head, tests_ok, bench_ok)
    tail = skipped_on_request(list(skip_paths))
    if old_number is not None:
        tail += f"\n\nReplaces #{old_number}.\n"
    body = fit_body(report.pr_body, tail + "\n" + state.render() + "\n")
    if pr is None:
        pr = _create_or_find_pull(repo, branch, report.pr_title, body)
        status = "opened"
        if old_number is not None:
            repo.get_issue(old_number).create_comment(f"Recreated as #{pr.number}.")
    else:
        pr.edit(title=report.pr_title, body=body)
        status = "updated"
    _apply_labels_and_reviewers(pr, config)
    post_review(repo, pr, checkout, report, head)
    return PublishResult(status, pr.number, pr.html_url, f"{status} #{pr.number}")
