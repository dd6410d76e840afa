"""Per-repository settings: the groups, where the plan lives, how to test and benchmark.

Defaults reproduce the seed plan's four groups (design.md, "Groups"); a target repository overrides
any of them under ``[tool.refactor-bot]`` in its own ``pyproject.toml``. Read from the checkout at job
time, never from the environment, so the same code serves the CLI and the worker.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

RULES = ("PERF203", "PERF401")


class ConfigError(ValueError):
    """The target's ``[tool.refactor-bot]`` table cannot be used; the message says which key."""


@dataclass(frozen=True)
class Group:
    """A set of files fixed together in one pull request, for one rule.

    ``paths`` are fnmatch globs tried against the repo-relative POSIX path; an empty list means
    "every file of this rule that no earlier group took".
    """

    name: str
    rule: str
    paths: tuple[str, ...] = ()

    def matches(self, relpath: str) -> bool:
        return not self.paths or any(fnmatch.fnmatch(relpath, pat) for pat in self.paths)


DEFAULT_GROUPS: tuple[Group, ...] = (
    Group("cache", "PERF203", ("*cache*",)),
    Group("database", "PERF203", ("*/database/*", "*redis_cluster*", "*postgres*", "*shard*", "*_db*")),
    Group("core", "PERF203", ()),
    Group("list-ops", "PERF401", ()),
)


@dataclass(frozen=True)
class RepoConfig:
    """Everything the job needs to know about one target repository."""

    groups: tuple[Group, ...] = DEFAULT_GROUPS
    tasks_file: str | None = None
    src: tuple[str, ...] = ()
    target_version: str = "py310"
    test_command: tuple[str, ...] | None = None
    test_timeout: float = 900.0
    requirements: tuple[str, ...] | None = None
    bench_command: tuple[str, ...] | None = None
    bench_selection: str | None = None
    bench_timeout: float = 900.0
    regression_threshold_pct: float = 10.0
    branch_prefix: str = "refactor-bot/"
    labels: tuple[str, ...] = ("refactor-bot", "performance")
    reviewers: tuple[str, ...] = ()
    tick_via_pr: bool = False
    requires_python: str | None = None
    line_length: int = 88  # the repo's ruff/black line length, for wrapping generated code
    extra: dict = field(default_factory=dict)

    def group(self, name: str) -> Group:
        for g in self.groups:
            if g.name == name:
                return g
        known = ", ".join(g.name for g in self.groups)
        raise ConfigError(f"unknown group {name!r}; this repository's groups are: {known}")

    def group_for(self, relpath: str, rule: str) -> Group | None:
        """First group of ``rule`` whose globs match: the design's "first match wins"."""
        for g in self.groups:
            if g.rule == rule and g.matches(relpath):
                return g
        return None

    def branch_for(self, group: str) -> str:
        return f"{self.branch_prefix}{group}"


def _str_tuple(table: dict, key: str) -> tuple[str, ...] | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"[tool.refactor-bot] {key} must be a string or a list of strings")


def _groups(raw) -> tuple[Group, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("[tool.refactor-bot] groups must be a non-empty array of tables")
    groups = []
    for entry in raw:
        if not isinstance(entry, dict) or "name" not in entry or "rule" not in entry:
            raise ConfigError("each [[tool.refactor-bot.groups]] needs a name and a rule")
        if entry["rule"] not in RULES:
            raise ConfigError(f"group {entry['name']!r}: rule must be one of {', '.join(RULES)}")
        groups.append(Group(str(entry["name"]), entry["rule"], tuple(entry.get("paths", ()))))
    return tuple(groups)


def load_repo_config(checkout: Path) -> RepoConfig:
    """Defaults, overridden by the checkout's ``[tool.refactor-bot]`` table when there is one."""
    pyproject = Path(checkout) / "pyproject.toml"
    if not pyproject.is_file():
        return RepoConfig()
    return parse_repo_config(pyproject.read_bytes())


def parse_repo_config(raw: bytes | str) -> RepoConfig:
    """The config from a ``pyproject.toml``'s bytes (e.g. read through the GitHub API)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"pyproject.toml is not valid TOML: {exc}") from exc
    requires_python = data.get("project", {}).get("requires-python")
    tools = data.get("tool", {})
    table = tools.get("refactor-bot", {})
    kwargs: dict = {"requires_python": requires_python}
    line_length = tools.get("ruff", {}).get("line-length") or tools.get("black", {}).get("line-length")
    if isinstance(line_length, int) and 40 <= line_length <= 320:
        kwargs["line_length"] = line_length
    if "groups" in table:
        kwargs["groups"] = _groups(table["groups"])
    for key, attr in (("tasks-file", "tasks_file"), ("target-version", "target_version")):
        if key in table:
            kwargs[attr] = str(table[key])
    for key, attr in (("src", "src"), ("test-command", "test_command"),
                      ("bench-command", "bench_command"), ("labels", "labels"),
                      ("reviewers", "reviewers"), ("requirements", "requirements")):
        value = _str_tuple(table, key)
        if value is not None:
            kwargs[attr] = value
    for key, attr in (("regression-threshold", "regression_threshold_pct"),
                      ("test-timeout", "test_timeout"), ("bench-timeout", "bench_timeout")):
        if key in table:
            try:
                kwargs[attr] = float(table[key])
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"[tool.refactor-bot] {key} must be a number") from exc
    if "bench-selection" in table:
        kwargs["bench_selection"] = str(table["bench-selection"])
    if "branch-prefix" in table:
        kwargs["branch_prefix"] = str(table["branch-prefix"])
    if "tick-via-pr" in table:
        kwargs["tick_via_pr"] = bool(table["tick-via-pr"])
    known = {"groups", "tasks-file", "target-version", "src", "test-command", "bench-command",
             "labels", "reviewers", "requirements", "regression-threshold", "test-timeout",
             "bench-timeout", "bench-selection", "branch-prefix", "tick-via-pr"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"[tool.refactor-bot] has unknown keys: {', '.join(unknown)}")
    return RepoConfig(**kwargs)
