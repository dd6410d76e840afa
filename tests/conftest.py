"""Shared fixtures: a real loopback redis-server, and the shared data directory.

Both fail loudly when their prerequisite is missing: a test that silently skips because
redis-server is not installed would hide exactly the parts of the service it exists to check.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared data: ``$REFACTOR_BOT_SHARED``, else ``<repo root>/../shared``."""
    path = Path(os.environ.get("REFACTOR_BOT_SHARED") or REPO_ROOT.parent / "shared")
    if not path.is_dir():
        pytest.fail(f"shared data directory not found at {path}; set REFACTOR_BOT_SHARED")
    return path


@pytest.fixture(scope="session")
def webhook_payloads_dir(shared_dir: Path) -> Path:
    """GitHub's example webhook payloads (octokit/webhooks), one ``<event>.<action>….json`` each."""
    path = shared_dir / "github" / "webhook-payloads"
    if not any(path.glob("*.json")):
        pytest.fail(f"no webhook payloads in {path}")
    return path


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port for the whole session; yields its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"redis-server did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's Redis, emptied before each test so tests cannot see each other's keys."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


def emulator_client(gh, login: str):
    """PyGithub as the bot uses it, pointed at the emulator, as ``login``: no client-side retry or
    throttling, so tests see each request and don't wait PyGithub's pause between writes."""
    from github import Auth, Github

    return Github(base_url=gh.api_url, auth=Auth.Token(gh.token_for(login)), retry=None,
                  seconds_between_requests=None, seconds_between_writes=None)


def signed_headers(secret: str, body: bytes, event: str, delivery: str | None = None) -> dict[str, str]:
    """The headers GitHub sends with a delivery of ``body`` (fresh delivery id unless given)."""
    import uuid

    from bot.signature import sign

    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret, body),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }


def queued_tasks(redis_url: str, queue: str = "celery") -> list[dict]:
    """The Celery messages waiting in ``queue`` on a Redis broker, oldest first:
    ``[{"task", "kwargs"}, …]`` (kombu LPUSHes and BRPOPs, so the list is newest first)."""
    import base64
    import json

    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        raw = client.lrange(queue, 0, -1)
    finally:
        client.close()
    out = []
    for item in reversed(raw):
        message = json.loads(item)
        body = json.loads(base64.b64decode(message["body"]))
        out.append({"task": message["headers"]["task"], "kwargs": body[1]})
    return out


@pytest.fixture
def github_emulator(tmp_path: Path):
    """A running loopback GitHub emulator (tests/github_emulator), stopped after the test."""
    from tests.github_emulator import GitHubEmulator

    with GitHubEmulator(tmp_path / "github") as emulator:
        yield emulator
