"""``refactor-bot``: scan, plan and run the refactor job locally — no GitHub, Redis or Celery.

The ``run`` command is the very job the Celery worker runs; ``demo`` runs it on the built-in
example repository (copied to a temporary git repository) so anyone can see a full PR body.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import gitops
from .job import JobOptions, run_job
from .plan import PlanError
from .repo_config import ConfigError, load_repo_config
from .scan import ScanError
from .tasksmd import TasksError

EXAMPLE = Path(__file__).parent / "example_repo"


def _progress(quiet: bool):
    started = time.monotonic()

    def say(message: str) -> None:
        if not quiet:
            print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    return say


def cmd_scan(args) -> int:
    from .plan import load_plan

    plan = load_plan(Path(args.path), load_repo_config(Path(args.path)), args.paths or None)
    if args.json:
        print(json.dumps({
            "paths": plan.scan.paths, "target_version": plan.scan.target_version,
            "seconds": round(plan.scan.seconds, 3), "notes": plan.scan.notes,
            "groups": {name: {"rule": gp.group.rule, "sites": gp.site_count,
                              "files": {p: [s.line for s in v] for p, v in gp.files.items()}}
                       for name, gp in plan.groups.items()},
            "unassigned": [s.__dict__ for s in plan.unassigned],
        }, indent=2))
        return 0
    print(f"ruff over {' '.join(plan.scan.paths)} at {plan.scan.target_version}: "
          f"{len(plan.scan.sites)} site(s) in {plan.scan.seconds:.2f}s")
    for note in plan.scan.notes:
        print(f"note: {note}")
    for name, gp in plan.groups.items():
        print(f"\n{name} ({gp.group.rule}): {gp.site_count} site(s) in {len(gp.files)} file(s)")
        for path, sites in gp.files.items():
            print(f"  {len(sites):3d}  {path}")
    return 0


def cmd_plan(args) -> int:
    from .plan import load_plan

    plan = load_plan(Path(args.path), load_repo_config(Path(args.path)), args.paths or None)
    if plan.tasks is None:
        print("no plan found (openspec/changes/*/tasks.md mentioning PERF203/PERF401, or "
              "[tool.refactor-bot] tasks-file)", file=sys.stderr)
    else:
        print(f"plan: {plan.tasks_path}")
    for name, gp in plan.groups.items():
        print(f"\n{name} ({gp.group.rule}): {gp.site_count} site(s) now in {len(gp.files)} file(s)")
        for st in gp.items:
            if st.item.parent is not None:
                continue
            claim = f"plan says {st.item.claimed}" if st.item.claimed is not None else ""
            now = "" if st.found is None else f"found {st.found}"
            state = ("file missing" if st.missing else "satisfied" if st.satisfied
                     else "ticked" if st.item.checked else "")
            print(f"  [{'x' if st.item.checked else ' '}] {st.item.id:<5} {st.item.text[:60]:<60} "
                  f"{claim:>14} {now:>9} {state}")
    if plan.unassigned:
        print(f"\n{len(plan.unassigned)} site(s) belong to no group")
    return 0


def _groups(path: Path, group: str) -> list[str]:
    config = load_repo_config(path)
    return [g.name for g in config.groups] if group == "all" else [group]


def cmd_run(args) -> int:
    path = Path(args.path)
    out = Path(args.out) if args.out else None
    status = 0
    for group in _groups(path, args.group):
        options = JobOptions(
            group=group, base=args.base, run_tests=not args.no_tests, run_bench=not args.no_bench,
            out_dir=(out / group) if out else None, skip_paths=frozenset(args.skip or ()),
            cache_dir=Path(args.cache_dir) if args.cache_dir else None,
            progress=_progress(args.quiet), paths=tuple(args.paths or ()),
        )
        report = run_job(path, options)
        if args.json:
            print(json.dumps(report.to_dict(), indent=2, default=str))
        else:
            print(f"# {report.pr_title}\n\n{report.pr_body}")
            print(f"--- {group}: {len(report.fixed)} fixed, {len(report.skipped)} skipped; "
                  f"branch {report.branch or '(none: nothing changed)'}"
                  + (f"; written to {options.out_dir}" if options.out_dir else ""), file=sys.stderr)
        if not report.ok:
            status = 1
    return status


def make_example_repo(dest: Path) -> Path:
    """Copy the built-in example into ``dest`` and make it a git repository with one commit."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".benchmarks"))
    gitops.git(dest, "init", "--quiet", "--initial-branch=main")
    gitops.git(dest, "add", "-A")
    gitops.git(dest, "commit", "--quiet", "--no-gpg-sign", "-m", "Initial import", env=gitops.bot_env())
    return dest


def cmd_demo(args) -> int:
    root = Path(tempfile.mkdtemp(prefix="refactor-bot-demo-"))
    repo = make_example_repo(root / "inventory-demo")
    print(f"example repository: {repo}", file=sys.stderr)
    args.path, args.paths, args.skip = str(repo), None, None
    args.out = args.out or str(root / "out")
    status = cmd_run(args)
    branches = subprocess.run(["git", "branch", "--list", "refactor-bot/*"], cwd=repo,
                              capture_output=True, text=True).stdout
    print(f"\nbranches made in {repo}:\n{branches}PR bodies and report.json in {args.out}",
          file=sys.stderr)
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refactor-bot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scan", help="ruff's PERF203/PERF401 sites per group and file")
    p.add_argument("path")
    p.add_argument("--paths", nargs="*", help="limit the scan to these paths inside PATH")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_scan)
    p = sub.add_parser("plan", help="the plan's items next to the sites found now")
    p.add_argument("path")
    p.add_argument("--paths", nargs="*")
    p.set_defaults(func=cmd_plan)
    for name, helptext in (("run", "fix one group (or all) and make its branch and PR body"),
                           ("demo", "run the job on the built-in example repository")):
        p = sub.add_parser(name, help=helptext)
        if name == "run":
            p.add_argument("path")
            p.add_argument("--group", required=True, help="a group name, or 'all'")
            p.add_argument("--base", help="git ref to start from (default HEAD)")
            p.add_argument("--skip", action="append", help="leave this file alone (repeatable)")
            p.add_argument("--paths", nargs="*")
        else:
            p.add_argument("--group", default="all")
            p.set_defaults(base=None)
        p.add_argument("--no-tests", action="store_true")
        p.add_argument("--no-bench", action="store_true")
        p.add_argument("--out", help="write pr_body.md and report.json under OUT/<group>/")
        p.add_argument("--cache-dir", help="test envs and baselines (default ~/.cache/refactor-bot)")
        p.add_argument("--json", action="store_true", help="print report.json instead of the PR body")
        p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
        p.set_defaults(func=cmd_run if name == "run" else cmd_demo)
    return parser


def _terminate(signum, _frame):
    """SIGTERM unwinds like Ctrl-C, so the job removes its worktree and half-made branch."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    path = getattr(args, "path", None)
    if path is not None and not Path(path).is_dir():
        print(f"refactor-bot: {path} is not a directory (give the repository's folder)", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except (ConfigError, PlanError, TasksError, ScanError, gitops.GitError) as exc:
        print(f"refactor-bot: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `refactor-bot scan . | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
