"""JSON bodies shaped like GitHub's REST v3 responses (the fields PyGithub reads).

Every function takes the ``Ctx`` of the request for absolute URLs: PyGithub follows the ``url``
fields it receives, so they must point back at the emulator's ``api_url``.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass

from .gitrepo import CommitInfo, MergeConflict
from .state import Comment, Issue, Principal, RepoState, Review, ReviewComment, User, World, now_iso, role_at_least

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


@dataclass
class Ctx:
    """One API request: who is calling, on which emulator, with what parsed input."""

    world: World
    api_url: str
    web_url: str
    git_url: str
    method: str
    path: str
    query: dict[str, str]
    body: object
    principal: Principal | None = None

    def repo_api(self, repo: RepoState) -> str:
        """``{api_url}/repos/{owner}/{name}``."""
        return f"{self.api_url}/repos/{repo.full_name}"


def user_json(ctx: Ctx, user: User | None) -> dict | None:
    """Simple-user object."""
    if user is None:
        return None
    return {"login": user.login, "id": user.id, "node_id": f"U_{user.id}", "type": user.type,
            "site_admin": False, "url": f"{ctx.api_url}/users/{user.login}",
            "html_url": f"{ctx.web_url}/{user.login}", "avatar_url": ""}


def owner_json(ctx: Ctx, login: str) -> dict:
    """Repo owner: a known user, else an organization."""
    user = ctx.world.users.get(login)
    if user:
        return user_json(ctx, user)
    oid = zlib.crc32(login.encode())
    return {"login": login, "id": oid, "node_id": f"O_{oid}", "type": "Organization", "site_admin": False,
            "url": f"{ctx.api_url}/orgs/{login}", "html_url": f"{ctx.web_url}/{login}", "avatar_url": ""}


def repo_json(ctx: Ctx, repo: RepoState) -> dict:
    """Full repository object, with the caller's permissions."""
    role = ctx.principal.role_on(repo) if ctx.principal else "none"
    api = ctx.repo_api(repo)
    return {
        "id": repo.id, "node_id": f"R_{repo.id}", "name": repo.name, "full_name": repo.full_name,
        "owner": owner_json(ctx, repo.owner), "private": repo.private,
        "visibility": "private" if repo.private else "public", "fork": False, "archived": False,
        "disabled": False, "html_url": f"{ctx.web_url}/{repo.full_name}", "url": api,
        "clone_url": f"{ctx.git_url}/{repo.full_name}.git", "default_branch": repo.default_branch,
        "created_at": repo.created_at, "updated_at": repo.created_at, "pushed_at": repo.created_at,
        "pulls_url": f"{api}/pulls{{/number}}", "issues_url": f"{api}/issues{{/number}}",
        "permissions": {r: role_at_least(role, r) for r in ("admin", "maintain", "triage")}
        | {"push": role_at_least(role, "write"), "pull": role_at_least(role, "read") or not repo.private},
    }


def association(repo: RepoState, user: User) -> str:
    """author_association from the user's relation to the repo."""
    if user.login == repo.owner:
        return "OWNER"
    return "COLLABORATOR" if repo.role_of(user.login) != "none" else "NONE"


def label_json(ctx: Ctx, repo: RepoState, name: str) -> dict:
    """Label object (labels are created on first use)."""
    lid = repo.labels.setdefault(name, ctx.world.next_id())
    return {"id": lid, "node_id": f"LA_{lid}", "name": name, "color": "ededed", "default": False,
            "description": None, "url": f"{ctx.repo_api(repo)}/labels/{name}"}


def issue_json(ctx: Ctx, repo: RepoState, issue: Issue) -> dict:
    """Issue object; PRs seen through the issues API carry a ``pull_request`` key."""
    api = f"{ctx.repo_api(repo)}/issues/{issue.number}"
    data = {
        "id": issue.id, "node_id": f"I_{issue.id}", "number": issue.number, "title": issue.title,
        "body": issue.body, "user": user_json(ctx, issue.user), "state": issue.state, "locked": False,
        "labels": [label_json(ctx, repo, n) for n in issue.labels], "assignee": None, "assignees": [],
        "milestone": None, "comments": len(repo.comments_on(issue.number)), "created_at": issue.created_at,
        "updated_at": issue.updated_at, "closed_at": issue.closed_at, "url": api,
        "html_url": f"{ctx.web_url}/{repo.full_name}/{'pull' if issue.is_pull else 'issues'}/{issue.number}",
        "comments_url": f"{api}/comments", "labels_url": f"{api}/labels{{/name}}",
        "repository_url": ctx.repo_api(repo), "author_association": association(repo, issue.user),
    }
    if issue.is_pull:
        data["pull_request"] = {"url": f"{ctx.repo_api(repo)}/pulls/{issue.number}",
                                "html_url": data["html_url"], "merged_at": issue.merged_at}
    return data


def pull_json(ctx: Ctx, repo: RepoState, pr: Issue, detailed: bool = False) -> dict:
    """Pull request object; ``detailed`` adds the single-PR fields (mergeable, commit counts)."""
    api = f"{ctx.repo_api(repo)}/pulls/{pr.number}"
    issue_api = f"{ctx.repo_api(repo)}/issues/{pr.number}"
    head_sha = repo.head_sha(pr)
    base_sha = repo.branch_sha(pr.base_ref)

    def part(ref: str, sha: str | None) -> dict:
        return {"label": f"{repo.owner}:{ref}", "ref": ref, "sha": sha, "user": owner_json(ctx, repo.owner),
                "repo": repo_json(ctx, repo)}

    data = issue_json(ctx, repo, pr)
    data.pop("pull_request")
    data.update({
        "url": api, "html_url": f"{ctx.web_url}/{repo.full_name}/pull/{pr.number}", "issue_url": issue_api,
        "diff_url": f"{ctx.web_url}/{repo.full_name}/pull/{pr.number}.diff",
        "patch_url": f"{ctx.web_url}/{repo.full_name}/pull/{pr.number}.patch",
        "commits_url": f"{api}/commits", "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{ctx.repo_api(repo)}/pulls/comments{{/number}}",
        "comments_url": f"{issue_api}/comments", "statuses_url": f"{ctx.repo_api(repo)}/statuses/{head_sha}",
        "head": part(pr.head_ref, head_sha), "base": part(pr.base_ref, base_sha), "draft": pr.draft,
        "merged": pr.merged, "merged_at": pr.merged_at, "merged_by": user_json(ctx, pr.merged_by),
        "merge_commit_sha": pr.merge_commit_sha, "maintainer_can_modify": pr.maintainer_can_modify,
        "requested_reviewers": [user_json(ctx, u) for u in pr.requested_reviewers], "requested_teams": [],
        "auto_merge": None, "active_lock_reason": None,
    })
    if detailed:
        data.update(mergeable_fields(repo, pr, head_sha, base_sha))
    return data


def mergeable_fields(repo: RepoState, pr: Issue, head_sha: str | None, base_sha: str | None) -> dict:
    """mergeable / mergeable_state and the commit / file counts of a single-PR GET."""
    if pr.merged or pr.state == "closed" or not head_sha or not base_sha:
        return {"mergeable": None, "mergeable_state": "unknown", "rebaseable": None,
                "commits": 0, "changed_files": 0, "review_comments": 0}
    try:
        repo.bare.merged_tree(base_sha, head_sha)
        mergeable = True
    except MergeConflict:
        mergeable = False
    return {"mergeable": mergeable, "mergeable_state": "clean" if mergeable else "dirty",
            "rebaseable": mergeable, "commits": len(repo.bare.log(head_sha, exclude=base_sha)),
            "changed_files": len(repo.bare.changed_files(base_sha, head_sha)),
            "review_comments": sum(len(r.comments) for r in pr.reviews)}


def comment_json(ctx: Ctx, repo: RepoState, comment: Comment) -> dict:
    """Issue comment object with a reaction summary."""
    url = f"{ctx.repo_api(repo)}/issues/comments/{comment.id}"
    counts = {r: sum(1 for _, c, _ in comment.reactions if c == r) for r in REACTIONS}
    return {"id": comment.id, "node_id": f"IC_{comment.id}", "url": url,
            "html_url": f"{ctx.web_url}/{repo.full_name}/issues/{comment.issue_number}#issuecomment-{comment.id}",
            "issue_url": f"{ctx.repo_api(repo)}/issues/{comment.issue_number}", "body": comment.body,
            "user": user_json(ctx, comment.user), "created_at": comment.created_at,
            "updated_at": comment.updated_at, "author_association": association(repo, comment.user),
            "reactions": {"url": f"{url}/reactions", "total_count": len(comment.reactions)} | counts}


def reaction_json(ctx: Ctx, reaction: tuple[int, str, str]) -> dict:
    """Reaction object."""
    rid, content, login = reaction
    return {"id": rid, "node_id": f"REA_{rid}", "content": content, "created_at": now_iso(),
            "user": user_json(ctx, ctx.world.users.get(login))}


def review_json(ctx: Ctx, repo: RepoState, pr: Issue, review: Review) -> dict:
    """Pull request review object."""
    pr_url = f"{ctx.repo_api(repo)}/pulls/{pr.number}"
    html = f"{ctx.web_url}/{repo.full_name}/pull/{pr.number}#pullrequestreview-{review.id}"
    return {"id": review.id, "node_id": f"PRR_{review.id}", "user": user_json(ctx, review.user),
            "body": review.body, "state": review.state, "commit_id": review.commit_id, "html_url": html,
            "pull_request_url": pr_url, "submitted_at": review.submitted_at,
            "author_association": association(repo, review.user),
            "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}}}


def review_comment_json(ctx: Ctx, repo: RepoState, pr: Issue, c: ReviewComment) -> dict:
    """Inline review comment object."""
    url = f"{ctx.repo_api(repo)}/pulls/comments/{c.id}"
    return {"id": c.id, "node_id": f"PRRC_{c.id}", "pull_request_review_id": c.review_id, "path": c.path,
            "line": c.line, "original_line": c.line, "side": c.side, "position": c.line, "body": c.body,
            "commit_id": c.commit_id, "original_commit_id": c.commit_id, "user": user_json(ctx, c.user),
            "url": url, "html_url": f"{ctx.web_url}/{repo.full_name}/pull/{pr.number}#discussion_r{c.id}",
            "pull_request_url": f"{ctx.repo_api(repo)}/pulls/{pr.number}", "created_at": c.created_at,
            "updated_at": c.created_at, "author_association": association(repo, c.user)}


def commit_json(ctx: Ctx, repo: RepoState, c: CommitInfo) -> dict:
    """Commit object as listed by GET /repos/{o}/{r}/commits (author/committer mapped to users)."""
    api = ctx.repo_api(repo)
    author = ctx.world.user_for_email(c.author.email, c.author.name)
    committer = ctx.world.user_for_email(c.committer.email, c.committer.name)
    return {
        "sha": c.sha, "node_id": f"C_{c.sha}", "url": f"{api}/commits/{c.sha}",
        "html_url": f"{ctx.web_url}/{repo.full_name}/commit/{c.sha}", "comments_url": f"{api}/commits/{c.sha}/comments",
        "commit": {"url": f"{api}/git/commits/{c.sha}", "message": c.message, "comment_count": 0,
                   "author": {"name": c.author.name, "email": c.author.email, "date": c.author_date},
                   "committer": {"name": c.committer.name, "email": c.committer.email, "date": c.committer_date},
                   "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"}},
        "author": user_json(ctx, author), "committer": user_json(ctx, committer),
        "parents": [{"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{ctx.web_url}/{repo.full_name}/commit/{p}"}
                    for p in c.parents],
    }


def git_commit_json(ctx: Ctx, repo: RepoState, c: CommitInfo) -> dict:
    """Git-data commit object (the ``commit`` half of a contents PUT response)."""
    full = commit_json(ctx, repo, c)
    return full["commit"] | {"sha": c.sha, "node_id": full["node_id"], "html_url": full["html_url"],
                             "url": f"{ctx.repo_api(repo)}/git/commits/{c.sha}", "parents": full["parents"]}


def content_json(ctx: Ctx, repo: RepoState, ref: str, entry: tuple[str, str, str, str],
                 data: bytes | None = None) -> dict:
    """Contents object for a file or directory entry; file bodies are base64 like GitHub's."""
    mode, typ, sha, path = entry
    api = ctx.repo_api(repo)
    kind = {"blob": "symlink" if mode == "120000" else "file", "tree": "dir", "commit": "submodule"}[typ]
    out = {"type": kind, "name": path.rsplit("/", 1)[-1], "path": path, "sha": sha,
           "size": len(data) if data is not None else 0, "url": f"{api}/contents/{path}?ref={ref}",
           "git_url": f"{api}/git/{'blobs' if typ == 'blob' else 'trees'}/{sha}",
           "html_url": f"{ctx.web_url}/{repo.full_name}/blob/{ref}/{path}",
           "download_url": f"{ctx.web_url}/{repo.full_name}/raw/{ref}/{path}" if typ == "blob" else None}
    out["_links"] = {"self": out["url"], "git": out["git_url"], "html": out["html_url"]}
    if data is not None:
        out.update(content=base64.encodebytes(data).decode(), encoding="base64")
    return out


def branch_json(ctx: Ctx, repo: RepoState, name: str, sha: str) -> dict:
    """Branch object with the ``protected`` flag and protection URL."""
    api = ctx.repo_api(repo)
    prot = repo.protections.get(name)
    return {"name": name, "protected": prot is not None,
            "protection_url": f"{api}/branches/{name}/protection",
            "commit": {"sha": sha, "url": f"{api}/commits/{sha}"},
            "protection": {"enabled": prot is not None, "required_status_checks": None},
            "_links": {"self": f"{api}/branches/{name}", "html": f"{ctx.web_url}/{repo.full_name}/tree/{name}"}}


def protection_json(ctx: Ctx, repo: RepoState, name: str) -> dict:
    """Branch protection object."""
    url = f"{ctx.repo_api(repo)}/branches/{name}/protection"
    count = repo.protections[name]["required_approving_review_count"]
    data = {"url": url, "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": True},
            "allow_force_pushes": {"enabled": False}, "allow_deletions": {"enabled": False},
            "required_linear_history": {"enabled": False}, "required_signatures": {"enabled": False}}
    if count:
        data["required_pull_request_reviews"] = {"url": f"{url}/required_pull_request_reviews",
                                                 "required_approving_review_count": count,
                                                 "dismiss_stale_reviews": False, "require_code_owner_reviews": False}
    return data


def ref_json(ctx: Ctx, repo: RepoState, ref: str, sha: str) -> dict:
    """Git reference object."""
    api = ctx.repo_api(repo)
    return {"ref": ref, "node_id": f"REF_{sha[:12]}", "url": f"{api}/git/{ref}",
            "object": {"sha": sha, "type": "commit", "url": f"{api}/git/commits/{sha}"}}
