"""The refactor job end to end in local mode, on the built-in example repository (a real git repo)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workers import gitops
from workers.cli import main, make_example_repo
from workers.job import JobOptions, run_job


def git(repo: Path, *args: str) -> str:
    return gitops.git(repo, *args)


@pytest.fixture
def example(tmp_path) -> Path:
    return make_example_repo(tmp_path / "demo")


def test_cache_group_branch_commits_and_pr_body(example, tmp_path):
    out = tmp_path / "out"
    report = run_job(example, JobOptions(group="cache", out_dir=out, cache_dir=tmp_path / "cache"))
    assert report.branch == "refactor-bot/cache"
    assert git(example, "rev-parse", "refactor-bot/cache") == report.head_sha
    # one commit per changed file, on top of the base, authored by the bot
    log = git(example, "log", "--format=%an|%s", f"{report.base_sha}..refactor-bot/cache").splitlines()
    assert len(log) == len(report.commits) == len({c.path for c in report.commits}) >= 1
    assert all(line.startswith("refactor-bot|perf(cache):") for line in log)
    # the user's own checkout is untouched: still on main, clean
    assert git(example, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(example, "status", "--porcelain") == ""
    # the PR body has the four parts
    body = report.pr_body
    for part in ("### Checklist", "### Benchmark comparison", "### Commit messages", "### Tests"):
        assert part in body
    assert "| benchmark |" in body
    for c in report.commits:
        assert c.message.splitlines()[0] in body
    assert "- [x] 2.1 Fix `inventory/cache/warmer.py`" in body
    assert "- [x] 2.2 Run cache service tests" in body  # tests ran and nothing regressed
    assert report.tests["verdict"]["regressions"] == []
    # outputs on disk
    assert (out / "pr_body.md").read_text(encoding="utf-8") == body
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["summary"]["sites"] == len(report.outcomes) == 2
    assert set(data["stage_seconds"]) >= {"scan", "fix", "verify", "publish"}
    # the rewritten code still passes the example's own tests (run at the branch head)
    git(example, "checkout", "-q", "refactor-bot/cache")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--benchmark-disable"], cwd=example, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]


def test_remaining_sites_are_exactly_the_skipped_ones(example, tmp_path):
    from workers.plan import load_plan
    from workers.repo_config import load_repo_config

    report = run_job(example, JobOptions(group="core", run_tests=False, run_bench=False))
    git(example, "checkout", "-q", report.branch)
    plan = load_plan(example, load_repo_config(example))
    left = sorted((s.path, s.code) for s in plan.groups["core"].files.get("inventory/core/orders.py", []))
    skipped = sorted((o.site.path, o.site.code) for o in report.skipped)
    assert left == skipped
    assert all(o.reason for o in report.skipped)
    # the super() site is one a helper cannot take
    assert any("super" in o.reason for o in report.skipped)


def test_skip_path_and_nothing_to_do(example):
    report = run_job(example, JobOptions(group="database", run_tests=False, run_bench=False,
                                         skip_paths=frozenset({"inventory/database/shards.py"})))
    assert report.branch is None and report.commits == []
    assert all("skip" in o.reason for o in report.outcomes)
    assert "refactor-bot/database" not in git(example, "branch", "--list")


def test_bad_files_are_skipped_with_reasons_not_crashes(example):
    bad = example / "inventory" / "cache"
    (bad / "latin.py").write_bytes(
        b"# -*- coding: latin-1 -*-\ndef f(xs, log):\n    for x in xs:\n        try:\n"
        b"            g(x)\n        except ValueError:\n            log('\xe9t\xe9')\n")
    (bad / "tabs.py").write_bytes(
        b"def f(xs, log):\n\tfor x in xs:\n\t\ttry:\n\t\t\tg(x)\n\t\texcept ValueError:\n\t\t\tlog(x)\n")
    git(example, "add", "-A")
    git(example, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "odd files")
    report = run_job(example, JobOptions(group="cache", run_tests=False, run_bench=False))
    by_path = {}
    for o in report.outcomes:
        by_path.setdefault(o.site.path, []).append(o)
    assert all(o.status == "skipped" and "tabs" in o.reason for o in by_path["inventory/cache/tabs.py"])
    # ruff cannot read a latin-1 file: its sites are invisible, and the PR must say so
    assert "inventory/cache/latin.py" not in by_path
    assert any("latin.py" in n and "UTF-8" in n for n in report.notes)
    assert "latin.py" in report.pr_body


def test_cli_errors_are_clear(tmp_path, capsys):
    repo = make_example_repo(tmp_path / "r")
    assert main(["run", str(repo), "--group", "nope", "--no-tests", "--no-bench", "--quiet"]) == 2
    assert "unknown group 'nope'" in capsys.readouterr().err
    assert main(["run", str(repo), "--group", "cache", "--base", "no-such-ref", "--quiet"]) == 2
    assert "cannot resolve 'no-such-ref'" in capsys.readouterr().err


def test_a_killed_jobs_worktree_does_not_block_the_next_run(example, tmp_path):
    """A job killed mid-way leaves its temp worktree holding the branch; the next run recovers."""
    stale = tmp_path / (gitops.WORKTREE_PREFIX + "dead") / "worktree"
    stale.parent.mkdir()
    git(example, "worktree", "add", "-q", "-b", "refactor-bot/list-ops", str(stale), "HEAD")
    report = run_job(example, JobOptions(group="list-ops", run_tests=False, run_bench=False))
    assert report.branch == "refactor-bot/list-ops" and report.commits
    assert str(stale) not in git(example, "worktree", "list")
    # a worktree that is not ours is never removed: the job refuses instead
    mine = tmp_path / "users-own"
    git(example, "worktree", "add", "-q", str(mine), "refactor-bot/list-ops")
    with pytest.raises(gitops.GitError):
        run_job(example, JobOptions(group="list-ops", run_tests=False, run_bench=False))
    assert mine.exists()


@pytest.mark.parametrize("argv,message", [
    (["scan", "/nonexistent/x"], "is not a directory"),
    (["run", "{file}", "--group", "core"], "is not a directory"),
    (["run", "{plain}", "--group", "core", "--quiet"], "is not a git repository"),
    (["run", "{repo}", "--group", "core", "--base", "", "--quiet"], "empty --base"),
])
def test_cli_bad_paths_are_one_line_errors(tmp_path, capsys, argv, message):
    repo = make_example_repo(tmp_path / "repo")
    plain = tmp_path / "plain"
    plain.mkdir()
    values = {"file": str(repo / "pyproject.toml"), "plain": str(plain), "repo": str(repo)}
    assert main([a.format(**values) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_checklist_tells_already_done_items_apart(example):
    """An item whose file had no sites before the branch is ticked, but says it was already so."""
    summary = example / "inventory" / "reports" / "summary.py"
    summary.write_text("def noop():\n    return []\n", encoding="utf-8")
    git(example, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "reports done by hand")
    report = run_job(example, JobOptions(group="list-ops", run_tests=False, run_bench=False))
    assert report.branch is None
    assert "- [x] 5.1 Fix `inventory/reports/summary.py` (3 violations) — 0 PERF401 sites left (plan said 3); already none at the base" in report.pr_body
    done = run_job(example, JobOptions(group="cache", run_tests=False, run_bench=False))
    assert "already none at the base" not in done.pr_body.split("### Tests")[0]


def test_no_repo_benchmarks_means_labelled_site_microbenchmarks(example, tmp_path):
    """Without benchmarks of its own the PR says so and shows synthetic rows, marked as such."""
    git(example, "rm", "-q", "tests/test_benchmarks.py")
    git(example, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "no benchmarks")
    report = run_job(example, JobOptions(group="list-ops", cache_dir=tmp_path / "cache"))
    assert report.bench["synthetic"] is True and report.bench["rows"]
    assert all(r["synthetic"] and r["name"].startswith("site micro-benchmark") for r in report.bench["rows"])
    assert report.bench_ok is None  # synthetic shapes are no evidence about this repository
    assert "This repository has no benchmarks" in report.pr_body
    assert "- [ ] 1.2" not in report.pr_body  # section-1 items are not this group's checklist
