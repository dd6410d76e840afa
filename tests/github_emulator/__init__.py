"""Loopback GitHub emulator: real PyGithub calls and real ``git push`` against a local server.

The REST API (``/api/v3``) speaks the endpoints PyGithub uses for the bot's job; code lives in real
bare repos served over smart-HTTP git (``git http-backend``), so a push is what moves a PR's head.
Everything binds 127.0.0.1 on an ephemeral port; nothing leaves the machine.

Usage::

    from github import Auth, Github
    from tests.github_emulator import GitHubEmulator

    def test_something(tmp_path):
        with GitHubEmulator(tmp_path) as gh:
            repo = gh.add_repo("octo/demo", files_from=None, default_branch="main")  # -> RepoState
            gh.add_user("octo", "admin")                 # role on every repo: admin/maintain/write/triage/read/none
            gh.add_user("alice", "read")
            repo.set_role("alice", "write")              # per-repo override
            g = Github(base_url=gh.api_url, auth=Auth.Token(gh.token_for("octo")), retry=None,
                       seconds_between_requests=None, seconds_between_writes=None)
            url = gh.clone_url("octo/demo")              # http://127.0.0.1:<port>/git/octo/demo.git
            # git clone with basic auth, token as password: http://x-access-token:<token>@127.0.0.1:<port>/git/...
            ...
            assert repo.pull(1).merged                   # state objects: see state.py (Issue, Comment, Review)
            assert ("PUT", "/repos/octo/demo/pulls/1/merge", 200) in gh.requests

Speed: PyGithub throttles itself by default (0.25 s between requests, 1 s between writes); pass
``seconds_between_requests=None, seconds_between_writes=None`` (as above) or every write costs 1 s.
To exercise PyGithub's retries, pass ``retry=GithubRetry(total=3, backoff_factor=0)``.

Seeding and inspecting state without HTTP (``RepoState``, see state.py)::

    repo.create_branch("refactor-bot/cache")                  # from the default branch
    repo.commit_file("refactor-bot/cache", "a.py", "x = 1\n", "msg", author="alice")  # -> sha
    repo.protect_branch("main", required_approving_review_count=1)
    issue = repo.add_issue("plan", body="", user="octo")       # shares numbers with PRs
    repo.branch_sha("main"); repo.file_at("a.py", ref="main"); repo.pulls; repo.pull(1)
    repo.comments_on(1)   # [Comment(user, body, reactions=[(id, content, login)])]
    repo.pull(1).reviews  # [Review(state, body, comments=[ReviewComment(path, line, body)])]
    gh.bare_repo_path("octo/demo")                             # git --git-dir=... log main

GitHub App auth::

    app = gh.add_app(app_id=4242, slug="refactor-bot")   # app.private_key_pem (RSA, generated)
    inst = gh.install_app(4242, ["octo/demo"])           # inst.id; tokens act as "refactor-bot[bot]"
    auth = Auth.AppAuth(4242, app.private_key_pem).get_installation_auth(inst.id)
    g = Github(base_url=gh.api_url, auth=auth)           # JWT -> POST /app/installations/{id}/access_tokens
    token = gh.installation_token(inst.id)               # or mint one directly (e.g. for git push)

Faults (matched with re.search against the logged path, which is API-relative, e.g.
``/repos/octo/demo/pulls``, or ``/git/octo/demo.git/...``)::

    gh.fail_next("GET", r"^/repos/octo/demo$", status=502)                    # once
    gh.fail_next("POST", r"/pulls$", status=403, headers={"Retry-After": "1"})  # secondary rate limit body
    gh.fail_next("*", r"/git/", status=503, times=2)

Behaviour worth knowing (mirrors GitHub):
- Missing ``Authorization`` -> 401 "Requires authentication"; unknown token -> 401 "Bad credentials".
- ``collaborators/{u}/permission`` returns the legacy level in ``permission`` (maintain -> "write",
  triage -> "read") and the role in ``role_name``.
- POST /pulls: 422 "A pull request already exists for owner:branch." for a duplicate open PR, 422
  "No commits between base and head" when head is already in base.
- PUT /pulls/{n}/merge: merge (merge commit), squash, or rebase (fast-forward only); ``sha`` mismatch
  -> 409; conflicts -> 405; protected base with required approvals -> 405 until enough APPROVED reviews.
- PUT /contents/{path}: ``sha`` missing for an existing file -> 422, stale -> 409; protected branch -> 409.
- Protected branches (``repo.protect_branch("main", required_approving_review_count=1)``) refuse
  pushes with "GH006: Protected branch update failed".
- Reviews: inline comments must target a path in the PR diff and a line inside the file (else 422);
  authors cannot approve their own PR.
- Commit ``author``/``committer`` users are mapped from the git email (users' default email is
  ``<id>+<login>@users.noreply.github.com``), falling back to name == login.
"""

from .server import SECONDARY_RATE_LIMIT_MESSAGE, GitHubEmulator, RecordedRequest
from .state import Comment, Issue, RepoState, Review, ReviewComment, User

__all__ = ["GitHubEmulator", "RecordedRequest", "SECONDARY_RATE_LIMIT_MESSAGE", "RepoState", "Issue",
           "Comment", "Review", "ReviewComment", "User"]
