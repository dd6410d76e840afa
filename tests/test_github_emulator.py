"""The loopback GitHub emulator, exercised with real PyGithub calls and real git over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from github import Auth, Github, GithubException, GithubIntegration, GithubRetry
from github.GithubException import BadCredentialsException, RateLimitExceededException, UnknownObjectException

from tests.github_emulator import SECONDARY_RATE_LIMIT_MESSAGE, GitHubEmulator

GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_ASKPASS": "", "SSH_ASKPASS": ""}


def git(*args: str, cwd: Path | None = None, check: bool = True, email: str = "octo@example.com",
        name: str = "Octo Cat") -> subprocess.CompletedProcess[str]:
    """Run git isolated from the machine's config, with a fixed identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    cmd = ["git", "-c", f"user.email={email}", "-c", f"user.name={name}", *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed: {proc.stderr}")
    return proc


def with_token(url: str, token: str) -> str:
    """Clone URL carrying ``x-access-token:<token>`` like the bot uses for GitHub."""
    return url.replace("http://", f"http://x-access-token:{token}@", 1)


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    src = tmp_path / "seed"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_text("def f(xs):\n    out = []\n    for x in xs:\n        out.append(x)\n    return out\n")
    (src / "README.md").write_text("# demo\n")
    return src


@pytest.fixture
def gh(tmp_path: Path, seed: Path):
    with GitHubEmulator(tmp_path / "gh") as emulator:
        emulator.add_repo("octo/demo", files_from=seed)
        emulator.add_user("octo", "admin", email="octo@example.com")
        emulator.add_user("alice", "write", email="alice@example.com")
        emulator.add_user("mona", "maintain")
        emulator.add_user("tria", "triage")
        emulator.add_user("rita", "read")
        yield emulator


def client(gh: GitHubEmulator, login: str = "octo", **kw) -> Github:
    """PyGithub as ``login``; PyGithub's client-side throttling (0.25 s / 1 s per write) is turned off."""
    kw = {"retry": None, "seconds_between_requests": None, "seconds_between_writes": None} | kw
    return Github(base_url=gh.api_url, auth=Auth.Token(gh.token_for(login)), **kw)


@pytest.fixture
def work(gh: GitHubEmulator, tmp_path: Path) -> Path:
    """A clone of octo/demo made over HTTP with octo's token."""
    dest = tmp_path / "work"
    git("clone", "-q", with_token(gh.clone_url("octo/demo"), gh.token_for("octo")), str(dest))
    return dest


def push_branch(work: Path, branch: str, path: str, text: str, **ident) -> str:
    """Commit ``text`` to ``path`` on ``branch`` (new ones start at origin/main), push it, return the sha."""
    exists = git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=work, check=False).returncode == 0
    git("checkout", "-q", *([branch] if exists else ["-b", branch, "origin/main"]), cwd=work)
    (work / path).parent.mkdir(parents=True, exist_ok=True)
    (work / path).write_text(text)
    git("add", path, cwd=work)
    git("commit", "-q", "-m", f"change {path}", cwd=work, **ident)
    git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def bare_git(gh: GitHubEmulator, *args: str) -> str:
    return git(f"--git-dir={gh.bare_repo_path('octo/demo')}", *args).stdout.strip()


def test_get_repo_and_collaborator_permissions(gh):
    repo = client(gh).get_repo("octo/demo")
    assert (repo.full_name, repo.default_branch, repo.clone_url) == ("octo/demo", "main", gh.clone_url("octo/demo"))
    expected = {"octo": "admin", "alice": "write", "mona": "write", "tria": "read", "rita": "read"}
    assert {login: repo.get_collaborator_permission(login) for login in expected} == expected
    raw = requests.get(f"{gh.api_url}/repos/octo/demo/collaborators/mona/permission",
                       headers={"Authorization": f"token {gh.token_for('rita')}"}, timeout=10).json()
    assert raw["role_name"] == "maintain"
    with pytest.raises(UnknownObjectException):
        repo.get_collaborator_permission("nobody")
    with pytest.raises(UnknownObjectException):
        client(gh).get_repo("octo/missing")


def test_push_create_list_and_edit_pull_request(gh, work):
    sha = push_branch(work, "refactor-bot/cache", "pkg/mod.py", "def f(xs):\n    return list(xs)\n")
    repo = client(gh).get_repo("octo/demo")
    pr = repo.create_pull(base="main", head="refactor-bot/cache", title="Fix PERF401", body="checklist")
    assert (pr.number, pr.head.sha, pr.head.ref, pr.base.ref, pr.user.login) == (1, sha, "refactor-bot/cache", "main", "octo")
    assert [p.number for p in repo.get_pulls(state="open", head="octo:refactor-bot/cache")] == [1]
    assert list(repo.get_pulls(head="octo:other")) == []
    assert [p.number for p in repo.get_pulls(base="main")] == [1]

    pr.edit(body="updated body")
    assert repo.get_pull(1).body == "updated body"
    assert gh.repo("octo/demo").pull(1).body == "updated body"

    with pytest.raises(GithubException) as dup:
        repo.create_pull(base="main", head="refactor-bot/cache", title="again")
    assert dup.value.status == 422
    assert "already exists" in dup.value.data["errors"][0]["message"]

    new_sha = push_branch(work, "refactor-bot/cache", "pkg/new.py", "y = 2\n")
    assert repo.get_pull(1).head.sha == new_sha != sha


def test_pull_without_commits_is_rejected(gh):
    repo = client(gh).get_repo("octo/demo")
    gh.repo("octo/demo").create_branch("empty")
    with pytest.raises(GithubException) as err:
        repo.create_pull(base="main", head="empty", title="nothing")
    assert err.value.status == 422 and "No commits between" in err.value.data["errors"][0]["message"]


def test_review_with_inline_comments(gh, work):
    push_branch(work, "feature", "pkg/mod.py", "def f(xs):\n    return list(xs)\n")
    pr = client(gh).get_repo("octo/demo").create_pull(base="main", head="feature", title="t", body="b")
    reviewer_pr = client(gh, "alice").get_repo("octo/demo").get_pull(pr.number)
    review = reviewer_pr.create_review(body="looks good", event="APPROVE",
                                       comments=[{"path": "pkg/mod.py", "line": 2, "body": "nice"}])
    assert (review.state, review.user.login) == ("APPROVED", "alice")
    stored = gh.repo("octo/demo").pull(pr.number).reviews[0].comments
    assert [(c.path, c.line, c.body, c.user.login) for c in stored] == [("pkg/mod.py", 2, "nice", "alice")]
    assert [(c.path, c.body) for c in pr.get_review_comments()] == [("pkg/mod.py", "nice")]

    # the bot reacts to a command left as an inline comment: get it by id, then react (idempotent)
    comment_id = stored[0].id
    fetched = pr.get_review_comment(comment_id)
    assert (fetched.id, fetched.body) == (comment_id, "nice")
    assert fetched.create_reaction("+1").content == "+1"
    fetched.create_reaction("+1")
    assert [r[1:] for r in stored[0].reactions] == [("+1", "octo")]
    with pytest.raises(GithubException) as missing:
        pr.get_review_comment(comment_id + 999)
    assert missing.value.status == 404

    with pytest.raises(GithubException) as outside:
        pr.create_review(event="COMMENT", comments=[{"path": "README.md", "line": 1, "body": "not in diff"}])
    assert outside.value.status == 422
    with pytest.raises(GithubException) as own:
        pr.create_review(event="APPROVE")
    assert own.value.status == 422 and "your own pull request" in own.value.data["errors"][0]["message"]


@pytest.mark.parametrize("method", ["merge", "squash"])
def test_merge_updates_main_in_bare_repo(gh, work, method):
    sha = push_branch(work, "feature", "pkg/mod.py", "def f(xs):\n    return list(xs)\n")
    repo = client(gh).get_repo("octo/demo")
    pr = repo.create_pull(base="main", head="feature", title="Refactor", body="b")
    old_main = bare_git(gh, "rev-parse", "main")
    status = pr.merge(merge_method=method)
    assert status.merged
    assert bare_git(gh, "rev-parse", "main") == status.sha != old_main
    assert bare_git(gh, "show", "main:pkg/mod.py") + "\n" == "def f(xs):\n    return list(xs)\n"
    parents = bare_git(gh, "rev-list", "--parents", "-n1", "main").split()[1:]
    assert parents == ([old_main, sha] if method == "merge" else [old_main])
    fresh = repo.get_pull(pr.number)
    assert (fresh.merged, fresh.state, fresh.merge_commit_sha, fresh.head.sha) == (True, "closed", status.sha, sha)
    assert fresh.is_merged()
    with pytest.raises(GithubException) as again:
        pr.merge()
    assert again.value.status == 405


def test_merge_with_stale_sha_conflicts(gh, work):
    first = push_branch(work, "feature", "pkg/a.py", "a = 1\n")
    pr = client(gh).get_repo("octo/demo").create_pull(base="main", head="feature", title="t")
    push_branch(work, "feature", "pkg/b.py", "b = 1\n")
    with pytest.raises(GithubException) as err:
        pr.merge(sha=first)
    assert err.value.status == 409


def test_contents_put_commits_exact_bytes(gh):
    repo = client(gh).get_repo("octo/demo")
    current = repo.get_contents("pkg/mod.py", ref="main")
    payload = b"x = 1\r\n\x00\xff tail without newline"
    result = repo.update_file("pkg/mod.py", "codemod: rewrite", payload, current.sha, branch="main")
    commit_sha = result["commit"].sha
    assert bare_git(gh, "rev-parse", "main") == commit_sha
    blob = subprocess.run(["git", f"--git-dir={gh.bare_repo_path('octo/demo')}", "cat-file", "blob",
                           f"{commit_sha}:pkg/mod.py"], capture_output=True, check=True).stdout
    assert blob == payload
    assert bare_git(gh, "log", "-1", "--format=%s|%an", "main") == "codemod: rewrite|octo"
    assert repo.get_contents("pkg/mod.py").decoded_content == payload

    with pytest.raises(GithubException) as stale:
        repo.update_file("pkg/mod.py", "again", b"y", current.sha)
    assert stale.value.status == 409
    with pytest.raises(GithubException) as no_sha:
        repo.create_file("pkg/mod.py", "overwrite blindly", b"y")
    assert no_sha.value.status == 422
    created = repo.create_file("pkg/new.py", "add file", "z = 3\n", branch="main")
    assert gh.repo("octo/demo").file_at("pkg/new.py") == b"z = 3\n"
    assert created["commit"].sha == bare_git(gh, "rev-parse", "main")


def test_get_commits_maps_authors_to_logins(gh, work):
    push_branch(work, "feature", "pkg/a.py", "a = 1\n", email="alice@example.com", name="Alice A.")
    push_branch(work, "other", "pkg/b.py", "b = 1\n", email="stranger@example.com", name="Stranger")
    repo = client(gh).get_repo("octo/demo")
    assert [c.author.login for c in repo.get_commits(sha="feature", path="pkg/a.py")] == ["alice"]
    assert [c.author for c in repo.get_commits(sha="other", path="pkg/b.py")] == [None]
    assert [c.commit.author.email for c in repo.get_commits(sha="other", path="pkg/b.py")] == ["stranger@example.com"]


def test_seeded_commits_pull_commits_and_ref_updates(gh):
    state = gh.repo("octo/demo")
    state.commit_file("refactor-bot/cache", "pkg/a.py", "a = 1\n", "bot change", author="octo")
    state.commit_file("refactor-bot/cache", "pkg/a.py", "a = 2\n", "human fix", author="alice")
    repo = client(gh).get_repo("octo/demo")
    pr = repo.create_pull(base="main", head="refactor-bot/cache", title="t")
    assert [(c.commit.message, c.author.login) for c in pr.get_commits()] == [("bot change", "octo"), ("human fix", "alice")]

    ref = repo.get_git_ref("heads/refactor-bot/cache")
    main_sha = state.branch_sha("main")
    with pytest.raises(GithubException) as not_ff:
        ref.edit(sha=main_sha)
    assert not_ff.value.status == 422
    ref.edit(sha=main_sha, force=True)
    assert state.branch_sha("refactor-bot/cache") == main_sha == repo.get_pull(pr.number).head.sha
    ref.delete()
    assert state.branch_sha("refactor-bot/cache") is None


def test_502_is_retried_by_pygithub(gh):
    gh.fail_next("GET", r"^/repos/octo/demo$", status=502)
    repo = client(gh, retry=GithubRetry(total=3, backoff_factor=0)).get_repo("octo/demo")
    assert repo.default_branch == "main"
    assert [r for r in gh.requests if r.path == "/repos/octo/demo"] == [("GET", "/repos/octo/demo", 502),
                                                                     ("GET", "/repos/octo/demo", 200)]


def test_secondary_rate_limit_403_with_retry_after(gh):
    gh.fail_next("GET", r"^/repos/octo/demo$", status=403, headers={"Retry-After": "1"})
    with pytest.raises(RateLimitExceededException) as err:
        client(gh).get_repo("octo/demo")
    assert err.value.data["message"] == SECONDARY_RATE_LIMIT_MESSAGE
    assert err.value.headers["retry-after"] == "1"

    gh.fail_next("GET", r"^/repos/octo/demo$", status=403, headers={"Retry-After": "1"})
    repo = client(gh, retry=GithubRetry(total=3, backoff_factor=0)).get_repo("octo/demo")
    assert repo.full_name == "octo/demo"
    assert [r.status for r in gh.requests if r.path == "/repos/octo/demo"] == [403, 403, 200]


def test_bad_and_missing_credentials(gh):
    with pytest.raises(BadCredentialsException):
        Github(base_url=gh.api_url, auth=Auth.Token("ghp_wrong"), retry=None).get_repo("octo/demo")
    anonymous = requests.get(f"{gh.api_url}/repos/octo/demo", timeout=10)
    assert (anonymous.status_code, anonymous.json()["message"]) == (401, "Requires authentication")
    unknown = requests.get(f"{gh.api_url}/nope", headers={"Authorization": f"token {gh.token_for('octo')}"}, timeout=10)
    assert (unknown.status_code, unknown.json()["message"]) == (404, "Not Found")


def test_git_over_http_requires_token_and_write_for_push(gh, tmp_path):
    url = gh.clone_url("octo/demo")
    denied = git("clone", "-q", url, str(tmp_path / "anon"), check=False)
    assert denied.returncode != 0
    assert ("GET", "/git/octo/demo.git/info/refs", 401) in gh.requests
    wrong = git("clone", "-q", with_token(url, "ghp_wrong"), str(tmp_path / "wrong"), check=False)
    assert wrong.returncode != 0

    reader = tmp_path / "reader"
    git("clone", "-q", with_token(url, gh.token_for("rita")), str(reader))
    assert (reader / "pkg" / "mod.py").read_text().startswith("def f(xs):")
    (reader / "x.py").write_text("x = 1\n")
    git("add", "x.py", cwd=reader)
    git("commit", "-q", "-m", "x", cwd=reader)
    refused = git("push", "origin", "HEAD:refs/heads/rita", cwd=reader, check=False)
    assert refused.returncode != 0 and gh.repo("octo/demo").branch_sha("rita") is None
    assert ("GET", "/git/octo/demo.git/info/refs", 403) in gh.requests


def test_large_push_uses_chunked_upload(gh, work):
    (work / "big.bin").write_bytes(os.urandom(3_000_000))  # above git's 1 MiB http.postBuffer
    git("add", "big.bin", cwd=work)
    git("commit", "-q", "-m", "big", cwd=work)
    git("push", "-q", "origin", "HEAD:refs/heads/big", cwd=work)
    assert gh.repo("octo/demo").branch_sha("big") == git("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert gh.repo("octo/demo").file_at("big.bin", "big") == (work / "big.bin").read_bytes()


def test_branch_protection(gh, work):
    repo = client(gh).get_repo("octo/demo")
    assert repo.get_branch("main").protected is False
    with pytest.raises(GithubException) as unprotected:  # GitHub: 404 "Branch not protected"
        repo.get_branch("main").get_protection()
    assert (unprotected.value.status, unprotected.value.data["message"]) == (404, "Branch not protected")
    gh.repo("octo/demo").protect_branch("main", required_approving_review_count=1)
    branch = repo.get_branch("main")
    assert branch.protected is True
    assert branch.get_protection().required_pull_request_reviews.required_approving_review_count == 1

    (work / "direct.py").write_text("d = 1\n")
    git("add", "direct.py", cwd=work)
    git("commit", "-q", "-m", "direct", cwd=work)
    pushed = git("push", "origin", "HEAD:refs/heads/main", cwd=work, check=False)
    assert pushed.returncode != 0 and "GH006" in pushed.stderr

    push_branch(work, "feature", "pkg/a.py", "a = 1\n")
    pr = repo.create_pull(base="main", head="feature", title="t")
    with pytest.raises(GithubException) as blocked:
        pr.merge()
    assert blocked.value.status == 405
    client(gh, "alice").get_repo("octo/demo").get_pull(pr.number).create_review(event="APPROVE")
    assert pr.merge().merged


def test_reviewers_labels_comments_and_reactions(gh, work):
    push_branch(work, "feature", "pkg/a.py", "a = 1\n")
    repo = client(gh).get_repo("octo/demo")
    pr = repo.create_pull(base="main", head="feature", title="t")
    pr.create_review_request(reviewers=["alice"])
    assert [u.login for u in repo.get_pull(pr.number).requested_reviewers] == ["alice"]
    gh.add_user("outsider", "none")
    with pytest.raises(GithubException) as err:
        pr.create_review_request(reviewers=["outsider"])
    assert err.value.status == 422

    pr.add_to_labels("refactor-bot", "perf")
    assert [label.name for label in pr.get_labels()] == ["refactor-bot", "perf"]
    comment = client(gh, "rita").get_repo("octo/demo").get_pull(pr.number).create_issue_comment("@refactor-bot status")
    comment.create_reaction("eyes")
    comment.create_reaction("eyes")
    stored = gh.repo("octo/demo").comments_on(pr.number)
    assert [(c.user.login, c.body, [r[1:] for r in c.reactions]) for c in stored] == [
        ("rita", "@refactor-bot status", [("eyes", "rita")])]
    assert [c.body for c in repo.get_issue(pr.number).get_comments()] == ["@refactor-bot status"]


def test_pagination_follows_link_headers(gh):
    issue = gh.repo("octo/demo").add_issue("plan", user="octo")
    g = client(gh, per_page=2)
    target = g.get_repo("octo/demo").get_issue(issue.number)
    for i in range(5):
        target.create_comment(f"c{i}")
    assert [c.body for c in target.get_comments()] == [f"c{i}" for i in range(5)]
    pages = [r for r in gh.requests if r.method == "GET" and r.path.endswith(f"/issues/{issue.number}/comments")]
    assert len(pages) == 3


def test_app_installation_auth(gh, tmp_path):
    app = gh.add_app(app_id=4242, slug="refactor-bot")
    inst = gh.install_app(4242, ["octo/demo"])
    auth = Auth.AppAuth(4242, app.private_key_pem)
    fast = {"retry": None, "seconds_between_requests": None, "seconds_between_writes": None}
    integration = GithubIntegration(base_url=gh.api_url, auth=auth, **fast)
    assert integration.get_repo_installation("octo", "demo").id == inst.id
    g = Github(base_url=gh.api_url, auth=auth.get_installation_auth(inst.id), **fast)
    issue = g.get_repo("octo/demo").get_issue(gh.repo("octo/demo").add_issue("x", user="alice").number)
    assert issue.create_comment("on it").user.login == "refactor-bot[bot]"

    stranger_key = gh.add_app(app_id=999, slug="other").private_key_pem
    forged = GithubIntegration(base_url=gh.api_url, auth=Auth.AppAuth(4242, stranger_key), **fast)
    with pytest.raises(GithubException) as err:
        forged.get_access_token(inst.id)
    assert err.value.status == 401

    dest = tmp_path / "bot-clone"
    git("clone", "-q", with_token(gh.clone_url("octo/demo"), gh.installation_token(inst.id)), str(dest))
    assert push_branch(dest, "refactor-bot/core", "pkg/c.py", "c = 1\n") == gh.repo("octo/demo").branch_sha("refactor-bot/core")


def test_concurrent_requests_are_consistent(gh):
    issue = gh.repo("octo/demo").add_issue("busy", user="octo")
    repo = client(gh).get_repo("octo/demo")

    def comment(i: int) -> int:
        return repo.get_issue(issue.number).create_comment(f"n{i}").id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(comment, range(24)))
    assert len(set(ids)) == 24
    assert sorted(c.body for c in gh.repo("octo/demo").comments_on(issue.number)) == sorted(f"n{i}" for i in range(24))


def test_server_stops_without_leftover_threads(tmp_path):
    before = set(threading.enumerate())
    with GitHubEmulator(tmp_path) as gh:
        gh.add_repo("octo/demo")
        gh.add_user("octo", "admin")
        client(gh).get_repo("octo/demo").get_branch("main")
        git("clone", "-q", with_token(gh.clone_url("octo/demo"), gh.token_for("octo")), str(tmp_path / "c"))
        port = gh.port
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
