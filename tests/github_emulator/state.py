"""In-memory GitHub state (users, apps, repos, issues/PRs, comments, reviews) behind one lock.

Code lives in the bare repos (see gitrepo.py); this module holds what GitHub keeps beside the code.
Every mutation by the HTTP handlers happens under ``World.lock``; tests may read these objects
directly to assert what the bot did (``gh.repo("octo/demo").pull(1).body``).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import git_http
from .gitrepo import BareRepo, Ident

ROLES = ("none", "read", "triage", "write", "maintain", "admin")
# GET .../collaborators/{u}/permission reports the legacy level in "permission", the role in "role_name".
LEGACY_PERMISSION = {"none": "none", "read": "read", "triage": "read", "write": "write",
                     "maintain": "write", "admin": "admin"}
WEB_FLOW = Ident("GitHub", "noreply@github.com")


def now_iso() -> str:
    """Current UTC time the way GitHub prints it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def role_at_least(role: str, needed: str) -> bool:
    """Compare collaborator roles on GitHub's none < read < triage < write < maintain < admin scale."""
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass
class User:
    """A user (or an app's bot user) with one personal access token."""

    login: str
    id: int
    permission: str
    token: str
    name: str
    email: str
    type: str = "User"

    @property
    def ident(self) -> Ident:
        """Git identity used for commits this user makes through the API."""
        return Ident(self.name, self.email)


@dataclass
class App:
    """A GitHub App: its id, RSA key pair (PEM) and bot user ``<slug>[bot]``."""

    app_id: int
    slug: str
    private_key_pem: str
    public_key_pem: str
    bot: User


@dataclass
class Installation:
    """An app installed on some repos; tokens map to expiry (epoch seconds)."""

    id: int
    app: App
    repos: set[str]
    permission: str
    tokens: dict[str, float] = field(default_factory=dict)


@dataclass
class Principal:
    """Who is calling: a user token, an installation token, or an app JWT."""

    kind: str  # "user" | "installation" | "app"
    user: User | None = None
    installation: Installation | None = None
    app: App | None = None

    def role_on(self, repo: RepoState) -> str:
        """The caller's collaborator role on ``repo``."""
        if self.kind == "user" and self.user:
            return repo.role_of(self.user.login)
        if self.kind == "installation" and self.installation and repo.full_name in self.installation.repos:
            return self.installation.permission
        return "none"


@dataclass
class Comment:
    """An issue/PR conversation comment with its reactions as (id, content, login)."""

    id: int
    issue_number: int
    user: User
    body: str
    created_at: str
    updated_at: str
    reactions: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass
class ReviewComment:
    """An inline review comment anchored at path:line of the PR head."""

    id: int
    review_id: int
    user: User
    path: str
    line: int | None
    side: str
    body: str
    commit_id: str
    created_at: str
    reactions: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass
class Review:
    """A pull request review (APPROVED, CHANGES_REQUESTED, COMMENTED or PENDING)."""

    id: int
    user: User
    body: str
    state: str
    commit_id: str
    submitted_at: str
    comments: list[ReviewComment] = field(default_factory=list)


@dataclass
class Issue:
    """An issue or, when ``is_pull``, a pull request (they share GitHub's number space)."""

    id: int
    number: int
    title: str
    body: str | None
    user: User
    created_at: str
    updated_at: str
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    closed_at: str | None = None
    is_pull: bool = False
    head_ref: str = ""
    base_ref: str = ""
    draft: bool = False
    maintainer_can_modify: bool = False
    closed_head_sha: str | None = None
    merged: bool = False
    merged_at: str | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None
    requested_reviewers: list[User] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)


@dataclass
class RepoState:
    """One repository: its bare git repo plus issues, PRs, comments, labels, roles and protection."""

    world: World
    id: int
    owner: str
    name: str
    default_branch: str
    bare: BareRepo
    created_at: str
    private: bool = False
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)
    protections: dict[str, dict] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    @property
    def pulls(self) -> list[Issue]:
        """All pull requests, oldest first."""
        return [i for i in self.issues.values() if i.is_pull]

    def pull(self, number: int) -> Issue:
        """The pull request with that number (KeyError if it is an issue or missing)."""
        issue = self.issues[number]
        if not issue.is_pull:
            raise KeyError(number)
        return issue

    def comments_on(self, number: int) -> list[Comment]:
        """Conversation comments on issue/PR ``number``, oldest first."""
        return [c for c in self.comments.values() if c.issue_number == number]

    def role_of(self, login: str) -> str:
        """Collaborator role: per-repo override, else the user's default, else none."""
        if login in self.roles:
            return self.roles[login]
        user = self.world.users.get(login)
        return user.permission if user else "none"

    def set_role(self, login: str, role: str) -> None:
        """Give ``login`` a role on this repo only (admin/maintain/write/triage/read/none)."""
        assert role in ROLES, role
        self.roles[login] = role

    def head_sha(self, pr: Issue) -> str | None:
        """A PR's head sha: live from the bare repo while open, frozen once closed or merged."""
        if pr.state == "closed" and pr.closed_head_sha:
            return pr.closed_head_sha
        return self.bare.branch_sha(pr.head_ref)

    def branch_sha(self, branch: str) -> str | None:
        """Tip of a branch in the bare repo."""
        return self.bare.branch_sha(branch)

    def file_at(self, path: str, ref: str | None = None) -> bytes | None:
        """Bytes of ``path`` at ``ref`` (default branch by default), None if absent."""
        sha = self.bare.resolve(ref or self.default_branch)
        entry = self.bare.tree_entry(sha, path) if sha else None
        return self.bare.blob(entry[2]) if entry and entry[1] == "blob" else None

    def create_branch(self, branch: str, from_ref: str | None = None) -> str:
        """Create ``branch`` at ``from_ref`` (default branch); returns its sha."""
        sha = self.bare.resolve(from_ref or self.default_branch)
        if sha is None or not self.bare.update_ref(f"refs/heads/{branch}", sha, ""):
            raise ValueError(f"cannot create branch {branch} from {from_ref}")
        return sha

    def commit_file(self, branch: str, path: str, content: bytes | str, message: str,
                    author: str | None = None) -> str:
        """Commit ``content`` at ``path`` on ``branch`` (created from default if missing) as ``author``."""
        data = content.encode() if isinstance(content, str) else content
        who = self.world.users[author].ident if author else WEB_FLOW
        with self.world.lock:
            if self.branch_sha(branch) is None:
                self.create_branch(branch)
            parent = self.branch_sha(branch)
            sha = self.bare.commit_file(parent, path, data, message, who, who)
            if not self.bare.update_ref(f"refs/heads/{branch}", sha, parent):
                raise RuntimeError(f"branch {branch} moved while committing")
            return sha

    def protect_branch(self, branch: str, required_approving_review_count: int = 0) -> None:
        """Protect ``branch``: direct pushes are refused (GH006); merges need that many approvals."""
        self.protections[branch] = {"required_approving_review_count": required_approving_review_count}
        git_http.write_protected_refs(self.bare.path, sorted(self.protections))

    def add_issue(self, title: str, body: str = "", user: str | None = None) -> Issue:
        """Open a plain issue (e.g. for comment-command tests) as ``user`` (default: repo owner)."""
        author = self.world.users[user or self.owner]
        return self.world.new_issue(self, title, body, author)


class World:
    """All emulator state plus id/token minting; guarded by ``lock`` (re-entrant)."""

    def __init__(self, root: Path):
        self.root = root
        self.git_root = root / "git"
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.repos: dict[str, RepoState] = {}
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.rate_used: dict[str, int] = {}
        self._ids = itertools.count(1001)

    def next_id(self) -> int:
        """A fresh globally unique id (GitHub ids are global across object kinds here)."""
        return next(self._ids)

    def add_user(self, login: str, permission: str = "write", name: str | None = None,
                 email: str | None = None, type: str = "User") -> User:
        """Create a user whose default role on every repo is ``permission``."""
        assert permission in ROLES, permission
        with self.lock:
            uid = self.next_id()
            user = User(login, uid, permission, f"ghp_{secrets.token_hex(18)}", name or login,
                        email or f"{uid}+{login}@users.noreply.github.com", type)
            self.users[login] = user
            return user

    def principal_for_token(self, token: str) -> Principal | None:
        """Resolve a user or (unexpired) installation token."""
        with self.lock:
            for user in self.users.values():
                if secrets.compare_digest(user.token, token) and user.type == "User":
                    return Principal("user", user=user)
            for inst in self.installations.values():
                if inst.tokens.get(token, 0) > time.time():
                    return Principal("installation", user=inst.app.bot, installation=inst)
        return None

    def user_for_email(self, email: str, name: str) -> User | None:
        """Map a git identity to a user like GitHub does (by email, falling back to login == name)."""
        by_email = [u for u in self.users.values() if u.email.lower() == email.lower()]
        return by_email[0] if by_email else self.users.get(name)

    def new_issue(self, repo: RepoState, title: str, body: str | None, user: User, **pull_fields) -> Issue:
        """Allocate the next issue/PR number in ``repo`` and store it."""
        with self.lock:
            number = max(repo.issues, default=0) + 1
            stamp = now_iso()
            issue = Issue(self.next_id(), number, title, body, user, stamp, stamp, **pull_fields)
            repo.issues[number] = issue
            return issue
