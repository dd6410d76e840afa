"""Run a repository's own code (its tests, its installs) without handing it our secrets.

The bot holds a GitHub token, an App private key and a broker URL; the repository under test is
code we did not write. This module is the one place where such code is started. It gives the
child process:

* an environment built from an **allow-list** (``scrubbed_env``): a deny-list always misses the
  next ``SOMETHING_CREDENTIALS`` variable, an allow-list only ever misses a harmless setting.
  A deny pattern and a token-shaped-value check run *after* the allow-list as a second net;
* its own process group (``start_new_session=True``), killed as a whole on timeout and after the
  run, so servers, workers and ``sleep`` grandchildren the tests leave behind do not outlive it;
* output captured to unnamed temp files (a pipe that nobody reads deadlocks once it is full),
  returned tail-truncated, because the end of a test log is where the verdict is.

What this is *not*: a security sandbox. The child can still read files this user can read, open
network connections and call ``setsid()`` to escape the group. Run workers as an unprivileged
user in a container for that; this module removes the cheap, accidental leaks.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Variables a test run may see, copied from the parent when present. Locale, paths, terminal
#: and the interpreter switches that make runs reproducible; nothing that authenticates.
ALLOWED_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM",
    "TMPDIR", "TEMP", "TMP",
    "PYTHONHASHSEED", "PYTHONUTF8", "PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE",
    "SYSTEMROOT", "COMSPEC", "PATHEXT",  # Windows needs these to start anything at all
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
})
#: Name prefixes allowed as well (locale categories).
ALLOWED_PREFIXES = ("LC_",)

#: Extra names a package *install* needs to reach the index through this machine's settings.
#: Passed only by ``install_env``: pip must honour the operator's index, proxy and certificate
#: configuration (an index URL may itself carry credentials; that is the operator's choice).
INSTALL_NAMES = frozenset({
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "XDG_CONFIG_DIRS", "PIP_CONFIG_FILE",
})
INSTALL_PREFIXES = ("PIP_",)

#: Second net: names that look like credentials are dropped even if allow-listed above
#: (``PIP_PASSWORD`` say). ``PYTHONHASHSEED`` is not a secret and is not matched.
_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSW|CREDENTIAL|PRIVATE|KEY|AUTH|COOKIE|SESSION"
    r"|^GITHUB_|^GH_|^AWS_|^CELERY_BROKER|^REDIS_URL$|^DATABASE_URL$",
    re.IGNORECASE,
)
#: Values shaped like well-known tokens (GitHub, AWS, Slack, PEM keys) are dropped whatever
#: the variable is called.
_SECRET_VALUE = re.compile(
    r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|AKIA[0-9A-Z]{16}|xox[abprs]-"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)

DEFAULT_TAIL_BYTES = 64 * 1024


def looks_secret(name: str, value: str = "") -> bool:
    """True when a variable's name or value looks like a credential."""
    return bool(_SECRET_NAME.search(name) or _SECRET_VALUE.search(value))


def _pick(base: Mapping[str, str], names: frozenset[str], prefixes: tuple[str, ...]) -> dict:
    return {k: v for k, v in base.items()
            if (k in names or k.startswith(prefixes)) and not looks_secret(k, v)}


def scrubbed_env(base: Mapping[str, str] | None = None,
                 extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for untrusted code: allow-listed parent variables plus ``extra``.

    ``base`` defaults to ``os.environ`` (read at call time, never at import). ``extra`` is what
    the caller deliberately adds (``HOME`` of a scratch dir, ``PYTHONPATH``...) and wins over
    ``base``; it is trusted, so it is not filtered. ``PYTHONPATH``, ``VIRTUAL_ENV`` and friends
    are *not* inherited: our own import path must not leak into the repository's tests.
    """
    env = _pick(os.environ if base is None else base, ALLOWED_NAMES, ALLOWED_PREFIXES)
    env.update(extra or {})
    return env


def install_env(base: Mapping[str, str] | None = None,
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Like ``scrubbed_env`` plus the proxy/pip settings an installer needs to reach its index."""
    source = os.environ if base is None else base
    env = _pick(source, ALLOWED_NAMES | INSTALL_NAMES, ALLOWED_PREFIXES + INSTALL_PREFIXES)
    env.update(extra or {})
    return env


@dataclass
class CompletedRun:
    """What an untrusted command did. ``stdout``/``stderr`` are tails (see ``truncated``).

    ``returncode`` is ``None`` only when the command could not be started; after a timeout it is
    the (negative) signal number that ended the leader, and ``timed_out`` is what to look at.
    """

    cmd: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration: float
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def output_tail(self, limit: int = 4000) -> str:
        """Last ``limit`` characters of stdout then stderr, for logs and PR comments."""
        text = self.stdout + (("\n--- stderr ---\n" + self.stderr) if self.stderr.strip() else "")
        return text[-limit:]


def _read_tail(fh, limit: int) -> tuple[str, bool]:
    size = fh.seek(0, os.SEEK_END)
    start = max(0, size - limit)
    fh.seek(start)
    data = fh.read().decode("utf-8", errors="replace")
    if start:
        return f"[... {start} bytes truncated ...]\n" + data, True
    return data, False


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(proc: subprocess.Popen) -> bool:
    """Has the leader exited? Checked *without reaping* where the OS allows.

    Keeping the leader a zombie keeps its pid (= the group id) reserved, so the ``killpg`` that
    follows cannot hit an unrelated group that reused the number.
    """
    if hasattr(os, "waitid"):
        try:
            return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None
        except ChildProcessError:
            return True
    return proc.poll() is not None


def run_untrusted(cmd: Sequence[str], cwd: str | os.PathLike, timeout: float,
                  env: Mapping[str, str] | None = None, *,
                  tail_bytes: int = DEFAULT_TAIL_BYTES,
                  kill_grace: float = 2.0,
                  on_tick: Callable[[float, str], None] | None = None,
                  tick_seconds: float = 10.0) -> CompletedRun:
    """Run ``cmd`` in ``cwd`` in its own process group; kill the whole group on timeout.

    ``env`` defaults to ``scrubbed_env()`` with ``HOME`` pointed at a throwaway directory, so a
    test that reads ``~/.netrc`` or ``~/.git-credentials`` finds nothing of ours. Pass an env built
    with ``scrubbed_env``/``install_env`` to choose otherwise.
    On timeout the group gets SIGTERM, ``kill_grace`` seconds, then SIGKILL. After a normal exit
    the group is SIGKILLed too: leftovers of a finished run are never wanted.
    ``on_tick(elapsed, stdout_tail)`` is called every ``tick_seconds`` while it runs (progress
    display); exceptions from it propagate after the child group is killed.
    """
    cmd = [str(c) for c in cmd]
    with tempfile.TemporaryDirectory(prefix="rb-run-") as scratch, \
            tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        if env is None:
            home = Path(scratch) / "home"
            home.mkdir()
            env = scrubbed_env(extra={"HOME": str(home)})
        start = time.monotonic()
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
        except OSError as exc:  # command not found, cwd missing: a result, not a crash
            return CompletedRun(cmd, None, "", f"could not start {cmd[0]!r}: {exc}", False,
                                time.monotonic() - start)
        timed_out = False
        try:
            delay, next_tick = 0.002, start + tick_seconds
            while not _exited(proc):
                now = time.monotonic()
                if now - start >= timeout:
                    timed_out = True
                    _kill_group(proc.pid, signal.SIGTERM)
                    grace_end = now + kill_grace
                    while not _exited(proc) and time.monotonic() < grace_end:
                        time.sleep(0.02)
                    break
                if on_tick is not None and now >= next_tick:
                    next_tick = now + tick_seconds
                    on_tick(now - start, _read_tail(out, 2048)[0])
                time.sleep(min(delay, max(0.0, start + timeout - now)))
                delay = min(delay * 2, 0.1)
        finally:
            _kill_group(proc.pid, signal.SIGKILL)
            if proc.poll() is None:  # the group kill missed it (it left the group?)
                proc.kill()
            proc.wait()
        duration = time.monotonic() - start
        stdout, t1 = _read_tail(out, tail_bytes)
        stderr, t2 = _read_tail(err, tail_bytes)
    return CompletedRun(cmd, proc.returncode, stdout, stderr, timed_out,
                        duration, t1 or t2)
