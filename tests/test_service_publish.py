"""Publishing a job's branch to the emulator: one PR per group, updated in place, never
force-pushed over someone else's commit, body within GitHub's limit, skipped sites reviewed."""

from __future__ import annotations

import pytest

from tests.conftest import emulator_client

from codemods.outcome import Site, SiteOutcome
from workers import gitops
from workers.checkout import sync
from workers.github_publish import REVIEW_MARKER, PrState, fit_body, open_pull, publish
from workers.job import CommitInfo, JobReport
from workers.render import GITHUB_BODY_LIMIT
from workers.repo_config import RepoConfig

SOURCE = "".join(f"value_{i} = {i}\n" for i in range(1, 31))
CONFIG = RepoConfig(labels=("refactor-bot", "performance"), reviewers=("octo",))


@pytest.fixture
def world(github_emulator, tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "cache.py").write_text(SOURCE)
    github_emulator.add_user("octo", "admin")
    github_emulator.add_user("refactor-bot", "write")
    github_emulator.add_repo("octo/demo", files_from=src)
    token = github_emulator.token_for("refactor-bot")
    return github_emulator, token, emulator_client(github_emulator, "refactor-bot").get_repo("octo/demo")


def make_report(checkout, base: str, new_line_3: str, body: str = "## PR body\n") -> JobReport:
    """A finished job's report over a real local branch: line 3 rewritten, two sites skipped."""
    gitops.git(checkout, "branch", "-f", "refactor-bot/cache", base)
    worktree = checkout.parent / "wt"
    gitops.git(checkout, "worktree", "add", "-f", str(worktree), "refactor-bot/cache")
    lines = SOURCE.splitlines(keepends=True)
    lines[2] = new_line_3
    (worktree / "pkg" / "cache.py").write_text("".join(lines))
    message = "perf(cache): fix PERF203 in pkg/cache.py\n"
    sha = gitops.commit_file(worktree, "pkg/cache.py", message)
    gitops.remove_worktree(checkout, worktree)
    outcomes = [
        SiteOutcome.fixed(Site("pkg/cache.py", 3, 1, "PERF203"), "extract"),
        SiteOutcome.skipped(Site("pkg/cache.py", 5, 1, "PERF203"), "zero-argument super() in the try"),
        SiteOutcome.skipped(Site("pkg/cache.py", 25, 1, "PERF203"), "yield inside the try"),
    ]
    return JobReport(group="cache", rule="PERF203", base_sha=base, branch="refactor-bot/cache", head_sha=sha,
                     commits=[CommitInfo(sha, "pkg/cache.py", message)], pr_title="perf(cache): fix 1 site",
                     pr_body=body, outcomes=outcomes, tests=None, bench=None, stage_seconds={})


def test_open_then_update_in_place(world, tmp_path):
    gh, token, repo = world
    checkout = tmp_path / "checkout"
    base = sync(repo.clone_url, checkout, token, "main")
    report = make_report(checkout, base, "value_3 = 'three'\n")
    first = publish(repo, checkout, report, CONFIG, token, pr=None, skip_paths=["pkg/other.py"])
    assert first.status == "opened"
    state = gh.repo("octo/demo")
    [pr] = state.pulls
    assert (pr.number, pr.head_ref, pr.base_ref) == (first.pr_number, "refactor-bot/cache", "main")
    assert state.branch_sha("refactor-bot/cache") == report.head_sha
    assert set(pr.labels) == {"refactor-bot", "performance"}
    assert [u.login for u in pr.requested_reviewers] == ["octo"]
    assert pr.body.startswith("## PR body") and "`pkg/other.py`" in pr.body
    remembered = PrState.parse(pr.body)
    assert (remembered.group, remembered.base_sha, remembered.head_sha) == ("cache", base, report.head_sha)
    # The skipped site inside the diff gets an inline comment, the one outside is in the body.
    [review] = pr.reviews
    assert REVIEW_MARKER in review.body and "pkg/cache.py:25" in review.body
    [inline] = review.comments
    assert (inline.path, inline.line) == ("pkg/cache.py", 5)
    assert inline.body.startswith("needs a human: zero-argument super()")

    # Same group again, a different result: the same PR is updated, the branch moved, no new PR.
    sync(repo.clone_url, checkout, token, "main")
    again = make_report(checkout, base, "value_3 = 'THREE'\n", body="## PR body v2\n")
    second = publish(repo, checkout, again, CONFIG, token, pr=open_pull(repo, "refactor-bot/cache"))
    assert (second.status, second.pr_number) == ("updated", first.pr_number)
    assert len(state.pulls) == 1
    assert state.pull(first.pr_number).body.startswith("## PR body v2")
    assert state.branch_sha("refactor-bot/cache") == again.head_sha
    assert "`pkg/other.py`" not in state.pull(first.pr_number).body  # nothing skipped this time

    # A retried publish of the very same result posts no second review for that commit.
    reviews_before = len(state.pull(first.pr_number).reviews)
    publish(repo, checkout, again, CONFIG, token, pr=open_pull(repo, "refactor-bot/cache"))
    assert len(state.pull(first.pr_number).reviews) == reviews_before


def test_someone_elses_commit_blocks_the_force_push(world, tmp_path):
    gh, token, repo = world
    checkout = tmp_path / "checkout"
    base = sync(repo.clone_url, checkout, token, "main")
    opened = publish(repo, checkout, make_report(checkout, base, "value_3 = 3.0\n"), CONFIG, token, pr=None)
    human = gh.repo("octo/demo").commit_file("refactor-bot/cache", "pkg/cache.py", "# mine\n", "my tweak", "octo")
    sync(repo.clone_url, checkout, token, "main")
    result = publish(repo, checkout, make_report(checkout, base, "value_3 = 3.5\n"), CONFIG, token,
                     pr=open_pull(repo, "refactor-bot/cache"))
    assert result.status == "blocked"
    assert gh.repo("octo/demo").branch_sha("refactor-bot/cache") == human
    comments = gh.repo("octo/demo").comments_on(opened.pr_number)
    assert "will not force-push" in comments[-1].body and "my tweak" in comments[-1].body

    # `recreate` is the explicit way out: the old PR is closed, a new one replaces the branch.
    sync(repo.clone_url, checkout, token, "main")
    fresh = make_report(checkout, base, "value_3 = 3.75\n")
    recreated = publish(repo, checkout, fresh, CONFIG, token, pr=open_pull(repo, "refactor-bot/cache"),
                        recreate=True)
    assert recreated.status == "opened" and recreated.pr_number != opened.pr_number
    assert gh.repo("octo/demo").pull(opened.pr_number).state == "closed"
    assert gh.repo("octo/demo").branch_sha("refactor-bot/cache") == fresh.head_sha
    assert f"Replaces #{opened.pr_number}" in gh.repo("octo/demo").pull(recreated.pr_number).body


def test_long_body_is_truncated_with_a_note_and_keeps_its_state(world, tmp_path):
    gh, token, repo = world
    checkout = tmp_path / "checkout"
    base = sync(repo.clone_url, checkout, token, "main")
    report = make_report(checkout, base, "value_3 = -3\n", body="| row | data |\n" * 6000)
    result = publish(repo, checkout, report, CONFIG, token, pr=None)
    body = gh.repo("octo/demo").pull(result.pr_number).body
    assert len(report.pr_body) > GITHUB_BODY_LIMIT >= len(body)
    assert "truncated" in body
    assert PrState.parse(body).head_sha == report.head_sha


def test_fit_body_keeps_short_bodies_whole():
    assert fit_body("abc", "\ntail") == "abc\ntail"
    long = fit_body("x" * 70000, "\ntail", limit=1000)
    assert len(long) <= 1000 and long.endswith("\ntail")


def test_state_parsing_is_forgiving():
    assert PrState.parse(None) == PrState()
    assert PrState.parse("<!-- refactor-bot:state {not json} -->") == PrState()
    assert PrState.parse("text\n" + PrState(group="core", tests_ok=True).render()) == PrState(group="core", tests_ok=True)


def test_no_change_left_closes_the_open_pr(world, tmp_path):
    gh, token, repo = world
    checkout = tmp_path / "checkout"
    base = sync(repo.clone_url, checkout, token, "main")
    opened = publish(repo, checkout, make_report(checkout, base, "value_3 = 33\n"), CONFIG, token, pr=None)
    sync(repo.clone_url, checkout, token, "main")
    empty = make_report(checkout, base, "value_3 = 34\n")
    empty.branch, empty.head_sha, empty.commits = None, None, []
    result = publish(repo, checkout, empty, CONFIG, token, pr=open_pull(repo, "refactor-bot/cache"),
                     skip_paths=["pkg/cache.py"])
    assert (result.status, result.pr_number) == ("closed", opened.pr_number)
    assert gh.repo("octo/demo").pull(opened.pr_number).state == "closed"
    assert "`pkg/cache.py`" in gh.repo("octo/demo").comments_on(opened.pr_number)[-1].body
    assert publish(repo, checkout, empty, CONFIG, token, pr=None).status == "nothing"
