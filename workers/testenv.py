"""The Python environment a repository's tests need, built once per requirements and reused.

Installing a real project's requirements takes minutes, so the venv is cached under
``cache_dir`` by a hash of everything that decides its content: the requirement files' text
(following ``-r``/``-c`` includes), the project's static dependency tables when those are used,
the interpreter's version, and the pytest / pytest-benchmark versions we pin (the same versions
the bot itself runs, so benchmark JSON and junit output look the same everywhere). Base and
refactored checkouts share one venv, which is why the checkout itself is never installed into it
(an editable install would pin the venv to whichever checkout built it): ``python -m pytest``
run from a checkout imports that checkout's code from the working directory.

Failing to install is an expected outcome for real repositories (yanked pins, missing system
libraries): it raises ``TestEnvError``, whose ``summary`` is written for a PR comment, never a
bare ``CalledProcessError``.
"""

from __future__ import annotations

import configparser
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import sysconfig
import tomllib
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from workers.sandbox import CompletedRun, install_env, run_untrusted

#: The repository's runtime requirements, installed together with one test file below.
BASE_REQUIREMENT_FILES = ("requirements.txt",)
#: Test/dev requirement files, first match wins (test before dev: dev files tend to drag in
#: linters, docs and browsers the tests do not need).
TEST_REQUIREMENT_FILES = (
    "requirements-test.txt", "requirements_test.txt", "test-requirements.txt",
    "requirements/test.txt", "requirements-dev.txt", "requirements_dev.txt",
    "dev-requirements.txt", "requirements/dev.txt",
)
#: Optional-dependency groups of a pyproject that hold test requirements.
TEST_EXTRAS = ("test", "tests", "testing", "dev")
#: Packages the bot needs inside every test env, pinned to the versions the bot runs with.
OWN_PACKAGES = ("pytest", "pytest-benchmark")
_READY = ".refactor-bot-ready.json"
_SCHEMA = "testenv-1"


class TestEnvError(Exception):
    """The environment could not be built. ``summary`` is one paragraph for a human."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, summary: str, *, step: str, run: CompletedRun | None = None):
        super().__init__(summary)
        self.summary = summary
        self.step = step
        self.run = run

    @property
    def output_tail(self) -> str:
        return self.run.output_tail() if self.run else ""


def own_pins() -> list[str]:
    """``pytest==X`` and ``pytest-benchmark==Y`` as installed next to the bot."""
    return [f"{name}=={metadata.version(name)}" for name in OWN_PACKAGES]


def detect_requirements(checkout: Path) -> list[str]:
    """Guess what to install: ``requirements.txt`` plus the first test/dev requirements file.

    Without any requirement file, a ``pyproject.toml`` with a static ``[project]`` table yields
    ``[".[test]"]`` style (the extras that exist among ``TEST_EXTRAS``). Nothing at all → ``[]``,
    which ``ensure_test_python`` answers with the current interpreter.
    """
    found = [name for name in BASE_REQUIREMENT_FILES if (checkout / name).is_file()]
    found += [name for name in TEST_REQUIREMENT_FILES if (checkout / name).is_file()][:1]
    if found:
        return found
    project = _pyproject(checkout).get("project")
    if not project:
        return []
    extras = [e for e in TEST_EXTRAS if e in project.get("optional-dependencies", {})]
    return [f".[{','.join(extras)}]" if extras else "."]


#: Plugins a pytest configuration implies: (ini key or addopts flag) → distribution. A repository
#: with ``--strict-config`` and ``timeout = 60`` fails with a usage error unless pytest-timeout is
#: installed, even when no requirement file lists it (the real target does exactly this).
IMPLIED_BY_INI = {"timeout": "pytest-timeout", "timeout_method": "pytest-timeout",
                  "asyncio_mode": "pytest-asyncio",
                  "asyncio_default_fixture_loop_scope": "pytest-asyncio",
                  "env": "pytest-env", "mock_use_standalone_module": "pytest-mock",
                  "DJANGO_SETTINGS_MODULE": "pytest-django"}
IMPLIED_BY_ADDOPTS = {"-n": "pytest-xdist", "--numprocesses": "pytest-xdist",
                      "--dist": "pytest-xdist", "--cov": "pytest-cov", "--timeout": "pytest-timeout",
                      "--reruns": "pytest-rerunfailures", "--benchmark": "pytest-benchmark"}


def pytest_ini(checkout: Path) -> dict[str, object]:
    """The repository's pytest settings, from the file pytest itself would pick first."""
    for name, section in (("pytest.ini", "pytest"), (".pytest.ini", "pytest"),
                          ("pyproject.toml", None), ("tox.ini", "pytest"),
                          ("setup.cfg", "tool:pytest")):
        path = checkout / name
        if not path.is_file():
            continue
        if section is None:
            table = _pyproject(checkout).get("tool", {}).get("pytest", {}).get("ini_options")
            if table is not None:
                return dict(table)
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_section(section):
            return dict(parser.items(section))
    return {}


def implied_plugins(checkout: Path) -> list[str]:
    """pytest plugins the repository's pytest config cannot run without (sorted, unpinned)."""
    ini = pytest_ini(checkout)
    addopts = ini.get("addopts", "")
    flags = addopts.split() if isinstance(addopts, str) else [str(a) for a in addopts]
    found = {dist for key, dist in IMPLIED_BY_INI.items() if key in ini}
    for flag in flags:
        head = flag.split("=", 1)[0]
        found |= {dist for opt, dist in IMPLIED_BY_ADDOPTS.items()
                  if head == opt or (opt.startswith("--") and head.startswith(opt + "-"))}
    return sorted(found - set(OWN_PACKAGES))


def _pyproject(checkout: Path) -> dict:
    try:
        return tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


_INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)[\s=]+(\S+)", re.MULTILINE)


def _file_digest(path: Path, h, seen: set[Path]) -> None:
    """Feed a requirement file and the files it includes into ``h``."""
    path = path.resolve()
    if path in seen:
        return
    seen.add(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    h.update(f"file:{path.name}\n{text}\n".encode())
    for include in _INCLUDE.findall(text):
        if (path.parent / include).is_file():
            _file_digest(path.parent / include, h, seen)


def _project_specs(checkout: Path, entry: str) -> list[str]:
    """The dependency specs of ``.`` / ``.[a,b]`` from a static pyproject ``[project]`` table."""
    project = _pyproject(checkout).get("project")
    if not project or "dependencies" in project.get("dynamic", []):
        raise TestEnvError(
            f"Cannot read the dependencies of {entry!r} statically (no [project] table in "
            "pyproject.toml, or dynamic dependencies). Name requirement files in "
            "[tool.refactor-bot] requirements.", step="detect")
    specs = list(project.get("dependencies", []))
    extras = re.fullmatch(r"\.(?:\[(.*)\])?", entry.strip())
    for extra in (extras.group(1) or "").split(",") if extras else []:
        if extra.strip():
            specs += project.get("optional-dependencies", {}).get(extra.strip(), [])
    return specs


def _install_args(checkout: Path, requirements: Sequence[str]) -> list[str]:
    args: list[str] = []
    for entry in requirements:
        if entry.startswith("."):
            args += _project_specs(checkout, entry)
        elif (checkout / entry).is_file():
            args += ["-r", str((checkout / entry).resolve())]
        else:
            raise TestEnvError(f"Requirement file {entry!r} does not exist in the checkout.",
                               step="detect")
    return args


def env_key(checkout: Path, requirements: Sequence[str], python_version: str) -> str:
    """The cache key: hash of requirement contents, interpreter version and our pins."""
    h = hashlib.sha256(f"{_SCHEMA}\n{python_version}\n{own_pins()}\n"
                       f"{implied_plugins(checkout)}\n".encode())
    seen: set[Path] = set()
    for entry in requirements:
        if entry.startswith("."):
            h.update(f"project:{entry}\n{_project_specs(checkout, entry)}\n".encode())
        elif (checkout / entry).is_file():
            _file_digest(checkout / entry, h, seen)
        else:
            h.update(f"missing:{entry}\n".encode())
    return h.hexdigest()


def venv_python(venv: Path) -> Path:
    """The interpreter inside a venv directory."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@contextlib.contextmanager
def _locked(path: Path):
    """One builder per venv at a time across worker processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_test_python(checkout: Path, *, cache_dir: Path, requirements: list[str] | None,
                       timeout: float = 1800.0, inherit_site_packages: bool = False,
                       progress: Callable[[str], None] | None = None) -> Path:
    """Return an interpreter that can run ``checkout``'s tests, building a venv if needed.

    ``requirements``: requirement files relative to the checkout and/or ``"."``/``".[extra]"``
    (the pyproject's static dependencies), plus the plugins the repository's pytest config
    implies (``implied_plugins``); ``None`` = ``detect_requirements``; ``[]`` (or nothing
    detected) = the current interpreter (``sys.executable``), for repositories such as the
    built-in example that need nothing beyond pytest.
    ``inherit_site_packages`` makes the venv see the bot's own site-packages behind its own
    (a ``.pth`` file), so pins already satisfied there need no download: meant for offline
    tests and quick local tries, not for isolation.
    Raises ``TestEnvError`` when an install step fails or times out.
    """
    say = progress or (lambda _msg: None)
    checkout = Path(checkout)
    if requirements is None:
        requirements = detect_requirements(checkout)
    if not requirements:
        return Path(sys.executable)
    args = _install_args(checkout, requirements) + implied_plugins(checkout)  # fail early
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    key = env_key(checkout, requirements, sys.version + (" +inherit" if inherit_site_packages
                                                           else ""))
    venv = Path(cache_dir) / f"venv-py{version}-{key[:16]}"
    with _locked(Path(cache_dir) / f"{venv.name}.lock"):
        if (venv / _READY).is_file():
            say(f"test env: reusing {venv.name}")
            return venv_python(venv)
        shutil.rmtree(venv, ignore_errors=True)  # a half-built one from a crash
        _build(checkout, venv, requirements, args, timeout, inherit_site_packages, say)
        (venv / _READY).write_text(json.dumps(
            {"requirements": list(requirements), "pins": own_pins(), "python": sys.version}))
    return venv_python(venv)


def _build(checkout: Path, venv: Path, requirements: Sequence[str], args: list[str],
           timeout: float, inherit: bool, say: Callable[[str], None]) -> None:
    env = install_env()
    say(f"test env: creating {venv.name}")
    run = run_untrusted([sys.executable, "-m", "venv", str(venv)], checkout, 300, env)
    if not run.ok:
        raise TestEnvError(f"Creating the virtualenv failed (exit {run.returncode}).",
                           step="venv", run=run)
    if inherit:
        site = run_untrusted([str(venv_python(venv)), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             checkout, 60, env)
        Path(site.stdout.strip(), "_refactor_bot_inherit.pth").write_text(
            sysconfig.get_paths()["purelib"] + "\n")
    pip = [str(venv_python(venv)), "-m", "pip", "install", "--disable-pip-version-check"]

    def tick(elapsed: float, _tail: str) -> None:
        say(f"test env: installing {', '.join(requirements)} ({elapsed:.0f} s)")

    say(f"test env: installing {', '.join(requirements)}")
    run = run_untrusted(pip + args + own_pins(), checkout, timeout, env, on_tick=tick,
                        tick_seconds=30)
    if not run.ok and not run.timed_out and "conflict" in run.output_tail(20000).lower():
        # The repository pins its own pytest: keep theirs, take any pytest-benchmark.
        say("test env: our pytest pins conflict with the repository's; using theirs")
        run = run_untrusted(pip + args + ["pytest", "pytest-benchmark"], checkout, timeout, env,
                            on_tick=tick, tick_seconds=30)
    if not run.ok:
        why = f"timed out after {timeout:.0f} s" if run.timed_out else f"exit {run.returncode}"
        raise TestEnvError(
            f"Installing the test requirements ({', '.join(requirements)}) failed ({why}). "
            f"Last lines of pip's output:\n{_last_lines(run.output_tail(), 15)}",
            step="install", run=run)
    check = run_untrusted([str(venv_python(venv)), "-m", "pytest", "--version"], checkout, 120,
                          env)
    if not check.ok:
        raise TestEnvError("pytest does not start in the new environment.", step="check",
                           run=check)


def _last_lines(text: str, n: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-n:])
