"""Step 2 of the job: ask ruff where the PERF203/PERF401 sites are.

ruff is the source of truth for *where* to look; the codemods only parse files it flags. The rules
are forced on (whatever the repo selects or ignores), the target version is pinned below 3.11
because ruff only reports PERF203 there, and the repo's own excludes and ``noqa`` comments are
respected, so the bot never touches what the team fenced off.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from codemods.outcome import Site

from .repo_config import RULES, RepoConfig


class ScanError(RuntimeError):
    """ruff could not run or gave output we cannot read; the message carries ruff's stderr."""


@dataclass
class ScanResult:
    """Sites found by one ruff run, with what the user should know about how they were found."""

    sites: list[Site]
    paths: tuple[str, ...]
    target_version: str
    seconds: float
    notes: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)  # path → why ruff could not lint it

    def by_file(self) -> dict[str, list[Site]]:
        out: dict[str, list[Site]] = {}
        for site in sorted(self.sites):
            out.setdefault(site.path, []).append(site)
        return out


def ruff_executable() -> str:
    """The ruff installed next to this interpreter (pinned in pyproject), else the one on PATH."""
    candidate = Path(sys.executable).with_name("ruff")
    return str(candidate) if candidate.exists() else "ruff"


def _minor(version: str) -> int | None:
    match = re.search(r"3\.?(\d+)", version)
    return int(match.group(1)) if match else None


def effective_target(config: RepoConfig) -> tuple[str, list[str]]:
    """The target version to scan at, and notes explaining any pinning."""
    notes = []
    target = config.target_version
    minor = _minor(target)
    if minor is None or minor >= 11:
        notes.append(f"target version {target} pinned to py310 so that ruff reports PERF203")
        target = "py310"
    if config.requires_python:
        lowest = re.search(r">=\s*3\.(\d+)", config.requires_python)
        if lowest and int(lowest.group(1)) >= 11:
            notes.append(
                f"requires-python is {config.requires_python}: on Python 3.11+ a try costs nothing "
                "until it raises, so PERF203 rewrites buy no speed there; they are style only"
            )
    return target, notes


def run_ruff(checkout: Path, paths: list[str], *, target: str, rules=RULES,
             extra_args: tuple[str, ...] = ()) -> tuple[list[dict], str]:
    """Run ruff's check with JSON output; returns (violations, stderr)."""
    cmd = [
        ruff_executable(), "check", *paths,
        "--select", ",".join(rules),
        "--target-version", target,
        "--config", "lint.ignore=[]",
        "--config", "lint.per-file-ignores={}",
        "--config", "lint.extend-per-file-ignores={}",
        "--output-format", "json", "--exit-zero", "--no-fix", "--no-cache", "--force-exclude",
        *extra_args,
    ]
    proc = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise ScanError(f"ruff failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    try:
        data = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise ScanError(f"ruff printed output that is not JSON: {proc.stdout[:300]!r}") from exc
    return data, proc.stderr


_FAILED = re.compile(r"Failed to lint (?P<path>.+?): (?P<why>.+)$", re.M)


def unreadable_files(checkout: Path, stderr: str) -> dict[str, str]:
    """Files ruff could not read (e.g. not UTF-8): they may hide sites, so the user must hear of them."""
    root = Path(checkout).resolve()
    out = {}
    for match in _FAILED.finditer(stderr):
        path = (root / match.group("path")).resolve()
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            rel = match.group("path")
        out[rel] = match.group("why").strip()
    return out


def to_sites(checkout: Path, violations: list[dict], rules=RULES) -> list[Site]:
    """ruff's JSON rows → Sites with repo-relative POSIX paths (syntax errors etc. dropped)."""
    root = Path(checkout).resolve()
    sites = []
    for row in violations:
        if row.get("code") not in rules:
            continue
        path = Path(row["filename"]).resolve()
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            rel = path.as_posix()
        loc = row["location"]
        sites.append(Site(rel, int(loc["row"]), int(loc["column"]), row["code"]))
    return sorted(set(sites))


def scan(checkout: Path, config: RepoConfig, paths: list[str] | None = None,
         *, rules=RULES) -> ScanResult:
    """Find every site of ``rules`` under ``paths`` (default: the config's src, else the repo)."""
    checkout = Path(checkout)
    scope = list(paths or config.src or ["."])
    target, notes = effective_target(config)
    started = time.perf_counter()
    try:
        violations, stderr = run_ruff(checkout, scope, target=target, rules=rules)
    except ScanError as exc:
        # A broken ruff config in the target must not stop the bot: retry without it, and say so.
        violations, stderr = run_ruff(checkout, scope, target=target, rules=rules,
                                      extra_args=("--isolated",))
        notes.append(f"the repository's ruff configuration was unusable, scanned with --isolated: {exc}")
    seconds = time.perf_counter() - started
    unreadable = unreadable_files(checkout, stderr)
    notes += [f"ruff could not read {path} ({why}); any sites in it were not seen" for path, why in unreadable.items()]
    return ScanResult(to_sites(checkout, violations, rules), tuple(scope), target, seconds, notes, unreadable)
