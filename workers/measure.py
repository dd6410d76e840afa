"""Steps 6 and 7 of the job: the repository's tests and benchmarks, before and after.

The baseline (before) runs are cached per base SHA so every group of the same commit reuses them.
A test verdict is per test id: a test red on the base is reported as such and never blamed on the
refactor. When the repository has no benchmarks, site micro-benchmarks of the rewrite shapes are
run instead and labelled as what they are.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .bench import BenchRow, BenchRun, compare_benchmarks, run_benchmarks
from .repo_config import RepoConfig
from .testenv import TestEnvError, ensure_test_python
from .testrun import TestRun, TestVerdict, compare_tests, confirm_regressions, run_tests


BENCH_ROUNDS = 2


def _merge_runs(runs: list[BenchRun]) -> BenchRun:
    """One BenchRun from several rounds: per benchmark the median of the medians, the widest
    spread (so noise is never understated) and the fastest min."""
    merged = BenchRun(**{**runs[0].to_dict(), "stats": {}})
    names = set().union(*(r.stats for r in runs))
    for name in sorted(names):
        rows = [r.stats[name] for r in runs if name in r.stats]
        stats = {"median": statistics.median(x["median"] for x in rows),
                 "mean": statistics.fmean(x["mean"] for x in rows),
                 "min": min(x["min"] for x in rows),
                 "rounds": sum(x.get("rounds", 0) for x in rows)}
        for key in ("stddev", "iqr"):
            stats[key] = max(x.get(key, 0.0) for x in rows)
        spread = [x["median"] for x in rows]
        stats["iqr"] = max(stats["iqr"], max(spread) - min(spread))  # round-to-round drift is noise too
        merged.stats[name] = stats
    merged.duration = sum(r.duration for r in runs)
    return merged


def bench_ab(m: Measurements, wt: Path, config: RepoConfig, changed: list, progress) -> str:
    """Benchmark base and rewritten code alternately, in the same job, A B A B.

    A baseline cached from another moment (a cold machine, another job's load) makes every
    comparison lie, so benchmarks are never cached: the changed files are swapped between their
    original and rewritten bytes between rounds, and each side's rounds are merged.
    Returns ``"ok"``, ``"none"`` (the repository has no benchmarks) or ``"timed out"``.
    """
    sides: dict[str, list[BenchRun]] = {"before": [], "after": []}
    for round_no in range(1, BENCH_ROUNDS + 1):
        for side, attr in (("before", "old_bytes"), ("after", "new_bytes")):
            for f in changed:
                (wt / f.path).write_bytes(getattr(f, attr))
            run = run_benchmarks(wt, python=m.python, command=config.bench_command,
                                 selection=config.bench_selection, timeout=config.bench_timeout,
                                 progress=progress, label=f"benchmarks {side} (round {round_no})")
            sides[side].append(run)
            if not run.available or run.timed_out:
                for f in changed:
                    (wt / f.path).write_bytes(f.new_bytes)
                m.bench_before = run
                if run.available:
                    m.notes.append(f"bench: benchmarks timed out after {config.bench_timeout:g}s")
                    m.bench_before = None
                    return "timed out"
                return "none"
    m.bench_before, m.bench_after = _merge_runs(sides["before"]), _merge_runs(sides["after"])
    return "ok"


def default_cache_dir() -> Path:
    """Where venvs and baselines are kept between runs (called at job time, not import time)."""
    return Path.home() / ".cache" / "refactor-bot"


@dataclass
class Measurements:
    python: Path | None = None
    tests_before: TestRun | None = None
    tests_after: TestRun | None = None
    verdict: TestVerdict | None = None
    bench_before: BenchRun | None = None
    bench_after: BenchRun | None = None
    rows: list[BenchRow] = field(default_factory=list)
    synthetic: bool = False
    notes: list[str] = field(default_factory=list)
    threshold_pct: float = 10.0

    # ---- verdicts -------------------------------------------------------------------------
    @property
    def tests_ok(self) -> bool | None:
        return None if self.verdict is None else self.verdict.ok

    @property
    def bench_ok(self) -> bool | None:
        if not self.rows or self.synthetic:
            return None  # synthetic shapes say nothing about this repository's hot paths
        if any(r.verdict == "regression" for r in self.rows):
            return False
        if any(r.verdict == "noisy" and (r.change_pct or 0) > 0 for r in self.rows):
            return None  # can't tell: no evidence either way
        return True

    # ---- words for the PR body and commit messages ---------------------------------------
    def tests_summary(self) -> str:
        if self.verdict is not None:
            return (f"Before: {self.tests_before.summary()}. After: {self.tests_after.summary()}. "
                    f"Verdict: {self.verdict.summary()}.")
        if self.tests_before is not None:
            return f"Before: {self.tests_before.summary()}. Not re-run: nothing was changed."
        return "; ".join(n for n in self.notes if n.startswith("tests")) or "Tests were not run (--no-tests)."

    def regressions(self) -> list[str]:
        return list(self.verdict.regressions) if self.verdict else []

    def red_on_base(self) -> list[str]:
        return list(self.verdict.still_failing) if self.verdict else []

    def bench_intro(self) -> str:
        if self.synthetic:
            return ("This repository has no benchmarks (" + (self.bench_before.reason if self.bench_before else "none found") + ")"
                    + ". The rows below are **site micro-benchmarks**: each rewrite *shape* timed on "
                    "synthetic inputs with pytest-benchmark; they are not this service's latency. On "
                    "Python ≥ 3.11 a try costs nothing until it raises, so a helper call per "
                    "iteration can be slower than the try it replaces.")
        if self.rows:
            return (f"pytest-benchmark medians of base and rewritten code, measured alternately in "
                    f"this job ({BENCH_ROUNDS} rounds each). A regression is a slowdown beyond "
                    f"{self.threshold_pct:g}% and beyond the runs' own noise; `noisy` means the runs "
                    "varied too much to tell.")
        reasons = [n for n in self.notes if n.startswith("bench")]
        if self.bench_before is not None and not self.bench_before.available:
            reasons.insert(0, f"No benchmarks ran: {self.bench_before.reason}")
        return "; ".join(reasons) or "Benchmarks were not run (--no-bench)."

    def bench_table(self) -> list[dict]:
        return [{"name": r.name, "before": _fmt(r.before_median), "after": _fmt(r.after_median),
                 "change": "—" if r.change_pct is None else f"{r.change_pct:+.1f}%",
                 "noise": "—" if r.noise_pct is None else f"±{r.noise_pct:.0f}%",
                 "verdict": r.verdict} for r in self.rows]

    def one_line(self) -> str:
        """The measured effect, for commit messages."""
        parts = []
        if self.verdict is not None:
            parts.append(f"tests {self.verdict.summary()}")
        if self.rows:
            label = "site micro-benchmarks (synthetic)" if self.synthetic else "benchmarks"
            parts.append(f"{label}: " + ", ".join(
                f"{r.name} {'—' if r.change_pct is None else f'{r.change_pct:+.1f}%'} ({r.verdict})"
                for r in self.rows[:6]))
        return "; ".join(parts) or "nothing measured (tests and benchmarks not run)"

    def tests_dict(self) -> dict | None:
        if self.tests_before is None:
            return None
        return {"before": self.tests_before.to_dict(),
                "after": self.tests_after.to_dict() if self.tests_after else None,
                "verdict": self.verdict.to_dict() if self.verdict else None,
                "ok": True if self.verdict is None else self.verdict.ok}

    def bench_dict(self) -> dict | None:
        if self.bench_before is None and not self.rows:
            return None
        return {"synthetic": self.synthetic,
                "before": self.bench_before.to_dict() if self.bench_before else None,
                "after": self.bench_after.to_dict() if self.bench_after else None,
                "rows": [r.to_dict() for r in self.rows]}


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _python(m: Measurements, wt: Path, config: RepoConfig, cache_dir: Path, progress) -> Path | None:
    if m.python is None:
        try:
            m.python = ensure_test_python(
                wt, cache_dir=cache_dir, progress=progress,
                requirements=list(config.requirements) if config.requirements is not None else None)
        except TestEnvError as exc:
            m.notes.append(f"tests and benchmarks could not run: the test environment failed ({exc})")
    return m.python


def measure_before(m: Measurements, wt: Path, config: RepoConfig, base_sha: str, options,
                   cache_dir: Path | None, stage) -> None:
    """Baseline test run at the base commit (cached per base SHA, reused by every group)."""
    cache_dir = cache_dir or default_cache_dir()
    m.threshold_pct = config.regression_threshold_pct
    with stage("test env"):
        python = _python(m, wt, config, cache_dir, options.progress)
    if python is None:
        return
    if options.run_tests:
        with stage("tests before"):
            m.tests_before = run_tests(wt, python=python, command=config.test_command,
                                       timeout=config.test_timeout, cache=cache_dir / "runs", key=base_sha,
                                       progress=options.progress, label="tests before")


def measure_after(m: Measurements, wt: Path, config: RepoConfig, options, kinds: set[str],
                  changed: list, stage) -> None:
    """Tests on the rewritten tree, benchmarks A/B, then the comparisons."""
    if m.python is None:
        return
    if options.run_tests and m.tests_before is not None:
        with stage("tests after"):
            m.tests_after = run_tests(wt, python=m.python, command=config.test_command,
                                      timeout=config.test_timeout, progress=options.progress,
                                      label="tests after")
        m.verdict = confirm_regressions(compare_tests(m.tests_before, m.tests_after), wt,
                                        python=m.python, timeout=config.test_timeout,
                                        progress=options.progress)
    if not options.run_bench:
        return
    with stage("benchmarks"):
        status = bench_ab(m, wt, config, changed, options.progress)
    if status == "ok":
        m.rows = compare_benchmarks(m.bench_before, m.bench_after, config.regression_threshold_pct)
    elif status == "none" and kinds:
        # only when the repository has no benchmarks at all: synthetic rows must never stand in
        # for the repository's own benchmarks that failed to finish
        from .sitebench import SiteBenchError, run_site_microbenchmarks

        with stage("site micro-benchmarks"):
            try:
                m.rows = run_site_microbenchmarks(kinds, python=m.python, timeout=config.bench_timeout,
                                                  threshold_pct=config.regression_threshold_pct)
                m.synthetic = True
            except SiteBenchError as exc:
                m.notes.append(f"bench: site micro-benchmarks failed ({exc})")
