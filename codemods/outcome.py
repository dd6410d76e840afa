"""The vocabulary every codemod speaks: which site, and what happened to it.

Kept apart from the transforms so the job, the report and the templates can talk about sites
without importing libcst.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["fixed", "skipped"]


@dataclass(frozen=True, order=True)
class Site:
    """One ruff violation: ``line``/``col`` are ruff's 1-based location.

    For PERF203 ruff points at the first ``except`` handler of the try; for PERF401 at the
    ``.append(...)`` call.
    """

    path: str
    line: int
    col: int
    code: str  # "PERF203" | "PERF401"


@dataclass
class SiteOutcome:
    """What a codemod did with one site.

    ``kind`` names the rewrite (``hoist``, ``extract``, ``comprehension``, ``extend``) when fixed;
    ``reason`` is a short, human sentence when skipped (it goes into the PR body verbatim).
    ``logging`` holds the logging calls found in the handlers (as source text, in order) for
    PERF203 sites, so the PR can state the logging contract per site.
    """

    site: Site
    status: Status
    kind: str | None = None
    reason: str | None = None
    logging: list[str] = field(default_factory=list)
    detail: str | None = None

    @classmethod
    def fixed(cls, site: Site, kind: str, **extra) -> SiteOutcome:
        return cls(site=site, status="fixed", kind=kind, **extra)

    @classmethod
    def skipped(cls, site: Site, reason: str, **extra) -> SiteOutcome:
        return cls(site=site, status="skipped", reason=reason, **extra)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FixResult:
    """A file's new source plus one outcome per requested site (same order as requested)."""

    path: str
    source: str
    new_source: str
    outcomes: list[SiteOutcome]

    @property
    def changed(self) -> bool:
        return self.new_source != self.source
