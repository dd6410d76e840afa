"""workers.bench and workers.sitebench: real pytest-benchmark runs on throwaway repositories."""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from workers.bench import BenchRun, compare_benchmarks, run_benchmarks
from workers.sitebench import SHAPES, run_site_microbenchmarks

PY = Path(sys.executable)
FAST = ["pytest", "--benchmark-max-time=0.05", "--benchmark-min-rounds=5"]

WORK = "def work(n):\n    return sum(range(n))\n"
SLOW_WORK = "import time\n\ndef work(n):\n    time.sleep(0.005)\n    return sum(range(n))\n"
BENCH_TESTS = textwrap.dedent("""
    import work

    def test_plain():
        assert work.work(3) == 3

    def test_bench_work(benchmark):
        assert benchmark(work.work, 100) == 4950

    def test_bench_other(benchmark):
        benchmark(sorted, [3, 1, 2])
""")


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "base"
    (root / "tests").mkdir(parents=True)
    (root / "work.py").write_text(WORK)
    (root / "tests" / "test_work.py").write_text(BENCH_TESTS)
    return root


def test_runs_and_parses_the_benchmarks(repo):
    run = run_benchmarks(repo, python=PY, command=FAST, timeout=120)
    assert run.available, run.output_tail
    assert set(run.stats) == {"tests/test_work.py::test_bench_work",
                              "tests/test_work.py::test_bench_other"}
    stats = run.stats["tests/test_work.py::test_bench_work"]
    assert 0 < stats["min"] <= stats["median"]
    assert stats["rounds"] >= 5
    assert {"mean", "stddev", "iqr"} <= stats.keys()


def test_selection_by_keyword_and_by_path(repo):
    (repo / "tests" / "test_more.py").write_text(
        "def test_bench_more(benchmark):\n    benchmark(len, 'abc')\n")
    by_k = run_benchmarks(repo, python=PY, command=FAST, selection="other", timeout=120)
    assert set(by_k.stats) == {"tests/test_work.py::test_bench_other"}
    by_path = run_benchmarks(repo, python=PY, command=FAST, selection="tests/test_more.py",
                             timeout=120)
    assert set(by_path.stats) == {"tests/test_more.py::test_bench_more"}


def test_no_benchmarks_is_said_plainly(tmp_path):
    (tmp_path / "test_x.py").write_text("def test_x():\n    assert True\n")
    run = run_benchmarks(tmp_path, python=PY, timeout=120)
    assert not run.available
    assert "no pytest-benchmark tests" in run.reason
    assert run.stats == {}


def test_end_to_end_slowdown_is_a_regression(repo, tmp_path):
    after = tmp_path / "after"
    shutil.copytree(repo, after)
    (after / "work.py").write_text(SLOW_WORK)
    before_run = run_benchmarks(repo, python=PY, command=FAST, timeout=120)
    after_run = run_benchmarks(after, python=PY, command=FAST, timeout=120)
    rows = {r.name: r for r in compare_benchmarks(before_run, after_run, threshold_pct=10)}
    work = rows["tests/test_work.py::test_bench_work"]
    assert work.verdict == "regression"
    assert work.change_pct > 10
    assert work.after_median >= 0.005  # the sleep alone


def test_baseline_is_cached(repo, tmp_path):
    cache = tmp_path / "cache"
    first = run_benchmarks(repo, python=PY, command=FAST, timeout=120, cache=cache, key="abc")
    (repo / "work.py").write_text(SLOW_WORK)
    again = run_benchmarks(repo, python=PY, command=FAST, timeout=120, cache=cache, key="abc")
    assert again.cached and again.stats == first.stats


def test_custom_command_writes_json_to_the_placeholder(tmp_path):
    fake = {"benchmarks": [{"fullname": "mybench", "stats": {
        "min": 1.0, "median": 2.0, "mean": 2.0, "stddev": 0.1, "iqr": 0.1, "rounds": 3}}]}
    (tmp_path / "bench.py").write_text(
        f"import json, sys\njson.dump({fake!r}, open(sys.argv[1], 'w'))\n")
    run = run_benchmarks(tmp_path, python=PY, command=[sys.executable, "bench.py",
                                                       "{benchmark_json}"], timeout=60)
    assert run.available and run.stats["mybench"]["median"] == 2.0
    silent = run_benchmarks(tmp_path, python=PY, command=[sys.executable, "-c", "pass"],
                            timeout=60)
    assert not silent.available and "{benchmark_json}" in silent.reason


def _run(**medians_iqr) -> BenchRun:
    return BenchRun(True, stats={name: {"median": m, "iqr": iqr, "stddev": iqr}
                                 for name, (m, iqr) in medians_iqr.items()})


def test_compare_rule():
    before = _run(same=(100.0, 10.0), faster=(100.0, 1.0), slower=(100.0, 1.0),
                  regress=(100.0, 1.0), noisy=(100.0, 40.0), gone=(1.0, 0.0))
    after = _run(same=(105.0, 10.0), faster=(80.0, 1.0), slower=(105.0, 1.0),
                 regress=(130.0, 1.0), noisy=(130.0, 40.0), fresh=(1.0, 0.0))
    rows = {r.name: r for r in compare_benchmarks(before, after, threshold_pct=10)}
    assert {n: r.verdict for n, r in rows.items()} == {
        "same": "same",          # +5 within the IQR of 10
        "faster": "faster",
        "slower": "slower",      # +5 beyond noise 1, but under the 10 % threshold
        "regress": "regression",  # +30 beyond noise and threshold
        "noisy": "noisy",        # +30 but the IQR is 40: inconclusive, never "same"
        "gone": "removed", "fresh": "new"}
    assert rows["regress"].change_pct == pytest.approx((130 - 100) / 100 * 100)
    assert rows["gone"].after_median is None and rows["fresh"].before_median is None
    assert [r.name for r in compare_benchmarks(before, after)] == sorted(rows)


def test_compare_falls_back_to_stddev_when_iqr_is_zero():
    before = BenchRun(True, stats={"b": {"median": 100.0, "iqr": 0.0, "stddev": 50.0}})
    after = BenchRun(True, stats={"b": {"median": 140.0, "iqr": 0.0, "stddev": 50.0}})
    assert compare_benchmarks(before, after, 10)[0].verdict == "noisy"  # +40% within stddev 50
    after.stats["b"]["median"] = 105.0
    assert compare_benchmarks(before, after, 10)[0].verdict == "same"


# ---------------------------------------------------------------- sitebench
def test_site_microbenchmarks_are_labelled_and_compared():
    rows = run_site_microbenchmarks({"comprehension", "extract"}, python=PY, timeout=120,
                                    max_time=0.02, repeats=2)
    expected = len(SHAPES["comprehension"]) + len(SHAPES["extract"])
    assert len(rows) == expected
    for row in rows:
        assert row.synthetic
        assert row.name.startswith("site micro-benchmark: ")
        assert row.before_median > 0 and row.after_median > 0
        assert row.verdict in {"faster", "slower", "same", "noisy", "regression"}
    assert any("10% raise" in r.name for r in rows)


def test_site_microbenchmarks_for_nothing_run_nothing():
    assert run_site_microbenchmarks(set(), python=PY) == []
    assert run_site_microbenchmarks({"skipped-kind"}, python=PY) == []


def test_generated_bench_file_forms_agree():
    """The before/after forms timed must compute the same thing (the file asserts it too)."""
    from workers import sitebench

    namespace: dict = {}
    exec(compile(sitebench._BENCH_FILE.format(items=50, order=[]), "gen", "exec"), namespace)
    for shape, (before, after, data) in namespace["CASES"].items():
        assert before(data) == after(data), shape
    with pytest.raises(RuntimeError):
        namespace["hoist_before"](["1", "x"])
    with pytest.raises(RuntimeError):
        namespace["hoist_after"](["1", "x"])
