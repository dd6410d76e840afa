"""Which names a PERF203 ``try`` reads and binds, and which of them a helper must take or give back.

Moving a loop body into a helper is only behaviour-preserving when every name keeps its value:
names the try reads from the enclosing function become parameters, names it binds that are read
later (after the loop, or by the next iteration) are returned and rebound by the loop. This module
answers those questions with ``ast`` and the compiler's own ``symtable`` (which, unlike libcst's
ScopeProvider, knows that a walrus inside a comprehension binds in the enclosing function).

The central tool is :class:`BindingWalker`, a small definite-assignment analysis: it walks
statements in execution order, tracking which names are *certainly* bound, and reports reads of
names that might not be ("upward-exposed" reads), every binding, and the bound set at each exit
(``break``/``continue``/``return``) of the loop being rewritten.
"""

from __future__ import annotations

import ast
import symtable
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
LOOP_NODES = (ast.For, ast.AsyncFor, ast.While)

#: Calls that consume a lazy argument (generator expression, lambda key) before returning, so a
#: closure passed to them cannot outlive the statement. Anything else might store it.
IMMEDIATE_CONSUMERS = frozenset(
    {"all", "any", "sum", "min", "max", "sorted", "list", "tuple", "set", "frozenset", "dict", "join", "sort"}
)


def target_names(target: ast.AST) -> list[str]:
    """Names bound by an assignment target (``a``, ``a, (b, *c)``); attributes/subscripts bind none."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in target_names(elt)]
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    return []


def _scope_own_names(node: ast.AST) -> set[str]:
    """Names local to a nested lambda/comprehension/def (params, targets): not reads of ours."""
    own: set[str] = set()
    if isinstance(node, (ast.Lambda, *FUNCTION_NODES)):
        args = node.args
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None:
                own.add(a.arg)
    if isinstance(node, COMPREHENSIONS):
        for gen in node.generators:
            own.update(target_names(gen.target))
    if isinstance(node, FUNCTION_NODES):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                own.add(sub.id)
    return own


def expression_reads(node: ast.AST) -> list[ast.Name]:
    """Name nodes an expression reads from the current scope, in source order.

    Reads inside nested lambdas/comprehensions count (they see our variables) unless the nested
    scope binds the name itself.
    """
    out: list[ast.Name] = []

    def visit(n: ast.AST, shadowed: frozenset[str]) -> None:
        if isinstance(n, ast.Name):
            if isinstance(n.ctx, (ast.Load, ast.Del)) and n.id not in shadowed:
                out.append(n)
            return
        if isinstance(n, (ast.Lambda, *COMPREHENSIONS, *FUNCTION_NODES, ast.ClassDef)):
            inner = shadowed | frozenset(_scope_own_names(n))
            if isinstance(n, COMPREHENSIONS):
                # the first iterable is evaluated in the enclosing scope
                visit(n.generators[0].iter, shadowed)
                for i, gen in enumerate(n.generators):
                    if i:
                        visit(gen.iter, inner)
                    for cond in gen.ifs:
                        visit(cond, inner)
                if isinstance(n, ast.DictComp):
                    visit(n.key, inner)
                    visit(n.value, inner)
                else:
                    visit(n.elt, inner)
                return
            if isinstance(n, (ast.Lambda, *FUNCTION_NODES)):
                # defaults, decorators and annotations are evaluated where the def/lambda is
                args = n.args
                outer = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
                if isinstance(n, FUNCTION_NODES):
                    outer += [*n.decorator_list, n.returns]
                    outer += [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                                                     args.vararg, args.kwarg] if a is not None]
                for expr in outer:
                    if expr is not None:
                        visit(expr, shadowed)
                body = n.body if isinstance(n, FUNCTION_NODES) else [n.body]
                for child in body:
                    visit(child, inner)
                return
            for child in ast.iter_child_nodes(n):
                visit(child, inner)
            return
        for child in ast.iter_child_nodes(n):
            visit(child, shadowed)

    visit(node, frozenset())
    return out


def walrus_targets(node: ast.AST, *, definite_only: bool) -> list[str]:
    """Names bound by ``:=`` in an expression (comprehension walruses bind in our scope too).

    With ``definite_only``, only walruses that certainly run (not under ``and``/``or`` right
    operands, conditional branches, comprehensions or lambdas) are returned.
    """
    out: list[str] = []

    def visit(n: ast.AST, certain: bool) -> None:
        if isinstance(n, ast.NamedExpr):
            visit(n.value, certain)
            if certain or not definite_only:
                out.append(n.target.id)
            return
        if isinstance(n, (ast.Lambda, *FUNCTION_NODES, ast.ClassDef)):
            return
        if isinstance(n, COMPREHENSIONS):
            visit(n.generators[0].iter, certain)
            for child in ast.walk(n):
                if child is not n and isinstance(child, ast.NamedExpr) and not definite_only:
                    out.append(child.target.id)
            return
        if isinstance(n, ast.BoolOp):
            visit(n.values[0], certain)
            for v in n.values[1:]:
                visit(v, False)
            return
        if isinstance(n, ast.IfExp):
            visit(n.test, certain)
            visit(n.body, False)
            visit(n.orelse, False)
            return
        for child in ast.iter_child_nodes(n):
            visit(child, certain)

    visit(node, True)
    return out


Bound = frozenset


@dataclass
class BindingWalker:
    """Definite-assignment walk over statements of one function scope.

    Callbacks: ``on_read(name_node, bound)`` for every read; ``on_bind(name, node)`` for every
    binding (certain or not); ``on_exit(kind, node, bound)`` for ``break``/``continue`` that leave
    the outermost walked loop level and for every ``return``; ``on_stmt(stmt, bound)`` before each
    statement (used to learn what is bound when a given loop starts).

    ``block`` returns the set of names certainly bound after the statements, or ``None`` when
    they cannot complete normally. Context managers might swallow exceptions, so bindings inside
    a ``with`` body do not count as certain afterwards.
    """

    on_read: Callable[[ast.Name, Bound], None] | None = None
    on_bind: Callable[[str, ast.AST], None] | None = None
    on_exit: Callable[[str, ast.AST, Bound], None] | None = None
    on_stmt: Callable[[ast.stmt, Bound], None] | None = None
    loop_depth: int = 0
    deleted: set[str] = field(default_factory=set)

    # -- expressions ---------------------------------------------------------------------------
    def expr(self, node: ast.AST | None, bound: Bound) -> Bound:
        if node is None:
            return bound
        if self.on_read:
            for name in expression_reads(node):
                self.on_read(name, bound)
        for name in walrus_targets(node, definite_only=False):
            self._bind(name, node)
        return bound | frozenset(walrus_targets(node, definite_only=True))

    def exprs(self, nodes: Iterable[ast.AST | None], bound: Bound) -> Bound:
        for n in nodes:
            bound = self.expr(n, bound)
        return bound

    def _bind(self, name: str, node: ast.AST) -> None:
        if self.on_bind:
            self.on_bind(name, node)

    def assign(self, target: ast.AST, bound: Bound) -> Bound:
        """Bind an assignment target; attribute/subscript targets only read their parts."""
        if isinstance(target, ast.Name):
            self._bind(target.id, target)
            return bound | {target.id}
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                bound = self.assign(elt, bound)
            return bound
        if isinstance(target, ast.Starred):
            return self.assign(target.value, bound)
        if isinstance(target, ast.Attribute):
            return self.expr(target.value, bound)
        if isinstance(target, ast.Subscript):
            return self.expr(target.slice, self.expr(target.value, bound))
        return bound

    # -- statements ----------------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt], bound: Bound) -> Bound | None:
        for s in stmts:
            out = self.stmt(s, bound)
            if out is None:
                return None
            bound = out
        return bound

    def _loop_body(self, stmts: list[ast.stmt], bound: Bound) -> None:
        self.loop_depth += 1
        try:
            self.block(stmts, bound)
        finally:
            self.loop_depth -= 1

    def stmt(self, s: ast.stmt, bound: Bound) -> Bound | None:  # noqa: C901 - one branch per kind
        if self.on_stmt:
            self.on_stmt(s, bound)
        if isinstance(s, (ast.Expr, ast.Assert)):
            return self.exprs(list(ast.iter_child_nodes(s)), bound)
        if isinstance(s, ast.Assign):
            bound = self.expr(s.value, bound)
            for t in s.targets:
                bound = self.assign(t, bound)
            return bound
        if isinstance(s, ast.AugAssign):
            if isinstance(s.target, ast.Name):
                if self.on_read:
                    self.on_read(ast.Name(id=s.target.id, ctx=ast.Load(), lineno=s.lineno,
                                          col_offset=s.col_offset), bound)
                bound = self.expr(s.value, bound)
                return self.assign(s.target, bound)
            bound = self.expr(s.value, bound)
            return self.assign(s.target, bound)
        if isinstance(s, ast.AnnAssign):
            if s.value is None:
                return bound
            bound = self.expr(s.value, bound)
            return self.assign(s.target, bound)
        if isinstance(s, ast.Delete):
            for t in s.targets:
                if isinstance(t, ast.Name):
                    if self.on_read:
                        self.on_read(ast.Name(id=t.id, ctx=ast.Del(), lineno=t.lineno, col_offset=t.col_offset), bound)
                    self.deleted.add(t.id)
                    bound = bound - {t.id}
                else:
                    bound = self.expr(t, bound)
            return bound
        if isinstance(s, ast.Return):
            bound = self.expr(s.value, bound)
            if self.on_exit:
                self.on_exit("return", s, bound)
            return None
        if isinstance(s, ast.Raise):
            self.exprs([s.exc, s.cause], bound)
            return None
        if isinstance(s, (ast.Break, ast.Continue)):
            if self.loop_depth == 0 and self.on_exit:
                self.on_exit("break" if isinstance(s, ast.Break) else "continue", s, bound)
            return None
        if isinstance(s, ast.If):
            bound = self.expr(s.test, bound)
            outs = [self.block(s.body, bound), self.block(s.orelse, bound)]
            return _meet(outs)
        if isinstance(s, (ast.For, ast.AsyncFor)):
            bound = self.expr(s.iter, bound)
            self._loop_body(s.body, self.assign(s.target, bound))
            self.block(s.orelse, bound)
            return bound
        if isinstance(s, ast.While):
            bound = self.expr(s.test, bound)
            self._loop_body(s.body, bound)
            self.block(s.orelse, bound)
            if isinstance(s.test, ast.Constant) and s.test.value and not _has_own_break(s):
                return None
            return bound
        if isinstance(s, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            body_out = self.block(s.body, bound)
            outs = []
            if body_out is not None:
                outs.append(self.block(s.orelse, body_out))
            for h in s.handlers:
                hb = self.expr(h.type, bound)
                if h.name:
                    self._bind(h.name, h)
                    hb = hb | {h.name}
                out = self.block(h.body, hb)
                if h.name:  # the name is deleted when the handler ends
                    out = None if out is None else out - {h.name}
                outs.append(out)
            merged = _meet(outs)
            if s.finalbody:
                fin = self.block(s.finalbody, bound)
                if fin is None:
                    return None
                if merged is not None:
                    merged = merged | (fin - bound)
            return merged
        if isinstance(s, (ast.With, ast.AsyncWith)):
            inner = bound
            for item in s.items:
                inner = self.expr(item.context_expr, inner)
                if item.optional_vars is not None:
                    inner = self.assign(item.optional_vars, inner)
            self.block(s.body, inner)
            return inner
        if isinstance(s, (*FUNCTION_NODES, ast.ClassDef)):
            self.exprs(s.decorator_list, bound)
            if isinstance(s, ast.ClassDef):
                self.exprs([*s.bases, *(k.value for k in s.keywords)], bound)
                if self.on_read:
                    for name in expression_reads(s):
                        if name.id not in _class_body_names(s):
                            self.on_read(name, bound)
            else:
                self.exprs([*s.args.defaults, *(d for d in s.args.kw_defaults if d is not None)], bound)
                if self.on_read:
                    for name in sorted(captured_names(s)):
                        self.on_read(ast.Name(id=name, ctx=ast.Load(), lineno=s.lineno, col_offset=s.col_offset), bound)
            self._bind(s.name, s)
            return bound | {s.name}
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            for alias in s.names:
                name = alias.asname or alias.name.split(".")[0]
                if name != "*":
                    self._bind(name, s)
                    bound = bound | {name}
            return bound
        if isinstance(s, (ast.Global, ast.Nonlocal, ast.Pass)):
            return bound
        if isinstance(s, getattr(ast, "Match", ())):
            bound = self.expr(s.subject, bound)
            for case in s.cases:
                cb = bound
                for sub in ast.walk(case.pattern):
                    name = getattr(sub, "name", None) or getattr(sub, "rest", None)
                    if isinstance(name, str):
                        self._bind(name, sub)
                        cb = cb | {name}
                cb = self.expr(case.guard, cb)
                self.block(case.body, cb)
            return bound
        # Unknown statement kind: read everything, promise nothing.
        self.exprs(list(ast.iter_child_nodes(s)), bound)
        return bound


def _meet(outs: list[Bound | None]) -> Bound | None:
    live = [o for o in outs if o is not None]
    if not live:
        return None
    result = live[0]
    for o in live[1:]:
        result = result & o
    return result


def _class_body_names(node: ast.ClassDef) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _has_own_break(loop: ast.While) -> bool:
    return any(isinstance(n, ast.Break) for n in own_statements(loop.body))


def own_statements(stmts: list[ast.stmt], *, into_loops: bool = False) -> Iterable[ast.AST]:
    """Every node in ``stmts`` at this loop level: not inside nested function/class scopes, and
    (unless ``into_loops``) not inside nested loop bodies — but a nested loop's ``else`` *is* at
    this level, so a ``break`` there belongs to us."""
    stack: list[ast.AST] = list(reversed(stmts))
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (*FUNCTION_NODES, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(n, LOOP_NODES) and not into_loops:
            head = [n.iter, n.target] if isinstance(n, (ast.For, ast.AsyncFor)) else [n.test]
            stack.extend(reversed([*head, *n.orelse]))
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(n))))


def nodes_in_scope(stmts: list[ast.AST]) -> Iterable[ast.AST]:
    """Every node of the current scope (nested loops included; nested defs/lambdas/classes not;
    comprehensions included since they run right away and may ``await``)."""
    return own_statements(stmts, into_loops=True)


# -------------------------------------------------------------------------------------------
# Function-level facts
# -------------------------------------------------------------------------------------------


@dataclass
class ScopeFacts:
    """How the enclosing function sees names: from ``symtable`` plus a few ``ast`` scans."""

    function: ast.FunctionDef | ast.AsyncFunctionDef
    locals: set[str]
    frees: set[str]
    declared_global: set[str]
    declared_nonlocal: set[str]
    deleted: set[str]
    uses_frame_introspection: bool


FRAME_INTROSPECTION = frozenset({"locals", "vars", "exec", "eval", "dir", "_getframe", "currentframe"})


def find_function_table(top: symtable.SymbolTable, fn: ast.AST) -> symtable.SymbolTable | None:
    """The symtable of ``fn``, matched by name and ``def`` line."""
    stack = [top]
    while stack:
        t = stack.pop()
        if t.get_type() == "function" and t.get_name() == fn.name and t.get_lineno() == fn.lineno:
            return t
        stack.extend(t.get_children())
    return None


def scope_facts(table: symtable.SymbolTable, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> ScopeFacts:
    locals_, frees, glob, nonloc = set(), set(), set(), set()
    for sym in table.get_symbols():
        name = sym.get_name()
        if sym.is_declared_global():
            glob.add(name)
        elif sym.is_nonlocal():
            nonloc.add(name)
        elif sym.is_local():
            locals_.add(name)
        elif sym.is_free():
            frees.add(name)
    deleted: set[str] = set()
    introspection = False
    for n in ast.walk(fn):
        if isinstance(n, ast.Delete):
            deleted.update(t.id for t in n.targets if isinstance(t, ast.Name))
        if isinstance(n, ast.Call):
            callee = n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", None)
            if callee in FRAME_INTROSPECTION and not (callee in ("vars", "dir") and n.args):
                introspection = True
    return ScopeFacts(fn, locals_, frees, glob, nonloc, deleted, introspection)


def bound_before(fn: ast.FunctionDef | ast.AsyncFunctionDef, stmt: ast.stmt) -> Bound | None:
    """Names certainly bound when ``stmt`` (somewhere in ``fn``'s own scope) first starts."""
    args = fn.args
    params = frozenset(
        a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a is not None
    )
    found: list[Bound] = []

    def on_stmt(s: ast.stmt, bound: Bound) -> None:
        if s is stmt and not found:
            found.append(bound)

    BindingWalker(on_stmt=on_stmt).block(fn.body, params)
    return found[0] if found else None


def deferred_scopes(stmts: list[ast.AST]) -> list[ast.AST]:
    """Lambdas, defs, classes and generator expressions at this scope level: code that may run
    later than the statement creating it (so it sees later rebindings of the names it reads)."""
    kinds = (ast.Lambda, ast.GeneratorExp, *FUNCTION_NODES, ast.ClassDef)
    return [n for n in nodes_in_scope(stmts) if isinstance(n, kinds)]


def captured_names(node: ast.AST) -> set[str]:
    """Names a nested scope reads *later*, from outside itself (over-approximated). Default
    values and a generator's first iterable are evaluated at once, so they are not captures."""
    if isinstance(node, ast.Lambda):
        return {n.id for n in expression_reads(node.body)} - _scope_own_names(node)
    if isinstance(node, (*FUNCTION_NODES, ast.ClassDef)):
        own = _scope_own_names(node) if not isinstance(node, ast.ClassDef) else _class_body_names(node)
        body_reads = {
            n.id for stmt in node.body for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        return body_reads - own
    if isinstance(node, ast.GeneratorExp):
        immediate = {id(n) for n in ast.walk(node.generators[0].iter)}
        return {n.id for n in expression_reads(node) if id(n) not in immediate} | set(
            walrus_targets(node, definite_only=False)
        )
    return {n.id for n in expression_reads(node)} | set(walrus_targets(node, definite_only=False))


def is_immediately_consumed(node: ast.AST, parents: dict[int, ast.AST]) -> bool:
    """A lambda/genexp passed straight to a call that uses it up before returning (``sorted(...,
    key=lambda r: ...)``, ``any(x for ...)``, ``", ".join(...)``)."""
    parent = parents.get(id(node))
    if isinstance(parent, ast.keyword):
        parent = parents.get(id(parent))
    if not isinstance(parent, ast.Call) or node is parent.func:
        return False
    func = parent.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name in IMMEDIATE_CONSUMERS


def scope_bindings(stmts: list[ast.AST]) -> list[tuple[str, ast.AST]]:
    """Every (name, binding node) of the current scope in ``stmts``, reachable or not, in source
    order: assignment/for/with/except/import targets, def/class names, and walruses (including
    those inside comprehensions, which bind here) — but not comprehension targets."""
    out: list[tuple[str, ast.AST]] = []

    def visit(n: ast.AST) -> None:
        if isinstance(n, (*FUNCTION_NODES, ast.ClassDef)):
            out.append((n.name, n))
            for d in n.decorator_list:
                visit(d)
            if not isinstance(n, ast.ClassDef):
                for d in [*n.args.defaults, *(k for k in n.args.kw_defaults if k is not None)]:
                    visit(d)
            return
        if isinstance(n, ast.Lambda):
            for d in [*n.args.defaults, *(k for k in n.args.kw_defaults if k is not None)]:
                visit(d)
            return
        if isinstance(n, COMPREHENSIONS):
            visit(n.generators[0].iter)
            for sub in ast.walk(n):
                if isinstance(sub, ast.NamedExpr):
                    out.append((sub.target.id, sub))
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.append((n.id, n))
        elif isinstance(n, ast.ExceptHandler) and n.name:
            out.append((n.name, n))
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for alias in n.names:
                if alias.name != "*":
                    out.append(((alias.asname or alias.name).split(".")[0], n))
        elif isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
            out.append((n.name, n))
        elif isinstance(n, ast.MatchMapping) and n.rest:
            out.append((n.rest, n))
        for child in ast.iter_child_nodes(n):
            visit(child)

    for stmt in stmts:
        visit(stmt)
    return out


def ast_child_blocks(stmt: ast.AST) -> list[list[ast.stmt]]:
    """The statement blocks of a compound statement, in source order."""
    blocks: list[list[ast.stmt]] = []
    if isinstance(stmt, ast.If):
        blocks.append(stmt.body)
        if stmt.orelse:
            blocks.append(stmt.orelse)
    elif isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        blocks.append(stmt.body)
        blocks.extend(h.body for h in stmt.handlers)
        for extra in (stmt.orelse, stmt.finalbody):
            if extra:
                blocks.append(extra)
    elif isinstance(stmt, getattr(ast, "Match", ())):
        blocks.extend(c.body for c in stmt.cases)
    elif isinstance(stmt, (*LOOP_NODES, ast.AsyncFor, ast.With, ast.AsyncWith, *FUNCTION_NODES, ast.ClassDef)):
        blocks.append(stmt.body)
        if getattr(stmt, "orelse", None):
            blocks.append(stmt.orelse)
    return blocks
