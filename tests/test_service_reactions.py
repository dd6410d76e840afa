"""Accepted commands are acknowledged where they were written: issue comments and inline review
comments get a 👍 through real PyGithub calls; a review summary (which has no reactions) gets none."""

import subprocess


from tests.conftest import emulator_client

from workers.tasks import react


_client = emulator_client


def _pr_with_inline_comment(gh, tmp_path):
    gh.add_user("octo", "admin")
    gh.add_user("alice", "write")
    gh.add_user("refactor-bot", "write")
    state = gh.add_repo("octo/demo")
    state.commit_file("main", "mod.py", "x = 1\n", "seed", author="octo")
    work = tmp_path / "work"
    url = gh.clone_url("octo/demo").replace("://", f"://x-access-token:{gh.token_for('octo')}@")
    env = {"GIT_AUTHOR_NAME": "o", "GIT_AUTHOR_EMAIL": "o@x", "GIT_COMMITTER_NAME": "o",
           "GIT_COMMITTER_EMAIL": "o@x", "PATH": "/usr/bin:/bin"}
    run = lambda *a, cwd=work: subprocess.run(a, cwd=cwd, env=env, check=True, capture_output=True)  # noqa: E731
    run("git", "clone", "-q", url, str(work), cwd=tmp_path)
    run("git", "checkout", "-q", "-b", "feature")
    (work / "mod.py").write_text("x = 2\n")
    run("git", "commit", "-qam", "change")
    run("git", "push", "-q", "origin", "feature")
    repo = _client(gh, "octo").get_repo("octo/demo")
    pr = repo.create_pull(base="main", head="feature", title="t", body="b")
    review = _client(gh, "alice").get_repo("octo/demo").get_pull(pr.number).create_review(
        event="COMMENT", comments=[{"path": "mod.py", "line": 1, "body": "@refactor-bot rebase"}])
    return state, pr.number, review


def test_review_comment_and_issue_comment_commands_get_a_reaction(github_emulator, tmp_path):
    gh = github_emulator
    state, number, _review = _pr_with_inline_comment(gh, tmp_path)
    inline = state.pull(number).reviews[0].comments[0]
    bot_repo = _client(gh, "refactor-bot").get_repo("octo/demo")
    react(bot_repo, number, "review_comment", inline.id)
    assert [r[1:] for r in inline.reactions] == [("+1", "refactor-bot")]
    made = _client(gh, "alice").get_repo("octo/demo").get_issue(number).create_comment("/refactor status")
    react(bot_repo, number, "issue", made.id)
    assert [r[1:] for r in state.comments[made.id].reactions] == [("+1", "refactor-bot")]
    before = len(gh.requests)
    react(bot_repo, number, "review", 12345)  # review summaries have no reactions: no call at all
    assert len(gh.requests) == before
