"""How fast the webhook answers, as a ratio to a trivial ``GET /healthz`` in the same process.

Starts a private redis-server on loopback (or uses ``--redis-url``), builds the real app with the
real Celery enqueuer, and times N requests of each kind through Starlette's in-process client:

* ``healthz``        — the baseline (one Redis PING);
* ``command``        — a signed issue_comment "@refactor-bot run cache" with a fresh delivery id
                       (signature check, JSON parse, dedupe SET NX, Celery publish to Redis);
* ``replay``         — the same delivery again (answered from the dedupe key, nothing enqueued);
* ``ignored``        — a signed comment without a command (no Redis at all).

Usage: ``python bench/webhook_latency.py [-n 200] [--redis-url redis://…]``. Prints p50/p95 in
milliseconds and each kind's ratio to healthz; the kinds are interleaved so that background load
affects them alike. Numbers are for this machine only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.signature import sign  # noqa: E402

SECRET = "bench-secret"


def start_redis() -> tuple[subprocess.Popen, str]:
    """A throwaway redis-server on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    executable = shutil.which("redis-server")
    if executable is None:
        sys.exit("redis-server is not installed; pass --redis-url")
    proc = subprocess.Popen([executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", tempfile.gettempdir()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def payload(shared: Path, body: str) -> bytes:
    data = json.loads((shared / "github" / "webhook-payloads" / "issue_comment.created.payload.json").read_text())
    data["comment"]["body"] = body
    return json.dumps(data).encode()


def headers(body: bytes, delivery: str) -> dict[str, str]:
    return {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(SECRET, body), "Content-Type": "application/json"}


def timed(n: int, kinds: dict) -> dict[str, list[float]]:
    """Milliseconds per request, the kinds interleaved so background load hits them alike."""
    out: dict[str, list[float]] = {name: [] for name in kinds}
    for i in range(n):
        for name, call in kinds.items():
            started = time.perf_counter()
            response = call(i)
            out[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code < 300, response.text
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--redis-url")
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = parser.parse_args()
    proc, url = (None, args.redis_url) if args.redis_url else start_redis()
    try:
        settings = Settings(webhook_secret=SECRET, redis_url=url)
        command = payload(Path(args.shared), "@refactor-bot run cache")
        plain = payload(Path(args.shared), "thanks!")
        with TestClient(create_app(settings)) as client:
            kinds = {
                "healthz": lambda i: client.get("/healthz"),
                "command": lambda i: client.post("/webhook", content=command, headers=headers(command, str(uuid.uuid4()))),
                "replay": lambda i: client.post("/webhook", content=command, headers=headers(command, "replayed")),
                "ignored": lambda i: client.post("/webhook", content=plain, headers=headers(plain, str(uuid.uuid4()))),
            }
            timed(20, kinds)  # warm-up: imports, connections, first publish
            results = timed(args.n, kinds)
        base50, base95 = pct(results["healthz"], 50), pct(results["healthz"], 95)
        print(f"{args.n} requests each, in-process client, Redis at {url}")
        print(f"{'kind':8} {'p50 ms':>8} {'p95 ms':>8} {'p50/healthz':>12} {'p95/healthz':>12}")
        for name, values in results.items():
            p50, p95 = pct(values, 50), pct(values, 95)
            print(f"{name:8} {p50:8.2f} {p95:8.2f} {p50 / base50:12.2f} {p95 / base95:12.2f}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
