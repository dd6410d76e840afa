"""Step 4 of the job: run the codemods over the flagged files, spread over the machine's cores.

Only files with sites are read and parsed (libcst parsing dominates the cost, see design.md's speed
budget). Workers receive bytes and return bytes, so nothing about the checkout is shared between
processes; results come back in a stable order whatever finished first.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from codemods.apply import fix_file
from codemods.outcome import FixResult, Site, SiteOutcome


@dataclass
class FileFix:
    """One file's codemod result plus the bytes to write back."""

    result: FixResult
    old_bytes: bytes
    new_bytes: bytes

    @property
    def path(self) -> str:
        return self.result.path

    @property
    def changed(self) -> bool:
        return self.new_bytes != self.old_bytes


def _work(args: tuple[str, bytes, list[Site], int]) -> tuple[FixResult, bytes]:
    path, data, sites, line_length = args
    return fix_file(path, data, sites, line_length=line_length)


def fix_files(checkout: Path, files: dict[str, list[Site]], *, skip_paths=frozenset(),
              workers: int | None = None, line_length: int = 88) -> list[FileFix]:
    """Fix every file in ``files`` (relpath → sites). Files in ``skip_paths`` are left alone with
    a reason (a user's ``skip <path>``); unreadable files are reported, never raised."""
    jobs, fixes = [], []
    for path in sorted(files):
        sites = files[path]
        if path in skip_paths:
            reason = "file skipped: excluded by a 'skip' command"
            fixes.append(_untouched(path, b"", sites, reason))
            continue
        try:
            data = (Path(checkout) / path).read_bytes()
        except OSError as exc:
            fixes.append(_untouched(path, b"", sites, f"file skipped: cannot read it ({exc.strerror})"))
            continue
        jobs.append((path, data, sites, line_length))
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if workers > 1 and len(jobs) > 2:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_work, jobs, chunksize=max(1, len(jobs) // (workers * 4))))
    else:
        results = [_work(job) for job in jobs]
    for (_path, data, _sites, _ll), (result, new_bytes) in zip(jobs, results, strict=True):
        fixes.append(FileFix(result, data, new_bytes))
    return sorted(fixes, key=lambda f: f.path)


def _untouched(path: str, data: bytes, sites: list[Site], reason: str) -> FileFix:
    result = FixResult(path, "", "", [SiteOutcome.skipped(s, reason) for s in sites])
    return FileFix(result, data, data)
