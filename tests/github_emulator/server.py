"""The emulator's HTTP server and its test-facing facade, ``GitHubEmulator``.

One ThreadingHTTPServer on 127.0.0.1 (ephemeral port) serves the REST API under ``/api/v3`` and
smart-HTTP git under ``/git/{owner}/{repo}.git``. Every response closes its connection, so no
handler thread outlives a request and ``stop()`` joins them all.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

from . import api, git_http
from .gitrepo import BareRepo, Ident
from .payloads import Ctx
from .state import App, Installation, Principal, RepoState, User, World, now_iso, role_at_least

API_PREFIX = "/api/v3"
SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out "
    "to GitHub Support for help, please include the request ID.")
DEFAULT_FAULT_MESSAGES = {403: SECONDARY_RATE_LIMIT_MESSAGE, 429: SECONDARY_RATE_LIMIT_MESSAGE,
                          500: "Server Error", 502: "Server Error", 503: "Service Unavailable"}


class RecordedRequest(NamedTuple):
    """One request the emulator answered; ``path`` is API-relative (``/repos/o/r/pulls``) or ``/git/...``."""

    method: str
    path: str
    status: int


@dataclass
class Fault:
    """A canned error answer for the next ``times`` requests matching method and path regex."""

    method: str
    pattern: re.Pattern
    status: int
    times: int
    headers: dict[str, str]
    body: object


class GitHubEmulator:
    """A loopback GitHub: REST v3 for PyGithub plus git smart-HTTP, backed by real bare repos.

    Use as a context manager (``with GitHubEmulator(tmp_path) as gh:``) or call start()/stop().
    """

    def __init__(self, root: Path):
        self.world = World(Path(root) / "github-emulator")
        self.world.git_root.mkdir(parents=True, exist_ok=True)
        self._faults: list[Fault] = []
        self._log: list[RecordedRequest] = []
        self._log_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> GitHubEmulator:
        """Bind 127.0.0.1 on a free port and serve in a background thread."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.emulator = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="github-emulator")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the serving thread and every request thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def __enter__(self) -> GitHubEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ URLs
    @property
    def port(self) -> int:
        """The ephemeral port the server listens on."""
        assert self._server is not None, "emulator not started"
        return self._server.server_address[1]

    @property
    def web_url(self) -> str:
        """``http://127.0.0.1:<port>`` (html_url links point here)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """REST base URL; pass as ``Github(base_url=gh.api_url)``."""
        return f"{self.web_url}{API_PREFIX}"

    def clone_url(self, full_name: str) -> str:
        """HTTP clone URL without credentials (basic auth with a token as password is required)."""
        return f"{self.web_url}/git/{full_name}.git"

    def bare_repo_path(self, full_name: str) -> Path:
        """Filesystem path of the bare repo (read it with ``git --git-dir``)."""
        return self.world.repos[full_name].bare.path

    # ------------------------------------------------------------ state setup
    def add_user(self, login: str, permission: str = "write", *, name: str | None = None,
                 email: str | None = None) -> User:
        """Create a user with a token; ``permission`` is its role on every repo unless overridden."""
        return self.world.add_user(login, permission, name, email)

    def token_for(self, login: str) -> str:
        """The personal access token of a user added with add_user()."""
        return self.world.users[login].token

    def add_repo(self, full_name: str, files_from: Path | None = None, default_branch: str = "main",
                 private: bool = False) -> RepoState:
        """Create a repo whose first commit holds ``files_from``'s files (or a README)."""
        owner, name = full_name.split("/")
        with self.world.lock:
            path = self.world.git_root / owner / f"{name}.git"
            bare = BareRepo.create(path, default_branch, files_from, Ident(owner, f"{owner}@users.noreply.github.com"))
            git_http.install_hooks(path)
            repo = RepoState(self.world, self.world.next_id(), owner, name, default_branch, bare, now_iso(), private)
            self.world.repos[full_name] = repo
            return repo

    def repo(self, full_name: str) -> RepoState:
        """State of a repo (issues, PRs, comments, reviews, labels) for assertions."""
        return self.world.repos[full_name]

    def add_app(self, app_id: int, slug: str = "refactor-bot", private_key_pem: str | None = None) -> App:
        """Register a GitHub App; its ``private_key_pem`` signs the JWTs PyGithub's AppAuth sends."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        if private_key_pem is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            private_key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()).decode()
        else:
            key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        with self.world.lock:
            bot = self.world.add_user(f"{slug}[bot]", "none", f"{slug}[bot]", None, type="Bot")
            app = App(app_id, slug, private_key_pem, public, bot)
            self.world.apps[app_id] = app
            return app

    def install_app(self, app_id: int, repos: list[str], installation_id: int | None = None,
                    permission: str = "write") -> Installation:
        """Install an app on repos; its installation tokens get ``permission`` on them."""
        with self.world.lock:
            inst = Installation(installation_id or self.world.next_id(), self.world.apps[app_id], set(repos), permission)
            self.world.installations[inst.id] = inst
            return inst

    def installation_token(self, installation_id: int) -> str:
        """Mint an installation token directly (what POST .../access_tokens returns)."""
        ctx = self._ctx("POST", "", {}, None)
        ctx.principal = Principal("app", app=self.world.installations[installation_id].app)
        with self.world.lock:
            return api.create_installation_token(ctx, str(installation_id))[1]["token"]

    # ------------------------------------------------------------ faults and log
    def fail_next(self, method: str, path_regex: str, status: int = 502, times: int = 1,
                  headers: dict[str, str] | None = None, body: object = None) -> None:
        """Answer the next ``times`` requests matching ``method`` ("*" = any) and ``path_regex``
        (re.search on the logged path) with ``status``; body defaults to GitHub's message for it
        (403/429: the secondary rate limit message)."""
        if body is None:
            body = {"message": DEFAULT_FAULT_MESSAGES.get(status, "Injected failure"),
                    "documentation_url": api.DOCS}
        with self._log_lock:
            self._faults.append(Fault(method.upper(), re.compile(path_regex), status, times, headers or {}, body))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of every answered request, in order: (method, path, status)."""
        with self._log_lock:
            return list(self._log)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._log_lock:
            for fault in self._faults:
                if fault.method in ("*", method) and fault.pattern.search(path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _record(self, method: str, path: str, status: int) -> None:
        with self._log_lock:
            self._log.append(RecordedRequest(method, path, status))

    def _ctx(self, method: str, path: str, query: dict, body: object) -> Ctx:
        return Ctx(self.world, self.api_url, self.web_url, f"{self.web_url}/git", method, path, query, body)

    # ------------------------------------------------------------ request handling
    def handle(self, method: str, raw_path: str, headers, body: bytes) -> tuple[int, dict, bytes]:
        """Answer one HTTP request: fault injection, then git smart-HTTP or the REST API."""
        url = urlsplit(raw_path)
        is_api = url.path == API_PREFIX or url.path.startswith(API_PREFIX + "/")
        path = (url.path[len(API_PREFIX):] or "/") if is_api else url.path
        fault = self._take_fault(method, path)
        try:
            if fault:
                status, out_headers, payload = fault.status, dict(fault.headers), fault.body
            elif url.path.startswith("/git/"):
                status, out_headers, payload = self._serve_git(method, url.path, url.query, headers, body)
            elif is_api:
                status, out_headers, payload = self._serve_api(method, path, url.query, headers, body)
            else:
                status, out_headers, payload = 404, {}, {"message": "Not Found", "documentation_url": api.DOCS}
        except Exception as exc:  # an emulator bug: answer 500 with the reason instead of dropping the socket
            traceback.print_exc()
            status, out_headers, payload = 500, {}, {"message": f"emulator error: {exc!r}"}
        if not isinstance(payload, bytes):
            payload = b"" if payload is None else json.dumps(payload).encode()
            out_headers.setdefault("Content-Type", "application/json; charset=utf-8")
        self._record(method, path, status)
        return status, out_headers, payload

    def _serve_api(self, method: str, path: str, query: str, headers, body: bytes) -> tuple[int, dict, object]:
        try:
            parsed = json.loads(body) if body.strip() else None
        except ValueError:
            return 400, {}, {"message": "Problems parsing JSON", "documentation_url": api.DOCS}
        ctx = self._ctx(method, path, dict(parse_qsl(query)), parsed)
        return api.dispatch(ctx, headers.get("Authorization", ""))

    def _serve_git(self, method: str, path: str, query: str, headers, body: bytes) -> tuple[int, dict, object]:
        match = re.match(r"^/git/(?P<full>[^/]+/[^/]+?)(?:\.git)?(?P<rest>/.*)$", path)
        repo = self.world.repos.get(match["full"]) if match else None
        if repo is None:
            return 404, {"Content-Type": "text/plain"}, b"Repository not found.\n"
        principal = self._basic_auth(headers.get("Authorization", ""))
        if principal is None:
            return 401, {"WWW-Authenticate": 'Basic realm="GitHub"', "Content-Type": "text/plain"}, \
                b"Invalid username or token.\n"
        push = git_http.is_push(match["rest"], query)
        role = principal.role_on(repo)
        if not role_at_least(role, "write" if push else "read") and (push or repo.private):
            return 403, {"Content-Type": "text/plain"}, b"Write access to repository not granted.\n"
        status, cgi_headers, payload = git_http.run_backend(
            self.world.git_root, f"/{match['full']}.git{match['rest']}", method, query, headers, body,
            principal.user.login)
        return status, dict(cgi_headers), payload

    def _basic_auth(self, header: str) -> Principal | None:
        """Principal for ``Basic base64(user:token)`` (GitHub accepts the token as password or username)."""
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None
        return self.world.principal_for_token(password or username)


class _Server(ThreadingHTTPServer):
    """Non-daemon request threads that server_close() joins."""

    daemon_threads = False
    block_on_close = True
    emulator: GitHubEmulator


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, lets the emulator answer it, closes the connection."""

    protocol_version = "HTTP/1.1"
    server_version = "GitHubEmulator/1.0"
    timeout = 30

    def _dispatch(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = git_http.read_chunked(self.rfile)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, payload = self.server.emulator.handle(self.command, self.path, self.headers, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args) -> None:
        """Silent; the emulator keeps its own request log."""
