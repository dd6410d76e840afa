"""workers.sandbox: secrets stay out, process groups die, output never deadlocks."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workers.sandbox import install_env, looks_secret, run_untrusted, scrubbed_env

SECRETS = {
    "GITHUB_TOKEN": "ghp_" + "a" * 36,
    "GH_APP_ID": "12345",
    "GITHUB_APP_PRIVATE_KEY_PATH": "/keys/app.pem",
    "AWS_SECRET_ACCESS_KEY": "abc",
    "AWS_ACCESS_KEY_ID": "AKIA" + "B" * 16,
    "CELERY_BROKER_URL": "redis://:pw@localhost/0",
    "REDIS_URL": "redis://localhost",
    "WEBHOOK_SECRET": "s3cret",
    "DB_PASSWORD": "hunter2",
    "OPENAI_API_KEY": "sk-xyz",
    "SOME_HARMLESS_SETTING": "1",  # not allow-listed: dropped too
    "PYTHONPATH": "/work/main",
    "VIRTUAL_ENV": "/work/venv",
}
KEPT = {"PATH": "/usr/bin:/bin", "HOME": "/home/bot", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp", "PYTHONHASHSEED": "0", "TZ": "UTC"}


def test_scrubbed_env_is_an_allow_list():
    env = scrubbed_env({**SECRETS, **KEPT})
    assert env == KEPT


def test_scrubbed_env_extra_wins_and_is_not_filtered():
    env = scrubbed_env(KEPT, extra={"HOME": "/tmp/scratch", "PYTHONPATH": "/plugins"})
    assert env["HOME"] == "/tmp/scratch"
    assert env["PYTHONPATH"] == "/plugins"


def test_token_shaped_value_is_dropped_even_under_an_allowed_name():
    env = scrubbed_env({"LANG": "ghp_" + "x" * 36, "TZ": "UTC"})
    assert env == {"TZ": "UTC"}


def test_secret_names_are_recognised_and_hashseed_is_not():
    for name in SECRETS:
        if name not in ("SOME_HARMLESS_SETTING", "PYTHONPATH", "VIRTUAL_ENV"):
            assert looks_secret(name, SECRETS[name]), name
    assert not looks_secret("PYTHONHASHSEED", "0")
    assert not looks_secret("PATH", "/usr/bin")


def test_install_env_adds_pip_and_proxy_settings_but_no_credentials():
    base = {**SECRETS, **KEPT, "PIP_INDEX_URL": "https://pypi.example/simple",
            "HTTPS_PROXY": "http://proxy:3128", "PIP_PASSWORD": "x"}
    env = install_env(base)
    assert env["PIP_INDEX_URL"] == "https://pypi.example/simple"
    assert env["HTTPS_PROXY"] == "http://proxy:3128"
    assert "PIP_PASSWORD" not in env
    assert not set(SECRETS) & set(env)
    assert "PIP_INDEX_URL" not in scrubbed_env(base)


def test_child_does_not_see_secrets(tmp_path, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    run = run_untrusted([sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"],
                        tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert not set(SECRETS) & set(seen)
    assert seen["PATH"] == os.environ["PATH"]
    # HOME is a throwaway directory: no ~/.netrc or ~/.git-credentials of ours
    assert seen["HOME"] != os.environ.get("HOME")
    assert not Path(seen["HOME"]).exists()  # removed after the run


def _dead(pid: int, wait: float = 10.0) -> bool:
    """True once ``pid`` is gone or a zombie (an unreaped corpse cannot run)."""
    end = time.monotonic() + wait
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)


SPAWNER = textwrap.dedent("""
    import subprocess, sys, time
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    open("grandchild.pid", "w").write(str(grandchild.pid))
    if sys.argv[1] == "wait":
        time.sleep(600)
""")


@pytest.fixture
def grandchild_pid(tmp_path):
    """The pid file the spawner writes; a survivor is killed afterwards, so a failing run of
    this test does not leave a 10-minute sleeper behind."""
    pid_file = tmp_path / "grandchild.pid"
    yield lambda: int(pid_file.read_text())
    if pid_file.exists() and not _dead(int(pid_file.read_text()), wait=0):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_timeout_kills_the_whole_group(tmp_path, grandchild_pid):
    (tmp_path / "spawn.py").write_text(SPAWNER)
    run = run_untrusted([sys.executable, "spawn.py", "wait"], tmp_path, timeout=2.0, kill_grace=0.5)
    assert run.timed_out
    assert not run.ok
    assert _dead(grandchild_pid())


def test_leftovers_of_a_finished_run_are_killed(tmp_path, grandchild_pid):
    (tmp_path / "spawn.py").write_text(SPAWNER)
    run = run_untrusted([sys.executable, "spawn.py", "exit"], tmp_path, timeout=60)
    assert run.returncode == 0 and not run.timed_out
    assert _dead(grandchild_pid())


def test_large_output_does_not_deadlock_and_keeps_the_tail(tmp_path):
    script = "import sys\nfor i in range(200000): print(f'line {i}')\nprint('THE END')\n" \
             "sys.stderr.write('err tail\\n')"
    run = run_untrusted([sys.executable, "-c", script], tmp_path, timeout=120, tail_bytes=4096)
    assert run.returncode == 0
    assert run.truncated
    assert run.stdout.rstrip().endswith("THE END")
    assert run.stdout.startswith("[... ")
    body = run.stdout.split("\n", 1)[1]
    assert len(body.encode()) <= 4096
    assert run.stderr == "err tail\n"


def test_exit_code_and_unstartable_command_are_results(tmp_path):
    run = run_untrusted([sys.executable, "-c", "raise SystemExit(3)"], tmp_path, timeout=60)
    assert run.returncode == 3 and not run.timed_out
    missing = run_untrusted(["/nonexistent/refactor-bot-binary"], tmp_path, timeout=5)
    assert missing.returncode is None
    assert "could not start" in missing.stderr


def test_on_tick_reports_progress_while_running(tmp_path):
    ticks: list[tuple[float, str]] = []
    script = "import time\nprint('started', flush=True)\ntime.sleep(1.0)"
    run = run_untrusted([sys.executable, "-c", script], tmp_path, timeout=60,
                        on_tick=lambda elapsed, tail: ticks.append((elapsed, tail)),
                        tick_seconds=0.2)
    assert run.returncode == 0
    assert ticks
    assert any("started" in tail for _, tail in ticks)
