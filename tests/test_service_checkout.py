"""Clone, fetch and push against the emulator: the token works and is never left behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workers import gitops
from workers.checkout import CheckoutError, push_branch, remote_branch_sha, sync


@pytest.fixture
def world(github_emulator, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("print('hi')\n")
    github_emulator.add_user("octo", "admin")
    github_emulator.add_user("refactor-bot", "write")
    github_emulator.add_repo("octo/demo", files_from=src)
    return github_emulator, github_emulator.token_for("refactor-bot")


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_clone_keeps_token_out_of_disk_and_url(world, tmp_path):
    gh, token = world
    dest = tmp_path / "ws" / "checkout"
    sha = sync(gh.clone_url("octo/demo"), dest, token, "main")
    assert sha == gh.repo("octo/demo").branch_sha("main")
    assert (dest / "app.py").read_text() == "print('hi')\n"
    url = subprocess.run(["git", "config", "--get", "remote.origin.url"], cwd=dest,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert url == gh.clone_url("octo/demo") and token not in url
    assert files_containing(dest, token.encode()) == []


def test_fetch_reuses_the_workspace_and_sees_new_commits(world, tmp_path):
    gh, token = world
    dest = tmp_path / "checkout"
    first = sync(gh.clone_url("octo/demo"), dest, token, "main")
    (dest / "stray.txt").write_text("left over from a previous job")
    second_commit = gh.repo("octo/demo").commit_file("main", "app.py", "print('bye')\n", "change", "octo")
    gh.repo("octo/demo").commit_file("refactor-bot/cache", "b.py", "x = 1\n", "bot branch", "octo")
    assert sync(gh.clone_url("octo/demo"), dest, token, "main") == second_commit != first
    assert not (dest / "stray.txt").exists()
    assert remote_branch_sha(dest, "refactor-bot/cache") == gh.repo("octo/demo").branch_sha("refactor-bot/cache")
    assert remote_branch_sha(dest, "refactor-bot/none") is None


def test_push_with_lease(world, tmp_path):
    gh, token = world
    dest = tmp_path / "checkout"
    base = sync(gh.clone_url("octo/demo"), dest, token, "main")
    gitops.git(dest, "checkout", "-q", "-b", "refactor-bot/core", base)
    (dest / "app.py").write_text("print('fixed')\n")
    head = gitops.commit_file(dest, "app.py", "fix app\n")
    push_branch(dest, token, "refactor-bot/core", None)
    assert gh.repo("octo/demo").branch_sha("refactor-bot/core") == head
    # Someone pushes meanwhile: a push that expects the branch to be absent must not clobber it.
    theirs = gh.repo("octo/demo").commit_file("refactor-bot/core", "c.py", "y = 2\n", "human", "octo")
    with pytest.raises(CheckoutError) as raised:
        push_branch(dest, token, "refactor-bot/core", head)
    assert token not in str(raised.value)
    assert gh.repo("octo/demo").branch_sha("refactor-bot/core") == theirs


def test_bad_token_fails_without_echoing_it(world, tmp_path):
    gh, _ = world
    bogus = "ghs_thisIsNotAValidTokenButLooksLikeOne1234"
    with pytest.raises(CheckoutError) as raised:
        sync(gh.clone_url("octo/demo"), tmp_path / "checkout", bogus, "main")
    assert bogus not in str(raised.value)
