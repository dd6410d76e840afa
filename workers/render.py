"""Turn a finished job into the words people read: commit messages, the PR title and body.

All wording lives in ``templates/``; this module only prepares plain values for them and keeps the
body under GitHub's 65,536-character limit.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from codemods.outcome import SiteOutcome
from templates import render

from .evidence import evaluate
from .plan import Plan

if TYPE_CHECKING:
    from .job import JobReport
    from .measure import Measurements

GITHUB_BODY_LIMIT = 65_536

KIND_TEXT = defaultdict(
    lambda: "rewritten",
    {
        "hoist": "try hoisted out of the loop (every handler leaves the loop)",
        "unwrap": "no-op try removed (its only handler re-raised)",
        "extract": "try moved into a helper; the loop calls it",
        "comprehension": "loop replaced by a list comprehension",
        "extend": "loop replaced by list.extend(…)",
    },
)


def _kind_text(outcomes: list[SiteOutcome]) -> dict:
    table = dict(KIND_TEXT)
    for o in outcomes:
        if o.kind and o.kind not in table:
            table[o.kind] = KIND_TEXT[o.kind]
    return table


def render_commit_message(group: str, rule: str, path: str, outcomes: list[SiteOutcome],
                          measured: str) -> str:
    fixed = [o for o in outcomes if o.status == "fixed"]
    skipped = [o for o in outcomes if o.status == "skipped"]
    return render(
        "commit_message.txt.j2", group=group, rule=rule, path=path, fixed=fixed, skipped=skipped,
        kind_text=_kind_text(outcomes), measured=measured,
        logging_sites=sum(1 for o in fixed if o.logging),
    ).strip() + "\n"


def checklist(plan: Plan, group: str, *, tests_ok: bool | None, bench_ok: bool | None,
              base: Plan | None = None) -> list[dict]:
    """The group's items as the branch's own evidence allows them to be ticked.

    With the ``base`` plan, an item that already had no sites before this branch says so, so a
    reviewer can tell what the PR did from what was already done."""
    before = {s.item.id: s for gp in base.groups.values() for s in gp.items} if base else {}
    rows = []
    for status in plan.groups[group].items if group in plan.groups else ():
        item = status.item
        ev = evaluate(plan, item, tests_ok=tests_ok, bench_ok=bench_ok, groups_done={group})
        claimed = f" (plan said {item.claimed})" if item.claimed is not None and status.found is not None else ""
        why = ev.why + claimed if item.kind == "fix" else ev.why
        was = before.get(item.id)
        if item.kind == "fix" and ev.holds and was is not None and was.found == 0:
            why += "; already none at the base"
        rows.append({"text": f"{item.id} {item.text}" if item.parent is None else item.text,
                     "ticked": ev.holds, "evidence": why, "depth": 1 if item.parent else 0})
    return rows


def fit_body(body: str, tail: str = "", limit: int = GITHUB_BODY_LIMIT) -> str:
    """``body`` + ``tail`` within GitHub's limit: the body is cut (with a note), never the tail
    (the service keeps machine-readable state there)."""
    room = limit - len(tail)
    if len(body) <= room:
        return body + tail
    note = ("\n\n> **Note:** this description was truncated to fit GitHub's 65,536-character limit; "
            "every site is still listed in the commit messages.\n")
    return body[: room - len(note) - 1] + note + tail


def render_pr_body(report: JobReport, plan_after: Plan, m: Measurements,
                   *, limit: int = GITHUB_BODY_LIMIT, plan_before: Plan | None = None) -> tuple[str, str]:
    """(title, body) for the group's pull request."""
    fixed, skipped = report.fixed, report.skipped
    files = sorted({c.path for c in report.commits})
    title = (f"perf({report.group}): fix {len(fixed)} {report.rule} site"
             f"{'' if len(fixed) == 1 else 's'} in {len(files)} file{'' if len(files) == 1 else 's'}")
    summary = (f"This pull request rewrites {len(fixed)} `{report.rule}` site(s) in {len(files)} file(s) "
               f"of the `{report.group}` group, one commit per file. Every rewrite was checked: the "
               "file compiles, ruff no longer reports the site, and no new pyflakes error appeared.")
    if not fixed:
        summary = f"Nothing in the `{report.group}` group could be rewritten safely; see the skipped sites."
    logging_rows = [{"path": o.site.path, "line": o.site.line, "calls": [f"`{c}`" for c in o.logging]}
                    for o in fixed if o.logging]
    body = render(
        "pr_body.md.j2",
        rule=report.rule, group=report.group, summary=summary, base_sha=report.base_sha,
        branch=report.branch or "(none)", fixed_count=len(fixed), site_count=len(report.outcomes),
        skipped_count=len(skipped), notes=report.notes, tasks_path=report.tasks_path,
        checklist=checklist(plan_after, report.group, tests_ok=m.tests_ok, bench_ok=m.bench_ok,
                            base=plan_before),
        tests_summary=m.tests_summary(), regressions=m.regressions(), red_on_base=m.red_on_base(),
        bench_intro=m.bench_intro(), bench_rows=m.bench_table(),
        outcomes=report.outcomes, kind_text=_kind_text(report.outcomes), skipped=skipped,
        logging_rows=logging_rows, commits=report.commits,
        stage_times=", ".join(f"{k} {v:.1f}s" for k, v in report.stage_seconds.items()),
    )
    return title, fit_body(body, limit=limit)
