"""Step 7 of the job: the repository's pytest-benchmark tests, before and after, compared.

Most repositories have no pytest-benchmark tests; then the answer is a ``BenchRun`` with
``available=False`` and a plain ``reason`` for the PR body (and ``sitebench`` measures the
rewritten shapes instead), never an empty table that looks like "no change".

The default command is ``<python> -m pytest --benchmark-only --benchmark-json=<tmp>`` over the
repository's configured test paths (pytest-benchmark skips every test that does not use the
``benchmark`` fixture), narrowed by ``selection``: a path in the checkout, or else a ``-k``
expression. pytest-benchmark disables itself under pytest-xdist, so ``-n 0`` is added when the
test interpreter has xdist. A configured command that is not pytest may write pytest-benchmark
JSON to the path it gets in place of a ``{benchmark_json}`` placeholder.

The base run is cached per base SHA like the tests (``testrun.cache_path``). Timings from a
cached base and a fresh after-run come from different moments of the same machine; the noise
rule in ``compare_benchmarks`` is deliberately conservative for that reason.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workers.sandbox import run_untrusted
from workers.testrun import (
    Progress,
    cache_path,
    cacheable,
    load_cached,
    progress_ticker,
    pytest_args,
    pytest_isolation,
    run_env,
    store_cached,
)

JSON_PLACEHOLDER = "{benchmark_json}"
STAT_FIELDS = ("min", "median", "mean", "stddev", "iqr", "q1", "q3", "rounds")
Verdict = str  # "faster" | "slower" | "same" | "noisy" | "regression" | "new" | "removed"


@dataclass
class BenchRun:
    """Benchmark results keyed by name (pytest-benchmark's ``fullname``); times in seconds."""

    available: bool
    reason: str = ""
    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    returncode: int | None = None
    timed_out: bool = False
    duration: float = 0.0
    output_tail: str = ""
    cached: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> BenchRun:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class BenchRow:
    """One line of the PR's benchmark table. Times in seconds; ``None`` where not measured.

    ``noise_pct`` is the spread the verdict had to beat (see ``compare_benchmarks``);
    ``synthetic`` marks site micro-benchmarks (synthetic inputs, not the service's latency).
    """

    name: str
    before_median: float | None
    after_median: float | None
    change_pct: float | None
    verdict: Verdict
    noise_pct: float | None = None
    synthetic: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def parse_benchmark_json(path: Path) -> dict[str, dict[str, float]]:
    """``{fullname: {min, median, mean, stddev, iqr, q1, q3, rounds}}`` from pytest-benchmark."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    out: dict[str, dict[str, float]] = {}
    for bench in data.get("benchmarks", []):
        stats = bench.get("stats") or {}
        if "median" not in stats:
            continue
        name = bench.get("fullname") or bench.get("name")
        out[name] = {k: stats[k] for k in STAT_FIELDS if k in stats}
        if bench.get("extra_info"):
            out[name]["extra_info"] = bench["extra_info"]
    return out


def _has_xdist(python: Path, checkout: Path) -> bool:
    probe = run_untrusted([str(python), "-c", "import xdist"], checkout, 60)
    return probe.returncode == 0


def _selection_args(checkout: Path, selection: str | None) -> list[str]:
    if not selection:
        return []
    if (checkout / selection.split("::")[0]).exists():
        return [selection]
    return ["-k", selection]


def run_benchmarks(checkout: Path, *, python: Path, command: Sequence[str] | None = None,
                   selection: str | None = None, timeout: float = 900.0,
                   cache: Path | None = None, key: str | None = None,
                   progress: Progress | None = None, label: str = "benchmarks") -> BenchRun:
    """Run the repository's pytest-benchmark tests and parse their JSON.

    ``cache``/``key`` as in ``testrun.run_tests`` (pass ``key`` for the base run only).
    """
    say = progress or (lambda _msg: None)
    checkout, python = Path(checkout), Path(python)
    extra = pytest_args(command)
    shown = list(command) if command is not None else ["pytest", "--benchmark-only"]
    where = (cache_path(cache, "bench", key, shown, python, extra=selection or "")
             if cache and key else None)
    hit = load_cached(where)
    if hit is not None:
        run = BenchRun.from_dict(hit)
        run.cached = True
        say(f"{label}: reusing cached base run")
        return run
    with tempfile.TemporaryDirectory(prefix="rb-bench-") as tmp:
        out = Path(tmp) / "benchmark.json"
        home = Path(tmp) / "home"
        home.mkdir()
        if extra is None:
            cmd = [a.replace(JSON_PLACEHOLDER, str(out)) for a in command]
        else:
            cmd = [str(python), "-m", "pytest", "-q", *pytest_isolation(Path(tmp)), *extra,
                   *_selection_args(checkout, selection), "--benchmark-only",
                   f"--benchmark-json={out}", "--maxfail=0"]
            if _has_xdist(python, checkout):
                cmd += ["-n", "0"]
        say(f"{label}: running {' '.join(shown)}")
        done = run_untrusted(cmd, checkout, timeout, run_env(python, home),
                             on_tick=progress_ticker(progress, label))
        run = BenchRun(available=False, command=shown, returncode=done.returncode,
                       timed_out=done.timed_out, duration=round(done.duration, 3),
                       output_tail=done.output_tail())
        if out.is_file():
            try:
                run.stats = parse_benchmark_json(out)
            except (ValueError, OSError) as exc:
                run.reason = f"unreadable benchmark JSON: {exc}"
    run.available = bool(run.stats)
    if not run.available and not run.reason:
        run.reason = _why_none(run, extra is None, selection)
    say(f"{label}: " + (f"{len(run.stats)} benchmarks" if run.available else run.reason))
    if cacheable(done.returncode, done.timed_out, extra is not None):
        store_cached(where, run.to_dict())
    return run


def _why_none(run: BenchRun, custom: bool, selection: str | None) -> str:
    if run.timed_out:
        return f"the benchmarks timed out after {run.duration:.0f} s"
    if custom:
        return (f"the benchmark command exited {run.returncode} without writing "
                f"pytest-benchmark JSON (give it a {JSON_PLACEHOLDER} argument)")
    if "--benchmark" in run.output_tail and run.returncode == 4:
        return "pytest-benchmark is not installed in the test environment"
    if run.returncode in (0, 5):
        where = f" matching {selection!r}" if selection else ""
        return f"the repository has no pytest-benchmark tests{where} (no test uses the " \
               "`benchmark` fixture)"
    return f"pytest exited {run.returncode} before any benchmark result was written"


def compare_benchmarks(before: BenchRun, after: BenchRun,
                       threshold_pct: float = 10.0) -> list[BenchRow]:
    """One row per benchmark name, sorted by name.

    The rule, on medians (robust to the odd slow round):
    * noise = the larger interquartile range of the two runs (or, when both IQRs are 0, e.g. with
      very few rounds, the larger standard deviation);
    * |after − before| ≤ noise → ``same`` when the change is within ``threshold_pct``, else
      ``noisy`` (inconclusive: the runs varied too much to tell);
    * beyond the noise: faster → ``faster``; slower by more than ``threshold_pct`` → ``regression``;
      slower but within the threshold → ``slower``.
    The IQR of single rounds is far wider than the uncertainty of a median, so this errs toward
    ``same``: the bot must not call a refactor a regression on jitter. Names in only one run are
    ``new`` / ``removed``.
    """
    rows: list[BenchRow] = []
    for name in sorted(before.stats.keys() | after.stats.keys()):
        b, a = before.stats.get(name), after.stats.get(name)
        if b is None or a is None:
            rows.append(BenchRow(name, b["median"] if b else None, a["median"] if a else None,
                                 None, "new" if b is None else "removed"))
            continue
        bm, am = b["median"], a["median"]
        noise = max(b.get("iqr", 0.0), a.get("iqr", 0.0)) or max(b.get("stddev", 0.0),
                                                                 a.get("stddev", 0.0))
        change = (am - bm) / bm * 100 if bm else 0.0
        if abs(am - bm) <= noise:
            # within the noise: "same" only if the change is also small; a big swing the noise
            # can't rule out is reported as inconclusive, never as "same"
            verdict = "same" if abs(change) <= threshold_pct else "noisy"
        elif am < bm:
            verdict = "faster"
        else:
            verdict = "regression" if change > threshold_pct else "slower"
        rows.append(BenchRow(name, bm, am, round(change, 2), verdict,
                             round(noise / bm * 100, 2) if bm else None))
    return rows
