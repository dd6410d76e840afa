"""Plumbing on the emulator's bare repositories: the single source of truth for branches and commits.

Everything the REST side reports about code (branch heads, PR head shas, file contents, commit lists)
is read from the bare repo on each request, so a real ``git push`` over HTTP is visible at once.
Writes (contents PUT, merges, ref updates) use ``update-ref <new> <old>`` so they never clobber a
concurrent push.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_SEP, _END = "\x1f", "\x1e"
_LOG_FORMAT = _SEP.join(["%H", "%T", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"]) + _END


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for git children, isolated from the user's and system git config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    env.update(extra or {})
    return env


class GitError(RuntimeError):
    """A git command failed; carries stderr for the emulator's error responses."""


@dataclass(frozen=True)
class Ident:
    """Author or committer identity (date None = now)."""

    name: str
    email: str


@dataclass(frozen=True)
class CommitInfo:
    """One commit as read from ``git log``."""

    sha: str
    tree: str
    parents: list[str]
    author: Ident
    author_date: str
    committer: Ident
    committer_date: str
    message: str


class MergeConflict(Exception):
    """The PR's head cannot be merged into its base without conflicts."""


class BareRepo:
    """A bare git repository driven through git plumbing commands."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """Run ``git --git-dir=<repo> <args>``; raise GitError on failure when check is set."""
        proc = subprocess.run(["git", f"--git-dir={self.path}", *args], input=input, capture_output=True,
                              env=git_env(env), check=False)
        if check and proc.returncode != 0:
            raise GitError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace').strip()}")
        return proc

    def out(self, *args: str, **kw) -> str:
        """stdout of a git command, stripped."""
        return self.git(*args, **kw).stdout.decode().strip()

    @classmethod
    def create(cls, path: Path, default_branch: str, files_from: Path | None, author: Ident) -> BareRepo:
        """Create a bare repo with one initial commit (``files_from``'s tree, or a README)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", "-b", default_branch, str(path)], check=True,
                       env=git_env(), capture_output=True)
        repo = cls(path)
        repo.git("config", "http.receivepack", "true")
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if files_from is not None:
                repo.git(f"--work-tree={files_from}", "add", "-A", ".", env=env)
            else:
                blob = repo.out("hash-object", "-w", "--stdin", input=f"# {path.stem}\n".encode())
                repo.git("update-index", "--add", "--cacheinfo", f"100644,{blob},README.md", env=env)
            tree = repo.out("write-tree", env=env)
        sha = repo.commit_tree(tree, [], "Initial commit", author, author)
        repo.update_ref(f"refs/heads/{default_branch}", sha, "")
        return repo

    def resolve(self, rev: str) -> str | None:
        """Commit sha for a branch name, ref or sha; None if it does not exist."""
        for candidate in (f"refs/heads/{rev}", rev):
            proc = self.git("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False)
            if proc.returncode == 0:
                return proc.stdout.decode().strip()
        return None

    def branch_sha(self, branch: str) -> str | None:
        """Tip of ``refs/heads/<branch>`` or None."""
        proc = self.git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def branches(self) -> dict[str, str]:
        """All branch names mapped to their tip shas."""
        lines = self.out("for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads").splitlines()
        return dict(line.rsplit(" ", 1) for line in lines if line)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when ``ancestor`` is reachable from ``descendant`` (equal counts)."""
        return self.git("merge-base", "--is-ancestor", ancestor, descendant, check=False).returncode == 0

    def update_ref(self, ref: str, new: str, old: str | None = None) -> bool:
        """Compare-and-swap a ref (old "" = must not exist, None = unconditional); False if it moved."""
        args = ["update-ref", ref, new] + ([] if old is None else [old])
        return self.git(*args, check=False).returncode == 0

    def delete_ref(self, ref: str) -> bool:
        """Delete a ref; False when it did not exist."""
        return self.git("update-ref", "-d", ref, check=False).returncode == 0

    def tree_entry(self, rev: str, path: str) -> tuple[str, str, str] | None:
        """(mode, type, sha) of ``path`` at ``rev``, or None when absent."""
        line = self.out("ls-tree", rev, "--", path.strip("/")) if path.strip("/") else ""
        if not line:
            return None
        meta, _name = line.split("\t", 1)
        mode, typ, sha = meta.split()
        return mode, typ, sha

    def list_dir(self, rev: str, path: str) -> list[tuple[str, str, str, str]]:
        """Entries (mode, type, sha, path) of a directory at ``rev`` ("" = root)."""
        target = f"{rev}:{path.strip('/')}" if path.strip("/") else f"{rev}^{{tree}}"
        entries = []
        for line in self.out("ls-tree", target).splitlines():
            meta, name = line.split("\t", 1)
            mode, typ, sha = meta.split()
            entries.append((mode, typ, sha, f"{path.strip('/')}/{name}".lstrip("/")))
        return entries

    def blob(self, sha: str) -> bytes:
        """Raw bytes of a blob."""
        return self.git("cat-file", "blob", sha).stdout

    def commit_tree(self, tree: str, parents: list[str], message: str, author: Ident, committer: Ident) -> str:
        """Create a commit object (no ref update) and return its sha."""
        env = {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
               "GIT_COMMITTER_NAME": committer.name, "GIT_COMMITTER_EMAIL": committer.email}
        args = ["commit-tree", tree] + [a for p in parents for a in ("-p", p)]
        return self.out(*args, input=message.encode(), env=env)

    def commit_file(self, parent: str, path: str, content: bytes, message: str,
                    author: Ident, committer: Ident) -> str:
        """New commit on top of ``parent`` with ``path`` set to ``content`` (mode kept); returns its sha."""
        entry = self.tree_entry(parent, path)
        mode = entry[0] if entry and entry[1] == "blob" else "100644"
        blob = self.out("hash-object", "-w", "--stdin", input=content)
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("read-tree", parent, env=env)
            self.git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", env=env)
            tree = self.out("write-tree", env=env)
        return self.commit_tree(tree, [parent], message, author, committer)

    def merged_tree(self, base: str, head: str) -> str:
        """Tree of merging ``head`` into ``base``; raise MergeConflict when it does not merge cleanly."""
        proc = self.git("merge-tree", "--write-tree", "--no-messages", base, head, check=False)
        if proc.returncode == 1:
            raise MergeConflict(proc.stdout.decode())
        if proc.returncode != 0:
            raise GitError(proc.stderr.decode())
        return proc.stdout.decode().split("\n", 1)[0].strip()

    def log(self, rev: str, path: str | None = None, exclude: str | None = None) -> list[CommitInfo]:
        """Commits reachable from ``rev`` (newest first), optionally touching ``path``, minus ``exclude``."""
        args = ["log", f"--format={_LOG_FORMAT}", rev] + ([f"^{exclude}"] if exclude else [])
        args += ["--", path] if path else []
        commits = []
        for record in self.out(*args).split(_END):
            fields = record.lstrip("\n").split(_SEP)
            if len(fields) < 10:
                continue
            sha, tree, parents, an, ae, ad, cn, ce, cd, msg = fields
            commits.append(CommitInfo(sha, tree, parents.split(), Ident(an, ae), ad, Ident(cn, ce), cd,
                                      msg.rstrip("\n")))
        return commits

    def changed_files(self, base: str, head: str) -> list[str]:
        """Paths changed on ``head`` since its merge base with ``base`` (what a PR diff shows)."""
        return [p for p in self.out("diff", "--name-only", f"{base}...{head}").splitlines() if p]
