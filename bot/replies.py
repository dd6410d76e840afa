"""What the bot says in comments: every user-facing sentence in one place."""

from __future__ import annotations

from .commands import help_text


def refusal(author: str, command: str) -> str:
    """A polite no for someone without write access (no job is started)."""
    return (f"Thanks @{author}! Only people with write, maintain or admin permission on this "
            f"repository can run `{command}`, so I did not start anything. A maintainer can run it "
            "for you.")


def invalid(author: str, error: str, bot_name: str) -> str:
    return f"@{author} {error}\n\n{help_text(bot_name)}"


def queued(author: str, command: str, groups: list[str]) -> str:
    names = ", ".join(f"`{g}`" for g in groups)
    return f"@{author} on it: `{command}` for {names}. I'll reply here when the pull request is ready."


def group_done(author: str | None, group: str, status: str, pr_number: int | None, pr_url: str | None,
               message: str) -> str:
    """The reply when a group's job ends, linking its pull request."""
    who = f"@{author} " if author else ""
    if status in ("opened", "updated"):
        return f"{who}`{group}`: {status} #{pr_number} ({pr_url})."
    if status == "closed":
        return f"{who}`{group}`: {message}."
    if status == "blocked":
        link = f" on #{pr_number}" if pr_number else ""
        return f"{who}`{group}`: not updated{link}: {message}"
    if pr_number:
        return f"{who}`{group}`: {message}; #{pr_number} stays as it is ({pr_url})."
    return f"{who}`{group}`: {message}, so there is no pull request to open."


def group_failed(author: str | None, group: str, error: str) -> str:
    who = f"@{author} " if author else ""
    return (f"{who}`{group}`: the job failed: {error}. The details are in the worker's log; "
            "comment the command again to retry.")


def command_failed(author: str, command: str, error: str) -> str:
    return (f"@{author} `{command}` failed: {error}. The details are in the worker's log; "
            "comment the command again to retry.")


def unknown_group(author: str, group: str, known: list[str]) -> str:
    names = ", ".join(f"`{g}`" for g in known)
    return f"@{author} this repository has no group `{group}`; its groups are {names} (or `all`)."


def not_a_bot_pr(author: str, command: str) -> str:
    return (f"@{author} `{command}` without a group works inside a refactor-bot pull request; "
            f"elsewhere name the group: `{command} <group>`.")


def status_table(rows: list[tuple[str, int, str, str]], default_branch: str) -> str:
    """(group, number, url, state) rows as a markdown table."""
    if not rows:
        return "There are no open refactor-bot pull requests."
    lines = [f"Open refactor-bot pull requests (against `{default_branch}`):", "",
             "| group | pull request | state |", "|---|---|---|"]
    lines += [f"| `{g}` | [#{n}]({url}) | {state} |" for g, n, url, state in rows]
    return "\n".join(lines)


def outdated(after: str) -> str:
    return (f"The default branch moved to {after[:10]}, so this pull request is outdated. "
            "Comment `@refactor-bot rebase` to regenerate it on the new base.")


def plan_summary(groups: list[tuple[str, str, int, dict[str, int]]], tasks_path: str | None) -> str:
    """(group, rule, sites, {file: sites}) rows for the ``plan`` reply."""
    lines = [f"Plan: `{tasks_path}`" if tasks_path else "No tasks.md plan found; groups from the configuration.", ""]
    for name, rule, count, files in groups:
        lines.append(f"- **{name}** ({rule}): {count} site(s) in {len(files)} file(s)")
        lines += [f"  - `{path}`: {n}" for path, n in files.items()]
    return "\n".join(lines)
