"""Run the right codemod over one file's flagged sites, and never let a bad file stop the job.

This is the only place that turns bytes into a libcst tree: the file's own encoding (PEP 263
cookie, BOM) and line endings are kept by parsing and re-emitting bytes. Any file that cannot be
parsed, and any unexpected error inside a codemod, becomes a skipped outcome for each of the file's
sites with a reason a human can act on; the file is left exactly as it was.
"""

from __future__ import annotations

import traceback

import libcst as cst

from .outcome import FixResult, Site, SiteOutcome


def _codemod_for(rule: str):
    if rule == "PERF203":
        from .perf203 import fix_perf203

        return fix_perf203
    if rule == "PERF401":
        from .perf401 import fix_perf401

        return fix_perf401
    raise ValueError(f"no codemod for rule {rule}")


def _skip_all(path: str, data: bytes, sites: list[Site], reason: str) -> FixResult:
    text = data.decode("utf-8", errors="replace")
    return FixResult(path, text, text, [SiteOutcome.skipped(s, reason) for s in sites])


def _source_text(module: cst.Module, data: bytes) -> str | None:
    """The text libcst parsed, without paying for a code generation (None if unsure)."""
    try:
        text = data.decode(module.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return text.removeprefix("\ufeff")


def _fix_perf203_text(path: str, data: bytes, sites: list[Site], rules: set[str],
                      line_length: int) -> tuple[FixResult, bytes] | None:
    """PERF203 without parsing the whole file with libcst (codemods.perf203_fragment); None
    when the file needs the general path (not plain UTF-8, tabs, or any error)."""
    if rules != {"PERF203"} or data.startswith(b"\xef\xbb\xbf") or b"\t" in data:
        return None
    try:
        from .perf203_fragment import fix_perf203_source

        text = data.decode("utf-8")
        new_text, outcomes = fix_perf203_source(text, list(sites), line_length=line_length)
    except Exception:
        return None
    if len(outcomes) != len(sites):
        return None
    return FixResult(path, text, new_text, outcomes), (data if new_text == text else new_text.encode("utf-8"))


def fix_file(path: str, data: bytes, sites: list[Site], *,
             line_length: int = 88) -> tuple[FixResult, bytes]:
    """Apply the codemod of the sites' rule; returns the result and the new file bytes.

    ``FixResult.source``/``new_source`` hold decoded text for reporting; the returned bytes are
    what must be written back (same encoding as the input).
    """
    if not sites:
        return _skip_all(path, data, [], ""), data
    rules = {s.code for s in sites}
    if len(rules) != 1:
        raise ValueError(f"{path}: one rule per fix_file call, got {sorted(rules)}")
    fast = _fix_perf203_text(path, data, sites, rules, line_length)
    if fast is not None:
        return fast
    try:
        module = cst.parse_module(data)
    except cst.ParserSyntaxError as exc:
        first = str(exc).splitlines()[0]
        return _skip_all(path, data, sites, f"file skipped: libcst cannot parse it ({first})"), data
    except (UnicodeDecodeError, LookupError, SyntaxError) as exc:
        return _skip_all(path, data, sites, f"file skipped: cannot decode it as Python source ({exc})"), data
    if b"\t" in data and any(line[:1] == b"\t" for line in data.splitlines()):
        # libcst may parse tab indentation, but generated code indents with spaces: mixing the two
        # can change block structure. Leave such files to a human.
        return _skip_all(path, data, sites, "file skipped: indented with tabs (mixed indentation is unsafe to rewrite)"), data
    codemod = _codemod_for(rules.pop())
    try:
        source = _source_text(module, data)
        new_module, outcomes = codemod(module, list(sites), line_length=line_length, source=source)
    except Exception as exc:  # a codemod bug must cost one file, not the job
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return _skip_all(path, data, sites, f"file skipped: internal codemod error ({detail})"), data
    if len(outcomes) != len(sites):
        return _skip_all(path, data, sites, "file skipped: internal codemod error (outcome count mismatch)"), data
    new_bytes = new_module.bytes
    return FixResult(path, source if source is not None else module.code, new_module.code,
                     outcomes), new_bytes
