"""Which plan items may be ticked, and why: the one place that judges evidence.

Used twice: to render a PR's checklist (ticked per file as the branch's own scan allows) and, on
merge, to tick ``tasks.md`` on the default branch. An item is ticked only on evidence the bot
measured itself: its files have no site of its rule left, the group's tests showed no regression,
the benchmarks showed no regression. Sub-steps that describe *how* to fix ("Use async context
managers") are never ticked: the bot cannot know whether a human wanted exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plan import Plan, group_of_section
from .tasksmd import TaskItem


@dataclass
class Evidence:
    item: TaskItem
    holds: bool
    why: str


def _fix_evidence(plan: Plan, item: TaskItem) -> Evidence:
    group = group_of_section(item.section, tuple(g.group for g in plan.groups.values()))
    status = next((s for gp in plan.groups.values() for s in gp.items if s.item is item), None)
    found = status.found if status else None
    if found is None:
        return Evidence(item, False, "no files to check")
    if status and status.missing:
        return Evidence(item, False, f"file not found: {', '.join(status.missing)}")
    rule = item.rule or (group.rule if group else "")
    if found == 0:
        return Evidence(item, True, f"0 {rule} sites left")
    return Evidence(item, False, f"{found} {rule} site(s) left")


def evaluate(plan: Plan, item: TaskItem, *, tests_ok: bool | None, bench_ok: bool | None,
             groups_done: set[str] | None = None) -> Evidence:
    """Judge one item. ``groups_done`` limits tests/bench evidence to the groups it was run for."""
    if item.checked:
        return Evidence(item, True, "already ticked")
    if item.parent is not None:
        return Evidence(item, False, "a how-to sub-step; left for a human to confirm")
    group = group_of_section(item.section, tuple(g.group for g in plan.groups.values()))
    in_scope = group is None or groups_done is None or group.name in groups_done
    if item.kind == "fix":
        return _fix_evidence(plan, item)
    if item.kind == "tests":
        if group is None or not in_scope or tests_ok is None:
            return Evidence(item, False, "tests were not run for this item")
        return Evidence(item, tests_ok, "tests: no regression" if tests_ok else "tests regressed")
    if item.kind == "verify":
        left = len(plan.scan.sites)
        return Evidence(item, left == 0, f"{left} site(s) left in {' '.join(plan.scan.paths)}")
    if item.kind == "bench" and group is not None and in_scope and bench_ok is not None:
        return Evidence(item, bench_ok, "benchmarks: no regression" if bench_ok else "benchmarks regressed")
    return Evidence(item, False, "not something the bot can check")


def items_to_tick(plan: Plan, *, tests_ok: bool | None = None, bench_ok: bool | None = None,
                  groups_done: set[str] | None = None) -> dict[str, str]:
    """id → why, for every unticked item whose evidence now holds."""
    out = {}
    for item in plan.tasks.items if plan.tasks else ():
        if item.checked:
            continue
        ev = evaluate(plan, item, tests_ok=tests_ok, bench_ok=bench_ok, groups_done=groups_done)
        if ev.holds:
            out[item.id] = ev.why
    return out
