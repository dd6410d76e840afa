"""Rewrite ruff PERF401 sites (a ``for`` loop that only appends) into a comprehension or ``extend``.

Only the sites ruff reported are touched; every site gets one outcome: ``fixed`` with the rewrite
kind (``comprehension`` | ``extend``) or ``skipped`` with the reason a human reviewer needs. The
analysis is local to the scope around the loop (``ast`` to find the call, a walk of the enclosing
function for names; no whole-module ScopeProvider), so the cost grows with the number of sites.

Decisions, each backed by an example in ``RewriteAppendLoopCommand`` and a differential test:

* ``out = [...]`` replaces ``out = []`` + loop only when nothing can observe ``out`` in between or
  while it is half-built: no closure/generator reads it, and no enclosing ``try``/``with`` can
  stop an exception and let code outside the loop's normal continuation read it (``with`` counts:
  ``contextlib.suppress`` exists). Otherwise ``out.extend(<genexpr>)``: CPython's
  ``list.extend`` appends a generator's items one by one, so a failure part-way leaves exactly the
  items the loop would have appended (measured, and checked with raising iterables).
* ``extend`` needs ``out`` to be a list: every binding that can reach the loop is a list display,
  a list comprehension, or the builtin ``list(...)``/``sorted(...)``; a parameter, ``deque()`` or
  ``Collector()`` is skipped, because their ``extend`` may differ from repeated ``append``.
* ``await`` in the value/test, or ``async for``: only a list comprehension can hold them, so the
  rewrite is ``[... async for ...]`` / ``[await ... for ...]``, and ``extend([...])`` only when the
  half-built list is unobservable (it is built before extending); otherwise skipped. ``await``
  only in the iterable is evaluated in the enclosing function, so a plain generator holds it.
* ``next()`` in the value/test: a StopIteration escaping a generator expression becomes
  RuntimeError (PEP 479), so such loops get ``extend([...])`` when private, else are skipped.
  A StopIteration leaking from a deeper helper call is not detected (same residual as ruff).
* The ``out = []`` that goes away may share a line with other statements (``out = []; n = 0``):
  only it leaves the line. ``out = other = []`` and ``out, other = [], []`` bind a list too, but
  ``other`` holds it (or the line is a tuple assignment), so they get ``extend``.
* A loop that reads its own list through an alias (``s2 = seen`` … ``if v not in s2``) is skipped:
  ``extend`` would be right (it appends item by item), but reads as a bug. Only name-to-name
  copies in the function are seen as aliases.
* Comments: a pragma that ends a replaced line (``# noqa…``, ``# type:…``, ``# pragma…``,
  ``# pylint:…``, ``# fmt:…``, ``# pyright:``, ``# mypy:``, ``# nosec``, ``# isort:``, ``# ruff:``)
  ends the new statement, which is then kept on one physical line: ruff, mypy, pyright, pylint and
  coverage all read such comments per physical line, and the first line of a wrapped statement
  is not where ruff reports E501 or a type checker most errors. A type comment goes first
  (Python reads ``# type:`` only at the start). If the line is longer than ``line_length`` (ruff
  does not count a trailing comment that starts with one of its pragmas) and no ``# noqa``
  covers E501, or the statement needs several lines, the site is skipped with the comment named.
  A pragma on a line of its own inside the loop, or a real type comment (not ``ignore``) inside
  the loop, has no correct new place: skipped. Every other comment moves above the new statement
  (source order, each once). A part of the loop (value, filter, target, iterable) that fits on
  one line once its comments are gone is joined onto it; a part that does not (or has a magic
  trailing comma) keeps its lines, and its comments stay on them, next to what they describe.
  A loop marked ``# noqa: PERF401`` (or a bare ``# noqa``) is left alone: ruff never reports it,
  but the codemod's own site finder would.
* A walrus binds in the nearest enclosing def/lambda: ``(lambda y: (x := y))(x)`` in the value
  does not rebind the comprehension variable.
* Type checkers (case 20): the comprehension is preferred; when ``extend`` is used on a fresh
  ``out = []`` nothing is lost compared to ``append`` (mypy's partial types accept both,
  pyright infers ``list[Unknown]`` either way), so no annotation is invented.
* Known, accepted differences: a lambda created in a comprehension has ``<listcomp>`` in its
  ``__qualname__``; reading a never-assigned local inside the value raises NameError instead of
  UnboundLocalError; comprehension frames appear in tracebacks.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields

import libcst as cst
from libcst.codemod import Codemod, CodemodContext

from codemods.outcome import Site, SiteOutcome

__all__ = ["RewriteAppendLoopCommand", "find_candidate_sites", "fix_perf401"]

DEFAULT_LINE_LENGTH = 88

_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.GeneratorExp, cst.ListComp, cst.SetComp, cst.DictComp)
#: Nested scopes whose code can run *later* (after the loop variable or the list changed).
_CAPTURING = (cst.FunctionDef, cst.Lambda, cst.GeneratorExp)
#: Statements that can stop an exception and let code after them see the half-built list.
_CATCHERS = (cst.Try, cst.TryStar, cst.With)
#: Calls whose meaning depends on the scope they run in; a comprehension is a new scope (3.10/3.11).
_SCOPE_SENSITIVE_CALLS = {"super": 0, "locals": 0, "vars": 0, "dir": 0, "eval": None, "exec": None}
_LIST_FACTORIES = ("list", "sorted")

# Skip reasons, phrased for the PR body.
R_NOT_FOUND = "no `.append(...)` call found at this position (file changed since the scan?)"
R_NOT_LOOP_BODY = "the append is not the whole body of a `for` loop"
R_RECEIVER_NOT_NAME = (
    "the list is `{receiver}`, not a plain local name: its type and who else sees it are unknown"
)
R_STARRED = "`append(*...)` unpacks its argument; no comprehension is equivalent"
R_KEYWORD = "`append()` is called with keyword arguments; not a list append"
R_ARG_COUNT = "`append()` is called with {n} arguments; not a list append"
R_FOR_ELSE = "the loop has an `else:` clause, which a comprehension cannot express (it would be lost)"
R_IF_ELSE = "an `if` in the loop body has an `else`/`elif` branch, which a comprehension filter cannot express"
R_BODY = "the loop body does more than one append"
R_CLASS = (
    "the loop runs directly in a class body: a comprehension gets its own scope and cannot see "
    "class-level names (NameError), and the loop variable would stop being a class attribute"
)
R_MODULE = "the loop runs at module level: its variable `{name}` is a module attribute other code may read"
R_GLOBAL_RECEIVER = "`{receiver}` is declared `{decl}` here; rebinding it would change another scope"
R_NESTED_REBIND = "`{receiver}` is rebound from a nested function (`nonlocal`), so its identity can change mid-loop"
R_READ_IN_LOOP = "the list `{receiver}` is read inside the loop; a comprehension would not see the items added so far"
R_NOT_LIST = "`{receiver}` is not provably a list here: {cause}; `extend` on another type may differ"
# Causes for R_NOT_LIST, each naming the binding that makes the type unknown.
C_PARAM = "it is a parameter of the function"
C_BOUND_TO = "it is bound to `{value}`"
C_BOUND_BY = "it is bound by {what}"
C_UNPACKED = "it is bound by unpacking `{value}`, whose item at its position is not a list display"
C_NO_INIT = "no assignment of a list before the loop reaches it on every path"
R_READS_ALIAS = "the loop reads the list it builds (through alias `{alias}`)"
R_PRAGMA_OWN_LINE = (
    "the `{comment}` comment on its own line inside the loop controls the lines after it; "
    "moving it would change what it covers"
)
R_TYPE_COMMENT = "the type comment `{comment}` annotates a statement of the loop; a comprehension cannot carry it"
R_PRAGMA_LINES = (
    "the trailing `{comment}` covers one physical line, but the rewritten statement spans several lines"
)
R_NOQA_PERF401 = "the loop is marked `{comment}`: its author chose to keep it (ruff does not report it)"
R_PRAGMA_LONG = (
    "the trailing `{comment}` must stay on the rewritten statement's line, which would be {width} "
    "characters long (limit {limit}); wrapping it would move the comment off the lines it covers"
)
R_TARGET_KIND = "the loop target `{target}` is not a plain name (attribute/subscript assignment)"
R_TARGET_DECL = "the loop variable `{name}` is declared `{decl}`; a comprehension variable would be local"
R_TARGET_AFTER = "the loop variable `{name}` is used after the loop; a comprehension would not leave it bound"
R_TARGET_CAPTURED = "the loop variable `{name}` is read by a nested function/lambda elsewhere in this scope"
R_CLOSURE = (
    "a lambda/def/generator in the appended value captures the loop variable `{name}`, which is "
    "also used elsewhere (or the loop repeats): closures would see a different `{name}`"
)
R_YIELD = "`yield` inside the loop would end up inside a comprehension (SyntaxError or a different generator)"
R_WALRUS_TARGET = "`:=` rebinds the loop variable `{name}`; that is a SyntaxError inside a comprehension"
R_WALRUS_ITER = "`:=` in the iterable is a SyntaxError in a comprehension's iterable"
R_SCOPE_CALL = "`{call}()` in the loop depends on the scope it runs in; a comprehension is a new scope"
R_SCOPE_WIDE = "`{call}()` in this function can see every local, including the loop variable a comprehension would hide"
R_STOP_ITERATION = (
    "`next()` in the loop may raise StopIteration, which a generator expression turns into "
    "RuntimeError (PEP 479), and the half-built list is observable here"
)
R_ASYNC_PARTIAL = (
    "`async for`: only a list comprehension can hold it, so the rewrite would be "
    "`extend([... async for ...])`, which builds the whole list before adding it, and the half-built "
    "list `{receiver}` is observable if the loop fails part-way"
)
R_AWAIT_PARTIAL = (
    "`await` in the {where} of this (plain) `for` loop: only a list comprehension can hold it, so the "
    "rewrite would be `extend([...])`, which builds the whole list before adding it, and the half-built "
    "list `{receiver}` is observable if the loop fails part-way"
)
R_OVERLAP = "another requested site rewrites the same statement"


@dataclass
class _Scope:
    """Name occurrences of one function (or module) body, computed once per scope."""

    root: cst.CSTNode
    occurrences: dict[str, list[_Occurrence]] = field(default_factory=dict)
    declared: dict[str, str] = field(default_factory=dict)  # name -> "global" | "nonlocal"
    shadowed: set[str] = field(default_factory=set)  # `list`/`sorted` rebound: not the builtins


@dataclass
class _Occurrence:
    node: cst.Name
    path: tuple[cst.CSTNode, ...]  # ancestors from the scope root (exclusive) down to the parent
    role: str  # "load" | "store" | "decl" | "binding" (def/class/import/param/as)
    capturing: bool  # inside a nested def/lambda/generator/class (code that may run later)
    nested_decl: str | None = None  # "nonlocal"/"global" when declared inside a nested scope


@dataclass
class _Plan:
    """How to rewrite one loop: which block, what replaces the loop, which init to drop."""

    block_owner: cst.CSTNode
    loop: cst.CSTNode
    replacement: cst.SimpleStatementLine
    remove: cst.CSTNode | None = None  # the line holding the dropped `out = []`
    remove_small: int | None = None  # its index on that line (`out = []; n = 0` keeps `n = 0`)
    path: frozenset[int] = frozenset()  # ids of the block owner and its ancestors


# --------------------------------------------------------------------------------------------
# Finding the loop around a reported `.append(` call
# --------------------------------------------------------------------------------------------


class _Locator:
    """Find `.append(` calls with `ast` (cheap) and map each onto the libcst tree by structure.

    libcst's PositionProvider costs a full code generation plus a metadata pass per file; `ast`
    positions are free once the source is parsed, and the statement path (body / orelse /
    handlers[k] / cases[k], index) leads straight to the same statement in the libcst tree.
    """

    def __init__(self, module: cst.Module, source: str | None) -> None:
        self.module = module
        self.source = source if source is not None else module.code
        # Only \r\n, \r and \n end lines for the tokenizer; str.splitlines also splits on \f etc.
        self.lines = re.split(r"\r\n|\r|\n", self.source)
        self.tree = ast.parse(self.source)
        self.columns: dict[int, int] = {}  # id(libcst For) -> its indentation width
        self.calls: dict[tuple[int, int], list] = {}
        self._index(self.tree.body, [])

    def char_col(self, lineno: int, byte_col: int) -> int:
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def _index(self, statements: list[ast.stmt], path: list) -> None:
        for index, stmt in enumerate(statements):
            here = [*path, index]
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                call = stmt.value
                key = (call.lineno, self.char_col(call.lineno, call.col_offset) + 1)
                self.calls.setdefault(key, here)
            for field_name, sub, child in _child_statement_lists(stmt):
                self._index(child, [*here, (field_name, sub)])

    def resolve(self, key: tuple[int, int]) -> tuple[cst.Call, tuple[cst.CSTNode, ...]] | None:
        """The libcst Call at ``key`` and its ancestors (module first), or None."""
        path = self.calls.get(key)
        if path is None:
            return None
        try:
            return self._walk(path)
        except (IndexError, AttributeError, TypeError):
            return None

    def _walk(self, path: list):
        ancestors: list[cst.CSTNode] = [self.module]
        ast_stmts: list[ast.stmt] = self.tree.body
        cst_stmts: Sequence[cst.CSTNode] = self.module.body
        steps = list(path)
        while steps:
            index = steps.pop(0)
            node, small_index = _nth_statement(cst_stmts, index)
            ast_stmt = ast_stmts[index]
            if not steps:  # the expression statement holding the call
                if isinstance(node, cst.SimpleStatementLine):
                    ancestors.append(node)
                    node = node.body[small_index]
                if not isinstance(node, cst.Expr) or not isinstance(node.value, cst.Call):
                    return None
                ancestors.append(node)
                return node.value, tuple(ancestors)
            field_name, sub = steps.pop(0)
            ancestors.append(node)
            if isinstance(node, cst.For):
                line = self.lines[ast_stmt.lineno - 1]
                self.columns[id(node)] = len(line) - len(line.lstrip())
            ast_stmts = getattr(ast_stmt, field_name) if sub is None else getattr(ast_stmt, field_name)[sub].body
            if field_name == "body":
                block = node.body
            elif field_name == "orelse" and isinstance(node, cst.If) and isinstance(node.orelse, cst.If):
                cst_stmts = [node.orelse]
                continue
            elif field_name in ("orelse", "finalbody"):
                wrapper = node.orelse if field_name == "orelse" else node.finalbody
                ancestors.append(wrapper)
                block = wrapper.body
            else:  # handlers[k] / cases[k]
                wrapper = getattr(node, field_name)[sub]
                ancestors.append(wrapper)
                block = wrapper.body
            ancestors.append(block)
            cst_stmts = block.body
        return None


def _child_statement_lists(stmt: ast.stmt):
    """(field, sub-index, statements) for every statement list directly inside ``stmt``."""
    for field_name in ("body", "orelse", "finalbody"):
        child = getattr(stmt, field_name, None)
        if isinstance(child, list) and child and isinstance(child[0], ast.stmt):
            yield field_name, None, child
    for k, handler in enumerate(getattr(stmt, "handlers", ())):
        yield "handlers", k, handler.body
    for k, case in enumerate(getattr(stmt, "cases", ())):
        yield "cases", k, case.body


def _nth_statement(cst_stmts: Sequence[cst.CSTNode], index: int) -> tuple[cst.CSTNode, int]:
    """libcst statement holding ast statement ``index`` (`a; b` is one libcst line, two ast)."""
    seen = 0
    for node in cst_stmts:
        count = len(node.body) if isinstance(node, cst.SimpleStatementLine) else 1
        if index < seen + count:
            return node, index - seen
        seen += count
    raise IndexError(index)


def _append_call_shape(stmt: cst.BaseStatement) -> tuple[cst.Call | None, list[cst.If]]:
    """The `.append(...)` call a loop body reduces to (through `if`s), ignoring elses."""
    ifs: list[cst.If] = []
    while True:
        if isinstance(stmt, cst.If):
            ifs.append(stmt)
            body = stmt.body
            if isinstance(body, cst.IndentedBlock) and len(body.body) >= 1:
                stmt = body.body[0]
                continue
            if isinstance(body, cst.SimpleStatementSuite):
                stmt = body
                continue
            return None, ifs
        if isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) and stmt.body:
            small = stmt.body[0]
            if (
                isinstance(small, cst.Expr)
                and isinstance(small.value, cst.Call)
                and isinstance(small.value.func, cst.Attribute)
                and small.value.func.attr.value == "append"
            ):
                return small.value, ifs
        return None, ifs


def _loop_body_first(loop: cst.For) -> cst.BaseStatement | cst.SimpleStatementSuite | None:
    body = loop.body
    if isinstance(body, cst.SimpleStatementSuite):
        return body
    return body.body[0] if body.body else None


def find_candidate_sites(module: cst.Module, path: str = "<module>", *, source: str | None = None) -> list[Site]:
    """Every `for` loop that looks like an append loop, located the way ruff reports PERF401.

    Used when no ruff scan is at hand (examples, the command line); ruff's own scan is stricter,
    so some of these end up skipped with a reason, which is the point of listing them.
    """
    locator = _Locator(module, source)
    sites = []
    for node in ast.walk(locator.tree):
        if not isinstance(node, (ast.For, ast.AsyncFor)):
            continue
        stmt = node.body[0]
        while isinstance(stmt, ast.If):
            stmt = stmt.body[0]
        if (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr == "append"
        ):
            call = stmt.value
            sites.append(Site(path, call.lineno, locator.char_col(call.lineno, call.col_offset) + 1, "PERF401"))
    return sorted(sites)


# --------------------------------------------------------------------------------------------
# Name occurrences in a scope
# --------------------------------------------------------------------------------------------

_TARGET_FIELDS = (
    (cst.For, "target"),
    (cst.CompFor, "target"),
    (cst.AssignTarget, "target"),
    (cst.AnnAssign, "target"),
    (cst.AugAssign, "target"),
    (cst.NamedExpr, "target"),
    (cst.Del, "target"),
    (cst.AsName, "name"),
)


def _role(node: cst.Name, path: Sequence[cst.CSTNode]) -> str | None:
    parent = path[-1] if path else None
    if isinstance(parent, cst.Attribute) and parent.attr is node:
        return None
    if isinstance(parent, cst.Arg) and parent.keyword is node:
        return None
    if isinstance(parent, (cst.ImportAlias, cst.Param)) or (
        isinstance(parent, cst.AsName) and parent.name is node
    ):
        return "binding"
    if isinstance(parent, (cst.FunctionDef, cst.ClassDef)) and parent.name is node:
        return "binding"
    if isinstance(parent, cst.NameItem):
        return "decl"
    child: cst.CSTNode = node
    for ancestor in reversed(path):
        if isinstance(ancestor, (cst.Tuple, cst.List, cst.Element, cst.StarredElement)):
            child = ancestor
            continue
        for kind, attr in _TARGET_FIELDS:
            if isinstance(ancestor, kind) and getattr(ancestor, attr) is child:
                return "store"
        return "load"
    return "load"


def _local_names(scope_node: cst.CSTNode) -> frozenset[str]:
    """Names a nested scope binds for itself (so a same-named outer variable is not captured)."""
    cached = _LOCALS_CACHE.get(id(scope_node))
    if cached is not None and cached[0] is scope_node:
        return cached[1]
    names: set[str] = set()
    declared: set[str] = set()
    if isinstance(scope_node, (cst.FunctionDef, cst.Lambda)):
        params = scope_node.params
        for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
            names.add(param.name.value)
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                names.add(star.name.value)
    if isinstance(scope_node, (cst.GeneratorExp, cst.ListComp, cst.SetComp, cst.DictComp)):
        comp = scope_node.for_in
        while comp is not None:
            names.update(n.value for n in _flatten_target(comp.target) if isinstance(n, cst.Name))
            comp = comp.inner_for_in
    if isinstance(scope_node, cst.Lambda):
        names.update(w.target.value for w in _walrus_binding_here(scope_node.body))
    if isinstance(scope_node, cst.FunctionDef):
        names.update(w.target.value for w in _walrus_binding_here(scope_node.body))

        def walk(n: cst.CSTNode, path: list[cst.CSTNode]):
            if isinstance(n, cst.Name):
                role = _role(n, path)
                if role in ("store", "binding"):
                    names.add(n.value)
                elif role == "decl":
                    declared.add(n.value)
                return
            if isinstance(n, _SCOPES) and path:
                # a deeper scope's own bindings are not ours, but its name (def/class) is
                if isinstance(n, (cst.FunctionDef, cst.ClassDef)):
                    names.add(n.name.value)
                return
            path.append(n)
            for child in n.children:
                walk(child, path)
            path.pop()

        walk(scope_node.body, [scope_node])
    result = frozenset(names - declared)
    _LOCALS_CACHE[id(scope_node)] = (scope_node, result)
    return result


_LOCALS_CACHE: dict[int, tuple[cst.CSTNode, frozenset[str]]] = {}


def _walrus_binding_here(node: cst.CSTNode) -> list[cst.NamedExpr]:
    """`name := v` under ``node`` that bind in the scope holding ``node`` (PEP 572).

    A walrus binds in the nearest enclosing *function* scope (def or lambda); comprehensions
    are transparent to it. So the walk enters comprehensions but stops at a nested lambda/def,
    whose walruses are that function's own locals.
    """
    found: list[cst.NamedExpr] = []

    def walk(n: cst.CSTNode) -> None:
        if isinstance(n, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            return
        if isinstance(n, cst.NamedExpr) and isinstance(n.target, cst.Name):
            found.append(n)
        for child in n.children:
            walk(child)

    walk(node)
    return found


_EAGER_CONSUMERS = {"any", "all", "sum", "min", "max", "list", "tuple", "set", "frozenset", "sorted", "dict"}


def _eagerly_consumed(genexp: cst.GeneratorExp, path: Sequence[cst.CSTNode]) -> bool:
    """A generator passed straight to `any(...)`, `sum(...)`, `"".join(...)`… runs to completion
    right there, so it cannot observe anything that happens later."""
    if len(path) < 2 or not isinstance(path[-1], cst.Arg) or not isinstance(path[-2], cst.Call):
        return False
    func = path[-2].func
    if isinstance(func, cst.Name):
        return func.value in _EAGER_CONSUMERS
    return (
        isinstance(func, cst.Attribute)
        and func.attr.value == "join"
        and isinstance(func.value, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString))
    )


def _outer_parts(scope_node: cst.CSTNode) -> list[cst.CSTNode]:
    """Parts of a nested scope node that are evaluated in the *enclosing* scope."""
    if isinstance(scope_node, (cst.GeneratorExp, cst.ListComp, cst.SetComp, cst.DictComp)):
        return [scope_node.for_in.iter]
    parts: list[cst.CSTNode | None] = []
    if isinstance(scope_node, (cst.FunctionDef, cst.Lambda)):
        params = scope_node.params
        for param in [*params.posonly_params, *params.params, *params.kwonly_params, params.star_arg, params.star_kwarg]:
            if isinstance(param, cst.Param):
                parts.extend([param.default, param.annotation])
    if isinstance(scope_node, cst.FunctionDef):
        parts.extend([*scope_node.decorators, scope_node.returns])
    if isinstance(scope_node, cst.ClassDef):
        parts.extend([*scope_node.decorators, *scope_node.bases, *scope_node.keywords])
    return [p for p in parts if p is not None]


def _walk_names(node: cst.CSTNode, path: list[cst.CSTNode], nested: tuple, overrides: dict | None = None):
    """Yield (name, path, role, nested) for every Name reference under ``node``.

    ``nested`` lists the (scope node, may-run-later) pairs the name sits in; parts of a nested
    scope that run in the enclosing scope (a comprehension's first iterable, defaults,
    decorators) are walked with the enclosing ``nested``.
    """
    overrides = {} if overrides is None else overrides
    nested = overrides.get(id(node), nested)
    if isinstance(node, cst.Name):
        role = _role(node, path)
        if role is not None:
            yield node, tuple(path), role, nested
        return
    inner = nested
    if isinstance(node, _SCOPES):
        capturing = isinstance(node, _CAPTURING) and not (
            isinstance(node, cst.GeneratorExp) and _eagerly_consumed(node, path)
        )
        inner = (*nested, (node, capturing))
        for part in _outer_parts(node):
            overrides[id(part)] = nested
    path.append(node)
    for child in node.children:
        yield from _walk_names(child, path, inner, overrides)
    path.pop()


def _local_to_nested(name: str, nested: tuple) -> bool:
    return any(name in _local_names(scope_node) for scope_node, _ in nested)


def _captured(nested: tuple) -> bool:
    """Inside code that may run later (a closure or a generator not consumed on the spot)?"""
    return any(capturing for _, capturing in nested)


def _scope_of(root: cst.CSTNode) -> _Scope:
    """Walk ``root`` once and index every occurrence of the scope's own names.

    Names that a nested scope binds for itself (a lambda parameter, a comprehension variable)
    are a different variable and are left out.
    """
    scope = _Scope(root)
    start = root.body.body if isinstance(root, cst.FunctionDef) else root.body
    parts: list[cst.CSTNode] = list(start)
    if isinstance(root, cst.FunctionDef):
        parts.insert(0, root.params)
    for part in parts:
        for node, path, role, nested in _walk_names(part, [], ()):
            if nested and _local_to_nested(node.value, nested):
                continue
            decl_kind = None
            if role == "decl":
                decl_kind = "global" if isinstance(path[-2], cst.Global) else "nonlocal"
                if not nested:
                    scope.declared[node.value] = decl_kind
            scope.occurrences.setdefault(node.value, []).append(
                _Occurrence(node, path, role, _captured(nested), decl_kind if nested else None)
            )
    return scope


def _names_in(node: cst.CSTNode) -> Iterator[tuple[cst.Name, tuple[cst.CSTNode, ...], bool]]:
    """(name, path, may run later) for every reference under ``node`` to an outer variable."""
    for name, path, _role, nested in _walk_names(node, [], ()):
        if nested and _local_to_nested(name.value, nested):
            continue
        yield name, path, _captured(nested)


def _contains(node: cst.CSTNode, kinds: tuple[type, ...]) -> list[cst.CSTNode]:
    found = []

    def walk(n: cst.CSTNode):
        if isinstance(n, kinds):
            found.append(n)
        for child in n.children:
            walk(child)

    walk(node)
    return found


def _refs(node: cst.CSTNode, names: set[str]) -> bool:
    return any(n.value in names for n, _, _ in _names_in(node))


def _within(occ: _Occurrence, node: cst.CSTNode) -> bool:
    return occ.node is node or any(a is node for a in occ.path)


# --------------------------------------------------------------------------------------------
# Flow questions answered on the statement tree
# --------------------------------------------------------------------------------------------


def _block_of(ancestors: Sequence[cst.CSTNode], stmt: cst.CSTNode) -> tuple[cst.CSTNode, list, int]:
    """(block owner, statements, index of ``stmt``) for the block directly holding ``stmt``."""
    owner = ancestors[-1]
    body = owner.body
    statements = list(body)
    for i, s in enumerate(statements):
        if s is stmt:
            return owner, statements, i
    raise LookupError("statement not in its parent block")


def _ascend(ancestors: Sequence[cst.CSTNode], stmt: cst.CSTNode, root: cst.CSTNode):
    """Yield (owning compound statement, block owner, statements, index) from ``stmt`` up to ``root``.

    The owning compound is the statement whose block holds us (an `elif` climbs to its first
    `if`); the walk stops at the scope root (function or module).
    """
    chain = list(ancestors)
    current = stmt
    while chain:
        owner = chain[-1]
        if not isinstance(owner, (cst.IndentedBlock, cst.Module)):
            return
        statements = list(owner.body)
        position = next(i for i, s in enumerate(statements) if s is current)
        j = len(chain) - 2
        while j >= 0 and not isinstance(chain[j], cst.BaseCompoundStatement):
            j -= 1
        while j >= 1 and isinstance(chain[j - 1], cst.If) and chain[j - 1].orelse is chain[j]:
            j -= 1
        compound = chain[j] if j >= 0 else None
        yield compound, owner, statements, position
        if compound is None or compound is root or isinstance(compound, (cst.FunctionDef, cst.ClassDef)):
            return
        current = compound
        chain = chain[:j]


def _simple_kills(small: cst.BaseSmallStatement) -> set[str]:
    targets: list[cst.BaseExpression] = []
    if isinstance(small, cst.Assign):
        targets = [t.target for t in small.targets]
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        targets = [small.target]
    return {t.value for t in targets if isinstance(t, cst.Name)}


def _scan_reads(statements: Sequence[cst.CSTNode], alive: set[str]) -> tuple[bool, set[str]]:
    """Does straight-line code read any ``alive`` name before rebinding it?

    Returns (read, names still alive). Only plain assignments count as rebinding; a `for` that
    rebinds the name protects its own body but not the code after it (zero iterations).
    """
    alive = set(alive)
    for stmt in statements:
        if not alive:
            break
        read, alive = _scan_statement(stmt, alive)
        if read:
            return True, alive
    return False, alive


def _scan_statement(stmt: cst.CSTNode, alive: set[str]) -> tuple[bool, set[str]]:
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            value = getattr(small, "value", None) if isinstance(small, (cst.Assign, cst.AnnAssign)) else small
            if value is not None and _refs(value, alive):
                return True, alive
            if isinstance(small, (cst.Assign, cst.AnnAssign)) and any(
                _refs(t.target, alive) and not isinstance(t.target, cst.Name)
                for t in (small.targets if isinstance(small, cst.Assign) else [small])
            ):
                return True, alive  # e.g. `x.attr = …` / `x[i] = …` reads x
            alive = alive - _simple_kills(small)
        return False, alive
    if isinstance(stmt, cst.For) and stmt.orelse is None:
        if _refs(stmt.iter, alive) or _refs(stmt.target, alive - _target_names(stmt.target)):
            return True, alive
        body_alive = alive - _target_names(stmt.target)
        read, _ = _scan_reads(_block_statements(stmt.body), body_alive)
        return read, alive
    if isinstance(stmt, cst.If):
        if _refs(stmt.test, alive):
            return True, alive
        read, _ = _scan_reads(_block_statements(stmt.body), alive)
        if read:
            return True, alive
        if stmt.orelse is not None:
            branch = stmt.orelse if isinstance(stmt.orelse, cst.If) else stmt.orelse.body
            read, _ = _scan_reads([branch] if isinstance(branch, cst.If) else _block_statements(branch), alive)
        return read, alive
    if isinstance(stmt, cst.With):
        if any(_refs(item, alive) for item in stmt.items):
            return True, alive
        return _scan_reads(_block_statements(stmt.body), alive)
    if isinstance(stmt, (cst.Try, cst.TryStar)):
        # An exception can leave the body anywhere, so every part starts with all names alive,
        # and none of the body's rebindings is certain afterwards.
        parts = [stmt.body, *(h.body for h in stmt.handlers)]
        parts += [p.body for p in (stmt.orelse, stmt.finalbody) if p is not None]
        if any(h.type is not None and _refs(h.type, alive) for h in stmt.handlers):
            return True, alive
        return any(_scan_reads(_block_statements(part), alive)[0] for part in parts), alive
    if isinstance(stmt, cst.While) and stmt.orelse is None:
        if _refs(stmt.test, alive):
            return True, alive
        return _scan_reads(_block_statements(stmt.body), alive)[0], alive
    return _refs(stmt, alive), alive


def _block_statements(block: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    if isinstance(block, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=block.body)]
    return block.body


def _target_names(target: cst.BaseExpression) -> set[str]:
    return {n.value for n in _flatten_target(target) if isinstance(n, cst.Name)}


def _live_after(loop: cst.For, ancestors: Sequence[cst.CSTNode], root: cst.CSTNode, names: set[str]) -> str | None:
    """The first loop-target name that may be read after the loop (before a rebinding), or None.

    Walks outwards: the rest of each enclosing block, then whatever can run next from the
    enclosing statement — the top of an enclosing loop's body (next round), its `else`, and a
    `try`'s handlers, `else` and `finally`.
    """
    alive = set(names)
    for compound, _owner, statements, position in _ascend(ancestors, loop, root):
        read, alive = _scan_reads(statements[position + 1 :], alive)
        if read:
            return _first_ref(statements[position + 1 :], names)
        if not alive:
            return None
        for block, block_alive in _next_runs(compound, alive):
            read, _ = _scan_reads(block, block_alive)
            if read:
                return _first_ref(block, names)
    return None


def _next_runs(compound: cst.CSTNode | None, alive: set[str]):
    """(statements, names still to protect) that may run right after the block we leave."""
    if isinstance(compound, (cst.For, cst.While)):
        if isinstance(compound, cst.While):
            yield [cst.SimpleStatementLine([cst.Expr(compound.test)])], alive
            body_alive = alive
        else:
            body_alive = alive - _target_names(compound.target)  # the next round rebinds them
        yield _block_statements(compound.body), body_alive
        if compound.orelse is not None:
            yield _block_statements(compound.orelse.body), alive
    elif isinstance(compound, (cst.Try, cst.TryStar)):
        for handler in compound.handlers:
            yield _block_statements(handler.body), alive
        for part in (compound.orelse, compound.finalbody):
            if part is not None:
                yield _block_statements(part.body), alive


def _first_ref(statements: Sequence[cst.CSTNode], names: set[str]) -> str:
    for stmt in statements:
        for n, _, _ in _names_in(stmt):
            if n.value in names:
                return n.value
    return sorted(names)[0]


def _continuation(loop: cst.For, ancestors: Sequence[cst.CSTNode], root: cst.CSTNode):
    """Statements that run after the loop *only if it finished*, and the innermost catcher."""
    safe: list[cst.CSTNode] = []
    for compound, _owner, statements, position in _ascend(ancestors, loop, root):
        safe.extend(statements[position + 1 :])
        if isinstance(compound, _CATCHERS):
            return safe, compound
    return safe, None


# --------------------------------------------------------------------------------------------
# Building the replacement
# --------------------------------------------------------------------------------------------


def _paren(node: cst.BaseExpression) -> cst.BaseExpression:
    if node.lpar:
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def _needs_parens_in_clause(node: cst.BaseExpression) -> bool:
    """Iterables and filters of a comprehension must be a `disjunction` in the grammar."""
    if node.lpar:
        return False
    return isinstance(
        node, (cst.IfExp, cst.Lambda, cst.NamedExpr, cst.Yield, cst.Tuple, cst.StarredElement, cst.GeneratorExp)
    )


def _element(node: cst.BaseExpression) -> cst.BaseExpression:
    if not node.lpar and isinstance(node, (cst.NamedExpr, cst.Lambda, cst.GeneratorExp, cst.Yield)):
        return _paren(node)
    return node


def _comments(node: cst.CSTNode) -> list[cst.Comment]:
    return [c for c in _contains(node, (cst.Comment,)) if isinstance(c, cst.Comment)]


def _multiline(indent: str) -> cst.ParenthesizedWhitespace:
    return cst.ParenthesizedWhitespace(
        first_line=cst.TrailingWhitespace(), indent=True, last_line=cst.SimpleWhitespace(indent)
    )


def _build_comprehension(
    element: cst.BaseExpression,
    loop: cst.For,
    tests: list[cst.BaseExpression],
    *,
    kind: type,
    multiline: str | None,
) -> cst.BaseExpression:
    iterable = _paren(loop.iter) if _needs_parens_in_clause(loop.iter) else loop.iter
    ifs = [cst.CompIf(test=_paren(t) if _needs_parens_in_clause(t) else t) for t in tests]
    comp_for = cst.CompFor(
        target=loop.target,
        iter=iterable,
        ifs=ifs,
        asynchronous=cst.Asynchronous() if loop.asynchronous is not None else None,
    )
    if multiline is not None:
        ifs = [i.with_changes(whitespace_before=_multiline(multiline)) for i in ifs]
        comp_for = comp_for.with_changes(ifs=ifs, whitespace_before=_multiline(multiline))
    if kind is cst.GeneratorExp:
        return cst.GeneratorExp(elt=_element(element), for_in=comp_for, lpar=[], rpar=[])
    comp = cst.ListComp(elt=_element(element), for_in=comp_for)
    if multiline is not None:
        comp = comp.with_changes(
            lbracket=cst.LeftSquareBracket(whitespace_after=_multiline(multiline)),
            rbracket=cst.RightSquareBracket(whitespace_before=_multiline("")),
        )
    return comp


def _render(module: cst.Module, build, width: int, line_length: int, pragma: str | None) -> cst.BaseSmallStatement:
    """One line (parts that already span lines kept hugging) when every line fits, else one
    clause per line, the way a reviewer (or black) would wrap it.

    With a trailing ``pragma`` (`# noqa`, `# type: ignore`, …) the statement must be one physical
    line, since such comments cover the line they end. It may be longer than ``line_length``
    only when the pragma itself silences E501 (bare `# noqa`, `# noqa: …E501…`). Ruff does not
    count a trailing comment that starts with one of its pragmas towards the width; other
    comments (`# pragma: no cover`, `# fmt: skip`) count.
    """
    flat = build(None)
    lines = module.code_for_node(flat).split("\n")
    if pragma is None:
        if all(width + len(line) <= line_length for line in lines):
            return flat
        return build(module.default_indent)
    if len(lines) > 1:
        raise _Skip(R_PRAGMA_LINES.format(comment=pragma))
    total = width + len(lines[0]) + (0 if _RUFF_PRAGMA.match(pragma) else 2 + len(pragma))
    if total > line_length and not _NOQA_E501.search(pragma):
        raise _Skip(R_PRAGMA_LONG.format(comment=pragma, width=total, limit=line_length))
    return flat


#: Comments that act on the line they end (linters, type checkers, coverage, formatters).
_PRAGMA = re.compile(r"#\s*(?:(?i:noqa)\b|nosec\b|(?:type|pragma|pylint|fmt|pyright|mypy|isort|ruff|flake8)\s*:)")
#: A real type comment (`# type: list[int]`), as opposed to `# type: ignore[...]`.
_TYPE_COMMENT = re.compile(r"#\s*type:(?!\s*ignore\b)")
#: ruff's own notion of a pragma comment: E501 leaves a trailing one out of the line width.
_RUFF_PRAGMA = re.compile(r"#\s*(?:(?i:noqa)\b|nosec\b|(?:type|pyright|pylint|isort|ruff|flake8):)")
_NOQA_PERF401 = re.compile(r"#\s*(?i:noqa)(?!\s*:)|#\s*(?i:noqa)\s*:[\sA-Za-z0-9,]*\bPERF401\b")
_NOQA_E501 = re.compile(r"#\s*(?i:noqa)(?!\s*:)|#\s*(?i:noqa)\s*:[\sA-Za-z0-9,]*\bE501\b")


def _comment_places(node: cst.CSTNode) -> list[tuple[cst.Comment, bool]]:
    """Every comment under ``node`` in source order, and whether it has a line to itself."""
    found: list[tuple[cst.Comment, bool]] = []

    def walk(n: cst.CSTNode, own_line: bool) -> None:
        if isinstance(n, cst.Comment):
            found.append((n, own_line))
            return
        for child in n.children:
            walk(child, isinstance(n, cst.EmptyLine))

    walk(node, False)
    return found


def _sort_comments(
    init_comments: list[tuple[cst.Comment, bool]], loop_comments: list[tuple[cst.Comment, bool]], *, from_init: int
) -> tuple[list[cst.Comment], str | None]:
    """Split the comments of the replaced lines into those moved above the new statement and the
    pragma text that ends it (type comments first: Python only reads `# type:` at the start).

    A pragma on a line of its own inside the loop (`# pylint: disable=…`, `# fmt: off`) acts on
    the lines after it, and a type comment inside the loop annotates a statement that goes away:
    neither has a correct new place, so the site is skipped.
    """
    moved: list[cst.Comment] = []
    type_comments: list[str] = []
    others: list[str] = []
    for index, (comment, own_line) in enumerate([*init_comments, *loop_comments]):
        if not _PRAGMA.match(comment.value):
            moved.append(comment)
            continue
        if own_line:
            raise _Skip(R_PRAGMA_OWN_LINE.format(comment=comment.value))
        if index >= from_init and _NOQA_PERF401.search(comment.value):
            raise _Skip(R_NOQA_PERF401.format(comment=comment.value))
        if _TYPE_COMMENT.match(comment.value):
            if index >= from_init:
                raise _Skip(R_TYPE_COMMENT.format(comment=comment.value))
            type_comments.append(comment.value)
        else:
            others.append(comment.value)
    pragmas = [*type_comments, *others]
    return moved, "  ".join(pragmas) if pragmas else None


class _StripComments(cst.CSTTransformer):
    """Remove comments from an expression (the caller moves them), keeping its line breaks."""

    def leave_TrailingWhitespace(self, original_node, updated_node):
        if updated_node.comment is None:
            return updated_node
        return updated_node.with_changes(whitespace=cst.SimpleWhitespace(""), comment=None)

    def leave_ParenthesizedWhitespace(self, original_node, updated_node):
        return updated_node.with_changes(empty_lines=[e for e in updated_node.empty_lines if e.comment is None])


#: Whitespace slots that hug their neighbour when a bracketed expression is joined onto one line.
_TIGHT = {
    (cst.LeftParen, "whitespace_after"), (cst.LeftSquareBracket, "whitespace_after"),
    (cst.LeftCurlyBrace, "whitespace_after"), (cst.RightParen, "whitespace_before"),
    (cst.RightSquareBracket, "whitespace_before"), (cst.RightCurlyBrace, "whitespace_before"),
    (cst.Call, "whitespace_before_args"), (cst.Arg, "whitespace_after_arg"),
    (cst.Comma, "whitespace_before"), (cst.Dot, "whitespace_before"), (cst.Dot, "whitespace_after"),
    (cst.DictElement, "whitespace_before_colon"), (cst.Colon, "whitespace_before"),
}


class _Collapse(cst.CSTTransformer):
    """Join an expression's bracketed line breaks into one line (no effect on meaning)."""

    def on_leave(self, original_node, updated_node):
        changes = {}
        for f in fields(updated_node):
            if isinstance(getattr(updated_node, f.name), cst.ParenthesizedWhitespace):
                tight = (type(updated_node), f.name) in _TIGHT
                changes[f.name] = cst.SimpleWhitespace("" if tight else " ")
        return updated_node.with_changes(**changes) if changes else updated_node


def _has_magic_comma(node: cst.CSTNode) -> bool:
    """A trailing comma in a bracket that spans lines: the author wants one item per line."""
    code_of = cst.Module(body=[]).code_for_node
    for n in _contains(node, (cst.List, cst.Tuple, cst.Set, cst.Dict, cst.Call, cst.Subscript, cst.Parameters)):
        if isinstance(n, cst.Parameters):
            items = [*n.posonly_params, *n.params, *n.kwonly_params]
        else:
            items = getattr(n, "elements", None) or getattr(n, "args", None) or getattr(n, "slice", None)
        if items and isinstance(getattr(items[-1], "comma", None), cst.Comma) and "\n" in code_of(n):
            return True
    return False


def _last_mention(statements: Sequence[cst.CSTNode], name: str):
    """(line, small statement) of the last statement before the loop that mentions ``name``.

    On `out = []; n = 0` the small statement is `out = []`; for a compound statement both
    are the statement itself; (None, None) when nothing mentions it.
    """
    for stmt in reversed(statements):
        if not _refs(stmt, {name}):
            continue
        for small in reversed(_smalls(stmt)):
            if _refs(small, {name}):
                return stmt, small
    return None, None


def _removable(line: cst.CSTNode, small: cst.CSTNode) -> bool:
    """Can ``small`` leave its line without its line's trailing `# type:` comment changing owner?"""
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) == 1:
        return True
    comment = line.trailing_whitespace.comment
    owner_changes = line.body[-1] is small and comment is not None and _TYPE_COMMENT.match(comment.value)
    return not owner_changes


class _Shift(cst.CSTTransformer):
    """Move every continuation line of an expression left/right by ``delta`` columns."""

    def __init__(self, delta: int) -> None:
        super().__init__()
        self.delta = delta

    def _move(self, text: str) -> str:
        return " " * max(0, len(text) + self.delta)

    def leave_ParenthesizedWhitespace(self, original_node, updated_node):
        if not updated_node.indent:
            return updated_node
        return updated_node.with_changes(
            last_line=cst.SimpleWhitespace(self._move(updated_node.last_line.value)),
            empty_lines=[
                line.with_changes(whitespace=cst.SimpleWhitespace(self._move(line.whitespace.value)))
                if line.indent
                else line
                for line in updated_node.empty_lines
            ],
        )


@dataclass(frozen=True)
class _ElementPlace:
    """Where the appended value started, relative to the `append` statement's indentation."""

    column: int  # start column of the value, relative to the statement
    own_line: bool  # the value started on its own line (after `append(` + newline)
    hanging: bool  # its first line ends with an opening bracket (content indented per level)

    @classmethod
    def of(cls, module: cst.Module, call: cst.Call) -> _ElementPlace:
        element = call.args[0].value
        first_line = module.code_for_node(element).split("\n")[0].split("#")[0].rstrip()
        hanging = first_line.endswith(("(", "[", "{"))
        ws = call.whitespace_before_args
        if isinstance(ws, cst.ParenthesizedWhitespace):
            return cls(len(ws.last_line.value), True, hanging)
        return cls(len(module.code_for_node(call.func)) + 1 + len(ws.value), False, hanging)

    def delta(self, new_column: int, new_own_line: bool) -> int:
        """How far continuation lines move so the value keeps its shape at ``new_column``."""
        if not self.hanging and not self.own_line:
            return new_column - self.column  # visual alignment: follow the start column
        start = self.column if self.own_line else 0
        return (new_column if new_own_line else 0) - start


def _extend_statement(receiver: cst.Name, value: cst.BaseExpression, multiline: str | None) -> cst.Expr:
    if multiline is None:
        return cst.Expr(cst.Call(func=cst.Attribute(receiver, cst.Name("extend")), args=[cst.Arg(value)]))
    return cst.Expr(
        cst.Call(
            func=cst.Attribute(receiver, cst.Name("extend")),
            args=[cst.Arg(value, whitespace_after_arg=_multiline(""))],
            whitespace_before_args=_multiline(multiline),
        )
    )


def _place_element(module, element, place: _ElementPlace, new_column: int, new_own_line: bool):
    if "\n" not in module.code_for_node(element):
        return element
    delta = place.delta(new_column, new_own_line)
    if delta == 0 or "\t" in module.code_for_node(element):
        return element
    return element.visit(_Shift(delta))


# --------------------------------------------------------------------------------------------
# The decision for one site
# --------------------------------------------------------------------------------------------


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_list_factory(value: cst.BaseExpression | None, scope: _Scope) -> bool:
    if isinstance(value, (cst.List, cst.ListComp)):
        return True
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value in _LIST_FACTORIES
        and value.func.value not in scope.shadowed
    )


def _is_empty_list(value: cst.BaseExpression | None, scope: _Scope) -> bool:
    """`[]` or the builtin `list()`: a fresh empty list nobody else can hold yet."""
    if isinstance(value, cst.List):
        return not value.elements
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value == "list"
        and not value.args
        and "list" not in scope.shadowed
    )


def _direct_next_call(node: cst.CSTNode) -> bool:
    """`next(...)` in the value/test: its StopIteration would become RuntimeError in a generator."""
    return any(
        isinstance(call.func, cst.Name) and call.func.value == "next" for call in _contains(node, (cst.Call,))
    )


def _init_value(small: cst.CSTNode, receiver: str) -> cst.BaseExpression | None:
    """The value when ``small`` is exactly `receiver = v` / `receiver: T = v` (one target)."""
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
        if isinstance(target, cst.Name) and target.value == receiver:
            return small.value
    if isinstance(small, cst.AnnAssign) and small.value is not None:
        if isinstance(small.target, cst.Name) and small.target.value == receiver:
            return small.value
    return None


def _unpacked_item(target: cst.BaseExpression, value: cst.BaseExpression, name: str) -> cst.BaseExpression | None:
    """In `a, name = x, v` the `v` that ``name`` receives; None unless both sides are plain displays."""
    if not isinstance(target, (cst.Tuple, cst.List)) or not isinstance(value, (cst.Tuple, cst.List)):
        return None
    if len(target.elements) != len(value.elements):
        return None
    if any(isinstance(e, cst.StarredElement) for e in [*target.elements, *value.elements]):
        return None
    for t, v in zip(target.elements, value.elements, strict=True):
        if isinstance(t.value, cst.Name) and t.value.value == name:
            return v.value
    return None


def _assigned_value(small: cst.CSTNode, name: str) -> cst.BaseExpression | None:
    """What ``small`` binds ``name`` to: `name = v`, `a = name = v`, `name: T = v`, `a, name = x, v`."""
    if isinstance(small, cst.AnnAssign):
        return _init_value(small, name)
    if not isinstance(small, cst.Assign):
        return None
    for t in small.targets:
        if isinstance(t.target, cst.Name) and t.target.value == name:
            return small.value
        item = _unpacked_item(t.target, small.value, name)
        if item is not None:
            return item
    return None


def _binds_list(stmt: cst.CSTNode, name: str, scope: _Scope) -> bool:
    """Does every way through ``stmt`` (that reaches its end) bind ``name`` to a list?

    Straight-line assignments, and `if`/`elif`/`else` whose every branch does. Not `with`
    (`contextlib.suppress` can skip the binding), `try` or loops (zero iterations).
    """
    if isinstance(stmt, cst.SimpleStatementLine):
        return any(_is_list_factory(_assigned_value(small, name), scope) for small in stmt.body)
    if isinstance(stmt, cst.If) and stmt.orelse is not None:
        if not any(_binds_list(s, name, scope) for s in _block_statements(stmt.body)):
            return False
        if isinstance(stmt.orelse, cst.If):
            return _binds_list(stmt.orelse, name, scope)
        return any(_binds_list(s, name, scope) for s in _block_statements(stmt.orelse.body))
    return False


def _smalls(stmt: cst.CSTNode) -> Sequence[cst.CSTNode]:
    """The small statements of a simple line (`a = 1; b = 2`), else the statement itself."""
    return stmt.body if isinstance(stmt, cst.SimpleStatementLine) else [stmt]


def _code_excerpt(module: cst.Module, node: cst.CSTNode, limit: int = 40) -> str:
    """``node``'s code on one line, cut to ``limit`` characters, for a skip reason."""
    text = " ".join(module.code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _SiteAnalysis:
    """Everything decided about one loop, then the replacement statement."""

    def __init__(self, module, call, ancestors, scopes, columns, line_length):
        self.module = module
        self.call = call
        self.ancestors = ancestors
        self.scopes = scopes
        self.columns = columns
        self.line_length = line_length
        self.iter_reads_receiver = False

    def run(self) -> tuple[str, _Plan]:
        call, ancestors = self.call, self.ancestors
        loop = None
        loop_index = None
        for i in range(len(ancestors) - 1, -1, -1):
            node = ancestors[i]
            if isinstance(node, cst.For):
                loop, loop_index = node, i
                break
            if isinstance(node, (cst.While, *_SCOPES)):
                break
        if loop is None:
            raise _Skip(R_NOT_LOOP_BODY)
        first = _loop_body_first(loop)
        found, ifs = _append_call_shape(first) if first is not None else (None, [])
        if found is not call:
            raise _Skip(R_NOT_LOOP_BODY)
        loop_ancestors = ancestors[:loop_index]
        receiver, element = self._check_call(call)
        self._check_shape(loop, ifs)
        root = self._scope_root(loop_ancestors)
        scope = self._scope(root)
        tests = [i.test for i in ifs]
        self._check_receiver(receiver, loop, loop_ancestors, scope)
        self._check_aliases(receiver, loop, element, tests, scope)
        targets = self._check_target(loop, loop_ancestors, scope, root, element, tests)
        self._check_expressions(loop, element, tests, targets)
        return self._plan(receiver, element, tests, loop, loop_ancestors, scope, root)

    # -- checks ---------------------------------------------------------------------------
    def _check_call(self, call: cst.Call) -> tuple[cst.Name, cst.BaseExpression]:
        func = call.func
        if not isinstance(func.value, cst.Name):
            raise _Skip(R_RECEIVER_NOT_NAME.format(receiver=self.module.code_for_node(func.value)))
        if any(a.star for a in call.args):
            raise _Skip(R_STARRED)
        if any(a.keyword is not None for a in call.args):
            raise _Skip(R_KEYWORD)
        if len(call.args) != 1:
            raise _Skip(R_ARG_COUNT.format(n=len(call.args)))
        return func.value, call.args[0].value

    def _check_shape(self, loop: cst.For, ifs: list[cst.If]) -> None:
        if loop.orelse is not None:
            raise _Skip(R_FOR_ELSE)
        if any(i.orelse is not None for i in ifs):
            raise _Skip(R_IF_ELSE)
        blocks = [loop.body, *(i.body for i in ifs)]
        for block in blocks:
            statements = block.body
            if len(statements) != 1:
                raise _Skip(R_BODY)
            if isinstance(block, cst.SimpleStatementSuite):
                continue
            inner = statements[0]
            if isinstance(inner, cst.SimpleStatementLine) and len(inner.body) != 1:
                raise _Skip(R_BODY)

    def _scope_root(self, loop_ancestors: Sequence[cst.CSTNode]) -> cst.CSTNode:
        for node in reversed(loop_ancestors):
            if isinstance(node, cst.ClassDef):
                raise _Skip(R_CLASS)
            if isinstance(node, (cst.FunctionDef, cst.Module)):
                return node
        return loop_ancestors[0]

    def _scope(self, root: cst.CSTNode) -> _Scope:
        key = id(root)
        if key not in self.scopes:
            scope = _scope_of(root)
            scope.shadowed = {
                name
                for name in _LIST_FACTORIES
                if any(o.role in ("store", "binding") for o in scope.occurrences.get(name, []))
                or name in _module_bindings(self.module)
            }
            self.scopes[key] = scope
        return self.scopes[key]

    def _check_receiver(self, receiver: cst.Name, loop, loop_ancestors, scope: _Scope) -> None:
        name = receiver.value
        if name in scope.declared:
            raise _Skip(R_GLOBAL_RECEIVER.format(receiver=name, decl=scope.declared[name]))
        occurrences = scope.occurrences.get(name, [])
        if any(o.nested_decl == "nonlocal" for o in occurrences):
            raise _Skip(R_NESTED_REBIND.format(receiver=name))
        for occ in occurrences:
            if not _within(occ, loop) or occ.node is receiver:
                continue
            if _within(occ, loop.iter) and _eager_snapshot(occ):
                self.iter_reads_receiver = True  # fine for extend; a comprehension would unbind it
                continue
            raise _Skip(R_READ_IN_LOOP.format(receiver=name))

    def _check_aliases(self, receiver: cst.Name, loop, element, tests, scope: _Scope) -> None:
        """Skip a loop that reads its own list under another name (`s2 = seen` … `if v not in s2`).

        `extend` would even be right (it appends one item at a time, so `s2` sees the list
        grow), but a reader takes `seen.extend(v for v in vals if v not in s2)` for a bug.
        A one-off snapshot in the iterable (`len(s2)`) is read before the first append: fine.
        """
        aliases = _aliases(scope, receiver.value)
        for alias in sorted(aliases):
            for occ in scope.occurrences.get(alias, []):
                if occ.role != "load":
                    continue
                if any(_within(occ, part) for part in [element, *tests]) or (
                    _within(occ, loop.iter) and not _eager_snapshot(occ)
                ):
                    raise _Skip(R_READS_ALIAS.format(alias=alias))

    def _check_list(self, name: str, loop, loop_ancestors, scope: _Scope, root) -> None:
        """`extend` needs a real list: every binding that can reach the loop makes one."""
        below_root = loop_ancestors[next(i for i, a in enumerate(loop_ancestors) if a is root) + 1 :]
        repeats = any(isinstance(a, (cst.For, cst.While)) for a in below_root)
        later = [] if repeats else [
            stmt for _c, _o, statements, position in _ascend(loop_ancestors, loop, root)
            for stmt in statements[position + 1 :]
        ]
        for occ in scope.occurrences.get(name, []):
            if occ.role not in ("store", "binding") or _nested_scope_between(occ):
                continue
            if any(_within(occ, stmt) for stmt in later):
                continue  # rebinding after the loop (not in a repeating loop) cannot reach it
            parent = occ.path[-1] if occ.path else None
            if isinstance(parent, cst.AugAssign) or (isinstance(parent, cst.AnnAssign) and parent.value is None):
                continue
            cause = self._binding_cause(occ, scope)
            if cause is not None:
                raise _Skip(R_NOT_LIST.format(receiver=name, cause=cause))
        if not self._dominated_by_list(name, loop, loop_ancestors, scope):
            raise _Skip(R_NOT_LIST.format(receiver=name, cause=C_NO_INIT))

    def _binding_cause(self, occ: _Occurrence, scope: _Scope) -> str | None:
        """None when this binding gives the name a list, else what it binds it to (for the reason)."""
        path = occ.path
        parent = path[-1] if path else None
        if isinstance(parent, cst.Param):
            return C_PARAM
        value = None
        if isinstance(parent, cst.AssignTarget):
            value = path[-2].value
        elif isinstance(parent, (cst.AnnAssign, cst.NamedExpr)):
            value = parent.value
        elif isinstance(parent, cst.Element) and len(path) >= 4 and isinstance(path[-3], cst.AssignTarget):
            assign = path[-4]
            value = _unpacked_item(path[-2], assign.value, occ.node.value)
            if value is None:
                return C_UNPACKED.format(value=_code_excerpt(self.module, assign.value))
        else:
            return C_BOUND_BY.format(what=_binder(path))
        if _is_list_factory(value, scope):
            return None
        return C_BOUND_TO.format(value=_code_excerpt(self.module, value))

    def _dominated_by_list(self, name, loop, loop_ancestors, scope) -> bool:
        """Some earlier statement on every path to the loop binds ``name`` to a list."""
        for _compound, _owner, statements, position in _ascend(loop_ancestors, loop, scope.root):
            for stmt in reversed(statements[:position]):
                if _binds_list(stmt, name, scope):
                    return True
        return False

    def _check_target(self, loop, loop_ancestors, scope, root, element, tests) -> set[str]:
        names: set[str] = set()
        for node in _flatten_target(loop.target):
            if not isinstance(node, cst.Name):
                raise _Skip(R_TARGET_KIND.format(target=self.module.code_for_node(loop.target).strip()))
            names.add(node.value)
        if isinstance(root, cst.Module):
            raise _Skip(R_MODULE.format(name=sorted(names)[0]))
        for call in ("locals", "vars", "eval", "exec"):
            if any(o.role == "load" for o in scope.occurrences.get(call, [])):
                raise _Skip(R_SCOPE_WIDE.format(call=call))
        for name in sorted(names):
            if name in scope.declared:
                raise _Skip(R_TARGET_DECL.format(name=name, decl=scope.declared[name]))
        outside = {
            name: [o for o in scope.occurrences.get(name, []) if not _within(o, loop)] for name in names
        }
        for name in sorted(names):
            if any(o.capturing for o in outside[name]):
                raise _Skip(R_TARGET_CAPTURED.format(name=name))
        live = _live_after(loop, loop_ancestors, root, names)
        if live is not None:
            raise _Skip(R_TARGET_AFTER.format(name=live))
        below_root = loop_ancestors[next(i for i, a in enumerate(loop_ancestors) if a is root) + 1 :]
        in_loop_again = any(isinstance(a, (cst.For, cst.While)) for a in below_root)
        for expr in [element, *tests]:
            for n, _path, capturing in _names_in(expr):
                if capturing and n.value in names and (outside[n.value] or in_loop_again):
                    raise _Skip(R_CLOSURE.format(name=n.value))
        return names

    def _check_expressions(self, loop, element, tests, targets: set[str]) -> None:
        header_and_body = [loop.target, loop.iter, element, *tests]
        if any(_contains(part, (cst.Yield,)) for part in header_and_body):
            raise _Skip(R_YIELD)
        if _contains(loop.iter, (cst.NamedExpr,)):
            raise _Skip(R_WALRUS_ITER)
        for part in [element, *tests]:
            for walrus in _walrus_binding_here(part):  # one inside a lambda binds in the lambda
                if walrus.target.value in targets:
                    raise _Skip(R_WALRUS_TARGET.format(name=walrus.target.value))
            for call in _contains(part, (cst.Call,)):
                func = call.func
                if isinstance(func, cst.Name) and func.value in _SCOPE_SENSITIVE_CALLS:
                    max_args = _SCOPE_SENSITIVE_CALLS[func.value]
                    if max_args is None or len(call.args) <= max_args:
                        raise _Skip(R_SCOPE_CALL.format(call=func.value))

    # -- the rewrite ----------------------------------------------------------------------
    def _plan(self, receiver, element, tests, loop, loop_ancestors, scope, root) -> tuple[str, _Plan]:
        name = receiver.value
        owner, statements, position = _block_of(loop_ancestors, loop)
        # `await` only in the iterable is fine in a generator expression: the outermost iterable
        # is evaluated in the enclosing (async) function, so the generator itself stays sync.
        is_async = loop.asynchronous is not None or any(_contains(part, (cst.Await,)) for part in [element, *tests])
        init_line, init = _last_mention(statements[:position], name)
        init_value = _init_value(init, name) if init is not None else None
        if init_value is not None and not _removable(init_line, init):
            init_value = None  # its line's `# type:` comment would land on another statement
        private = (
            init_value is not None
            and not self.iter_reads_receiver
            and self._partial_list_unobservable(name, init, loop, loop_ancestors, scope, root)
        )
        width = self.columns.get(id(loop), 0)
        indent = len(self.module.default_indent)
        room = self.line_length - width - indent
        place = _ElementPlace.of(self.module, self.call)
        element, tests = self._tidy(element, room), [self._tidy(t, room) for t in tests]
        header = loop.with_changes(target=self._tidy(loop.target, room), iter=self._tidy(loop.iter, room))
        in_place = {id(c) for part in [element, *tests, header.target, header.iter] for c in _comments(part)}
        loop_comments = [
            (c, own) for c, own in _comment_places(loop.with_changes(leading_lines=())) if id(c) not in in_place
        ]
        path = frozenset(map(id, loop_ancestors))

        def shaped(prefix: str, multiline: str | None) -> cst.BaseExpression:
            if multiline is None:
                return _place_element(self.module, element, place, len(prefix), False)
            return _place_element(self.module, element, place, indent, True)

        if private and _is_empty_list(init_value, scope):
            whole_line = len(init_line.body) == 1
            init_comments = _comment_places(init_line.with_changes(leading_lines=())) if whole_line else []
            moved, pragma = _sort_comments(init_comments, loop_comments, from_init=len(init_comments))
            small = init.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            prefix = self.module.code_for_node(small.with_changes(value=cst.Name("X"))).rstrip("X") + "["

            def build(multiline):
                value = shaped(prefix, multiline)
                comp = _build_comprehension(value, header, tests, kind=cst.ListComp, multiline=multiline)
                return small.with_changes(value=comp)

            new_small = _render(self.module, build, width, self.line_length, pragma)
            replacement = self._statement(new_small, loop, moved, pragma)
            small_index = None if whole_line else next(i for i, s in enumerate(init_line.body) if s is init)
            plan = _Plan(owner, loop, replacement, init_line, small_index, path)
            return "comprehension", plan
        self._check_list(name, loop, loop_ancestors, scope, root)
        if is_async and not private:
            if loop.asynchronous is not None:
                raise _Skip(R_ASYNC_PARTIAL.format(receiver=name))
            where = "appended value" if _contains(element, (cst.Await,)) else "filter"
            raise _Skip(R_AWAIT_PARTIAL.format(where=where, receiver=name))
        raises_stop = any(_direct_next_call(part) for part in [element, *tests])
        if raises_stop and not private:
            raise _Skip(R_STOP_ITERATION)
        moved, pragma = _sort_comments([], loop_comments, from_init=0)
        # `extend([...])` builds the whole list first: needed for async/next(), fine when private.
        build_first = is_async or raises_stop
        kind = cst.ListComp if build_first else cst.GeneratorExp
        prefix = f"{name}.extend(" + ("[" if build_first else "")

        def build_extend(multiline):
            if build_first:  # `extend([...])` stays on one line: rare, and wrapping it twice is noise
                multiline = None
            value = _build_comprehension(shaped(prefix, multiline), header, tests, kind=kind, multiline=multiline)
            return _extend_statement(receiver, value, multiline)

        new_small = _render(self.module, build_extend, width, self.line_length, pragma)
        replacement = self._statement(new_small, loop, moved, pragma)
        return "extend", _Plan(owner, loop, replacement, path=path)

    def _tidy(self, part: cst.BaseExpression, room: int) -> cst.BaseExpression:
        """``part`` without its comments (they move above the statement), on one line if it fits.

        A comment inside the loop header or the appended value forced a line break there; once
        the comment is above the statement the break only makes the comprehension ragged. A part
        that does not fit on one line, has a magic trailing comma or a multi-line string keeps
        its shape and its comments, which then still sit on the lines they describe.
        """
        if not _contains(part, (cst.Comment,)) or _has_magic_comma(part):
            return part
        flat = part.visit(_StripComments()).visit(_Collapse())
        code = self.module.code_for_node(flat)
        if "\n" in code or len(code) > room:
            return part  # keeps its lines, so each comment stays next to what it describes
        return flat

    def _partial_list_unobservable(self, name, init, loop, loop_ancestors, scope, root) -> bool:
        """True when nobody can see `name` while the loop runs or after it fails part-way.

        Then dropping ``name = []`` and binding the comprehension (or an async-built list) in one
        step is invisible. Observers: closures/generators and globals (any time), and — when an
        enclosing try/with can stop an exception — any code outside the loop's normal
        continuation. Code between the init and the loop must not mention ``name`` either.
        """
        occurrences = scope.occurrences.get(name, [])
        if any(o.capturing for o in occurrences):
            return False
        continuation, catcher = _continuation(loop, loop_ancestors, root)
        if catcher is None:
            return True
        allowed = [init, loop, *continuation]
        return all(any(_within(o, node) for node in allowed) for o in occurrences)

    def _statement(self, small, loop: cst.For, comments: list[cst.Comment], pragma: str | None) -> cst.SimpleStatementLine:
        """The new line: moved comments above it (each once), pragma comments at its end."""
        kept = {id(c) for c in _comments(small)}
        moved = [cst.EmptyLine(comment=c) for c in comments if id(c) not in kept]
        trailing = cst.TrailingWhitespace()
        if pragma is not None:
            trailing = cst.TrailingWhitespace(whitespace=cst.SimpleWhitespace("  "), comment=cst.Comment(pragma))
        return cst.SimpleStatementLine(
            body=[small], leading_lines=[*loop.leading_lines, *moved], trailing_whitespace=trailing
        )


_SNAPSHOT_CALLS = {"len", "list", "tuple", "sorted", "set", "frozenset"}


def _eager_snapshot(occ: _Occurrence) -> bool:
    """`len(out)`, `list(out)`… in the iterable: read once, before the first append."""
    if occ.capturing or len(occ.path) < 2:
        return False
    arg, call = occ.path[-1], occ.path[-2]
    return (
        isinstance(arg, cst.Arg)
        and arg.value is occ.node
        and arg.star == ""
        and isinstance(call, cst.Call)
        and isinstance(call.func, cst.Name)
        and call.func.value in _SNAPSHOT_CALLS
    )


def _module_bindings(module: cst.Module) -> set[str]:
    """Names bound by top-level statements (enough to notice a module that redefines `list`)."""
    names: set[str] = set()
    for stmt in module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            names.add(stmt.name.value)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                    for alias in small.names:
                        bound = alias.asname.name if alias.asname else alias.name
                        if isinstance(bound, cst.Name):
                            names.add(bound.value)
                elif isinstance(small, cst.ImportFrom):
                    names.add("*")
                else:
                    names |= _simple_kills(small)
    if "*" in names:
        names |= set(_LIST_FACTORIES)
    return names


def _aliases(scope: _Scope, name: str) -> set[str]:
    """Local names that may hold the same object as ``name``: `s2 = seen`, `seen = s2 = []`, and so on.

    Only plain name-to-name copies in this scope are seen; an alias kept in a container or an
    attribute is not (the same residual as a human reviewer reading the loop).
    """
    found: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        for occ in scope.occurrences.get(current, []):
            if _nested_scope_between(occ) or not occ.path:
                continue
            parent = occ.path[-1]
            targets: list[cst.BaseExpression] = []
            if occ.role == "load" and isinstance(parent, (cst.Assign, cst.AnnAssign, cst.NamedExpr)):
                if parent.value is occ.node:  # `alias = current`
                    targets = [t.target for t in parent.targets] if isinstance(parent, cst.Assign) else [parent.target]
            elif occ.role == "store" and isinstance(parent, cst.AssignTarget) and len(occ.path) >= 2:
                targets = [t.target for t in occ.path[-2].targets]  # `current = alias = …`
            for target in targets:
                if isinstance(target, cst.Name) and target.value != name and target.value not in found:
                    found.add(target.value)
                    todo.append(target.value)
    return found


def _binder(path: Sequence[cst.CSTNode]) -> str:
    """How a name that is not simply assigned gets bound, in words for a skip reason."""
    for node in reversed(path):
        if isinstance(node, (cst.For, cst.CompFor)):
            return "a `for` target"
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            return "an import"
        if isinstance(node, (cst.With, cst.WithItem)):
            return "`with … as`"
        if isinstance(node, cst.ExceptHandler):
            return "`except … as`"
        if isinstance(node, cst.Del):
            return "`del`"
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return "a `def`/`class` statement"
        if isinstance(node, (cst.MatchAs, cst.MatchStar, cst.MatchMapping)):
            return "a `case` pattern"
        if isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
            return "an unpacking assignment"
    return "a statement other than an assignment"


def _nested_scope_between(occ: _Occurrence) -> bool:
    return any(isinstance(p, _SCOPES) for p in occ.path)


def _flatten_target(target: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    if isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _flatten_target(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _flatten_target(target.value)
    else:
        yield target


# --------------------------------------------------------------------------------------------
# Applying the plans
# --------------------------------------------------------------------------------------------


class _ApplyPlans(cst.CSTTransformer):
    """Replace loops and drop inits block by block; leading comments of a dropped line move down."""

    def __init__(self, plans: list[_Plan]) -> None:
        super().__init__()
        self.by_owner: dict[int, list[_Plan]] = {}
        self.on_path: set[int] = set()
        for plan in plans:
            self.by_owner.setdefault(id(plan.block_owner), []).append(plan)
            self.on_path.update(plan.path)

    def on_visit(self, node: cst.CSTNode) -> bool:
        return id(node) in self.on_path  # only descend towards a changed block

    def _rebuild(self, original, updated):
        plans = self.by_owner.get(id(original))
        if not plans:
            return updated
        replace = {id(p.loop): p.replacement for p in plans}
        remove: dict[int, set[int]] = {}
        for p in plans:
            if p.remove is not None:
                remove.setdefault(id(p.remove), set()).add(p.remove_small)
        body = []
        pending: list[cst.EmptyLine] = []
        for old, new in zip(original.body, updated.body, strict=True):
            if id(old) in remove:
                new = _drop_smalls(new, remove[id(old)])
                if new is None:
                    pending.extend(old.leading_lines)
                    continue
            if id(old) in replace:
                new = replace[id(old)]
            if pending:
                new = new.with_changes(leading_lines=[*pending, *new.leading_lines])
                pending = []
            body.append(new)
        if pending and body:  # nothing follows a removed init: impossible, the loop follows it
            body[-1] = body[-1].with_changes(leading_lines=[*body[-1].leading_lines, *pending])
        return updated.with_changes(body=body)

    def leave_IndentedBlock(self, original_node, updated_node):
        return self._rebuild(original_node, updated_node)

    def leave_Module(self, original_node, updated_node):
        return self._rebuild(original_node, updated_node)


def _drop_smalls(line: cst.SimpleStatementLine, drop: set[int]) -> cst.SimpleStatementLine | None:
    """``line`` without the small statements at ``drop`` (None = all of them), or None if empty.

    The line keeps its comments; the new last statement loses its `;`.
    """
    kept = [small for i, small in enumerate(line.body) if None not in drop and i not in drop]
    if not kept:
        return None
    kept[-1] = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
    return line.with_changes(body=kept)


def fix_perf401(
    module: cst.Module,
    sites: list[Site],
    *,
    line_length: int = DEFAULT_LINE_LENGTH,
    source: str | None = None,
) -> tuple[cst.Module, list[SiteOutcome]]:
    """Rewrite the PERF401 loops at ``sites``; one outcome per site, in the order given.

    ``source`` is the text ``module`` was parsed from, when the caller has it (saves one code
    generation). Sites are ruff locations: 1-based line, 1-based column of the `.append(` call.
    """
    try:
        return _fix(module, sites, line_length, source)
    finally:
        _LOCALS_CACHE.clear()  # keyed by node id: valid only while this tree is alive


def _fix(module, sites, line_length, source) -> tuple[cst.Module, list[SiteOutcome]]:
    locator = _Locator(module, source)
    scopes: dict[int, _Scope] = {}
    decided: dict[tuple[int, int], tuple[str, str]] = {}
    plans: list[_Plan] = []
    used: set = set()
    outcomes = []
    for site in sites:
        key = (site.line, site.col)
        if key not in decided:
            decided[key] = _decide(module, locator, key, scopes, line_length, used, plans)
        status, text = decided[key]
        if status == "fixed":
            outcomes.append(SiteOutcome.fixed(site, text))
        else:
            outcomes.append(SiteOutcome.skipped(site, text))
    if not plans:
        return module, outcomes
    return module.visit(_ApplyPlans(plans)), outcomes


def _decide(module, locator, key, scopes, line_length, used, plans) -> tuple[str, str]:
    found = locator.resolve(key)
    if found is None:
        return ("skipped", R_NOT_FOUND)
    call, ancestors = found
    if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "append"):
        return ("skipped", R_NOT_FOUND)
    try:
        kind, plan = _SiteAnalysis(module, call, ancestors, scopes, locator.columns, line_length).run()
    except _Skip as skip:
        return ("skipped", skip.reason)
    touched: set = {id(plan.loop)}
    if plan.remove is not None:  # two inits on one line (`a = []; b = []`) are separate statements
        touched.add((id(plan.remove), plan.remove_small))
    if touched & used:
        return ("skipped", R_OVERLAP)
    used.update(touched)
    plans.append(plan)
    return ("fixed", kind)


# --------------------------------------------------------------------------------------------
# The command and its examples
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Valid:
    """Code the codemod must leave alone, the reason it must give, and how to run it.

    ``naive`` is what a careless rewrite would produce; the tests prove it behaves differently,
    i.e. that the skip is necessary, not just cautious.
    """

    code: str
    reason: str
    calls: tuple = ()
    naive: str | None = None


@dataclass(frozen=True)
class Invalid:
    """Code the codemod must rewrite, the exact expected text, the rewrite kind, and inputs.

    ``naive`` (optional) is a plausible but wrong rewrite the tests prove to behave differently.
    """

    code: str
    expected: str
    kind: str
    calls: tuple = ((),)
    naive: str | None = None


def _dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


class RewriteAppendLoopCommand(Codemod):
    """Rewrite a `for` loop that only appends into a list comprehension or `list.extend`.

    What it does
        Replaces ``out = []`` + ``for x in it: [if c:] out.append(e)`` with
        ``out = [e for x in it if c]``; when the list is not freshly empty (or its half-built
        state could be observed), with ``out.extend(e for x in it if c)``.

    Why is this bad?
        Calling ``append`` once per item costs an attribute lookup and a method call per
        iteration; a comprehension builds the list in one specialised loop (ruff PERF401).

    Example
        ``out = []``
        ``for x in xs:``
        ``    if x % 2:``
        ``        out.append(x * x)``

    Use instead
        ``out = [x * x for x in xs if x % 2]``

    Sites it cannot prove equivalent (class bodies, for-else, loop variable used afterwards,
    closures over the loop variable, ``yield``, receivers that are not local lists, …) or cannot
    rewrite readably (a loop reading its list through an alias, a pragma comment that would lose
    its line) are skipped with a warning that names the reason.
    """

    DESCRIPTION = "Rewrite append-only for loops (ruff PERF401) into comprehensions or extend()."

    def __init__(
        self,
        context: CodemodContext,
        sites: list[Site] | None = None,
        line_length: int = DEFAULT_LINE_LENGTH,
    ) -> None:
        super().__init__(context)
        self.sites = sites
        self.line_length = line_length
        self.outcomes: list[SiteOutcome] = []

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        path = self.context.filename or "<module>"
        sites = self.sites if self.sites is not None else find_candidate_sites(tree, path)
        new_tree, self.outcomes = fix_perf401(tree, sites, line_length=self.line_length)
        for outcome in self.outcomes:
            if outcome.status == "skipped":
                self.warn(f"{path}:{outcome.site.line}:{outcome.site.col}: {outcome.reason}")
        return new_tree

    # Each example defines `f`; `calls` are the argument tuples the tests run both versions on
    # (list arguments are also replaced by iterables that raise at every position).
    INVALID: list[Invalid] = [
        Invalid(  # case 1: map with filter
            code=_dedent(
                """
                def f(xs):
                    out = []
                    for x in xs:
                        if x % 2:
                            out.append(x * x)
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(xs):
                    out = [x * x for x in xs if x % 2]
                    return out
                """
            ),
            kind="comprehension",
            calls=(([1, 2, 3, 5],), ([],)),
        ),
        Invalid(  # case 2: the list does not start empty
            code=_dedent(
                """
                def f(xs):
                    out = [0]
                    for x in xs:
                        out.append(x + 1)
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(xs):
                    out = [0]
                    out.extend(x + 1 for x in xs)
                    return out
                """
            ),
            kind="extend",
            calls=(([1, 2],), ([],)),
        ),
        Invalid(  # case 3: annotation kept; case 4: code between the empty list and the loop
            code=_dedent(
                """
                def f(ns):
                    acc: list[int] = []  # doubled values
                    k = len(ns)
                    for n in ns:
                        acc.append(n * k)
                    return acc
                """
            ),
            expected=_dedent(
                """
                def f(ns):
                    k = len(ns)
                    # doubled values
                    acc: list[int] = [n * k for n in ns]
                    return acc
                """
            ),
            kind="comprehension",
            calls=(([1, 2, 3],), ([],)),
        ),
        Invalid(  # case 5: async for in an async function
            code=_dedent(
                """
                async def src(xs):
                    for x in xs:
                        yield x

                async def f(xs):
                    out = []
                    async for v in src(xs):
                        out.append(v + 1)
                    return out
                """
            ),
            expected=_dedent(
                """
                async def src(xs):
                    for x in xs:
                        yield x

                async def f(xs):
                    out = [v + 1 async for v in src(xs)]
                    return out
                """
            ),
            kind="comprehension",
            calls=(([1, 2, 3],), ([],)),
        ),
        Invalid(  # await in the value of a plain `for`: only a list comprehension keeps it valid
            code=_dedent(
                """
                async def double(x):
                    return 2 * x

                async def f(xs):
                    out = []
                    for x in xs:
                        out.append(await double(x))
                    return out
                """
            ),
            expected=_dedent(
                """
                async def double(x):
                    return 2 * x

                async def f(xs):
                    out = [await double(x) for x in xs]
                    return out
                """
            ),
            kind="comprehension",
            calls=(([1, 2],), ([],)),
        ),
        Invalid(  # case 8: walrus in the test needs parentheses
            code=_dedent(
                """
                import re

                PAT = re.compile(r"a+")

                def f(items):
                    keep = []
                    for s in items:
                        if m := PAT.match(s):
                            keep.append(m[0])
                    return keep
                """
            ),
            expected=_dedent(
                """
                import re

                PAT = re.compile(r"a+")

                def f(items):
                    keep = [m[0] for s in items if (m := PAT.match(s))]
                    return keep
                """
            ),
            kind="comprehension",
            calls=((["aab", "b", "a"],), ([],)),
        ),
        Invalid(  # case 12: loop in a try whose handler reads the list -> extend keeps partial items
            code=_dedent(
                """
                def f(xs):
                    try:
                        out = []
                        for x in xs:
                            out.append(x * 2)
                    except ValueError:
                        return ("partial", out)
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(xs):
                    try:
                        out = []
                        out.extend(x * 2 for x in xs)
                    except ValueError:
                        return ("partial", out)
                    return out
                """
            ),
            kind="extend",
            calls=(([1, 2, 3],),),
            naive=_dedent(
                """
                def f(xs):
                    try:
                        out = [x * 2 for x in xs]
                    except ValueError:
                        return ("partial", out)
                    return out
                """
            ),
        ),
        Invalid(  # a closure reads the list while it grows -> extend (grows item by item too)
            code=_dedent(
                """
                def f(xs):
                    out = []

                    def seen():
                        return len(out)

                    for x in xs:
                        out.append((x, seen()))
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(xs):
                    out = []

                    def seen():
                        return len(out)

                    out.extend((x, seen()) for x in xs)
                    return out
                """
            ),
            kind="extend",
            calls=(([5, 6, 7],), ([],)),
            naive=_dedent(
                """
                def f(xs):

                    def seen():
                        return len(out)

                    out = [(x, seen()) for x in xs]
                    return out
                """
            ),
        ),
        Invalid(  # a `with` may swallow the exception and the list is read after it -> extend
            code=_dedent(
                """
                import contextlib

                def f(xs):
                    with contextlib.suppress(ValueError):
                        out = []
                        for x in xs:
                            out.append(x + 1)
                    return out
                """
            ),
            expected=_dedent(
                """
                import contextlib

                def f(xs):
                    with contextlib.suppress(ValueError):
                        out = []
                        out.extend(x + 1 for x in xs)
                    return out
                """
            ),
            kind="extend",
            calls=(([1, 2],),),
            naive=_dedent(
                """
                import contextlib

                def f(xs):
                    with contextlib.suppress(ValueError):
                        out = [x + 1 for x in xs]
                    return out
                """
            ),
        ),
        Invalid(  # `next()` in the value: StopIteration must not become RuntimeError -> extend([...])
            code=_dedent(
                """
                def f(xs):
                    it = iter(xs)
                    out = [0]
                    for _ in range(2):
                        out.append(next(it))
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(xs):
                    it = iter(xs)
                    out = [0]
                    out.extend([next(it) for _ in range(2)])
                    return out
                """
            ),
            kind="extend",
            calls=(([1, 2, 3],), ([1],)),
            naive=_dedent(
                """
                def f(xs):
                    it = iter(xs)
                    out = [0]
                    out.extend(next(it) for _ in range(2))
                    return out
                """
            ),
        ),
        Invalid(  # a rebinding after the loop cannot reach it: still provably a list at the loop
            code=_dedent(
                """
                def f(xs):
                    out = [1]
                    for x in xs:
                        out.append(x)
                    out = tuple(out)
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(xs):
                    out = [1]
                    out.extend(x for x in xs)
                    out = tuple(out)
                    return out
                """
            ),
            kind="extend",
            calls=(([2, 3],), ([],)),
        ),
        Invalid(  # case 13: a bare generator as the value gets parentheses
            code=_dedent(
                """
                def f(n):
                    res = []
                    for i in range(n):
                        res.append(c for c in [i])
                    return res
                """
            ),
            expected=_dedent(
                """
                def f(n):
                    res = [(c for c in [i]) for i in range(n)]
                    return res
                """
            ),
            kind="comprehension",
            calls=((2,), (0,)),
        ),
        Invalid(  # case 14: a ternary test keeps (gets) its parentheses; a lambda too
            code=_dedent(
                """
                def f(src, flag):
                    dst = []
                    for v in src:
                        if v > 0 if flag else v < 0:
                            dst.append(lambda: v)
                    return [g() for g in dst]
                """
            ),
            expected=_dedent(
                """
                def f(src, flag):
                    dst = [(lambda: v) for v in src if (v > 0 if flag else v < 0)]
                    return [g() for g in dst]
                """
            ),
            kind="comprehension",
            calls=(([1, -2, 3], True), ([1, -2, 3], False)),
        ),
        Invalid(  # case 15: comments in the header, the test and the body each survive once, above
            code=_dedent(
                """
                def f(pairs):
                    out = []
                    # pairs are (big, small)
                    for (a,  # first
                         b) in pairs:  # header
                        if (a >  # compare
                                b):
                            out.append(a - b)  # difference
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(pairs):
                    # pairs are (big, small)
                    # first
                    # header
                    # compare
                    # difference
                    out = [a - b for (a, b) in pairs if (a > b)]
                    return out
                """
            ),
            kind="comprehension",
            calls=(([(3, 1), (1, 3)],), ([],)),
        ),
        Invalid(  # case 16: tuples stay tuples
            code=_dedent(
                """
                def f(us):
                    opts = [("", "-")]
                    for u in us:
                        opts.append((u[0], u[1]))
                    return opts
                """
            ),
            expected=_dedent(
                """
                def f(us):
                    opts = [("", "-")]
                    opts.extend((u[0], u[1]) for u in us)
                    return opts
                """
            ),
            kind="extend",
            calls=(([("a", "b"), ("c", "d")],), ([],)),
        ),
        Invalid(  # tuple target over enumerate, nested ifs without else combined
            code=_dedent(
                """
                def f(xs):
                    out = []
                    for i, x in enumerate(xs):
                        if i % 2:
                            if x:
                                out.append((i, x))
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(xs):
                    out = [(i, x) for i, x in enumerate(xs) if i % 2 if x]
                    return out
                """
            ),
            kind="comprehension",
            calls=(([0, 1, 2, 0, 5],), ([],)),
        ),
        Invalid(  # the loop variable is rebound by a later loop before any read: no leak to keep
            code=_dedent(
                """
                def f(xs):
                    pos = []
                    for o in xs:
                        if o > 0:
                            pos.append(o)
                    for o in xs:
                        print(o)
                    return pos
                """
            ),
            expected=_dedent(
                """
                def f(xs):
                    pos = [o for o in xs if o > 0]
                    for o in xs:
                        print(o)
                    return pos
                """
            ),
            kind="comprehension",
            calls=(([1, -1, 2],), ([],)),
        ),
        Invalid(  # the iterable reads the list once (`len`) before the first append -> extend
            code=_dedent(
                """
                def f(n):
                    chars = ["a"]
                    for i in range(n - len(chars)):
                        chars.append(str(i))
                    return chars
                """
            ),
            expected=_dedent(
                """
                def f(n):
                    chars = ["a"]
                    chars.extend(str(i) for i in range(n - len(chars)))
                    return chars
                """
            ),
            kind="extend",
            calls=((4,), (0,)),
        ),
        Invalid(  # a fresh list per outer iteration, logging in the value: order of records kept
            code=_dedent(
                """
                import logging

                log = logging.getLogger("ex")

                def seen(x):
                    log.info("saw %s", x)
                    return x

                def f(rows):
                    total = []
                    for row in rows:
                        cells = []
                        for c in row:
                            cells.append(seen(c))
                        total.append(cells)
                    return total
                """
            ),
            expected=_dedent(
                """
                import logging

                log = logging.getLogger("ex")

                def seen(x):
                    log.info("saw %s", x)
                    return x

                def f(rows):
                    total = []
                    for row in rows:
                        cells = [seen(c) for c in row]
                        total.append(cells)
                    return total
                """
            ),
            kind="comprehension",
            calls=(([[1, 2], [3]],), ([],)),
        ),
        Invalid(  # one-line loop; a long result is wrapped one clause per line
            code=_dedent(
                """
                def f(measurements_by_sensor):
                    normalised_measurements = []
                    for sensor_name, raw_value in measurements_by_sensor: normalised_measurements.append(f"{sensor_name}={raw_value:.2f}")
                    return normalised_measurements
                """
            ),
            expected=_dedent(
                """
                def f(measurements_by_sensor):
                    normalised_measurements = [
                        f"{sensor_name}={raw_value:.2f}"
                        for sensor_name, raw_value in measurements_by_sensor
                    ]
                    return normalised_measurements
                """
            ),
            kind="comprehension",
            calls=(([("t", 1.234), ("h", 2)],), ([],)),
        ),
        Invalid(  # a value that spans lines keeps its shape, re-indented to its new place
            code=_dedent(
                """
                def f(items):
                    rows = []
                    for item in items:
                        rows.append(
                            {
                                "name": item[0],
                                "size": item[1],
                            }
                        )
                    return rows
                """
            ),
            expected=_dedent(
                """
                def f(items):
                    rows = [{
                        "name": item[0],
                        "size": item[1],
                    } for item in items]
                    return rows
                """
            ),
            kind="comprehension",
            calls=(([("a", 1), ("b", 2)],), ([],)),
        ),
        Invalid(  # a line-scoped pragma stays at the end of the (one-line) new statement
            code=_dedent(
                """
                def f(src):
                    dst = []
                    for v in src:
                        dst.append(str(v) + "-a-suffix-long-enough-that-even-a-wrapped-element-line-is-longer-than-the-limit")  # noqa: E501
                    return dst
                """
            ),
            expected=_dedent(
                """
                def f(src):
                    dst = [str(v) + "-a-suffix-long-enough-that-even-a-wrapped-element-line-is-longer-than-the-limit" for v in src]  # noqa: E501
                    return dst
                """
            ),
            kind="comprehension",
            calls=(([1, 2],), ([],)),
        ),
        Invalid(  # a type comment on the dropped `dst = []` stays a type comment of the new assignment
            code=_dedent(
                """
                def f(src):
                    dst = []  # type: list[int]
                    for v in src:
                        dst.append(v * 2)
                    return dst
                """
            ),
            expected=_dedent(
                """
                def f(src):
                    dst = [v * 2 for v in src]  # type: list[int]
                    return dst
                """
            ),
            kind="comprehension",
            calls=(([1, 2],), ([],)),
        ),
        Invalid(  # `# type: ignore[...]` on the append line ends the extend line
            code=_dedent(
                """
                def f(src):
                    out = [0]
                    for x in src:
                        out.append(x.real)  # type: ignore[attr-defined]
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(src):
                    out = [0]
                    out.extend(x.real for x in src)  # type: ignore[attr-defined]
                    return out
                """
            ),
            kind="extend",
            calls=(([1, 2.5],), ([],)),
        ),
        Invalid(  # `dst = []; n = …` on one line: only `dst = []` leaves the line
            code=_dedent(
                """
                def f(src):
                    dst = []; n = len(src)
                    for v in src:
                        dst.append(v * n)
                    return dst
                """
            ),
            expected=_dedent(
                """
                def f(src):
                    n = len(src)
                    dst = [v * n for v in src]
                    return dst
                """
            ),
            kind="comprehension",
            calls=(([1, 2],), ([],)),
        ),
        Invalid(  # `total = 0; dst = []`: the remaining statement loses its `;`
            code=_dedent(
                """
                def f(src):
                    total = 0; dst = []
                    for v in src:
                        dst.append(v + 1)
                    return dst, total
                """
            ),
            expected=_dedent(
                """
                def f(src):
                    total = 0
                    dst = [v + 1 for v in src]
                    return dst, total
                """
            ),
            kind="comprehension",
            calls=(([1, 2],), ([],)),
        ),
        Invalid(  # `dst = other = []`: one list, two names -> extend keeps `other` the same list
            code=_dedent(
                """
                def f(src):
                    dst = other = []
                    for v in src:
                        dst.append(v)
                    return dst, other
                """
            ),
            expected=_dedent(
                """
                def f(src):
                    dst = other = []
                    dst.extend(v for v in src)
                    return dst, other
                """
            ),
            kind="extend",
            calls=(([1, 2],), ([],)),
            naive=_dedent(
                """
                def f(src):
                    other = []
                    dst = [v for v in src]
                    return dst, other
                """
            ),
        ),
        Invalid(  # `dst, other = [], []`: `dst` gets a list display by position -> extend
            code=_dedent(
                """
                def f(src):
                    dst, other = [], []
                    for v in src:
                        dst.append(-v)
                    return dst, other
                """
            ),
            expected=_dedent(
                """
                def f(src):
                    dst, other = [], []
                    dst.extend(-v for v in src)
                    return dst, other
                """
            ),
            kind="extend",
            calls=(([1, 2],), ([],)),
        ),
        Invalid(  # loop in a try in an outer loop: the next round rebinds `x` before any read
            code=_dedent(
                """
                def f(rows):
                    out = []
                    for row in rows:
                        try:
                            for x in row:
                                out.append(x * 2)
                        except TypeError:
                            out.append(None)
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(rows):
                    out = []
                    for row in rows:
                        try:
                            out.extend(x * 2 for x in row)
                        except TypeError:
                            out.append(None)
                    return out
                """
            ),
            kind="extend",
            calls=(([[1, 2], [3]],), ([[1, "a"], [2]],), ([],)),
        ),
        Invalid(  # a walrus inside a lambda binds in the lambda, not in the comprehension
            code=_dedent(
                """
                def f(src):
                    dst = []
                    for x in src:
                        dst.append((lambda y: (x := y + 1) * x)(x))
                    return dst
                """
            ),
            expected=_dedent(
                """
                def f(src):
                    dst = [(lambda y: (x := y + 1) * x)(x) for x in src]
                    return dst
                """
            ),
            kind="comprehension",
            calls=(([1, 2],), ([],)),
        ),
        Invalid(  # comments inside `append(...)` move above; the value is joined onto one line
            code=_dedent(
                """
                def f(src):
                    dst = []
                    for v in src:
                        dst.append(v  # the value
                                   + 1)  # plus one
                    return dst
                """
            ),
            expected=_dedent(
                """
                def f(src):
                    # the value
                    # plus one
                    dst = [v + 1 for v in src]
                    return dst
                """
            ),
            kind="comprehension",
            calls=(([1, 2],), ([],)),
        ),
        Invalid(  # a magic trailing comma keeps one item per line, and each comment on its line
            code=_dedent(
                """
                def f(items):
                    rows = []
                    for item in items:
                        rows.append({
                            "name": item[0],  # the name
                            "size": item[1],
                        })
                    return rows
                """
            ),
            expected=_dedent(
                """
                def f(items):
                    rows = [{
                        "name": item[0],  # the name
                        "size": item[1],
                    } for item in items]
                    return rows
                """
            ),
            kind="comprehension",
            calls=(([("a", 1)],), ([],)),
        ),
        Invalid(  # too long to join: the value keeps its lines, and its comment stays on its line
            code=_dedent(
                """
                def f(errors):
                    out = []
                    for err in errors:
                        out.append({
                            "field": ".".join(str(x) for x in err["loc"]),
                            "message": err["msg"],
                            "input": str(err["input"])[:10]  # keep it short
                        })
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(errors):
                    out = [{
                        "field": ".".join(str(x) for x in err["loc"]),
                        "message": err["msg"],
                        "input": str(err["input"])[:10]  # keep it short
                    } for err in errors]
                    return out
                """
            ),
            kind="comprehension",
            calls=(([{"loc": ["a", 1], "msg": "m", "input": "x" * 20}],), ([],)),
        ),
        Invalid(  # both branches of an `if`/`else` bind a list: it is a list at the loop -> extend
            code=_dedent(
                """
                def f(src, fresh):
                    if fresh:
                        out = []
                    else:
                        out = [0]
                    try:
                        for v in src:
                            out.append(v)
                    except ValueError:
                        return ("partial", out)
                    return out
                """
            ),
            expected=_dedent(
                """
                def f(src, fresh):
                    if fresh:
                        out = []
                    else:
                        out = [0]
                    try:
                        out.extend(v for v in src)
                    except ValueError:
                        return ("partial", out)
                    return out
                """
            ),
            kind="extend",
            calls=(([1, 2], True), ([1, 2], False)),
        ),
        Invalid(  # `await` only in the iterable runs in the enclosing function: a plain generator holds it
            code=_dedent(
                """
                async def fetch(xs):
                    return list(xs)

                async def f(xs):
                    out = [0]
                    try:
                        for x in await fetch(xs):
                            out.append(10 // x)
                    except ZeroDivisionError:
                        return ("partial", out)
                    return out
                """
            ),
            expected=_dedent(
                """
                async def fetch(xs):
                    return list(xs)

                async def f(xs):
                    out = [0]
                    try:
                        out.extend(10 // x for x in await fetch(xs))
                    except ZeroDivisionError:
                        return ("partial", out)
                    return out
                """
            ),
            kind="extend",
            calls=(([1, 2],), ([5, 0, 2],)),
            naive=_dedent(
                """
                async def fetch(xs):
                    return list(xs)

                async def f(xs):
                    out = [0]
                    try:
                        out.extend([10 // x for x in await fetch(xs)])
                    except ZeroDivisionError:
                        return ("partial", out)
                    return out
                """
            ),
        ),
    ]

    VALID: list[Valid] = [
        Valid(  # case 6
            code=_dedent(
                """
                def f(xs):
                    out = []
                    for x in xs:
                        out.append(x)
                    else:
                        out.append(-1)
                    return out
                """
            ),
            reason=R_FOR_ELSE,
            calls=(([1, 2],),),
            naive=_dedent(
                """
                def f(xs):
                    out = [x for x in xs]
                    return out
                """
            ),
        ),
        Valid(  # case 7
            code=_dedent(
                """
                class C:
                    k = 3
                    out = []
                    for x in range(3):
                        out.append(x * k)

                def f():
                    return C.out
                """
            ),
            reason=R_CLASS,
            calls=((),),
            naive=_dedent(
                """
                class C:
                    k = 3
                    out = [x * k for x in range(3)]

                def f():
                    return C.out
                """
            ),
        ),
        Valid(  # case 9
            code=_dedent(
                """
                def f(xs):
                    out = []
                    for x in xs:
                        out.append(x := x + 1)
                    return out
                """
            ),
            reason=R_WALRUS_TARGET.format(name="x"),
        ),
        Valid(  # case 10
            code=_dedent(
                """
                def f(xs):
                    out = []
                    for x in xs:
                        out.append(*x)
                    return out
                """
            ),
            reason=R_STARRED,
            calls=(([[1], [2]],),),
        ),
        Valid(  # case 11
            code=_dedent(
                """
                def f():
                    fs = []
                    for i in range(3):
                        fs.append(lambda: i)
                    i = 100
                    return [g() for g in fs]
                """
            ),
            reason=R_CLOSURE.format(name="i"),
            calls=((),),
            naive=_dedent(
                """
                def f():
                    fs = [(lambda: i) for i in range(3)]
                    i = 100
                    return [g() for g in fs]
                """
            ),
        ),
        Valid(  # case 17: attribute receiver
            code=_dedent(
                """
                def f(self, xs):
                    for x in xs:
                        self.out.append(x)
                """
            ),
            reason=R_RECEIVER_NOT_NAME.format(receiver="self.out"),
        ),
        Valid(  # case 17: subscript receiver
            code=_dedent(
                """
                def f(d, k, xs):
                    for x in xs:
                        d[k].append(x)
                """
            ),
            reason=R_RECEIVER_NOT_NAME.format(receiver="d[k]"),
        ),
        Valid(  # case 17: not a list (a class with its own append)
            code=_dedent(
                """
                class Collector:
                    def __init__(self):
                        self.items = []

                    def append(self, x):
                        self.items.append(x * 10)

                def f(xs):
                    acc = Collector()
                    for x in xs:
                        acc.append(x)
                    return acc.items
                """
            ),
            reason=R_NOT_LIST.format(receiver="acc", cause=C_BOUND_TO.format(value="Collector()")),
            calls=(([1, 2],),),
            naive=_dedent(
                """
                class Collector:
                    def __init__(self):
                        self.items = []

                    def append(self, x):
                        self.items.append(x * 10)

                def f(xs):
                    acc = Collector()
                    acc.extend(x for x in xs)
                    return acc.items
                """
            ),
        ),
        Valid(  # the receiver is a parameter: its type is the caller's business
            code=_dedent(
                """
                def f(out, xs):
                    for x in xs:
                        out.append(x)
                """
            ),
            reason=R_NOT_LIST.format(receiver="out", cause=C_PARAM),
        ),
        Valid(  # case 18
            code=_dedent(
                """
                def f(vals):
                    seen = []
                    for v in vals:
                        if v not in seen:
                            seen.append(v)
                    return seen
                """
            ),
            reason=R_READ_IN_LOOP.format(receiver="seen"),
            calls=(([1, 1, 2],),),
            naive=_dedent(
                """
                def f(vals):
                    seen = [v for v in vals if v not in seen]
                    return seen
                """
            ),
        ),
        Valid(  # case 19
            code=_dedent(
                """
                def f(ts):
                    acc = []
                    for t in ts:
                        acc.append(t + 1)
                    print(t)
                    return acc
                """
            ),
            reason=R_TARGET_AFTER.format(name="t"),
            calls=(([1, 2],),),
            naive=_dedent(
                """
                def f(ts):
                    acc = [t + 1 for t in ts]
                    print(t)
                    return acc
                """
            ),
        ),
        Valid(  # the loop variable escapes through `del` in an enclosing loop's next round
            code=_dedent(
                """
                def f(rows):
                    out = []
                    for row in rows:
                        for t in row:
                            out.append(t)
                        del t
                    return out
                """
            ),
            reason=R_TARGET_AFTER.format(name="t"),
        ),
        Valid(  # global receiver
            code=_dedent(
                """
                RESULTS = []

                def f(xs):
                    global RESULTS
                    RESULTS = []
                    for x in xs:
                        RESULTS.append(x)
                    return RESULTS
                """
            ),
            reason=R_GLOBAL_RECEIVER.format(receiver="RESULTS", decl="global"),
        ),
        Valid(  # nonlocal receiver
            code=_dedent(
                """
                def f(xs):
                    out = []

                    def fill():
                        nonlocal out
                        out = []
                        for x in xs:
                            out.append(x)

                    fill()
                    return out
                """
            ),
            reason=R_GLOBAL_RECEIVER.format(receiver="out", decl="nonlocal"),
        ),
        Valid(  # yield in the value
            code=_dedent(
                """
                def f(xs):
                    out = []
                    for x in xs:
                        out.append((yield x))
                    return out
                """
            ),
            reason=R_YIELD,
        ),
        Valid(  # if/else in the body
            code=_dedent(
                """
                def f(xs):
                    out = []
                    for x in xs:
                        if x:
                            out.append(x)
                        else:
                            pass
                    return out
                """
            ),
            reason=R_IF_ELSE,
        ),
        Valid(  # more than an append
            code=_dedent(
                """
                def f(xs):
                    out = []
                    for x in xs:
                        out.append(x)
                        print(x)
                    return out
                """
            ),
            reason=R_BODY,
        ),
        Valid(  # zero-argument super() would run in the comprehension's scope
            code=_dedent(
                """
                class Base:
                    def g(self, x):
                        return x + 1

                class D(Base):
                    def h(self, xs):
                        out = []
                        for x in xs:
                            out.append(super().g(x))
                        return out

                def f(xs):
                    return D().h(xs)
                """
            ),
            reason=R_SCOPE_CALL.format(call="super"),
            calls=(([1, 2],),),
            naive=_dedent(
                """
                class Base:
                    def g(self, x):
                        return x + 1

                class D(Base):
                    def h(self, xs):
                        out = [super().g(x) for x in xs]
                        return out

                def f(xs):
                    return D().h(xs)
                """
            ),
        ),
        Valid(  # the loop variable is read by a closure defined elsewhere in the function
            code=_dedent(
                """
                def f(xs):
                    x = None

                    def last():
                        return x

                    out = []
                    for x in xs:
                        out.append(x)
                    return out, last()
                """
            ),
            reason=R_TARGET_CAPTURED.format(name="x"),
            calls=(([1, 2],),),
            naive=_dedent(
                """
                def f(xs):
                    x = None

                    def last():
                        return x

                    out = [x for x in xs]
                    return out, last()
                """
            ),
        ),
        Valid(  # async loop whose half-built list is read by the handler
            code=_dedent(
                """
                async def src(xs):
                    for x in xs:
                        yield x

                async def f(xs):
                    out = [0]
                    try:
                        async for v in src(xs):
                            out.append(v)
                    except ValueError:
                        pass
                    return out
                """
            ),
            reason=R_ASYNC_PARTIAL.format(receiver="out"),
            calls=(([1, 2],),),
            naive=_dedent(
                """
                async def src(xs):
                    for x in xs:
                        yield x

                async def f(xs):
                    out = [0]
                    try:
                        out.extend([v async for v in src(xs)])
                    except ValueError:
                        pass
                    return out
                """
            ),
        ),
        Valid(  # walrus in the iterable
            code=_dedent(
                """
                def f(xs):
                    out = []
                    for x in (ys := list(xs)):
                        out.append(x)
                    return out, ys
                """
            ),
            reason=R_WALRUS_ITER,
        ),
        Valid(  # not provably a list: a deque's extend is not a list's
            code=_dedent(
                """
                from collections import deque

                def f(xs):
                    out = deque()
                    for x in xs:
                        out.append(x)
                    return out
                """
            ),
            reason=R_NOT_LIST.format(receiver="out", cause=C_BOUND_TO.format(value="deque()")),
        ),
        Valid(  # `next()` may raise StopIteration, caught here while the list is half-built
            code=_dedent(
                """
                def f(xs):
                    it = iter(xs)
                    out = [0]
                    try:
                        for _ in range(3):
                            out.append(next(it))
                    except StopIteration:
                        return ("stopped", out)
                    return out
                """
            ),
            reason=R_STOP_ITERATION,
            calls=(([1],),),
            naive=_dedent(
                """
                def f(xs):
                    it = iter(xs)
                    out = [0]
                    try:
                        out.extend(next(it) for _ in range(3))
                    except StopIteration:
                        return ("stopped", out)
                    return out
                """
            ),
        ),
        Valid(  # locals() sees the loop variable a comprehension would hide
            code=_dedent(
                """
                def f(xs):
                    out = []
                    for x in xs:
                        out.append(x)
                    return sorted(locals())
                """
            ),
            reason=R_SCOPE_WIDE.format(call="locals"),
            calls=(([1],),),
            naive=_dedent(
                """
                def f(xs):
                    out = [x for x in xs]
                    return sorted(locals())
                """
            ),
        ),
        Valid(  # `list` is not the builtin here
            code=_dedent(
                """
                from collections import deque as list

                def f(xs):
                    out = list()
                    for x in xs:
                        out.append(x)
                    return out
                """
            ),
            reason=R_NOT_LIST.format(receiver="out", cause=C_BOUND_TO.format(value="list()")),
            calls=(([1, 2],),),
            naive=_dedent(
                """
                from collections import deque as list

                def f(xs):
                    out = [x for x in xs]
                    return out
                """
            ),
        ),
        Valid(  # a nested function rebinds the list (`nonlocal`) while the loop runs
            code=_dedent(
                """
                def f(xs):
                    out = []

                    def reset(x):
                        nonlocal out
                        if x == 1:
                            out = []
                        return 0

                    for x in xs:
                        out.append(x + reset(x))
                    return out
                """
            ),
            reason=R_NESTED_REBIND.format(receiver="out"),
            calls=(([1, 2],),),
            naive=_dedent(
                """
                def f(xs):
                    out = []

                    def reset(x):
                        nonlocal out
                        if x == 1:
                            out = []
                        return 0

                    out.extend(x + reset(x) for x in xs)
                    return out
                """
            ),
        ),
        Valid(  # module level: the loop variable is a module attribute
            code=_dedent(
                """
                out = []
                for x in range(3):
                    out.append(x)
                """
            ),
            reason=R_MODULE.format(name="x"),
        ),
        Valid(  # the loop reads the list it builds through an alias: extend would be right, but reads as a bug
            code=_dedent(
                """
                def f(vals):
                    seen = []
                    s2 = seen
                    for v in vals:
                        if v not in s2:
                            seen.append(v)
                    return seen
                """
            ),
            reason=R_READS_ALIAS.format(alias="s2"),
            calls=(([1, 1, 2],),),
        ),
        Valid(  # `await` in a plain `for`, half-built list read by the handler
            code=_dedent(
                """
                async def g(x):
                    if x < 0:
                        raise ValueError(x)
                    return x * 2

                async def f(src):
                    dst = [0]
                    try:
                        for x in src:
                            dst.append(await g(x))
                    except ValueError:
                        pass
                    return dst
                """
            ),
            reason=R_AWAIT_PARTIAL.format(where="appended value", receiver="dst"),
            calls=(([1, -1, 2],), ([1, 2],)),
            naive=_dedent(
                """
                async def g(x):
                    if x < 0:
                        raise ValueError(x)
                    return x * 2

                async def f(src):
                    dst = [0]
                    try:
                        dst.extend([await g(x) for x in src])
                    except ValueError:
                        pass
                    return dst
                """
            ),
        ),
        Valid(  # a pragma on its own line inside the loop covers the lines after it
            code=_dedent(
                """
                def f(src):
                    dst = []
                    for v in src:
                        # pylint: disable=unnecessary-lambda
                        dst.append(lambda: v)
                    return dst
                """
            ),
            reason=R_PRAGMA_OWN_LINE.format(comment="# pylint: disable=unnecessary-lambda"),
        ),
        Valid(  # a type comment on the `for` line annotates the loop variable
            code=_dedent(
                """
                def f(src):
                    dst = []
                    for v in src:  # type: int
                        dst.append(v)
                    return dst
                """
            ),
            reason=R_TYPE_COMMENT.format(comment="# type: int"),
        ),
        Valid(  # the pragma must end the one line, and that line would be too long (it counts)
            code=_dedent(
                """
                def f(src):
                    dst = []
                    for value_with_a_long_name in src:
                        dst.append(str(value_with_a_long_name) + "a long literal suffix")  # pragma: no cover
                    return dst
                """
            ),
            reason=R_PRAGMA_LONG.format(
                comment="# pragma: no cover",
                # the one line it would need: `pragma: no cover` is not a ruff pragma, so it counts
                width=len(
                    '    dst = [str(value_with_a_long_name) + "a long literal suffix" '
                    "for value_with_a_long_name in src]  # pragma: no cover"
                ),
                limit=DEFAULT_LINE_LENGTH,
            ),
        ),
        Valid(  # the value spans lines (a multi-line string): no single line for the pragma
            code=_dedent(
                '''
                def f(src):
                    dst = []
                    for v in src:
                        dst.append("""a
                b""" + v)  # noqa: ISC003
                    return dst
                '''
            ),
            reason=R_PRAGMA_LINES.format(comment="# noqa: ISC003"),
        ),
        Valid(  # unpacking a call: the item's type is unknown
            code=_dedent(
                """
                def f(make, src):
                    dst, n = make()
                    for v in src:
                        dst.append(v)
                    return dst, n
                """
            ),
            reason=R_NOT_LIST.format(receiver="dst", cause=C_UNPACKED.format(value="make()")),
        ),
        Valid(  # bound only on one branch: `out` may be unbound, and extend would fail earlier
            code=_dedent(
                """
                def f(src, fresh):
                    if fresh:
                        out = [0]
                    for v in src:
                        out.append(v)
                    return "done"
                """
            ),
            reason=R_NOT_LIST.format(receiver="out", cause=C_NO_INIT),
            calls=(([], False), ([1], True)),
            naive=_dedent(
                """
                def f(src, fresh):
                    if fresh:
                        out = [0]
                    out.extend(v for v in src)
                    return "done"
                """
            ),
        ),
        Valid(  # the author silenced PERF401 on this loop (seen when the codemod finds its own sites)
            code=_dedent(
                """
                def f(src):
                    dst = []
                    for v in src:
                        dst.append(v)  # noqa: PERF401
                    return dst
                """
            ),
            reason=R_NOQA_PERF401.format(comment="# noqa: PERF401"),
        ),
    ]
