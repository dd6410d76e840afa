"""Step 3 of the job: which sites belong to which group, and which plan items they answer.

A file named in ``tasks.md`` under a group's heading belongs to that group (the plan wins);
every other file goes to the first group of its rule whose globs match (design.md, "Groups").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from codemods.outcome import Site

from .repo_config import Group, RepoConfig
from .scan import ScanResult
from .tasksmd import TaskItem, TasksFile, parse_tasks

_RUFF_SCOPE = re.compile(r"ruff check\s+((?:[\w./-]+\s+)*?[\w./-]+)\s+--")


class PlanError(ValueError):
    """The plan file is missing or unreadable; the message says where we looked."""


def find_tasks_file(checkout: Path, config: RepoConfig) -> Path | None:
    """The configured plan, else the active OpenSpec change's tasks.md that talks about our rules.

    Archived changes are ignored; when several active changes exist the one mentioning PERF203 or
    PERF401 wins, so a repo with many OpenSpec changes still finds the right plan.
    """
    checkout = Path(checkout)
    if config.tasks_file:
        path = checkout / config.tasks_file
        if not path.is_file():
            raise PlanError(f"tasks-file {config.tasks_file!r} from [tool.refactor-bot] does not exist")
        return path
    candidates = sorted(p for p in checkout.glob("openspec/changes/*/tasks.md")
                        if "archive" not in p.parts)
    for path in candidates:
        try:
            if re.search(r"PERF(203|401)", path.read_text(encoding="utf-8", errors="replace")):
                return path
        except OSError:
            continue
    return None


def read_tasks(path: Path) -> tuple[str, TasksFile]:
    """Read the plan exactly (no newline translation) so ticking can keep its bytes."""
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(f"{path.name} is not UTF-8 text: {exc}") from exc
    return raw, parse_tasks(raw)


def scope_from_tasks(tasks: TasksFile | None) -> list[str]:
    """Paths the plan itself scans (``ruff check src backend --select=…``), if it names any."""
    for item in tasks.items if tasks else ():
        match = _RUFF_SCOPE.search(item.text)
        if match:
            return match.group(1).split()
    return []


def _abbrev(part: str, word: str) -> bool:
    """``ops`` abbreviates ``operations``: same first letter, letters in order."""
    if not part or not word or part[0] != word[0]:
        return False
    it = iter(word)
    return all(ch in it for ch in part)


def group_of_section(section: str, groups: tuple[Group, ...]) -> Group | None:
    """The group a plan heading is about (``Group A: Cache Services`` → cache)."""
    words = re.findall(r"[a-z0-9]+", section.lower())
    for group in groups:
        parts = [p for p in re.split(r"[-_ ]", group.name.lower()) if p]
        if parts and all(any(_abbrev(p, w) for w in words) for p in parts):
            return group
    return None


@dataclass
class ItemStatus:
    """An item of the plan next to what the scan finds now."""

    item: TaskItem
    group: str | None
    found: int | None  # sites now in the item's files (None: the item names no files/scope)
    missing: tuple[str, ...] = ()  # files the item names that do not exist in the checkout

    @property
    def satisfied(self) -> bool:
        return self.found == 0 and not self.missing


@dataclass
class GroupPlan:
    group: Group
    files: dict[str, list[Site]] = field(default_factory=dict)
    items: list[ItemStatus] = field(default_factory=list)

    @property
    def site_count(self) -> int:
        return sum(len(v) for v in self.files.values())


@dataclass
class Plan:
    scan: ScanResult
    groups: dict[str, GroupPlan]
    tasks_path: str | None = None
    tasks_text: str | None = None
    tasks: TasksFile | None = None
    unassigned: list[Site] = field(default_factory=list)
    scan_root: Path | None = None


def named_files(tasks: TasksFile | None, groups: tuple[Group, ...]) -> dict[str, str]:
    """file → group for every file the plan names under a group's heading."""
    out: dict[str, str] = {}
    for item in tasks.items if tasks else ():
        group = group_of_section(item.section, groups)
        if group:
            for path in item.files:
                out.setdefault(path, group.name)
    return out


def build_plan(scan: ScanResult, config: RepoConfig, tasks: TasksFile | None = None,
               *, tasks_path: str | None = None, tasks_text: str | None = None,
               root: Path | None = None) -> Plan:
    """Assign every site to a group, then line the plan's items up against the sites."""
    groups = {g.name: GroupPlan(g) for g in config.groups}
    by_name = named_files(tasks, config.groups)
    unassigned = []
    for site in sorted(scan.sites):
        name = by_name.get(site.path)
        group = config.group(name) if name else None
        if group is None or group.rule != site.code:
            group = config.group_for(site.path, site.code)
        if group is None:
            unassigned.append(site)
            continue
        groups[group.name].files.setdefault(site.path, []).append(site)
    plan = Plan(scan, groups, tasks_path, tasks_text, tasks, unassigned, root)
    for item in tasks.items if tasks else ():
        group = group_of_section(item.section, config.groups)
        missing = tuple(p for p in item.files if root is not None and not (Path(root) / p).exists())
        status = ItemStatus(item, group.name if group else None, item_found(plan, item, group), missing)
        if group:
            groups[group.name].items.append(status)
    return plan


def item_found(plan: Plan, item: TaskItem, group: Group | None) -> int | None:
    """How many of the item's sites are still there; None when the item is not a fix item."""
    if item.kind != "fix" or item.parent is not None:
        return None
    rule = item.rule or (group.rule if group else None)
    if item.files:
        return sum(1 for s in plan.scan.sites if s.path in item.files and (rule is None or s.code == rule))
    if group is None:
        return None
    # "Fix remaining … files": every file of the group that no sibling item names.
    named = {p for i in plan.tasks.items if i.section == item.section for p in i.files}
    gp = plan.groups[group.name]
    return sum(len(v) for path, v in gp.files.items() if path not in named)


def load_plan(checkout: Path, config: RepoConfig, paths: list[str] | None = None,
              *, rules: tuple[str, ...] | None = None) -> Plan:
    """Find the plan, scan what it (or the config) scopes, and line the two up.

    The scan scope is, in order: ``paths``, the config's ``src``, the paths the plan's own
    ``ruff check …`` item names, else the whole repository.
    """
    from .scan import scan  # local: scan imports nothing from here, keep the graph one-way

    checkout = Path(checkout)
    tasks_file = find_tasks_file(checkout, config)
    text = tasks = None
    if tasks_file is not None:
        text, tasks = read_tasks(tasks_file)
    scope = list(paths or config.src or scope_from_tasks(tasks) or ["."])
    kwargs = {"rules": rules} if rules else {}
    result = scan(checkout, config, scope, **kwargs)
    rel = tasks_file.relative_to(checkout).as_posix() if tasks_file else None
    return build_plan(result, config, tasks, tasks_path=rel, tasks_text=text, root=checkout)
