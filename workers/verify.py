"""Step 5 of the job: prove each rewritten file is still good Python before anyone sees it.

Per file: it must compile; ruff must no longer report the fixed sites (the rule's count in the file
may not exceed the sites we skipped there); and no new pyflakes error (F821 undefined name, F841
unused variable, F811 redefinition, F823 …) may appear. A file failing any check is restored to its
original bytes and its sites are reported as skipped with the failed check as the reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from codemods.outcome import SiteOutcome

from .fix import FileFix
from .scan import run_ruff


@dataclass
class VerifyResult:
    kept: list[FileFix]
    dropped: dict[str, str]  # path → why its change was dropped


def _by_file(violations: list[dict], root: Path) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for row in violations:
        rel = Path(row["filename"]).resolve().relative_to(root).as_posix()
        out.setdefault(rel, Counter())[(row["code"], row["message"])] += 1
    return out


def _drop(fix: FileFix, why: str) -> FileFix:
    """The same file, unchanged, with every fixed site turned into a skip that says why."""
    outcomes = [
        SiteOutcome.skipped(o.site, f"rewrite dropped: {why}", logging=o.logging)
        if o.status == "fixed" else o
        for o in fix.result.outcomes
    ]
    fix.result.outcomes = outcomes
    fix.result.new_source = fix.result.source
    return FileFix(fix.result, fix.old_bytes, fix.old_bytes)


def verify_and_write(checkout: Path, fixes: list[FileFix], rule: str, target: str) -> VerifyResult:
    """Write the changed files into ``checkout`` if they pass every check; restore the others."""
    root = Path(checkout).resolve()
    changed = [f for f in fixes if f.changed]
    dropped: dict[str, str] = {}
    for f in changed:
        try:
            compile(f.new_bytes, f.path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            dropped[f.path] = f"the rewritten file does not compile ({exc.msg if hasattr(exc, 'msg') else exc})"
    candidates = [f for f in changed if f.path not in dropped]
    if candidates:
        paths = [f.path for f in candidates]
        before, _ = run_ruff(root, paths, target=target, rules=("F",))
        for f in candidates:
            (root / f.path).write_bytes(f.new_bytes)
        after, _ = run_ruff(root, paths, target=target, rules=("F", rule))
        before_f = _by_file(before, root)
        after_all = _by_file(after, root)
        for f in candidates:
            counts = after_all.get(f.path, Counter())
            remaining = sum(n for (code, _m), n in counts.items() if code == rule)
            skipped = sum(1 for o in f.result.outcomes if o.status == "skipped")
            new_f = Counter({k: n for k, n in counts.items() if k[0].startswith("F")}) - before_f.get(f.path, Counter())
            if remaining > skipped:
                dropped[f.path] = f"ruff still reports {remaining} {rule} site(s) but only {skipped} were skipped"
            elif new_f:
                listing = "; ".join(f"{code} {msg}" for (code, msg) in sorted(new_f))
                dropped[f.path] = f"new pyflakes errors after the rewrite: {listing}"
    kept = []
    for f in fixes:
        if f.path in dropped:
            (root / f.path).write_bytes(f.old_bytes)
            kept.append(_drop(f, dropped[f.path]))
        else:
            kept.append(f)
    return VerifyResult(kept, dropped)
