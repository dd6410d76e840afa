"""PERF203 on source text, parsing with libcst only the top-level statements that hold a site.

Profiling the fix stage on a real repository showed libcst's ``parse_module`` of whole files as
the largest single cost (more than the analysis and the rewrite together). A loop's rewrite
never reaches outside its top-level statement (the helper goes right before that statement), so
each such statement is parsed alone, rewritten by :func:`codemods.perf203.fix_perf203`, and
spliced back; file-wide facts (names bound anywhere, identifiers taken, module imports) come
from one ``ast`` parse of the whole file.

A fragment starts with one ``pass`` standing for the previous statement, so libcst attaches the
comments above the statement to it exactly as in the whole file; inside a top-level class only
the member holding the loop is kept (earlier members become blank lines, later ones are left
out). Site lines are shifted into the fragment and back. Whenever a layout could
make the fragment parse differently (indented comment lines between statements, several
statements on one line, ``\\r`` newlines, no detectable indentation), the whole file is parsed
instead: the result is then exactly :func:`fix_perf203`'s.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst

from .outcome import Site, SiteOutcome
from .perf203 import KINDS, FileFacts, fix_perf203

__all__ = ["fix_perf203_source"]


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _detect_indent(tree: ast.Module, lines: list[str]) -> str | None:
    """The indentation of the file's first indented block (what libcst uses as default)."""
    for node in ast.walk(tree):  # breadth-first: top-level statements come first, in order
        body = getattr(node, "body", None)
        if isinstance(node, ast.stmt) and isinstance(body, list) and body and body[0].lineno > node.lineno:
            line = lines[body[0].lineno - 1]
            return line[: len(line) - len(line.lstrip(" \t"))] or None
    return None


def _only_top_level_comments(lines: list[str]) -> bool:
    """Blank lines and comments at column 0 only: libcst gives them to the following statement."""
    return all(not line.strip() or line.startswith("#") for line in lines)


def _full(source: str, sites: list[Site], kinds: tuple[str, ...], line_length: int):
    module = cst.parse_module(source)
    new, outcomes = fix_perf203(module, sites, kinds=kinds, line_length=line_length, source=source)
    return (source if new is module else new.code), outcomes


class _Fallback(Exception):
    """A layout the fragment path does not handle exactly: parse the whole file instead."""


@dataclass
class _Piece:
    """One fragment to rewrite: lines ``first..end`` (1-based, inclusive) of the current text,
    with ``blank`` line ranges (other class members) replaced by empty lines when parsing."""

    prev_end: int  # last line of the previous top-level statement (0: none)
    top_start: int
    first: int  # first line of the kept member (== top_start for a whole statement)
    end: int  # last line of the kept member
    top_end: int
    blank: list[tuple[int, int]]


def _footer_end(lines: list[str], last: int, limit: int, column: int) -> int:
    """The last line of the comments right after line ``last`` (up to ``limit``) indented deeper
    than ``column``: libcst gives them to the blocks that end at ``last`` (block footers)."""
    end, n = last, last
    while n < limit:
        text = lines[n]
        if text.strip() and not (text.lstrip().startswith("#") and len(text) - len(text.lstrip()) > column):
            break
        n += 1
        if text.strip():
            end = n
    return end


def _piece(tree: ast.Module, lines: list[str], line: int) -> _Piece | None:
    """The smallest fragment holding the loop at ``line``: the whole top-level statement, or,
    inside a top-level class, that class with only the member holding the loop. Each span
    includes the indented comments that follow it (they belong to its blocks)."""
    tops = tree.body
    spans = [(_first_line(t), t.end_lineno) for t in tops]
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start <= end:  # two top-level statements share a line (``a = 1; b = 2``)
            raise _Fallback
    for i, ((start, end), top) in enumerate(zip(spans, tops, strict=True)):
        if not start <= line <= end:
            continue
        prev_end = _footer_end(lines, spans[i - 1][1], start - 1, 0) if i else 0
        next_start = spans[i + 1][0] if i + 1 < len(spans) else len(lines) + 1
        end = _footer_end(lines, end, next_start - 1, 0)
        if not _only_top_level_comments(lines[prev_end: start - 1]):
            raise _Fallback
        if not isinstance(top, ast.ClassDef):
            return _Piece(prev_end, start, start, end, end, [])
        members = [(_first_line(m), m.end_lineno) for m in top.body]
        kept = next(((a, b) for a, b in members if a <= line <= b), None)
        if kept is None or any(a <= kept[1] and b >= kept[0] and (a, b) != kept for a, b in members):
            raise _Fallback
        if kept[0] <= top.lineno or any(b >= kept[0] and a < kept[0] for a, b in members if (a, b) != kept):
            raise _Fallback
        blank = [(a, b) for a, b in members if (a, b) != kept]
        next_member = min((a for a, _ in members if a > kept[1]), default=end + 1)
        member_end = _footer_end(lines, kept[1], next_member - 1, top.body[0].col_offset)
        return _Piece(prev_end, start, kept[0], member_end, end, blank)
    return None


def _rewrite_piece(lines: list[str], piece: _Piece, sites: list[Site], kinds, line_length, config, whole):
    """Rewrite one fragment; returns (new lines for ``prev_end+1 .. top_end`` or None, outcomes).

    The fragment ends with the kept member (what follows it in the class is put back as is);
    the class lines before the member are put back from the file as well;
    the output is: [module header] + helpers + added blank lines + the statement's leading
    lines + the class lines before the member + the member's new lines."""
    # "pass" stands for the previous statement (so comments above ours stay its leading lines);
    # the fragment's line 1 is that pass: site lines shift by ``prev_end - 1``.
    # Earlier members of the class are left out (their lines are not parsed at all).
    prefix = "pass\n" if piece.prev_end else ""
    dropped = {n for a, b in piece.blank if b < piece.first for n in range(a, b + 1)}
    offset = (piece.prev_end - 1 if piece.prev_end else 0) + len(dropped)
    sites = [dataclasses.replace(site, line=site.line - offset) for site in sites]
    parsed = [lines[n - 1] for n in range(piece.prev_end + 1, piece.first) if n not in dropped]
    parsed += lines[piece.first - 1: piece.end]
    fragment = prefix + "".join(parsed)
    try:
        module = cst.parse_module(fragment, config)
    except cst.ParserSyntaxError:  # e.g. syntax libcst accepts only in context: be exact
        raise _Fallback from None
    new, outcomes = fix_perf203(module, sites, kinds=kinds, line_length=line_length, source=fragment, whole=whole)
    if new is module:
        return None, outcomes
    code = new.code
    if not code.startswith(prefix):
        raise _Fallback
    rest = code[len(prefix):].splitlines(keepends=True)
    statement = new.code_for_node(new.body[-1]).splitlines(keepends=True)
    if "".join(rest[len(rest) - len(statement):]) != "".join(statement):
        raise _Fallback
    pre_count = piece.first - piece.top_start - len(dropped)  # class lines parsed before the member
    new_member = statement[len(new.body[-1].leading_lines) + pre_count:]
    head_end = len(rest) - len(new_member)
    if rest[head_end - pre_count: head_end] != parsed[len(parsed) - (piece.end - piece.first + 1) - pre_count:
                                                      len(parsed) - (piece.end - piece.first + 1)]:
        raise _Fallback
    real_pre = lines[piece.top_start - 1: piece.first - 1]
    return rest[: head_end - pre_count] + real_pre + new_member + lines[piece.end: piece.top_end], outcomes


def fix_perf203_source(
    source: str, sites: list[Site], *, kinds: Iterable[str] = KINDS, line_length: int = 88
) -> tuple[str, list[SiteOutcome]]:
    """Same contract as :func:`fix_perf203` (one outcome per site, in order), on text.

    Returns the new source text (``source`` itself when nothing changed). Fragments are
    rewritten top-down; each splice shifts the lines of the sites below it.
    """
    kinds = tuple(kinds)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        return source, [SiteOutcome.skipped(s, f"file skipped: Python cannot parse it ({exc})") for s in sites]
    lines = source.splitlines(keepends=True)
    indent = _detect_indent(tree, lines)
    if "\r" in source or "\f" in source or indent is None or (lines and not lines[-1].endswith("\n")):
        return _full(source, sites, kinds, line_length)
    try:
        return _by_pieces(source, tree, lines, sites, kinds, line_length, indent)
    except _Fallback:
        return _full(source, sites, kinds, line_length)


def _no_loop(site: Site) -> str:
    return f"no loop whose whole body is a try with its first handler at {site.line}:{site.col}"


def _by_pieces(source, tree, lines, sites, kinds, line_length, indent):
    whole = FileFacts.from_tree(tree)
    config = cst.PartialParserConfig(default_indent=indent, default_newline="\n")
    outcomes: list[SiteOutcome | None] = [None] * len(sites)
    pending = sorted(range(len(sites)), key=lambda i: (sites[i].line, sites[i].col))
    shift = [0] * len(sites)  # lines added above each site so far
    changed = False
    while pending:
        index = pending[0]
        line = sites[index].line + shift[index]
        piece = _piece(tree, lines, line)
        if piece is None:
            outcomes[index] = SiteOutcome.skipped(sites[index], _no_loop(sites[index]))
            pending.pop(0)
            continue
        group = [i for i in pending if piece.first <= sites[i].line + shift[i] <= piece.end]
        moved = [dataclasses.replace(sites[i], line=sites[i].line + shift[i]) for i in group]
        new_lines, group_outcomes = _rewrite_piece(lines, piece, moved, kinds, line_length, config, whole)
        for i, outcome in zip(group, group_outcomes, strict=True):
            if outcome.reason and outcome.reason.startswith("no loop whose whole body"):  # says the line
                outcome = SiteOutcome.skipped(sites[i], _no_loop(sites[i]), logging=outcome.logging)
            outcomes[i] = dataclasses.replace(outcome, site=sites[i])
        pending = [i for i in pending if i not in group]
        if new_lines is None:
            continue
        delta = len(new_lines) - (piece.top_end - piece.prev_end)
        lines = lines[: piece.prev_end] + new_lines + lines[piece.top_end:]
        for i in pending:
            shift[i] += delta
        tree = ast.parse("".join(lines)) if pending else tree
        changed = True
    return ("".join(lines) if changed else source), outcomes
