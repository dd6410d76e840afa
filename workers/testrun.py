"""Step 6 of the job: run the repository's tests before and after, and judge per test id.

Real repositories are not green. The verdict therefore never asks "is the suite green?" but
"did any test that passed on the base commit stop passing?". Tests red on the base are reported
as ``still_failing`` and never blamed on the refactor; tests the refactor makes pass are
``fixed``.

The default command is ``<python> -m pytest -q --junitxml=<tmp>`` with pytest's cache moved to a
temp dir, ``--maxfail=0`` and ``--continue-on-collection-errors`` appended, because a repository's own
``--maxfail=10`` or one broken test module would otherwise hide most outcomes of a red base.
No ``-x`` for the same reason. ``python -m`` puts the checkout first on ``sys.path``, so the
shared venv (see ``testenv``) imports the checkout being tested. The repository's own ``addopts``
(``-n auto`` with pytest-xdist, say) still apply.
Per-test outcomes come from the junit XML (``junit_family=xunit1`` for the ``file`` attribute,
from which node ids are rebuilt). A configured command that is not pytest is judged by its exit
code only.

A suite that is flaky would make any refactor look guilty now and then, so
``confirm_regressions`` re-runs the regressed ids once and reports those that pass as ``flaky``.

The base run is the same for every group of a job, so it is cached as JSON keyed by
(``key`` = base SHA, command, interpreter); only complete runs are cached (see ``cacheable``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from workers.sandbox import run_untrusted, scrubbed_env

Progress = Callable[[str], None]

#: Outcome severity when one test id appears more than once (e.g. passed, then errored in
#: teardown): the worst wins.
_SEVERITY = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}
RED = frozenset({"failed", "error"})
_PYTEST_EXIT = {2: "interrupted (often a collection error)", 3: "internal error",
                4: "usage error (unknown option or plugin?)", 5: "no tests collected"}


# ---------------------------------------------------------------- commands shared with bench
def pytest_args(command: Sequence[str] | None) -> list[str] | None:
    """The arguments after ``pytest`` if ``command`` runs pytest, else ``None``.

    ``None`` command → ``[]`` (plain pytest). Recognises ``pytest ...``, ``py.test ...`` and
    ``python[3.x] -m pytest ...``, so a configured pytest command is still run with the test env's
    interpreter and still yields per-test results.
    """
    if command is None:
        return []
    cmd = list(command)
    if not cmd:
        return []
    head = os.path.basename(cmd[0])
    if head in ("pytest", "py.test"):
        return cmd[1:]
    if re.fullmatch(r"python[\d.]*", head) and cmd[1:3] == ["-m", "pytest"]:
        return cmd[3:]
    return None


def pytest_isolation(tmp: Path) -> list[str]:
    """Keep pytest's cache out of the checkout (and ``--lf`` state out of the next run).

    Not ``-p no:cacheprovider``: that plugin registers the ``cache_dir`` ini option, and a
    repository with ``--strict-config`` and ``cache_dir`` set then fails with a usage error.
    """
    return ["-o", f"cache_dir={Path(tmp) / 'pytest-cache'}"]


def run_env(python: Path, home: Path) -> dict[str, str]:
    """Scrubbed env with the test interpreter's ``bin`` first on PATH and a throwaway HOME."""
    env = scrubbed_env(extra={"HOME": str(home)})
    env["PATH"] = os.pathsep.join(
        p for p in (str(Path(python).parent), env.get("PATH", "")) if p)
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env


def progress_ticker(progress: Progress | None, label: str):
    """An ``on_tick`` for ``run_untrusted`` that reports pytest's ``[ 42%]`` progress."""
    if progress is None:
        return None

    def tick(elapsed: float, tail: str) -> None:
        pct = re.findall(r"\[\s*(\d+)%\]", tail)
        done = f", {pct[-1]}% done" if pct else ""
        progress(f"{label}: running, {elapsed:.0f} s{done}")

    return tick


# ---------------------------------------------------------------- baseline cache
def cache_path(cache: Path, kind: str, key: str, command: Sequence[str], python: Path,
               extra: str = "") -> Path:
    """Where a cached run lives: hash of (kind, key, command, interpreter, extra)."""
    ident = json.dumps([kind, key, list(command), str(python), extra])
    return Path(cache) / f"{kind}-{hashlib.sha256(ident.encode()).hexdigest()[:24]}.json"


def load_cached(path: Path | None) -> dict | None:
    """The cached JSON, or ``None`` when absent or unreadable (a corrupt cache is a miss)."""
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def store_cached(path: Path | None, data: dict) -> None:
    """Write atomically, so a concurrent reader never sees half a file."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def cacheable(returncode: int | None, timed_out: bool, is_pytest: bool) -> bool:
    """Only runs that completed are worth reusing: not a timeout, and for pytest not an
    interrupted/internal/usage-error exit (2-4), which may be ours or transient."""
    if timed_out or returncode is None:
        return False
    return not (is_pytest and returncode in (2, 3, 4))


# ---------------------------------------------------------------- results
@dataclass
class TestRun:
    """One run of the suite. ``outcomes`` is empty in ``exit-code`` mode."""

    __test__ = False

    command: list[str]
    mode: str  # "pytest" (per-test ids) | "exit-code"
    outcomes: dict[str, str] = field(default_factory=dict)
    returncode: int | None = None
    timed_out: bool = False
    duration: float = 0.0
    output_tail: str = ""
    note: str = ""
    cached: bool = False

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(_SEVERITY, 0)
        for outcome in self.outcomes.values():
            counts[outcome] += 1
        return counts

    @property
    def per_test(self) -> bool:
        """True when per-test outcomes are available to compare."""
        return self.mode == "pytest" and bool(self.outcomes)

    def summary(self) -> str:
        if self.timed_out:
            return f"timed out after {self.duration:.0f} s"
        if self.per_test:
            c = self.counts
            return (f"{c['passed']} passed, {c['failed']} failed, {c['error']} errors, "
                    f"{c['skipped']} skipped in {self.duration:.0f} s")
        return f"exit code {self.returncode} in {self.duration:.0f} s" + (
            f" ({self.note})" if self.note else "")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TestRun:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _dotted(path: str) -> str:
    return re.sub(r"\.py$", "", path.replace("\\", "/")).replace("/", ".")


def _node_id(case: ET.Element) -> str:
    """Rebuild a pytest node id from a junit ``testcase`` (xunit1 attributes)."""
    classname, name, file = (case.get("classname", ""), case.get("name", ""),
                             case.get("file", ""))
    if file:
        module = _dotted(file)
        if not classname and name == module:  # a collection error of a whole module
            return file
        if classname == module:
            return f"{file}::{name}"
        if classname.startswith(module + "."):
            classes = classname[len(module) + 1:].split(".")
            return "::".join([file, *classes, name])
    return f"{classname}::{name}" if classname else name


def parse_junit(path: Path) -> dict[str, str]:
    """``{node id: passed|failed|error|skipped}`` from a pytest junit XML file."""
    outcomes: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        tags = {child.tag for child in case}
        outcome = ("error" if "error" in tags else "failed" if "failure" in tags
                   else "skipped" if "skipped" in tags else "passed")
        nid = _node_id(case)
        if _SEVERITY[outcome] >= _SEVERITY.get(outcomes.get(nid, "skipped"), 0):
            outcomes[nid] = outcome
    return outcomes


# ---------------------------------------------------------------- running
def run_tests(checkout: Path, *, python: Path, command: Sequence[str] | None = None,
              timeout: float = 900.0, cache: Path | None = None, key: str | None = None,
              progress: Progress | None = None, label: str = "tests") -> TestRun:
    """Run the suite of ``checkout`` with ``python``; per-test outcomes when it is pytest.

    Pass ``cache`` and ``key`` (the base SHA) for the base run: a hit is returned with
    ``cached=True`` and nothing runs. Leave ``key`` ``None`` for the refactored checkout.
    ``progress`` receives short status strings (``label`` prefixes them).
    """
    say = progress or (lambda _msg: None)
    checkout, python = Path(checkout), Path(python)
    extra_args = pytest_args(command)
    shown = list(command) if command is not None else ["pytest"]
    where = cache_path(cache, "tests", key, shown, python) if cache and key else None
    hit = load_cached(where)
    if hit is not None:
        run = TestRun.from_dict(hit)
        run.cached = True
        say(f"{label}: reusing cached base run ({run.summary()})")
        return run
    say(f"{label}: running {' '.join(shown)}")
    with tempfile.TemporaryDirectory(prefix="rb-tests-") as tmp:
        junit = Path(tmp) / "junit.xml"
        home = Path(tmp) / "home"
        home.mkdir()
        if extra_args is None:
            cmd, mode = list(command), "exit-code"
        else:
            cmd = [str(python), "-m", "pytest", "-q", *pytest_isolation(Path(tmp)),
                   *benchmark_off(python, checkout, extra_args), *extra_args,
                   f"--junitxml={junit}", "-o", "junit_family=xunit1", "--maxfail=0",
                   "--continue-on-collection-errors"]
            mode = "pytest"
        done = run_untrusted(cmd, checkout, timeout, run_env(python, home),
                             on_tick=progress_ticker(progress, label))
        run = TestRun(command=shown, mode=mode, returncode=done.returncode,
                      timed_out=done.timed_out, duration=round(done.duration, 3),
                      output_tail=done.output_tail())
        if mode == "pytest" and junit.is_file():
            try:
                run.outcomes = parse_junit(junit)
            except ET.ParseError as exc:
                run.note = f"unreadable junit XML: {exc}"
        if mode == "pytest" and not run.outcomes and not run.timed_out:
            run.note = run.note or ("no test results: pytest exited with "
                                    f"{done.returncode} {_PYTEST_EXIT.get(done.returncode, '')}"
                                    ).strip()
    say(f"{label}: {run.summary()}")
    if cacheable(done.returncode, done.timed_out, mode == "pytest"):
        store_cached(where, run.to_dict())
    return run


def benchmark_off(python: Path, checkout: Path, extra_args: Sequence[str]) -> list[str]:
    """``--benchmark-disable`` when pytest-benchmark is there: benchmarks then run once, as plain
    tests, instead of timing rounds inside the test stage (the bench stage times them)."""
    if any(a.startswith("--benchmark") for a in extra_args):
        return []
    probe = run_untrusted([str(python), "-c", "import pytest_benchmark"], checkout, 60)
    return ["--benchmark-disable"] if probe.returncode == 0 else []


# ---------------------------------------------------------------- verdict
@dataclass
class TestVerdict:
    """Before/after, per test id. ``ok`` = nothing that passed before got worse, no timeout."""

    __test__ = False

    ok: bool
    mode: str  # "per-test" | "exit-code"
    regressions: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    new_failing: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.mode == "exit-code":
            return "; ".join(self.reasons)
        parts = [f"{len(self.regressions)} regressions", f"{len(self.fixed)} fixed",
                 f"{len(self.still_failing)} already failing on the base"]
        if self.new:
            parts.append(f"{len(self.new)} new ({len(self.new_failing)} red)")
        if self.removed:
            parts.append(f"{len(self.removed)} no longer reported ({len(self.lost)} were passing)")
        if self.flaky:
            parts.append(f"{len(self.flaky)} flaky (failed once, passed on a re-run)")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        return asdict(self)


def compare_tests(before: TestRun, after: TestRun) -> TestVerdict:
    """Judge the refactor by what changed per test id.

    * regression: passed before, failed/error after;
    * lost: passed before and absent after (a module that no longer imports shows up like
      this, next to a new collection error) — counts against ``ok`` like a regression;
    * new_failing: ids only in ``after`` that are red (collection errors) — against ``ok``;
    * still_failing: red before and after — reported, never blamed; fixed: red → passed.
    Without per-test results on both sides it falls back to exit codes: ``ok`` when ``after``
    exits 0, or exits exactly as the (already failing) base did — with a reason saying that this
    cannot tell a new failure from an old one.
    """
    reasons: list[str] = []
    if after.timed_out:
        reasons.append(f"the tests timed out after {after.duration:.0f} s")
    if not (before.per_test and after.per_test):
        if after.timed_out:
            ok = False
        elif after.returncode == 0:
            ok = True
            reasons.append("the test command exits 0")
        elif before.returncode == after.returncode and not before.timed_out:
            ok = True
            reasons.append(f"the test command exits {after.returncode} as it already did on "
                           "the base commit; exit codes alone cannot tell new failures from old")
        else:
            ok = False
            reasons.append(f"the test command exits {after.returncode} "
                           f"(base: {'timeout' if before.timed_out else before.returncode})")
        return TestVerdict(ok=ok, mode="exit-code", reasons=reasons)
    b, a = before.outcomes, after.outcomes
    common = b.keys() & a.keys()
    v = TestVerdict(
        ok=False, mode="per-test",
        regressions=sorted(t for t in common if b[t] == "passed" and a[t] in RED),
        fixed=sorted(t for t in common if b[t] in RED and a[t] == "passed"),
        still_failing=sorted(t for t in common if b[t] in RED and a[t] in RED),
        new=sorted(a.keys() - b.keys()),
        removed=sorted(b.keys() - a.keys()),
    )
    v.new_failing = [t for t in v.new if a[t] in RED]
    v.lost = [t for t in v.removed if b[t] == "passed"]
    if v.regressions:
        reasons.append(f"{len(v.regressions)} tests that passed on the base now fail")
    if v.lost:
        reasons.append(f"{len(v.lost)} tests that passed on the base are no longer reported")
    if v.new_failing:
        reasons.append(f"{len(v.new_failing)} new red results (collection errors?)")
    v.ok = not (after.timed_out or v.regressions or v.lost or v.new_failing)
    v.reasons = reasons
    return v


def confirm_regressions(verdict: TestVerdict, after_checkout: Path, *, python: Path,
                        timeout: float = 600.0, max_ids: int = 200,
                        progress: Progress | None = None) -> TestVerdict:
    """Re-run the regressed test ids once on the refactored checkout; passes become ``flaky``.

    A real suite has tests that fail now and then (timing, ordering, ports). Blaming such a
    failure on the refactor would be wrong, hiding it would be too: a test that passes on the
    re-run moves from ``regressions`` to ``flaky`` (listed in the summary), one that fails again
    stays a regression. At most ``max_ids`` ids are re-run (more than that is no flake).
    """
    if verdict.mode != "per-test" or not verdict.regressions or \
            len(verdict.regressions) > max_ids:
        return verdict
    rerun = run_tests(after_checkout, python=python, command=["pytest", *verdict.regressions],
                      timeout=timeout, progress=progress, label="tests (re-run of regressions)")
    if rerun.timed_out or not rerun.per_test:
        return verdict
    flaky = [t for t in verdict.regressions if rerun.outcomes.get(t) == "passed"]
    if not flaky:
        return verdict
    regressions = [t for t in verdict.regressions if t not in flaky]
    reasons = [r for r in verdict.reasons if "now fail" not in r]
    if regressions:
        reasons.insert(0, f"{len(regressions)} tests that passed on the base now fail")
    return replace(verdict, regressions=regressions, flaky=verdict.flaky + flaky,
                   reasons=reasons,
                   ok=not (regressions or verdict.lost or verdict.new_failing or
                           any("timed out" in r for r in verdict.reasons)))
