"""How much the fix stage costs, as a ratio to ruff's own check of the same files.

Usage: python bench/fix_speed.py PATH [--group G] [--paths src backend] [--repeat 3]

Reports, in one process: ruff's check over the scan scope (the reference), then the fix stage
(parse + codemods) of the group's flagged files, single-process and over all cores, with peak
memory (ru_maxrss of this process and of its children). Nothing is written to PATH.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.fix import fix_files  # noqa: E402
from workers.plan import load_plan  # noqa: E402
from workers.repo_config import load_repo_config  # noqa: E402
from workers.scan import effective_target, run_ruff  # noqa: E402


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--group", default=None, help="default: every group with sites")
    ap.add_argument("--paths", nargs="*")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    root = Path(args.path).resolve()
    config = load_repo_config(root)
    plan = load_plan(root, config, args.paths)
    target, _ = effective_target(config)
    ruff_s = timed(lambda: run_ruff(root, list(plan.scan.paths), target=target), args.repeat)
    print(f"reference: ruff check over {' '.join(plan.scan.paths)}: {ruff_s * 1000:.0f} ms "
          f"({len(plan.scan.sites)} sites)")
    for name, gp in plan.groups.items():
        if (args.group and name != args.group) or not gp.files:
            continue
        one = timed(lambda gp=gp: fix_files(root, gp.files, workers=1), args.repeat)
        many = timed(lambda gp=gp: fix_files(root, gp.files), args.repeat)
        print(f"{name:9s} {gp.site_count:4d} sites in {len(gp.files):3d} files: fix 1 core "
              f"{one:6.2f}s ({one / ruff_s:6.1f}x ruff), all cores {many:6.2f}s ({many / ruff_s:6.1f}x ruff)")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: this process {own:.0f} MiB, largest child {kids:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
