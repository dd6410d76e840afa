"""Smart-HTTP git (clone/fetch/push) by running ``git http-backend`` as a CGI program.

The emulator authenticates the request (HTTP basic auth, token as password, as GitHub does for
``https://x-access-token:<token>@github.com/...``) and then hands the body to the real backend, so
pushes run git's own receive-pack, hooks included.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .gitrepo import git_env

PROTECTED_REFS_FILE = "emulator-protected-refs"

# pre-receive hook: GitHub refuses direct pushes to protected branches with this GH006 message.
PRE_RECEIVE_HOOK = """#!/bin/sh
while read old new ref; do
  if grep -qxF "$ref" "$GIT_DIR/{file}" 2>/dev/null; then
    echo "error: GH006: Protected branch update failed for $ref." >&2
    exit 1
  fi
done
exit 0
"""


def install_hooks(bare: Path) -> None:
    """Give a bare repo the pre-receive hook that enforces branch protection on pushes."""
    hook = bare / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(PRE_RECEIVE_HOOK.format(file=PROTECTED_REFS_FILE))
    hook.chmod(0o755)


def write_protected_refs(bare: Path, branches: list[str]) -> None:
    """Tell the pre-receive hook which branches are protected."""
    (bare / PROTECTED_REFS_FILE).write_text("".join(f"refs/heads/{b}\n" for b in branches))


def is_push(path_info: str, query: str) -> bool:
    """True for the receive-pack (push) half of the smart protocol."""
    return path_info.endswith("/git-receive-pack") or "service=git-receive-pack" in query


def read_chunked(rfile) -> bytes:
    """Decode a ``Transfer-Encoding: chunked`` request body (git uses it for large pushes)."""
    body = bytearray()
    while True:
        size = int(rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(body)
        body += rfile.read(size)
        rfile.readline()


def run_backend(project_root: Path, path_info: str, method: str, query: str, headers, body: bytes,
                remote_user: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run one CGI request through ``git http-backend``; returns (status, headers, body)."""
    env = git_env({
        "GIT_PROJECT_ROOT": str(project_root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path_info,
        "REQUEST_METHOD": method,
        "QUERY_STRING": query,
        "CONTENT_TYPE": headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": remote_user,
        "REMOTE_ADDR": "127.0.0.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
    })
    for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "HTTP_GIT_PROTOCOL")):
        if headers.get(header):
            env[var] = headers[header]
    proc = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env, check=False)
    return parse_cgi_output(proc.stdout)


def parse_cgi_output(output: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Split CGI output into status, headers and body (``Status:`` header, default 200)."""
    cut = min((i for i in (output.find(b"\r\n\r\n"), output.find(b"\n\n")) if i >= 0), default=-1)
    if cut < 0:
        return 500, [("Content-Type", "text/plain")], b"git http-backend produced no headers\n"
    head, rest = output[:cut], output[cut:]
    body = rest[4:] if rest.startswith(b"\r\n\r\n") else rest[2:]
    status, out_headers = 200, []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            out_headers.append((name.strip(), value.strip()))
    return status, out_headers, body
