"""REST v3 routes of the emulator: authentication, permission checks and one handler per endpoint.

Only the endpoints PyGithub calls for the bot's job are here; anything else answers GitHub's
404 ``{"message": "Not Found"}``. Validation errors mimic GitHub's 422 / 409 / 405 answers so the
bot's error handling meets the same shapes it would in production.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import unquote, urlencode

from . import payloads as P
from .gitrepo import CommitInfo, Ident, MergeConflict
from .state import LEGACY_PERMISSION, Comment, Issue, Principal, RepoState, Review, ReviewComment, now_iso, role_at_least

DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000
REVIEW_STATES = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


class ApiError(Exception):
    """An error answer: status, GitHub-style message and optional ``errors`` list."""

    def __init__(self, status: int, message: str, errors: list | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.errors, self.headers = status, message, errors, headers or {}

    def body(self) -> dict:
        data = {"message": self.message, "documentation_url": DOCS, "status": str(self.status)}
        return data | ({"errors": self.errors} if self.errors else {})


def invalid(summary: str = "Validation Failed", **error) -> ApiError:
    """GitHub's 422 (``summary`` as message), with one ``errors`` entry built from ``error`` when given."""
    return ApiError(422, summary, [error] if error else None)


Handler = Callable[..., "tuple[int, object] | tuple[int, object, dict]"]
ROUTES: list[tuple[str, re.Pattern, str, Handler]] = []
REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"


def route(method: str, pattern: str, auth: str = "token") -> Callable[[Handler], Handler]:
    """Register a handler; ``auth`` is "token" (user/installation token) or "app" (app JWT)."""
    def register(fn: Handler) -> Handler:
        ROUTES.append((method, re.compile(pattern.replace("{REPO}", REPO) + "$"), auth, fn))
        return fn
    return register


# ---------------------------------------------------------------- authentication and dispatch

def authenticate(ctx: P.Ctx, header: str, auth: str) -> Principal:
    """Resolve ``Authorization: token|Bearer <t>``; app routes take a JWT signed by a known app key."""
    scheme, _, token = header.partition(" ")
    if not token or scheme.lower() not in ("token", "bearer"):
        raise ApiError(401, "Requires authentication")
    if auth == "app":
        return Principal("app", app=verify_jwt(ctx, token.strip()))
    principal = ctx.world.principal_for_token(token.strip())
    if principal is None:
        raise ApiError(401, "Bad credentials")
    return principal


def verify_jwt(ctx: P.Ctx, token: str):
    """Check an app JWT: three parts, known ``iss``, RS256 signature by that app's key, not expired."""
    import jwt  # PyJWT (with cryptography) comes with PyGithub

    if token.count(".") != 2:
        raise ApiError(401, "A JSON web token could not be decoded")
    try:
        iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
        app = ctx.world.apps.get(int(iss))
        if app is None:
            raise ApiError(401, f"Integration not found for iss {iss}")
        jwt.decode(token, app.public_key_pem, algorithms=["RS256"], leeway=60,
                   options={"require": ["iat", "exp", "iss"]})
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        raise ApiError(401, "A JSON web token could not be decoded") from exc
    return app


def dispatch(ctx: P.Ctx, auth_header: str) -> tuple[int, dict, object]:
    """Route one API request: authenticate, run the handler, turn ApiError into GitHub's error JSON.

    Returns (status, headers, JSON-able body)."""
    try:
        for method, pattern, auth, fn in ROUTES:
            match = pattern.match(ctx.path)
            if match and method == ctx.method:
                ctx.principal = authenticate(ctx, auth_header, auth)
                with ctx.world.lock:
                    result = fn(ctx, **{k: unquote(v) for k, v in match.groupdict().items()})
                    status, body, headers = (*result, {}) if len(result) == 2 else result
                    return status, rate_headers(ctx) | headers, body
        authenticate(ctx, auth_header, "token")
        raise ApiError(404, "Not Found")
    except ApiError as err:
        return err.status, err.headers, err.body()


def rate_headers(ctx: P.Ctx, count: bool = True) -> dict:
    """X-RateLimit-* headers; each principal's counter goes down by one per counted request."""
    p = ctx.principal
    key = p.user.login if p and p.user else f"app:{p.app.app_id}" if p and p.app else "anonymous"
    used = ctx.world.rate_used[key] = ctx.world.rate_used.get(key, 0) + int(count)
    reset = int(time.time()) // 3600 * 3600 + 3600
    return {"X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Remaining": str(RATE_LIMIT - used),
            "X-RateLimit-Used": str(used), "X-RateLimit-Reset": str(reset), "X-RateLimit-Resource": "core"}


def paginate(ctx: P.Ctx, items: list) -> tuple[int, list, dict]:
    """One page of ``items`` (``page``/``per_page`` query, default 30) with GitHub's Link header."""
    per_page = max(1, min(int(ctx.query.get("per_page", 30)), 100))
    page = max(1, int(ctx.query.get("page", 1)))
    last = max(1, -(-len(items) // per_page))

    def link(p: int, rel: str) -> str:
        return f'<{ctx.api_url}{ctx.path}?{urlencode(ctx.query | {"page": p, "per_page": per_page})}>; rel="{rel}"'

    links = ([link(page + 1, "next"), link(last, "last")] if page < last else []) + \
            ([link(1, "first"), link(page - 1, "prev")] if page > 1 else [])
    return 200, items[(page - 1) * per_page: page * per_page], {"Link": ", ".join(links)} if links else {}


# ---------------------------------------------------------------- shared checks

def get_repo(ctx: P.Ctx, owner: str, repo: str, need: str = "read") -> RepoState:
    """The repo, or 404 when hidden from the caller / 403 when the caller's role is below ``need``."""
    state = ctx.world.repos.get(f"{owner}/{repo}")
    role = ctx.principal.role_on(state) if state and ctx.principal else "none"
    if state is None or (state.private and role == "none"):
        raise ApiError(404, "Not Found")
    effective = role if state.private or role_at_least(role, "read") else "read"
    if not role_at_least(effective, need):
        message = ("Resource not accessible by integration" if ctx.principal.kind == "installation"
                   else f"Must have {need} access to repository")
        raise ApiError(403, message)
    return state


def get_issue(repo: RepoState, number: str, pull: bool | None = None) -> Issue:
    """Issue/PR by number; ``pull=True`` demands a PR (404 otherwise)."""
    issue = repo.issues.get(int(number))
    if issue is None or (pull and not issue.is_pull):
        raise ApiError(404, "Not Found")
    return issue


def field(ctx: P.Ctx, name: str, kind: type = str, required: bool = False):
    """A typed field of the JSON body; 422 when missing (if required) or of the wrong type."""
    body = ctx.body if isinstance(ctx.body, dict) else {}
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f'Invalid request.\n\n"{name}" wasn\'t supplied.')
        return None
    if not isinstance(value, kind):
        raise invalid(f"Invalid request.\n\nFor '{name}', {value!r} is not a {kind.__name__}.")
    return value


def caller_ident(ctx: P.Ctx, key: str) -> Ident:
    """Git identity for commits made through the API: body ``author``/``committer`` or the caller."""
    given = field(ctx, key, dict)
    if given and given.get("name") and given.get("email"):
        return Ident(given["name"], given["email"])
    return ctx.principal.user.ident


def commit_info(repo: RepoState, sha: str) -> CommitInfo:
    """Single commit metadata."""
    return repo.bare.log(sha + "^!")[0]


# ---------------------------------------------------------------- users, rate limit, apps

@route("GET", r"/user")
def get_authenticated_user(ctx):
    """Installation tokens have no user behind them: GitHub answers 403 here."""
    if ctx.principal.kind != "user":
        raise ApiError(403, "Resource not accessible by integration")
    user = ctx.principal.user
    return 200, P.user_json(ctx, user) | {"name": user.name, "email": user.email}


@route("GET", r"/users/(?P<login>[^/]+)")
def get_user(ctx, login):
    if login not in ctx.world.users:
        raise ApiError(404, "Not Found")
    user = ctx.world.users[login]
    return 200, P.user_json(ctx, user) | {"name": user.name}


@route("GET", r"/rate_limit")
def get_rate_limit(ctx):
    headers = rate_headers(ctx, count=False)
    core = {"limit": RATE_LIMIT, "remaining": int(headers["X-RateLimit-Remaining"]),
            "reset": int(headers["X-RateLimit-Reset"]), "used": int(headers["X-RateLimit-Used"])}
    search = {"limit": 30, "remaining": 30, "reset": core["reset"], "used": 0}
    return 200, {"resources": {"core": core, "search": search, "graphql": core}, "rate": core}


def installation_json(ctx: P.Ctx, inst) -> dict:
    """Installation object."""
    owner = sorted(inst.repos)[0].split("/")[0] if inst.repos else inst.app.slug
    return {"id": inst.id, "app_id": inst.app.app_id, "app_slug": inst.app.slug, "target_type": "Organization",
            "account": P.owner_json(ctx, owner), "repository_selection": "selected",
            "permissions": {"contents": "write", "pull_requests": "write", "issues": "write", "metadata": "read"},
            "access_tokens_url": f"{ctx.api_url}/app/installations/{inst.id}/access_tokens",
            "repositories_url": f"{ctx.api_url}/installation/repositories",
            "html_url": f"{ctx.web_url}/settings/installations/{inst.id}", "events": [],
            "created_at": now_iso(), "updated_at": now_iso(), "target_id": 1, "suspended_at": None}


def app_installation(ctx: P.Ctx, installation_id: str):
    """An installation of the calling app (404 for another app's)."""
    inst = ctx.world.installations.get(int(installation_id))
    if inst is None or inst.app is not ctx.principal.app:
        raise ApiError(404, "Not Found")
    return inst


@route("GET", r"/app", auth="app")
def get_app(ctx):
    app = ctx.principal.app
    return 200, {"id": app.app_id, "slug": app.slug, "name": app.slug, "owner": None,
                 "html_url": f"{ctx.web_url}/apps/{app.slug}", "events": [], "permissions": {}}


@route("GET", r"/app/installations/(?P<installation_id>\d+)", auth="app")
def get_installation(ctx, installation_id):
    return 200, installation_json(ctx, app_installation(ctx, installation_id))


@route("POST", r"/app/installations/(?P<installation_id>\d+)/access_tokens", auth="app")
def create_installation_token(ctx, installation_id):
    """Mint an installation token valid for one hour (what AppInstallationAuth fetches)."""
    inst = app_installation(ctx, installation_id)
    token, expires = f"ghs_{secrets.token_hex(18)}", time.time() + 3600
    inst.tokens[token] = expires
    expires_at = datetime.fromtimestamp(expires, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return 201, {"token": token, "expires_at": expires_at, "repository_selection": "selected",
                 "permissions": installation_json(ctx, inst)["permissions"]}


@route("GET", r"{REPO}/installation", auth="app")
def get_repo_installation(ctx, owner, repo):
    for inst in ctx.world.installations.values():
        if inst.app is ctx.principal.app and f"{owner}/{repo}" in inst.repos:
            return 200, installation_json(ctx, inst)
    raise ApiError(404, "Not Found")


# ---------------------------------------------------------------- repository, collaborators, branches, refs

@route("GET", r"{REPO}")
def get_repository(ctx, owner, repo):
    return 200, P.repo_json(ctx, get_repo(ctx, owner, repo))


@route("GET", r"{REPO}/collaborators/(?P<login>[^/]+)/permission")
def get_permission(ctx, owner, repo, login):
    """Legacy level in ``permission`` (maintain -> write, triage -> read), real role in ``role_name``."""
    state = get_repo(ctx, owner, repo)
    user = ctx.world.users.get(login)
    if user is None:
        raise ApiError(404, "Not Found")
    role = state.role_of(login)
    return 200, {"permission": LEGACY_PERMISSION[role], "role_name": role,
                 "user": P.user_json(ctx, user) | {"role_name": role}}


@route("GET", r"{REPO}/branches")
def list_branches(ctx, owner, repo):
    state = get_repo(ctx, owner, repo)
    return paginate(ctx, [{"name": n, "commit": {"sha": s, "url": f"{ctx.repo_api(state)}/commits/{s}"},
                           "protected": n in state.protections} for n, s in sorted(state.bare.branches().items())])


@route("GET", r"{REPO}/branches/(?P<branch>.+)/protection")
def get_protection(ctx, owner, repo, branch):
    """GitHub answers 404 "Branch not protected" (a plain GithubException, not UnknownObject)."""
    state = get_repo(ctx, owner, repo)
    if state.branch_sha(branch) is None:
        raise ApiError(404, "Branch not found")
    if branch not in state.protections:
        raise ApiError(404, "Branch not protected")
    return 200, P.protection_json(ctx, state, branch)


@route("GET", r"{REPO}/branches/(?P<branch>.+)")
def get_branch(ctx, owner, repo, branch):
    state = get_repo(ctx, owner, repo)
    sha = state.branch_sha(branch)
    if sha is None:
        raise ApiError(404, "Branch not found")
    return 200, P.branch_json(ctx, state, branch, sha)


@route("GET", r"{REPO}/git/refs?/(?P<ref>heads/.+)")
def get_ref(ctx, owner, repo, ref):
    state = get_repo(ctx, owner, repo)
    sha = state.branch_sha(ref.removeprefix("heads/"))
    if sha is None:
        raise ApiError(404, "Not Found")
    return 200, P.ref_json(ctx, state, f"refs/{ref}", sha)


@route("GET", r"{REPO}/git/refs")
def list_refs(ctx, owner, repo):
    state = get_repo(ctx, owner, repo)
    return paginate(ctx, [P.ref_json(ctx, state, f"refs/heads/{n}", s) for n, s in sorted(state.bare.branches().items())])


@route("POST", r"{REPO}/git/refs")
def create_ref(ctx, owner, repo):
    state = get_repo(ctx, owner, repo, "write")
    ref, sha = field(ctx, "ref", required=True), field(ctx, "sha", required=True)
    if not ref.startswith("refs/heads/") or state.bare.resolve(sha) is None:
        raise invalid("Reference name or object is invalid")
    if not state.bare.update_ref(ref, state.bare.resolve(sha), ""):
        raise invalid("Reference already exists")
    return 201, P.ref_json(ctx, state, ref, state.bare.resolve(sha))


@route("PATCH", r"{REPO}/git/refs/(?P<ref>heads/.+)")
def update_ref(ctx, owner, repo, ref):
    """Move a branch; non-fast-forward needs ``force`` (what a bot's recreate/rebase does)."""
    state = get_repo(ctx, owner, repo, "write")
    old, new = state.branch_sha(ref.removeprefix("heads/")), state.bare.resolve(field(ctx, "sha", required=True))
    if old is None or new is None:
        raise invalid("Reference does not exist" if old is None else "Object does not exist")
    if ref.removeprefix("heads/") in state.protections:
        raise invalid("Protected branch update failed")
    if not field(ctx, "force", bool) and not state.bare.is_ancestor(old, new):
        raise invalid("Update is not a fast forward")
    if not state.bare.update_ref(f"refs/{ref}", new, old):
        raise ApiError(409, "Reference update failed")
    return 200, P.ref_json(ctx, state, f"refs/{ref}", new)


@route("DELETE", r"{REPO}/git/refs/(?P<ref>heads/.+)")
def delete_ref(ctx, owner, repo, ref):
    state = get_repo(ctx, owner, repo, "write")
    if ref.removeprefix("heads/") in state.protections:
        raise invalid("Cannot delete a protected branch")
    if not state.bare.delete_ref(f"refs/{ref}"):
        raise invalid("Reference does not exist")
    return 204, None


# ---------------------------------------------------------------- contents and commits

@route("GET", r"{REPO}/contents(?:/(?P<path>.*))?")
def get_contents(ctx, owner, repo, path=None):
    state = get_repo(ctx, owner, repo)
    ref = ctx.query.get("ref") or state.default_branch
    sha = state.bare.resolve(ref)
    if sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    path = (path or "").strip("/")
    entry = state.bare.tree_entry(sha, path) if path else ("040000", "tree", "", "")
    if entry is None:
        raise ApiError(404, "Not Found")
    if entry[1] == "tree":
        return 200, [P.content_json(ctx, state, ref, e) for e in state.bare.list_dir(sha, path)]
    return 200, P.content_json(ctx, state, ref, (*entry, path), state.bare.blob(entry[2]))


@route("PUT", r"{REPO}/contents/(?P<path>.+)")
def put_contents(ctx, owner, repo, path):
    """Commit one file on a branch; an existing file needs its current blob ``sha`` (409 if stale)."""
    state = get_repo(ctx, owner, repo, "write")
    message, encoded = field(ctx, "message", required=True), field(ctx, "content", required=True)
    branch = field(ctx, "branch") or state.default_branch
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except binascii.Error as exc:
        raise invalid("content is not valid Base64") from exc
    parent = state.branch_sha(branch)
    if parent is None:
        raise ApiError(404, f"Branch {branch} not found")
    if branch in state.protections:
        raise ApiError(409, "Changes must be made through a pull request.")
    path = path.strip("/")
    entry = state.bare.tree_entry(parent, path)
    if entry and entry[1] != "blob":
        raise invalid(f"{path} is a directory")
    if entry and field(ctx, "sha") is None:
        raise invalid('Invalid request.\n\n"sha" wasn\'t supplied.')
    if entry and field(ctx, "sha") != entry[2]:
        raise ApiError(409, f"{path} does not match {field(ctx, 'sha')}")
    committer = caller_ident(ctx, "committer")
    author = caller_ident(ctx, "author") if field(ctx, "author", dict) else committer
    sha = state.bare.commit_file(parent, path, data, message, author, committer)
    if not state.bare.update_ref(f"refs/heads/{branch}", sha, parent):
        raise ApiError(409, f"refs/heads/{branch} moved; try again")
    new_entry = (*state.bare.tree_entry(sha, path), path)
    content = P.content_json(ctx, state, branch, new_entry)
    content["size"] = len(data)
    return (200 if entry else 201), {"content": content, "commit": P.git_commit_json(ctx, state, commit_info(state, sha))}


@route("GET", r"{REPO}/commits")
def list_commits(ctx, owner, repo):
    """``git log`` of ``sha`` (default branch) limited to ``path``; author/committer mapped to users."""
    state = get_repo(ctx, owner, repo)
    ref = ctx.query.get("sha") or state.default_branch
    sha = state.bare.resolve(ref)
    if sha is None:
        raise ApiError(404, f"No commit found for SHA: {ref}")
    commits = [P.commit_json(ctx, state, c) for c in state.bare.log(sha, ctx.query.get("path"))]
    if ctx.query.get("author"):
        who = ctx.query["author"].lower()
        commits = [c for c in commits if who in ((c["author"] or {}).get("login", "").lower(),
                                                 c["commit"]["author"]["email"].lower())]
    return paginate(ctx, commits)


@route("GET", r"{REPO}/commits/(?P<ref>[^/]+)")
def get_commit(ctx, owner, repo, ref):
    state = get_repo(ctx, owner, repo)
    sha = state.bare.resolve(ref)
    if sha is None:
        raise invalid(f"No commit found for SHA: {ref}")
    return 200, P.commit_json(ctx, state, commit_info(state, sha))


# ---------------------------------------------------------------- pull requests

def parse_head(state: RepoState, head: str) -> str:
    """Branch name from ``owner:branch`` (only same-repo heads are supported)."""
    owner, _, branch = head.rpartition(":")
    if owner and owner != state.owner:
        raise invalid(resource="PullRequest", field="head", code="invalid")
    return branch


@route("GET", r"{REPO}/pulls")
def list_pulls(ctx, owner, repo):
    """Filters ``state`` (default open), ``head=owner:branch`` and ``base``; newest first by default."""
    state = get_repo(ctx, owner, repo)
    want = ctx.query.get("state", "open")
    pulls = [p for p in state.pulls if want == "all" or p.state == want]
    if ctx.query.get("head"):
        owner_part, _, branch = ctx.query["head"].rpartition(":")
        pulls = [p for p in pulls if p.head_ref == branch and owner_part in ("", state.owner)]
    if ctx.query.get("base"):
        pulls = [p for p in pulls if p.base_ref == ctx.query["base"]]
    pulls.sort(key=lambda p: p.number, reverse=ctx.query.get("direction", "desc") == "desc")
    return paginate(ctx, [P.pull_json(ctx, state, p) for p in pulls])


@route("POST", r"{REPO}/pulls")
def create_pull(ctx, owner, repo):
    """Open a PR from a same-repo branch, refusing duplicates and empty PRs like GitHub (422)."""
    state = get_repo(ctx, owner, repo, "write")
    head, base = parse_head(state, field(ctx, "head", required=True)), field(ctx, "base", required=True)
    title = field(ctx, "title", required=True)
    base_sha, head_sha = state.branch_sha(base), state.branch_sha(head)
    if base_sha is None:
        raise invalid(resource="PullRequest", field="base", code="invalid")
    if head_sha is None:
        raise invalid(resource="PullRequest", field="head", code="invalid")
    if any(p.state == "open" and p.head_ref == head and p.base_ref == base for p in state.pulls):
        raise invalid(resource="PullRequest", code="custom", message=f"A pull request already exists for {state.owner}:{head}.")
    if state.bare.is_ancestor(head_sha, base_sha):
        raise invalid(resource="PullRequest", code="custom", message=f"No commits between {base} and {head}")
    pr = ctx.world.new_issue(state, title, field(ctx, "body"), ctx.principal.user, is_pull=True, head_ref=head,
                             base_ref=base, draft=bool(field(ctx, "draft", bool)),
                             maintainer_can_modify=bool(field(ctx, "maintainer_can_modify", bool)))
    return 201, P.pull_json(ctx, state, pr, detailed=True)


@route("GET", r"{REPO}/pulls/(?P<number>\d+)")
def get_pull(ctx, owner, repo, number):
    state = get_repo(ctx, owner, repo)
    return 200, P.pull_json(ctx, state, get_issue(state, number, pull=True), detailed=True)


def close_or_reopen(state: RepoState, issue: Issue, new_state: str | None) -> None:
    """Apply a PATCH ``state``: closing freezes a PR's head sha; merged PRs cannot be reopened."""
    if new_state not in (None, "open", "closed"):
        raise invalid(resource="Issue", field="state", code="invalid")
    if new_state == "closed" and issue.state == "open":
        issue.state, issue.closed_at = "closed", now_iso()
        issue.closed_head_sha = state.head_sha(issue) if issue.is_pull else None
    elif new_state == "open" and issue.state == "closed":
        if issue.merged or (issue.is_pull and state.branch_sha(issue.head_ref) is None):
            raise invalid(resource="PullRequest", code="custom", message="state cannot be changed.")
        issue.state, issue.closed_at, issue.closed_head_sha = "open", None, None


@route("PATCH", r"{REPO}/(?P<kind>pulls|issues)/(?P<number>\d+)")
def edit_issue_or_pull(ctx, owner, repo, kind, number):
    """Edit title/body/state/base; the author may edit without write access."""
    state = get_repo(ctx, owner, repo)
    issue = get_issue(state, number, pull=kind == "pulls")
    if not role_at_least(ctx.principal.role_on(state), "write") and ctx.principal.user is not issue.user:
        raise ApiError(403, "Must have write access to repository")
    base = field(ctx, "base")
    if base is not None and state.branch_sha(base) is None:
        raise invalid(resource="PullRequest", field="base", code="invalid")
    close_or_reopen(state, issue, field(ctx, "state"))
    issue.title = field(ctx, "title") or issue.title
    issue.body = field(ctx, "body") if "body" in (ctx.body or {}) else issue.body
    issue.base_ref = base or issue.base_ref
    issue.updated_at = now_iso()
    if kind == "pulls":
        return 200, P.pull_json(ctx, state, issue, detailed=True)
    return 200, P.issue_json(ctx, state, issue)


@route("GET", r"{REPO}/pulls/(?P<number>\d+)/merge")
def is_merged(ctx, owner, repo, number):
    pr = get_issue(get_repo(ctx, owner, repo), number, pull=True)
    if not pr.merged:
        raise ApiError(404, "Not Found")
    return 204, None


@route("PUT", r"{REPO}/pulls/(?P<number>\d+)/merge")
def merge_pull(ctx, owner, repo, number):
    """Merge for real in the bare repo; checks ``sha``, required approvals and conflicts."""
    state = get_repo(ctx, owner, repo, "write")
    pr = get_issue(state, number, pull=True)
    head_sha, base_sha = state.head_sha(pr), state.branch_sha(pr.base_ref)
    if pr.state != "open" or head_sha is None or base_sha is None:
        raise ApiError(405, "Pull Request is not mergeable")
    if field(ctx, "sha") and field(ctx, "sha") != head_sha:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    required = state.protections.get(pr.base_ref, {}).get("required_approving_review_count", 0)
    approvers = {r.user.login for r in pr.reviews if r.state == "APPROVED"}
    if len(approvers) < required:
        raise ApiError(405, f"At least {required} approving review is required by reviewers with write access.")
    method = field(ctx, "merge_method") or "merge"
    committer = ctx.principal.user.ident
    try:
        if method == "rebase":
            if not state.bare.is_ancestor(base_sha, head_sha):
                raise ApiError(405, "This branch can't be rebased")
            new_sha = head_sha
        else:
            tree = state.bare.merged_tree(base_sha, head_sha)
            if method == "squash":
                title = field(ctx, "commit_title") or f"{pr.title} (#{pr.number})"
                message = field(ctx, "commit_message") or "\n".join(
                    f"* {c.message.splitlines()[0]}" for c in state.bare.log(head_sha, exclude=base_sha))
                new_sha = state.bare.commit_tree(tree, [base_sha], f"{title}\n\n{message}".strip() + "\n",
                                                 pr.user.ident, committer)
            elif method == "merge":
                title = field(ctx, "commit_title") or f"Merge pull request #{pr.number} from {state.owner}/{pr.head_ref}"
                message = field(ctx, "commit_message") or pr.title
                new_sha = state.bare.commit_tree(tree, [base_sha, head_sha], f"{title}\n\n{message}\n",
                                                 committer, committer)
            else:
                raise invalid(resource="PullRequest", field="merge_method", code="invalid")
    except MergeConflict as exc:
        raise ApiError(405, "Merge conflict") from exc
    if not state.bare.update_ref(f"refs/heads/{pr.base_ref}", new_sha, base_sha):
        raise ApiError(409, "Base branch was modified. Review and try the merge again.")
    stamp = now_iso()
    pr.state, pr.merged, pr.merged_at, pr.closed_at, pr.updated_at = "closed", True, stamp, stamp, stamp
    pr.merged_by, pr.merge_commit_sha, pr.closed_head_sha = ctx.principal.user, new_sha, head_sha
    return 200, {"sha": new_sha, "merged": True, "message": "Pull Request successfully merged"}


@route("GET", r"{REPO}/pulls/(?P<number>\d+)/commits")
def list_pull_commits(ctx, owner, repo, number):
    state = get_repo(ctx, owner, repo)
    pr = get_issue(state, number, pull=True)
    commits = state.bare.log(state.head_sha(pr), exclude=state.branch_sha(pr.base_ref))
    return paginate(ctx, [P.commit_json(ctx, state, c) for c in reversed(commits)])


@route("POST", r"{REPO}/pulls/(?P<number>\d+)/requested_reviewers")
def request_reviewers(ctx, owner, repo, number):
    """Only collaborators other than the author can be requested (else 422)."""
    state = get_repo(ctx, owner, repo, "triage")
    pr = get_issue(state, number, pull=True)
    for login in field(ctx, "reviewers", list) or []:
        if login == pr.user.login:
            raise invalid("Review cannot be requested from pull request author.")
        if login not in ctx.world.users or state.role_of(login) == "none":
            raise invalid("Reviews may only be requested from collaborators. One or more of the users or teams "
                          f"you specified is not a collaborator of the {state.full_name} repository.")
        if all(u.login != login for u in pr.requested_reviewers):
            pr.requested_reviewers.append(ctx.world.users[login])
    return 201, P.pull_json(ctx, state, pr)


def inline_comment(ctx: P.Ctx, state: RepoState, pr: Issue, review_id: int, head_sha: str, raw: dict) -> ReviewComment:
    """Validate one inline review comment like GitHub: path in the PR diff, line inside the file."""
    path, line, body = raw.get("path"), raw.get("line") or raw.get("position"), raw.get("body")
    if not isinstance(path, str) or not isinstance(body, str) or not isinstance(line, int):
        raise invalid("Unprocessable Entity", resource="PullRequestReviewComment", code="invalid")
    if path not in state.bare.changed_files(state.branch_sha(pr.base_ref), head_sha):
        raise invalid("Unprocessable Entity", message="Path could not be resolved", resource="PullRequestReviewComment")
    text = state.file_at(path, head_sha) or b""
    side = raw.get("side", "RIGHT")
    if side == "RIGHT" and not 1 <= line <= len(text.splitlines()):
        raise invalid("Unprocessable Entity", message="Pull request review thread line must be part of the diff",
                      resource="PullRequestReviewComment")
    return ReviewComment(ctx.world.next_id(), review_id, ctx.principal.user, path, line, side, body, head_sha, now_iso())


@route("POST", r"{REPO}/pulls/(?P<number>\d+)/reviews")
def create_review(ctx, owner, repo, number):
    """Review with inline comments; a review by a requested reviewer clears the request."""
    state = get_repo(ctx, owner, repo)
    pr = get_issue(state, number, pull=True)
    event, body = field(ctx, "event"), field(ctx, "body") or ""
    review_state = REVIEW_STATES.get(event, "PENDING") if event else "PENDING"
    if event and event not in REVIEW_STATES:
        raise invalid(resource="PullRequestReview", field="event", code="invalid")
    if review_state in ("APPROVED", "CHANGES_REQUESTED") and ctx.principal.user is pr.user:
        verb = "approve" if review_state == "APPROVED" else "request changes on"
        raise invalid("Unprocessable Entity", message=f"Can not {verb} your own pull request")
    raw_comments = field(ctx, "comments", list) or []
    if review_state in ("CHANGES_REQUESTED", "COMMENTED") and not body and not raw_comments:
        raise invalid("Unprocessable Entity", message="Review Comment is missing")
    head_sha = field(ctx, "commit_id") or state.head_sha(pr)
    review = Review(ctx.world.next_id(), ctx.principal.user, body, review_state, head_sha,
                    now_iso() if review_state != "PENDING" else None)
    review.comments = [inline_comment(ctx, state, pr, review.id, head_sha, c) for c in raw_comments]
    pr.reviews.append(review)
    pr.requested_reviewers = [u for u in pr.requested_reviewers if u is not review.user]
    return 200, P.review_json(ctx, state, pr, review)


@route("GET", r"{REPO}/pulls/(?P<number>\d+)/reviews")
def list_reviews(ctx, owner, repo, number):
    state = get_repo(ctx, owner, repo)
    pr = get_issue(state, number, pull=True)
    return paginate(ctx, [P.review_json(ctx, state, pr, r) for r in pr.reviews])


@route("GET", r"{REPO}/pulls/(?P<number>\d+)/comments")
def list_review_comments(ctx, owner, repo, number):
    state = get_repo(ctx, owner, repo)
    pr = get_issue(state, number, pull=True)
    return paginate(ctx, [P.review_comment_json(ctx, state, pr, c) for r in pr.reviews for c in r.comments])


def get_review_comment(state: RepoState, comment_id: str) -> tuple[Issue, ReviewComment]:
    """Inline review comment (and its pull request) by id, or 404."""
    for pr in state.issues.values():
        for review in getattr(pr, "reviews", ()):
            for c in review.comments:
                if c.id == int(comment_id):
                    return pr, c
    raise ApiError(404, "Not Found")


@route("GET", r"{REPO}/pulls/comments/(?P<comment_id>\d+)")
def get_review_comment_route(ctx, owner, repo, comment_id):
    state = get_repo(ctx, owner, repo)
    pr, comment = get_review_comment(state, comment_id)
    return 200, P.review_comment_json(ctx, state, pr, comment)


@route("POST", r"{REPO}/pulls/comments/(?P<comment_id>\d+)/reactions")
def create_review_comment_reaction(ctx, owner, repo, comment_id):
    _pr, comment = get_review_comment(get_repo(ctx, owner, repo), comment_id)
    return add_reaction(ctx, comment)


# ---------------------------------------------------------------- issues, comments, reactions, labels

@route("GET", r"{REPO}/issues/(?P<number>\d+)")
def get_issue_route(ctx, owner, repo, number):
    state = get_repo(ctx, owner, repo)
    return 200, P.issue_json(ctx, state, get_issue(state, number))


@route("GET", r"{REPO}/issues/(?P<number>\d+)/comments")
def list_comments(ctx, owner, repo, number):
    state = get_repo(ctx, owner, repo)
    get_issue(state, number)
    return paginate(ctx, [P.comment_json(ctx, state, c) for c in state.comments_on(int(number))])


@route("POST", r"{REPO}/issues/(?P<number>\d+)/comments")
def create_comment(ctx, owner, repo, number):
    state = get_repo(ctx, owner, repo)
    issue = get_issue(state, number)
    stamp = now_iso()
    comment = Comment(ctx.world.next_id(), issue.number, ctx.principal.user, field(ctx, "body", required=True),
                      stamp, stamp)
    state.comments[comment.id] = comment
    return 201, P.comment_json(ctx, state, comment)


def get_comment(state: RepoState, comment_id: str) -> Comment:
    """Issue comment by id or 404."""
    comment = state.comments.get(int(comment_id))
    if comment is None:
        raise ApiError(404, "Not Found")
    return comment


@route("GET", r"{REPO}/issues/comments/(?P<comment_id>\d+)")
def get_comment_route(ctx, owner, repo, comment_id):
    state = get_repo(ctx, owner, repo)
    return 200, P.comment_json(ctx, state, get_comment(state, comment_id))


@route("PATCH", r"{REPO}/issues/comments/(?P<comment_id>\d+)")
def edit_comment(ctx, owner, repo, comment_id):
    state = get_repo(ctx, owner, repo)
    comment = get_comment(state, comment_id)
    if comment.user is not ctx.principal.user and not role_at_least(ctx.principal.role_on(state), "write"):
        raise ApiError(403, "Must have write access to repository")
    comment.body, comment.updated_at = field(ctx, "body", required=True), now_iso()
    return 200, P.comment_json(ctx, state, comment)


@route("POST", r"{REPO}/issues/comments/(?P<comment_id>\d+)/reactions")
def create_reaction(ctx, owner, repo, comment_id):
    """Reacting twice with the same content returns the existing reaction (200), like GitHub."""
    return add_reaction(ctx, get_comment(get_repo(ctx, owner, repo), comment_id))


def add_reaction(ctx, comment) -> tuple[int, dict]:
    """Shared by issue comments and review comments: one reaction per (content, user)."""
    content = field(ctx, "content", required=True)
    if content not in P.REACTIONS:
        raise invalid(resource="Reaction", field="content", code="invalid")
    login = ctx.principal.user.login
    for reaction in comment.reactions:
        if reaction[1:] == (content, login):
            return 200, P.reaction_json(ctx, reaction)
    comment.reactions.append((ctx.world.next_id(), content, login))
    return 201, P.reaction_json(ctx, comment.reactions[-1])


@route("GET", r"{REPO}/issues/comments/(?P<comment_id>\d+)/reactions")
def list_reactions(ctx, owner, repo, comment_id):
    comment = get_comment(get_repo(ctx, owner, repo), comment_id)
    return paginate(ctx, [P.reaction_json(ctx, r) for r in comment.reactions])


@route("GET", r"{REPO}/issues/(?P<number>\d+)/labels")
def list_labels(ctx, owner, repo, number):
    state = get_repo(ctx, owner, repo)
    return paginate(ctx, [P.label_json(ctx, state, n) for n in get_issue(state, number).labels])


@route("POST", r"{REPO}/issues/(?P<number>\d+)/labels")
def add_labels(ctx, owner, repo, number):
    """Accepts PyGithub's bare list or ``{"labels": [...]}``; unknown labels are created."""
    state = get_repo(ctx, owner, repo, "triage")
    issue = get_issue(state, number)
    names = ctx.body.get("labels") if isinstance(ctx.body, dict) else ctx.body
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise invalid(resource="Label", field="labels", code="invalid")
    issue.labels += [n for n in dict.fromkeys(names) if n not in issue.labels]
    return 200, [P.label_json(ctx, state, n) for n in issue.labels]
