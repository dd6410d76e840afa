"""workers.testrun and workers.testenv on small throwaway repositories, with real pytest runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from workers.testenv import (
    TestEnvError,
    detect_requirements,
    ensure_test_python,
    env_key,
    implied_plugins,
)
from workers.testrun import (
    compare_tests,
    confirm_regressions,
    parse_junit,
    pytest_args,
    run_tests,
)

PY = Path(sys.executable)

MOD = textwrap.dedent("""
    def add(a, b):
        return a + b

    def double_all(xs):
        out = []
        for x in xs:
            out.append(x * 2)
        return out

    def shout(s):
        return s.lower()  # a bug on the base commit
""")

TESTS = textwrap.dedent("""
    import os, json
    from pathlib import Path
    import pytest
    import mod

    def test_add():
        assert mod.add(2, 3) == 5

    def test_double_all():
        assert mod.double_all([1, 2]) == [2, 4]

    def test_known_bug():
        assert mod.add(0.1, 0.2) == 0.3  # red on the base, and after

    def test_shout():
        assert mod.shout("hi") == "HI"  # red on the base, fixed after

    @pytest.mark.parametrize("n", [1, 2])
    def test_param(n):
        assert mod.add(n, 0) == n

    def test_skipped():
        pytest.skip("not here")

    class TestThing:
        def test_method(self):
            assert mod.add(1, 1) == 2

    def test_dump_env():
        Path(__file__).with_name("seen_env.json").write_text(json.dumps(dict(os.environ)))
""")

# The repo's own config tries to stop early and is strict about its config: neither may
# hide outcomes or break the run.
PYTEST_INI = "[pytest]\naddopts = -x --maxfail=1 --strict-config\ncache_dir = .pytest_cache\n"


def make_repo(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "mod.py").write_text(MOD)
    (root / "tests" / "test_mod.py").write_text(TESTS)
    (root / "pytest.ini").write_text(PYTEST_INI)
    return root


@pytest.fixture
def repo(tmp_path) -> Path:
    """A base checkout a test may modify."""
    return make_repo(tmp_path / "base")


@pytest.fixture(scope="module")
def shared_base(tmp_path_factory) -> Path:
    """A base checkout nobody modifies, so its run can be shared (each pytest start costs)."""
    return make_repo(tmp_path_factory.mktemp("shared") / "base")


@pytest.fixture(scope="module")
def base_run(shared_base):
    return run_tests(shared_base, python=PY, timeout=120)


def refactored(base: Path, dest: Path, new_mod: str) -> Path:
    shutil.copytree(base, dest)
    (dest / "mod.py").write_text(new_mod)
    return dest


def collected_ids(checkout: Path) -> set[str]:
    """Node ids as pytest itself prints them: the reference for the junit reconstruction."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts="],
                         cwd=checkout, capture_output=True, text=True, check=False).stdout
    return {line for line in out.splitlines() if "::" in line}


def test_outcomes_are_keyed_by_pytest_node_ids(shared_base, base_run):
    run, repo = base_run, shared_base
    assert run.mode == "pytest" and run.per_test
    assert set(run.outcomes) == collected_ids(repo)
    assert run.outcomes["tests/test_mod.py::test_add"] == "passed"
    assert run.outcomes["tests/test_mod.py::TestThing::test_method"] == "passed"
    assert run.outcomes["tests/test_mod.py::test_param[2]"] == "passed"
    assert run.outcomes["tests/test_mod.py::test_known_bug"] == "failed"
    assert run.outcomes["tests/test_mod.py::test_skipped"] == "skipped"
    # -x / --maxfail=1 from the repo's addopts did not stop the run after the first failure
    assert run.counts == {
        o: sum(1 for v in run.outcomes.values() if v == o)
        for o in ("skipped", "passed", "failed", "error")}
    assert run.counts["failed"] == 2
    assert run.returncode == 1
    assert not (repo / ".pytest_cache").exists()


def test_the_test_process_does_not_see_secrets(repo, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "z" * 36)
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://:pw@localhost:6379/0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    run_tests(repo, python=PY, command=["pytest", "tests/test_mod.py::test_dump_env"], timeout=120)
    seen = json.loads((repo / "tests" / "seen_env.json").read_text())
    assert {"GITHUB_TOKEN", "CELERY_BROKER_URL", "AWS_SECRET_ACCESS_KEY"}.isdisjoint(seen)
    assert seen["HOME"] != os.environ.get("HOME")
    assert seen["PATH"].split(os.pathsep)[0] == str(PY.parent)


def test_verdict_blames_only_tests_that_passed_on_the_base(shared_base, base_run, tmp_path):
    after_src = MOD.replace("out.append(x * 2)", "out.append(x * 3)").replace(
        "s.lower()", "s.upper()")
    after = refactored(shared_base, tmp_path / "after", after_src)
    after_run = run_tests(after, python=PY, timeout=120)
    verdict = compare_tests(base_run, after_run)
    assert verdict.mode == "per-test"
    assert verdict.regressions == ["tests/test_mod.py::test_double_all"]
    assert verdict.fixed == ["tests/test_mod.py::test_shout"]
    assert verdict.still_failing == ["tests/test_mod.py::test_known_bug"]
    assert verdict.new == [] and verdict.removed == []
    assert not verdict.ok
    assert "1 regressions" in verdict.summary()


def test_verdict_is_ok_when_only_base_failures_remain(shared_base, base_run, tmp_path):
    after_src = MOD.replace("out = []\n    for x in xs:\n        out.append(x * 2)",
                            "out = [x * 2 for x in xs]")
    assert after_src != MOD
    after = refactored(shared_base, tmp_path / "after", after_src)
    verdict = compare_tests(base_run, run_tests(after, python=PY, timeout=120))
    assert verdict.ok
    assert verdict.regressions == []
    assert set(verdict.still_failing) == {"tests/test_mod.py::test_known_bug",
                                          "tests/test_mod.py::test_shout"}


def test_a_module_that_no_longer_imports_is_not_ok(shared_base, base_run, tmp_path):
    after = refactored(shared_base, tmp_path / "after", MOD + "\ndef broken(:\n")
    after_run = run_tests(after, python=PY, timeout=120)
    verdict = compare_tests(base_run, after_run)
    assert not verdict.ok
    assert "tests/test_mod.py::test_add" in verdict.lost
    assert verdict.new_failing == ["tests/test_mod.py"]
    assert after_run.outcomes["tests/test_mod.py"] == "error"


FLAKY = textwrap.dedent("""
    from pathlib import Path

    def test_flaky():
        marker = Path(__file__).with_name("ran-once")
        if not marker.exists():
            marker.write_text("")
            raise AssertionError("first run fails")

    def test_broken():
        import mod
        assert mod.add(1, 2) == 3
""")


def test_a_regression_that_passes_on_a_rerun_is_flaky_not_blamed(tmp_path):
    base = make_repo(tmp_path / "base")
    (base / "tests" / "test_flaky.py").write_text(FLAKY)
    (base / "tests" / "ran-once").write_text("")
    before = run_tests(base, python=PY, command=["pytest", "tests/test_flaky.py"], timeout=120)
    after = refactored(base, tmp_path / "after", MOD.replace("return a + b", "return a * b"))
    (after / "tests" / "ran-once").unlink()
    after_run = run_tests(after, python=PY, command=["pytest", "tests/test_flaky.py"],
                          timeout=120)
    verdict = compare_tests(before, after_run)
    assert verdict.regressions == ["tests/test_flaky.py::test_broken",
                                   "tests/test_flaky.py::test_flaky"]
    confirmed = confirm_regressions(verdict, after, python=PY, timeout=120)
    assert confirmed.regressions == ["tests/test_flaky.py::test_broken"]
    assert confirmed.flaky == ["tests/test_flaky.py::test_flaky"]
    assert not confirmed.ok
    assert "1 flaky" in confirmed.summary()
    only_flaky = confirm_regressions(
        replace(verdict, regressions=["tests/test_flaky.py::test_flaky"]), after, python=PY,
        timeout=120)
    assert only_flaky.ok and only_flaky.regressions == []


def test_timeout_is_reported_and_never_ok(base_run, repo):
    (repo / "tests" / "test_slow.py").write_text("import time\n\ndef test_slow():\n"
                                                 "    time.sleep(60)\n")
    run = run_tests(repo, python=PY, timeout=4)
    assert run.timed_out
    assert "timed out" in run.summary()
    verdict = compare_tests(base_run, run)
    assert not verdict.ok
    assert any("timed out" in r for r in verdict.reasons)


def test_baseline_is_cached_per_key(repo, tmp_path):
    cache = tmp_path / "cache"
    first = run_tests(repo, python=PY, timeout=120, cache=cache, key="sha1")
    assert not first.cached
    # the checkout changes, but the same base key must reuse the stored result
    (repo / "mod.py").write_text(MOD.replace("return a + b", "return a - b"))
    again = run_tests(repo, python=PY, timeout=120, cache=cache, key="sha1")
    assert again.cached
    assert again.outcomes == first.outcomes
    other = run_tests(repo, python=PY, timeout=120, cache=cache, key="sha2")
    assert not other.cached
    assert other.outcomes["tests/test_mod.py::test_add"] == "failed"
    # a different command is a different baseline
    narrow = run_tests(repo, python=PY, command=["pytest", "tests/test_mod.py::test_add"],
                       timeout=120, cache=cache, key="sha1")
    assert not narrow.cached and set(narrow.outcomes) == {"tests/test_mod.py::test_add"}


def test_progress_callback_gets_status_strings(repo):
    seen: list[str] = []
    run_tests(repo, python=PY, timeout=120, progress=seen.append, label="tests (base)")
    assert seen[0].startswith("tests (base): running")
    assert "passed" in seen[-1] and "failed" in seen[-1]


def test_non_pytest_command_is_judged_by_exit_code(repo):
    (repo / "check.py").write_text("import sys, mod\nsys.exit(0 if mod.add(1, 1) == 2 else 1)\n")
    cmd = [sys.executable, "check.py"]
    assert pytest_args(cmd) is None
    good = run_tests(repo, python=PY, command=cmd, timeout=60)
    assert good.mode == "exit-code" and good.returncode == 0 and good.outcomes == {}
    (repo / "mod.py").write_text(MOD.replace("return a + b", "return a - b"))
    bad = run_tests(repo, python=PY, command=cmd, timeout=60)
    assert bad.returncode == 1
    assert compare_tests(good, good).ok
    assert not compare_tests(good, bad).ok
    same_red = compare_tests(bad, bad)
    assert same_red.ok and "cannot tell" in same_red.summary()


def test_pytest_args_recognises_pytest_commands():
    assert pytest_args(None) == []
    assert pytest_args(["pytest", "tests/unit", "-k", "x"]) == ["tests/unit", "-k", "x"]
    assert pytest_args(["python3.11", "-m", "pytest", "-q"]) == ["-q"]
    assert pytest_args(["make", "test"]) is None
    assert pytest_args(["python", "-m", "unittest"]) is None


def test_teardown_error_after_a_pass_counts_as_error(tmp_path):
    (tmp_path / "test_td.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.fixture
        def res():
            yield 1
            raise RuntimeError("teardown")

        def test_uses(res):
            assert res == 1
    """))
    run = run_tests(tmp_path, python=PY, timeout=60)
    assert run.outcomes == {"test_td.py::test_uses": "error"}


def test_parse_junit_reads_what_pytest_writes(tmp_path):
    make_repo(tmp_path)
    xml = tmp_path / "out.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-o", "addopts=",
                    "-o", "junit_family=xunit1", f"--junitxml={xml}"], cwd=tmp_path,
                   capture_output=True, check=False)
    assert set(parse_junit(xml)) == collected_ids(tmp_path)


# ---------------------------------------------------------------- testenv
def test_detect_requirements(tmp_path):
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-test.txt"):
        (tmp_path / name).write_text("")
    assert detect_requirements(tmp_path) == ["requirements.txt", "requirements-test.txt"]
    only_pyproject = tmp_path / "p"
    only_pyproject.mkdir()
    (only_pyproject / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "0"\ndependencies = ["attrs"]\n'
        '[project.optional-dependencies]\ntest = ["pytest"]\n')
    assert detect_requirements(only_pyproject) == [".[test]"]
    assert detect_requirements(tmp_path / "p" / "..") != []
    empty = tmp_path / "e"
    empty.mkdir()
    assert detect_requirements(empty) == []


def test_no_requirements_means_the_current_interpreter(tmp_path):
    assert ensure_test_python(tmp_path, cache_dir=tmp_path / "c", requirements=None) == PY
    assert ensure_test_python(tmp_path, cache_dir=tmp_path / "c", requirements=[]) == PY
    assert not (tmp_path / "c").exists()


def test_implied_plugins_from_the_pytest_config(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -n auto --cov=src\ntimeout = 60\n")
    assert implied_plugins(tmp_path) == ["pytest-cov", "pytest-timeout", "pytest-xdist"]
    (tmp_path / "pytest.ini").unlink()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = ["--dist=loadfile"]\nasyncio_mode = "auto"\n')
    assert implied_plugins(tmp_path) == ["pytest-asyncio", "pytest-xdist"]


def test_env_key_follows_requirement_contents_and_includes(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r base.txt\nattrs\n")
    (tmp_path / "base.txt").write_text("six==1.16.0\n")
    key = env_key(tmp_path, ["requirements.txt"], sys.version)
    assert key == env_key(tmp_path, ["requirements.txt"], sys.version)
    assert key != env_key(tmp_path, ["requirements.txt"], "3.99.0")
    (tmp_path / "base.txt").write_text("six==1.17.0\n")
    assert key != env_key(tmp_path, ["requirements.txt"], sys.version)


def test_missing_requirement_file_is_an_error_object(tmp_path):
    with pytest.raises(TestEnvError) as err:
        ensure_test_python(tmp_path, cache_dir=tmp_path / "c", requirements=["nope.txt"])
    assert err.value.step == "detect" and "nope.txt" in err.value.summary


def test_builds_and_reuses_a_venv_offline(tmp_path):
    """Empty requirements + inherited site-packages: pytest pins are already satisfied."""
    (tmp_path / "requirements-test.txt").write_text("# nothing\n")
    (tmp_path / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    cache = tmp_path / "envs"
    python = ensure_test_python(tmp_path, cache_dir=cache, requirements=None, timeout=300,
                                inherit_site_packages=True)
    assert python != PY and cache in python.parents
    marker = python.parent.parent / ".refactor-bot-ready.json"
    stamp = marker.stat().st_mtime_ns
    assert ensure_test_python(tmp_path, cache_dir=cache, requirements=None,
                              inherit_site_packages=True) == python
    assert marker.stat().st_mtime_ns == stamp
    run = run_tests(tmp_path, python=python, timeout=120)
    assert run.outcomes == {"test_ok.py::test_ok": "passed"}


def test_failed_install_is_an_error_object(tmp_path):
    (tmp_path / "requirements.txt").write_text("./no-such-local-project\n")
    with pytest.raises(TestEnvError) as err:
        ensure_test_python(tmp_path, cache_dir=tmp_path / "envs", requirements=None, timeout=300)
    assert err.value.step == "install"
    assert "requirements.txt" in err.value.summary
    assert err.value.run is not None and not err.value.run.ok
