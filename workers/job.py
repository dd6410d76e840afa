"""The refactor job: one group of one repository, from scan to a local branch and a PR body.

The CLI runs this in-process and the Celery worker runs the very same function, so what a user
tries locally is what the bot does on GitHub. It never talks to GitHub: publishing the branch and
the PR is the worker's separate step (workers/github_publish.py).
"""

from __future__ import annotations

import json
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from codemods.outcome import SiteOutcome

from . import gitops
from .fix import fix_files
from .measure import Measurements, measure_after, measure_before
from .plan import Plan, load_plan
from .render import render_commit_message, render_pr_body
from .repo_config import RepoConfig, load_repo_config
from .scan import effective_target
from .verify import verify_and_write


@dataclass
class JobOptions:
    group: str
    base: str | None = None
    run_tests: bool = True
    run_bench: bool = True
    out_dir: Path | None = None
    skip_paths: frozenset[str] = frozenset()
    cache_dir: Path | None = None
    progress: Callable[[str], None] | None = None
    paths: tuple[str, ...] = ()


@dataclass
class CommitInfo:
    sha: str
    path: str
    message: str


@dataclass
class JobReport:
    group: str
    rule: str
    base_sha: str
    branch: str | None
    head_sha: str | None
    commits: list[CommitInfo]
    pr_title: str
    pr_body: str
    outcomes: list[SiteOutcome]
    tests: dict | None
    bench: dict | None
    stage_seconds: dict[str, float]
    notes: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    tasks_path: str | None = None
    tests_ok: bool | None = None  # None: not measured
    bench_ok: bool | None = None  # None: not measured, synthetic only, or inconclusive

    @property
    def fixed(self) -> list[SiteOutcome]:
        return [o for o in self.outcomes if o.status == "fixed"]

    @property
    def skipped(self) -> list[SiteOutcome]:
        return [o for o in self.outcomes if o.status == "skipped"]

    @property
    def ok(self) -> bool:
        """No test regression and nothing timed out (tests not run counts as ok: it is reported)."""
        return not self.tests or self.tests.get("ok", True)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["summary"] = {
            "sites": len(self.outcomes), "fixed": len(self.fixed), "skipped": len(self.skipped),
            "skipped_by_reason": _count_reasons(self.skipped), "ok": self.ok,
        }
        return data


def _count_reasons(skipped: list[SiteOutcome]) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in skipped:
        out[o.reason or "?"] = out.get(o.reason or "?", 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


class _Stages:
    """Wall time of each stage, for the report (speed work starts from these numbers)."""

    def __init__(self, progress: Callable[[str], None] | None):
        self.seconds: dict[str, float] = {}
        self.progress = progress or (lambda _msg: None)

    @contextmanager
    def __call__(self, name: str):
        self.progress(f"{name}…")
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 3)
            self.progress(f"{name} done in {self.seconds[name]:.1f}s")


def run_job(checkout: Path, options: JobOptions) -> JobReport:
    """Run one group end to end; leaves branch ``refactor-bot/<group>`` in ``checkout``."""
    checkout = Path(checkout).resolve()
    stage = _Stages(options.progress)
    base_sha = gitops.resolve(checkout, "HEAD" if options.base is None else options.base)
    with tempfile.TemporaryDirectory(prefix=gitops.WORKTREE_PREFIX) as tmp:
        worktree = Path(tmp) / "worktree"
        config = load_repo_config(checkout)
        group = config.group(options.group)
        branch = config.branch_for(group.name)
        say = options.progress or (lambda _msg: None)
        if gitops.is_dirty(checkout) and not options.base:
            say(f"note: {checkout} has uncommitted changes; the job starts from HEAD "
                f"({base_sha[:10]}) and ignores them")
        previous = gitops.branch_sha(checkout, branch)
        if previous:
            say(f"note: branch {branch} existed at {previous[:10]}; it is rebuilt from {base_sha[:10]}")
        with stage("checkout"):
            gitops.add_worktree(checkout, worktree, branch, base_sha)
        try:
            config = load_repo_config(worktree)  # the base commit's own config is authoritative
            report = _run_in_worktree(worktree, config, group.name, base_sha, branch, options, stage)
        except BaseException:
            gitops.remove_worktree(checkout, worktree)
            gitops.git(checkout, "branch", "-D", branch, check=False)
            raise
        gitops.remove_worktree(checkout, worktree)
        if report.branch is None:
            gitops.git(checkout, "branch", "-D", branch, check=False)
    if options.out_dir:
        write_outputs(report, Path(options.out_dir))
    return report


def _run_in_worktree(wt: Path, config: RepoConfig, group_name: str, base_sha: str, branch: str,
                     options: JobOptions, stage: _Stages) -> JobReport:
    group = config.group(group_name)
    target, notes = effective_target(config)
    with stage("scan"):
        plan = load_plan(wt, config, list(options.paths) or None)
    notes += plan.scan.notes
    files = plan.groups[group.name].files
    measurements = Measurements()
    cache_dir = Path(options.cache_dir) if options.cache_dir else None
    if files and (options.run_tests or options.run_bench):
        measure_before(measurements, wt, config, base_sha, options, cache_dir, stage)
    with stage("fix"):
        fixes = fix_files(wt, files, skip_paths=options.skip_paths, line_length=config.line_length)
    with stage("verify"):
        verified = verify_and_write(wt, fixes, group.rule, target)
    changed = [f for f in verified.kept if f.changed]
    outcomes = [o for f in verified.kept for o in f.result.outcomes]
    if changed and (options.run_tests or options.run_bench):
        kinds = {o.kind for o in outcomes if o.status == "fixed"}
        measure_after(measurements, wt, config, options, kinds, changed, stage)
    with stage("publish"):
        commits = []
        measured = measurements.one_line()
        for f in changed:
            message = render_commit_message(group.name, group.rule, f.path, f.result.outcomes, measured)
            commits.append(CommitInfo(gitops.commit_file(wt, f.path, message), f.path, message))
        head = gitops.git(wt, "rev-parse", "HEAD") if commits else None
    with stage("rescan"):
        plan_after = load_plan(wt, config, list(options.paths) or None)
    report = JobReport(
        group=group.name, rule=group.rule, base_sha=base_sha, branch=branch if commits else None,
        head_sha=head, commits=commits, pr_title="", pr_body="", outcomes=outcomes,
        tests=measurements.tests_dict(), bench=measurements.bench_dict(),
        stage_seconds=stage.seconds, notes=notes + measurements.notes, dropped=verified.dropped,
        tasks_path=plan.tasks_path, tests_ok=measurements.tests_ok, bench_ok=measurements.bench_ok,
    )
    report.pr_title, report.pr_body = render_pr_body(report, plan_after, measurements,
                                                     plan_before=plan)
    return report


def write_outputs(report: JobReport, out_dir: Path) -> None:
    """``pr_body.md`` and ``report.json`` for humans and machines."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "pr_body.md").write_text(report.pr_body, encoding="utf-8")
    (out_dir / "report.json").write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n",
                                         encoding="utf-8")


def plan_for(checkout: Path, paths: list[str] | None = None) -> Plan:
    """The plan as the CLI's ``plan`` command shows it (current working tree, no branch made)."""
    checkout = Path(checkout).resolve()
    return load_plan(checkout, load_repo_config(checkout), paths)
