"""Soak the PERF203/PERF401 codemods: thousands of generated loop programs, each run before and after.

Usage:
    python bench/soak.py --programs 10000 --seed 1234 [--rule PERF203|PERF401|both] [--jobs 2]
                         [--batch 100] [--timeout 30] [--out soak-out]

Programs come from the hypothesis strategies in :mod:`codemods.soak_gen` (fixed seed, so a run is
reproducible); with ``--rule both`` the count is split between the rules. Each batch of programs is
written to a temp dir and scanned with one ruff call; each program's own-rule sites are fixed with
:func:`codemods.apply.fix_file`, and a rewritten program is run before and after on all of its
inputs (``assert_same_behaviour``: return value, exception, log records incl. exc_info, stdout,
mutated arguments). Prints: programs, sites, fixed by kind, skipped by reason, behaviour
differences (each with both sources and the diff, also saved under ``--out``), wall time.
Exit status 1 on any behaviour difference, harness error, timeout, or short generation.

This is a soak, not a timed test; CI runs ``tests/test_soak.py`` (same generator, small size).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codemods.soak_gen import RULES, ProgramResult, check_programs, describe, generate_programs  # noqa: E402

BAD = ("differs", "error", "timeout")


def _generate(job: tuple[str, int, int]):
    rule, count, seed = job
    started = time.perf_counter()
    return rule, generate_programs(rule, count, seed), time.perf_counter() - started


def _check(job) -> list[ProgramResult]:
    programs, first_index, timeout, sites_from = job
    return check_programs(programs, first_index=first_index, timeout=timeout, sites_from=sites_from)


class Tally:
    """Everything the summary reports, accumulated batch by batch."""

    def __init__(self) -> None:
        self.verdicts: dict[str, Counter] = defaultdict(Counter)
        self.sites: Counter = Counter()
        self.fixed: dict[str, Counter] = defaultdict(Counter)
        self.skipped: dict[str, Counter] = defaultdict(Counter)
        self.compared: Counter = Counter()
        self.features: dict[str, Counter] = defaultdict(Counter)
        self.bad: list[ProgramResult] = []

    def add(self, result: ProgramResult) -> None:
        rule = result.rule
        self.verdicts[rule][result.verdict] += 1
        self.sites[rule] += result.sites
        self.compared[rule] += result.compared
        for status, what in result.outcomes:
            (self.fixed if status == "fixed" else self.skipped)[rule][what] += 1
        for feature in result.features:
            row = self.features[f"{rule} {feature}"]
            row["programs"] += 1
            row["with sites"] += result.verdict != "no-site"
            row["rewritten"] += result.verdict in ("same", "differs")
        if result.verdict in BAD:
            self.bad.append(result)

    def done(self) -> int:
        return sum(sum(c.values()) for c in self.verdicts.values())


def _split(total: int, rules: list[str]) -> dict[str, int]:
    base, extra = divmod(total, len(rules))
    return {rule: base + (i < extra) for i, rule in enumerate(rules)}


def _save_failures(out: Path, bad: list[ProgramResult]) -> None:
    for result in bad:
        where = out / "failures" / f"{result.rule}-{result.index:06d}"
        where.mkdir(parents=True, exist_ok=True)
        (where / "before.py").write_text(result.before)
        if result.after is not None:
            (where / "after.py").write_text(result.after)
        (where / "report.txt").write_text(describe(result))


def _print_summary(tally: Tally, programs: dict, gen_seconds: float, check_seconds: float, args) -> None:
    print()
    print(f"command: python bench/soak.py --programs {args.programs} --seed {args.seed} "
          f"--rule {args.rule} --jobs {args.jobs}" + (f" --sites {args.sites}" if args.sites != "ruff" else ""))
    for rule, progs in programs.items():
        verdicts = tally.verdicts[rule]
        n = sum(verdicts.values())
        distinct = len({p.code for p in progs})
        rewritten = verdicts["same"] + verdicts["differs"]
        print(f"\n== {rule}: {n} programs ({distinct} distinct without the helper prelude), "
              f"{n - verdicts['no-site']} with sites, {tally.sites[rule]} sites, "
              f"{rewritten} rewritten and run on {tally.compared[rule]} inputs")
        print("   verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))
        print("   fixed:    " + (", ".join(f"{k} {v}" for k, v in tally.fixed[rule].most_common()) or "none"))
        print(f"   skipped ({sum(tally.skipped[rule].values())}):")
        for reason, count in tally.skipped[rule].most_common(args.reasons):
            print(f"     {count:6d}  {reason}")
        hidden = len(tally.skipped[rule]) - args.reasons
        if hidden > 0:
            print(f"     ... {hidden} more reasons in summary.json")
    print("\n== behaviour differences: "
          f"{sum(1 for r in tally.bad if r.verdict == 'differs')}, harness errors: "
          f"{sum(1 for r in tally.bad if r.verdict == 'error')}, timeouts: "
          f"{sum(1 for r in tally.bad if r.verdict == 'timeout')}")
    print(f"== wall time: generation {gen_seconds:.1f}s, check {check_seconds:.1f}s, "
          f"total {gen_seconds + check_seconds:.1f}s on {args.jobs} process(es)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--programs", type=int, default=10_000, help="total programs (split between rules)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--rule", choices=[*RULES, "both"], default="both")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=100, help="programs per ruff call")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per program (fix + comparison)")
    ap.add_argument("--out", type=Path, default=Path("soak-out"))
    ap.add_argument("--sites", choices=["ruff", "codemod"], default="ruff",
                    help="where sites come from: ruff (as the job does) or the codemods' own wider finders")
    ap.add_argument("--reasons", type=int, default=30, help="skip reasons printed per rule")
    ap.add_argument("--show", type=int, default=10, help="failing programs printed in full")
    args = ap.parse_args(argv)
    rules = list(RULES) if args.rule == "both" else [args.rule]
    counts = _split(args.programs, rules)
    ctx = multiprocessing.get_context("fork")

    started = time.perf_counter()
    gen_jobs = [(rule, counts[rule], args.seed) for rule in rules]
    if args.jobs > 1 and len(rules) > 1:
        with ctx.Pool(min(args.jobs, len(rules))) as pool:
            generated = pool.map(_generate, gen_jobs)
    else:
        generated = [_generate(job) for job in gen_jobs]
    programs = {rule: progs for rule, progs, _ in generated}
    gen_seconds = time.perf_counter() - started
    short = {rule: (counts[rule], len(p)) for rule, p in programs.items() if len(p) < counts[rule]}
    print(f"generated {sum(len(p) for p in programs.values())} programs in {gen_seconds:.1f}s "
          f"({', '.join(f'{r} {len(p)}' for r, p in programs.items())})", flush=True)

    jobs = [
        (progs[start:start + args.batch], start, args.timeout, args.sites)
        for progs in programs.values()
        for start in range(0, len(progs), args.batch)
    ]
    tally = Tally()
    total = sum(len(p) for p in programs.values())
    started = time.perf_counter()
    next_report = 0.1
    # A batch that outlives every program's timer (plus ruff) has hung outside Python code.
    batch_limit = args.batch * (args.timeout + 5) + 120
    hung = False
    pool = ctx.Pool(args.jobs) if args.jobs > 1 else None
    try:
        results = pool.imap_unordered(_check, jobs) if pool else map(_check, jobs)
        for _ in jobs:
            try:
                batch = results.next(batch_limit) if pool else next(results)
            except multiprocessing.TimeoutError:
                hung = True
                print(f"a batch did not finish within {batch_limit:.0f}s; stopping", flush=True)
                break
            for result in batch:
                tally.add(result)
            if tally.done() >= next_report * total:
                bad = len(tally.bad)
                print(f"  {tally.done()}/{total} programs checked, {bad} failing, "
                      f"{time.perf_counter() - started:.0f}s", flush=True)
                next_report += 0.1
    finally:
        if pool:
            pool.terminate() if hung else pool.close()
            pool.join()
    check_seconds = time.perf_counter() - started

    for result in tally.bad[: args.show]:
        print("\n" + describe(result))
    args.out.mkdir(parents=True, exist_ok=True)
    _save_failures(args.out, tally.bad)
    summary = {
        "command": sys.argv,
        "seed": args.seed,
        "sites_from": args.sites,
        "programs": {rule: len(p) for rule, p in programs.items()},
        "distinct_code": {rule: len({p.code for p in progs}) for rule, progs in programs.items()},
        "verdicts": tally.verdicts,
        "sites": tally.sites,
        "inputs_compared": tally.compared,
        "fixed": tally.fixed,
        "skipped": tally.skipped,
        "features": tally.features,
        "failures": [f"{r.rule}-{r.index:06d}: {r.verdict}" for r in tally.bad],
        "seconds": {"generation": round(gen_seconds, 1), "check": round(check_seconds, 1)},
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
    _print_summary(tally, programs, gen_seconds, check_seconds, args)
    print(f"== details: {args.out / 'summary.json'}" + (f", failures under {args.out / 'failures'}" if tally.bad else ""))
    if short:
        print(f"!! generation came up short (asked, got): {short}")
    if hung:
        print("!! the run did not finish")
    return 1 if tally.bad or short or hung or tally.done() < total else 0


if __name__ == "__main__":
    sys.exit(main())
