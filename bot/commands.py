"""Comment commands: find ``@refactor-bot <verb> …`` or ``/refactor <verb> …`` in a comment body.

Parsing is pure string work so the webhook can drop ordinary comments without enqueuing anything;
whether the author may run the command, and what it does, is decided by the worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: verb → (usage, one-line description); the help reply is generated from this table.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run <group|all>", "open or update the pull request for a group (or every group)"),
    "rebase": ("rebase [group]", "regenerate the group's pull request on the newest default branch"),
    "recreate": ("recreate [group]", "close the group's pull request and open a fresh one"),
    "skip": ("skip <path>", "inside a bot pull request: regenerate it without that file (remembered)"),
    "status": ("status", "list the open refactor-bot pull requests and whether they are up to date"),
    "plan": ("plan", "show the groups, their files and site counts on the default branch"),
    "help": ("help", "show this message"),
}


@dataclass(frozen=True)
class Command:
    """One parsed command: the verb (lower-cased) and its whitespace-separated arguments."""

    name: str
    args: tuple[str, ...] = ()

    @property
    def argument(self) -> str | None:
        return self.args[0] if self.args else None

    def error(self) -> str | None:
        """Why this command cannot run as written, or ``None`` when it is well-formed."""
        if self.name not in COMMANDS:
            return f"I don't know the command `{self.name}`."
        if self.name in ("run", "skip") and not self.args:
            return f"`{self.name}` needs an argument: `{COMMANDS[self.name][0]}`."
        return None


def _trigger_pattern(bot_name: str, command_prefix: str) -> re.Pattern[str]:
    mention = rf"@{re.escape(bot_name)}(?:\[bot\])?"
    return re.compile(
        rf"^[ \t]*(?:{mention}|{re.escape(command_prefix)})[ \t]+(?P<verb>[A-Za-z][\w-]*)(?P<rest>[^\r\n]*)$",
        re.IGNORECASE | re.MULTILINE,
    )


def parse_command(body: str | None, *, bot_name: str = "refactor-bot",
                  command_prefix: str = "/refactor") -> Command | None:
    """The first command line in ``body``, ignoring quoted replies and fenced code blocks.

    Quoted lines (``> @refactor-bot run cache``) are skipped so that replying to a command does
    not run it again; code fences are skipped so that documentation of the commands is inert.
    """
    if not body:
        return None
    pattern = _trigger_pattern(bot_name, command_prefix)
    in_fence = False
    for line in body.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence or stripped.startswith(">"):
            continue
        match = pattern.match(line)
        if match:
            return Command(match["verb"].lower(), tuple(match["rest"].split()))
    return None


def help_text(bot_name: str = "refactor-bot") -> str:
    """The reply to ``help`` (and to malformed commands): one line per command."""
    lines = [f"Commands (write `@{bot_name} <command>` or `/refactor <command>` in a comment):", ""]
    lines += [f"- `{usage}` — {text}" for usage, text in COMMANDS.values()]
    lines += ["", "Only people with write, maintain or admin permission on this repository can run them."]
    return "\n".join(lines)
