"""Where the flagged PERF203 loops are: ruff's (line, column) of a first ``except`` → libcst loop.

ruff reports the first handler of a ``try`` that is the whole body of a ``for``/``while``. The
libcst loop is found by walking statements only (cheap) and pairing each candidate with the
``ast`` candidate at the same place in source order, whose positions are free; should the two
lists ever disagree, libcst's ``PositionProvider`` is used instead.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .outcome import Site
from .perf203_scope import ast_child_blocks, own_statements


@dataclass
class Located:
    """One flagged loop as libcst nodes (what gets rewritten) and where it sits."""

    loop: cst.For | cst.While
    try_: cst.Try
    top: cst.CSTNode  # the module-level statement that contains the loop
    column: int  # 0-based column of the ``try`` keyword
    line: int  # line of the loop keyword
    ancestors: list[cst.CSTNode] = field(default_factory=list)  # enclosing statements, outermost first


class _PositionLoopFinder(cst.CSTVisitor):
    """Fallback locator: (line, 1-based col) of each loop-body try's first handler → the loop,
    via libcst's ``PositionProvider``. Used only when the fast statement walk and ``ast`` disagree."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[cst.CSTNode] = []
        self.found: dict[tuple[int, int], Located] = {}

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.stack.append(node)
        if _is_candidate(node):
            try_ = node.body.body[0]
            pos = self.get_metadata(PositionProvider, try_.handlers[0]).start
            try_col = self.get_metadata(PositionProvider, try_).start.column
            line = self.get_metadata(PositionProvider, node).start.line
            ancestors = [n for n in self.stack[:-1] if isinstance(n, cst.BaseStatement)]
            top = ancestors[0] if ancestors else node
            self.found[(pos.line, pos.column + 1)] = Located(node, try_, top, try_col, line, ancestors)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()


def _is_candidate(node: cst.CSTNode) -> bool:
    """A ``for``/``while`` whose whole body is one ``try`` with at least one handler."""
    if not isinstance(node, (cst.For, cst.While)) or not isinstance(node.body, cst.IndentedBlock):
        return False
    body = node.body.body
    return len(body) == 1 and isinstance(body[0], cst.Try) and bool(body[0].handlers)


def _cst_child_blocks(stmt: cst.CSTNode) -> list[cst.BaseSuite]:
    """The statement blocks of a compound statement, in source order."""
    blocks: list = []
    if isinstance(stmt, (cst.For, cst.While, cst.With, cst.FunctionDef, cst.ClassDef, cst.If)):
        blocks.append(stmt.body)
        orelse = getattr(stmt, "orelse", None)
        if isinstance(orelse, cst.If):
            blocks.append(cst.IndentedBlock(body=[orelse]))
        elif orelse is not None:
            blocks.append(orelse.body)
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        blocks.append(stmt.body)
        blocks.extend(h.body for h in stmt.handlers)
        if stmt.orelse is not None:
            blocks.append(stmt.orelse.body)
        if stmt.finalbody is not None:
            blocks.append(stmt.finalbody.body)
    elif isinstance(stmt, cst.Match):
        blocks.extend(c.body for c in stmt.cases)
    return blocks


def _cst_candidates(module: cst.Module) -> list[tuple[cst.CSTNode, list[cst.CSTNode]]]:
    """Candidate loops in source order with their enclosing statements (outermost first),
    walking statements only (no expressions): far cheaper than a full visit."""
    out = []

    def walk(stmts, ancestors):
        for stmt in stmts:
            if _is_candidate(stmt):
                out.append((stmt, ancestors))
            for block in _cst_child_blocks(stmt):
                if isinstance(block, cst.IndentedBlock):
                    walk(block.body, ancestors + [stmt])

    walk(module.body, [])
    return out


def _ast_candidates(tree: ast.Module) -> list[ast.AST]:
    out = []

    def walk(stmts):
        for stmt in stmts:
            if (
                isinstance(stmt, (ast.For, ast.AsyncFor, ast.While))
                and len(stmt.body) == 1 and isinstance(stmt.body[0], ast.Try) and stmt.body[0].handlers
            ):
                out.append(stmt)
            for block in ast_child_blocks(stmt):
                walk(block)

    walk(tree.body)
    return out


def _char_col(lines: list[str], lineno: int, byte_col: int) -> int:
    return len(lines[lineno - 1].encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))


def locate_loops(module: cst.Module, tree: ast.Module, source: str) -> dict[tuple[int, int], Located]:
    """Every candidate loop keyed by ruff's location of its first handler.

    The libcst and ast statement trees list candidates in the same source order, so positions
    come from ``ast`` for free; if the two lists ever disagree, fall back to ``PositionProvider``.
    """
    cst_loops = _cst_candidates(module)
    ast_loops = _ast_candidates(tree)
    if len(cst_loops) != len(ast_loops) or any(
        isinstance(c, cst.While) != isinstance(a, ast.While) for (c, _), a in zip(cst_loops, ast_loops, strict=False)
    ):
        finder = _PositionLoopFinder()
        MetadataWrapper(module, unsafe_skip_copy=True).visit(finder)
        return finder.found
    lines = source.splitlines()
    found = {}
    for (loop, ancestors), a in zip(cst_loops, ast_loops, strict=True):
        try_ = a.body[0]
        handler = try_.handlers[0]
        key = (handler.lineno, _char_col(lines, handler.lineno, handler.col_offset) + 1)
        top = ancestors[0] if ancestors else loop
        found[key] = Located(
            loop, loop.body.body[0], top, _char_col(lines, try_.lineno, try_.col_offset), a.lineno, ancestors
        )
    return found


def find_perf203_sites(source: str, path: str = "<string>") -> list[Site]:
    """PERF203 sites the way ruff reports them (first handler of a loop-body ``try`` whose body
    has no ``break``/``continue`` of its own); used by the command classes and the tests."""
    tree = ast.parse(source)
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.While)) and len(node.body) == 1 and isinstance(node.body[0], ast.Try):
            try_ = node.body[0]
            if not try_.handlers:
                continue
            # like ruff: any break/continue in the try body, nested loops included, exempts it
            if any(isinstance(n, (ast.Break, ast.Continue)) for n in own_statements(try_.body, into_loops=True)):
                continue
            handler = try_.handlers[0]
            line = source.splitlines()[handler.lineno - 1]
            col = len(line.encode("utf-8")[: handler.col_offset].decode("utf-8")) + 1
            sites.append(Site(path, handler.lineno, col, "PERF203"))
    return sorted(sites)
