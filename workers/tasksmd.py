"""Reading and ticking an OpenSpec-style ``tasks.md`` without disturbing a byte we don't mean to.

The plan is a human document: sections (``## 2. Group A: Cache Services (PERF203 - 35 violations)``)
hold checkbox items (``- [ ] 2.1 Fix `backend/x.py` (8 violations)``) with optional sub-items. We
read which files each item names and which group its section is about; ticking changes exactly the
``[ ]`` of the chosen items and keeps everything else — line endings included — as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_ITEM = re.compile(r"^(?P<indent>[ \t]*)[-*+]\s+\[(?P<mark>[ xX])\]\s+(?P<rest>.*?)\s*$")
_ITEM_ID = re.compile(r"^(?P<id>\d+(?:\.\d+)*)\.?\s+(?P<text>.*)$")
_BACKTICK = re.compile(r"`([^`]+)`")
_CLAIMED = re.compile(r"\((\d+)\s+violations?\b")
_RULE = re.compile(r"\bPERF(203|401)\b")
_PY_PATH = re.compile(r"^[\w./-]+\.py$")


class TasksError(ValueError):
    """The plan cannot be used; the message names the line."""


@dataclass
class TaskItem:
    """One checkbox line of the plan.

    ``id`` is the item's own number ("2.1"); a sub-item without a number gets its parent's id plus
    ``/n``. ``kind`` is ``fix`` (names files or says "fix remaining"), ``tests`` (run tests),
    ``bench`` (benchmarks), ``verify`` (re-run ruff) or ``other``.
    """

    id: str
    text: str
    checked: bool
    line_index: int
    depth: int
    section: str
    rule: str | None
    files: tuple[str, ...]
    claimed: int | None
    kind: str
    parent: str | None = None


@dataclass
class TasksFile:
    """The parsed plan: items in file order, plus each section heading's text."""

    items: list[TaskItem]
    sections: list[str] = field(default_factory=list)

    def get(self, item_id: str) -> TaskItem:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def in_section(self, section: str) -> list[TaskItem]:
        return [i for i in self.items if i.section == section]


def _kind(text: str, files: tuple[str, ...]) -> str:
    low = text.lower()
    if files or re.match(r"fix\b", low):
        return "fix"
    if "benchmark" in low or "latency" in low or "processing time" in low or "checkout time" in low:
        return "bench"
    if re.search(r"\b(run|pytest)\b.*\btests?\b|\btest suite\b|\bpytest\b", low):
        return "tests"
    if "ruff check" in low and "0 violations" in low:
        return "verify"
    return "other"


def parse_tasks(text: str) -> TasksFile:
    """Parse the plan. Raises TasksError when it has no checkbox item at all."""
    items: list[TaskItem] = []
    sections: list[str] = []
    section = ""
    section_rule: str | None = None
    stack: list[tuple[int, TaskItem]] = []  # (indent width, item) for parent lookup
    child_counts: dict[str, int] = {}
    for index, line in enumerate(text.splitlines()):
        heading = _HEADING.match(line)
        if heading:
            section = heading.group(2)
            sections.append(section)
            found = {f"PERF{r}" for r in _RULE.findall(section)}
            section_rule = found.pop() if len(found) == 1 else None
            stack = []
            continue
        match = _ITEM.match(line)
        if not match:
            continue
        width = len(match.group("indent").expandtabs(4))
        while stack and stack[-1][0] >= width:
            stack.pop()
        parent = stack[-1][1] if stack else None
        rest = match.group("rest")
        numbered = _ITEM_ID.match(rest)
        if numbered:
            item_id, body = numbered.group("id"), numbered.group("text")
        else:
            base = parent.id if parent else f"L{index + 1}"
            child_counts[base] = child_counts.get(base, 0) + 1
            item_id, body = f"{base}/{child_counts[base]}", rest
        files = tuple(p for p in _BACKTICK.findall(body) if _PY_PATH.match(p.strip()))
        claimed = _CLAIMED.search(body)
        rules = {f"PERF{r}" for r in _RULE.findall(body)}
        item_rule = rules.pop() if len(rules) == 1 else (None if rules else section_rule)
        item = TaskItem(
            id=item_id, text=body, checked=match.group("mark") != " ", line_index=index,
            depth=len(stack), section=section,
            rule=item_rule,
            files=files, claimed=int(claimed.group(1)) if claimed else None,
            kind=_kind(body, files), parent=parent.id if parent else None,
        )
        items.append(item)
        stack.append((width, item))
    if not items:
        raise TasksError("the plan has no checkbox items ('- [ ] …'); is this an OpenSpec tasks.md?")
    return TasksFile(items, sections)


def tick(text: str, ids: set[str]) -> str:
    """Tick exactly the items in ``ids``; every other byte, line endings included, is kept.

    Unknown ids raise KeyError so a caller cannot believe it ticked something it did not.
    """
    plan = parse_tasks(text)
    wanted = {item.line_index for item in plan.items if item.id in ids and not item.checked}
    known = {item.id for item in plan.items}
    missing = set(ids) - known
    if missing:
        raise KeyError(f"no such items in the plan: {', '.join(sorted(missing))}")
    lines = text.splitlines(keepends=True)
    for index in wanted:
        lines[index] = lines[index].replace("[ ]", "[x]", 1)
    return "".join(lines)
