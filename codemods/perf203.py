"""Fix ruff PERF203 (a ``try``/``except`` that is the whole body of a loop) without changing behaviour.

Three rewrites, chosen per site, and a precise skip reason for everything else:

* **hoist** — every handler leaves the loop and nothing the ``try`` would newly cover (the
  iterable, ``next()``, the target, the ``while`` test) can raise a caught type: the ``try`` goes
  around the loop. A ``break`` at the end of a handler is dropped (the loop is already left).
* **unwrap** — every handler is exactly ``raise`` and there is no ``else``/``finally``: the try
  is a no-op (a bare ``raise`` re-raises the same exception with its traceback), so its body
  becomes the loop body. A handler that logs before re-raising is *not* a no-op (it keeps its try).
* **extract** — handlers let the loop go on: the ``try`` moves into a module-level helper
  (``_safe_<what it calls>``) that takes the names it reads and returns the names it binds that
  are read later, plus a flag for ``break``/``return`` (the seed's Result pattern, tasks 1.3/7.1).

This module decides, per site, which rewrite is provably safe. The analysis runs on ``ast`` and
``symtable`` (:mod:`codemods.perf203_scope` for names, :mod:`codemods.perf203_flow` for control
flow and exceptions); libcst only locates the loops (:mod:`codemods.perf203_locate`) and rewrites
them (:mod:`codemods.perf203_rewrite`), so every byte outside the rewritten loops stays as it was.
:mod:`codemods.perf203_fragment` runs the same on text, parsing with libcst only the top-level
statements (or class members) that hold a site: the whole-file libcst parse dominated the cost.
"""

from __future__ import annotations

import ast
import builtins
import re
import symtable
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field

import libcst as cst

from .outcome import Site, SiteOutcome
from .perf203_flow import handlers_may_catch, iteration_exceptions, leaves_loop, tail_breaks
from .perf203_locate import find_perf203_sites, locate_loops
from .perf203_logging import logging_calls, walk_cst
from .perf203_rewrite import Plan, PlanApplier, compile_alone
from .perf203_scope import (
    FUNCTION_NODES,
    LOOP_NODES,
    BindingWalker,
    ast_child_blocks,
    bound_before,
    captured_names,
    deferred_scopes,
    expression_reads,
    find_function_table,
    is_immediately_consumed,
    nodes_in_scope,
    own_statements,
    scope_bindings,
    scope_facts,
    target_names,
)

__all__ = ["KINDS", "FileFacts", "SkipSite", "find_perf203_sites", "fix_perf203"]

KINDS = ("unwrap", "hoist", "extract")

#: Calls that say nothing about what a loop body *does*; skipped when naming the helper.
_UNINFORMATIVE_FUNCTIONS = frozenset(
    {
        "len", "str", "int", "float", "bool", "list", "dict", "set", "tuple", "isinstance", "print",
        "round", "min", "max", "sum", "hasattr", "getattr", "setattr", "range", "enumerate", "zip",
        "sorted", "iter", "next", "repr", "type", "any", "all", "abs", "super", "id", "hash",
    }
)
#: Conversions that, in a try, mean "parse this": ``int(x)`` → ``_safe_parse_int``.
_PARSING_BUILTINS = frozenset({"int", "float", "complex"})
_UNINFORMATIVE_METHODS = frozenset(
    {
        "append", "extend", "add", "update", "get", "items", "keys", "values", "pop", "time", "sleep",
        "monotonic", "perf_counter", "now", "utcnow", "copy", "format", "join", "split", "strip",
        "encode", "decode", "lower", "upper", "replace", "startswith", "endswith", "debug", "info",
        "warning", "error", "exception", "critical", "log", "getLogger", "isoformat", "total_seconds",
        "setdefault", "remove", "clear", "insert", "put", "put_nowait", "get_nowait", "to_thread",
    }
)


class SkipSite(Exception):
    """A site this codemod will not touch; the message is the human reason for the PR body."""


# ---------------------------------------------------------------------------------------------
# Locating the flagged loops
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Per-file context
# ---------------------------------------------------------------------------------------------


@dataclass
class FileFacts:
    """What the analysis needs from the *whole* file when it rewrites only a fragment of it
    (:mod:`codemods.perf203_fragment`): names bound anywhere (a rebound builtin is not the
    builtin), every identifier (helper names must be new to the file; ``taken`` grows as
    helpers are named, so pass the same object for every fragment), and the module-level imports."""

    tree: ast.Module
    shadowed: set[str]
    taken: set[str]

    @classmethod
    def from_tree(cls, tree: ast.Module) -> FileFacts:
        taken: set[str] = set()
        stored: set[str] = set()
        for node in ast.walk(tree):
            _note_names(node, taken, stored)
        return cls(tree, stored, taken | stored)


def _note_names(node: ast.AST, taken: set[str], stored: set[str]) -> None:
    """Record the identifiers ``node`` uses (``taken``) and the names it binds (``stored``)."""
    if isinstance(node, ast.Name):
        taken.add(node.id)
        if isinstance(node.ctx, ast.Store):
            stored.add(node.id)
    elif isinstance(node, ast.Attribute):
        taken.add(node.attr)
    elif isinstance(node, (*FUNCTION_NODES, ast.ClassDef)):
        stored.add(node.name)
    elif isinstance(node, ast.arg):
        stored.add(node.arg)
    elif isinstance(node, ast.alias):
        stored.add((node.asname or node.name).split(".")[0])


@dataclass
class _FileContext:
    module: cst.Module
    source: str
    tree: ast.Module
    table: symtable.SymbolTable
    parents: dict[int, ast.AST]
    ast_loops: dict[int, ast.AST]  # loop line → loop whose whole body is one try
    shadowed: set[str]
    taken: set[str]  # every identifier in the file, plus names we generated
    fn_names: dict[int, set[str]] = field(default_factory=dict)  # per function: identifiers in it
    site_try_of: dict[int, int] = field(default_factory=dict)  # ast node id → flagged try holding it
    site_try_names: list[set[str]] = field(default_factory=list)  # names each flagged try binds

    imports_tree: ast.Module | None = None  # whose module-level imports name exception types

    @classmethod
    def build(cls, module: cst.Module, source: str | None = None, whole: FileFacts | None = None) -> _FileContext:
        source = module.code if source is None else source
        tree = ast.parse(source)
        parents: dict[int, ast.AST] = {}
        loops: dict[int, ast.AST] = {}
        taken: set[str] = set()
        stored: set[str] = set()  # names bound somewhere (a builtin rebound there is not the builtin)
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[id(child)] = node
            if isinstance(node, (ast.For, ast.AsyncFor, ast.While)) and len(node.body) == 1 and isinstance(
                node.body[0], ast.Try
            ):
                loops[node.lineno] = node
            _note_names(node, taken, stored)
        table = symtable.symtable(source, "<perf203>", "exec")
        if whole is not None:  # ``module`` is a fragment: file-wide facts come from the whole file
            return cls(module, source, tree, table, parents, loops, whole.shadowed, whole.taken,
                       imports_tree=whole.tree)
        return cls(module, source, tree, table, parents, loops, stored, taken | stored, imports_tree=tree)

    def fresh(self, base: str) -> str:
        """``base`` or ``base_2``, ``base_3``… — a name used nowhere in the file."""
        name, n = base, 1
        while name in self.taken or not name.isidentifier():
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name

    def fresh_of(self, candidates: list[str]) -> str:
        """The first candidate used nowhere in the file; numbered only when all are taken."""
        for name in candidates:
            if name not in self.taken and name.isidentifier():
                self.taken.add(name)
                return name
        return self.fresh(candidates[-1])

    def fresh_local(self, base: str, fn: ast.AST) -> str:
        """A new local for ``fn``: unused by any identifier in it (so it shadows nothing it reads)."""
        if id(fn) not in self.fn_names:
            self.fn_names[id(fn)] = {i for n in ast.walk(fn) for i in _identifiers(n)}
        used = self.fn_names[id(fn)]
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        return name

    def ancestors(self, node: ast.AST) -> Iterable[ast.AST]:
        while id(node) in self.parents:
            node = self.parents[id(node)]
            yield node


# ---------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------


def _handler_effects(handler: ast.ExceptHandler, logs: bool) -> list[str]:
    """What a handler does, in a few words: logged / re-raised / returns / loop stops / goes on."""
    kinds: list[str] = []
    if logs:
        kinds.append("logged")
    own = list(nodes_in_scope(handler.body))
    raises = [n for n in own if isinstance(n, ast.Raise)]
    if raises:
        kinds.append("re-raised" if all(r.exc is None for r in raises) else "raises")
    if any(isinstance(n, ast.Return) for n in own):
        kinds.append("returns")
    if any(isinstance(n, ast.Break) for n in own_statements(handler.body)):
        kinds.append("loop stops")
    if not leaves_loop(handler.body):
        kinds.append("loop continues")
    return kinds or ["handled"]


#: What a handler's own effects mean for the reader, as the end of one clause.
_OUTCOME_WORDS = {
    "re-raised": "it is re-raised",
    "raises": "another exception is raised",
    "loop stops": "the loop stops",
    "loop continues": "the loop goes on",
}


def _catches_all(handler: ast.ExceptHandler) -> str | None:
    """"every" for ``except:``/``BaseException``, "Exception" for ``except Exception``, else None."""
    if handler.type is None or (isinstance(handler.type, ast.Name) and handler.type.id == "BaseException"):
        return "every"
    if isinstance(handler.type, ast.Name) and handler.type.id == "Exception":
        return "Exception"
    return None


def _handler_summary(handler: ast.ExceptHandler, logs: bool, fn_name: str, first: bool) -> str:
    """One clause per handler: ``ValueError is logged, then the loop goes on``."""
    effects = _handler_effects(handler, logs)
    outcomes = [
        f"``{fn_name}`` returns" if e == "returns" else _OUTCOME_WORDS[e] for e in effects
        if e not in ("logged", "handled")
    ]
    loop_ends = [o for o in outcomes if o.startswith("the loop ")]
    if len(loop_ends) > 1:  # "the loop stops or goes on", not "the loop stops or the loop goes on"
        merged = loop_ends[0] + "".join(" or " + o.removeprefix("the loop ") for o in loop_ends[1:])
        outcomes = [o for o in outcomes if o not in loop_ends] + [merged]
    if _catches_all(handler):
        subject = "every exception" if first else "every other exception"
    else:
        subject = ast.unparse(handler.type)
    if logs:
        return f"{subject} is logged" + (f", then {' or '.join(outcomes)}" if outcomes else "")
    return f"{subject}: {' or '.join(outcomes) or 'handled'}"


def _calls_in_evaluation_order(stmts: list[ast.stmt]) -> list[ast.Call]:
    """Calls roughly in the order Python makes them (arguments before the call that takes them)."""
    out: list[ast.Call] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (*FUNCTION_NODES, ast.ClassDef, ast.Lambda)):
            return
        for child in ast.iter_child_nodes(node):
            visit(child)
        if isinstance(node, ast.Call):
            out.append(node)

    for stmt in stmts:
        visit(stmt)
    return out


def _callee_name(call: ast.Call) -> tuple[str | None, bool]:
    """(name, is_method) of what a call calls: ``f()``, ``obj.f()``, ``obj.f[T]()``."""
    func = call.func
    if isinstance(func, ast.Subscript):
        func = func.value
    if isinstance(func, ast.Name):
        return func.id, False
    if isinstance(func, ast.Attribute):
        return func.attr, True
    return None, False


def _main_call_name(try_: ast.Try) -> str | None:
    """What the try body mainly does: its first informative call in evaluation order
    (``store.fetch(key)`` → ``fetch``); ``None`` when it only calls generic things."""
    for call in _calls_in_evaluation_order(try_.body):
        name, is_method = _callee_name(call)
        if not is_method and name in _PARSING_BUILTINS:
            return f"parse_{name}"
        if name and not name.startswith("__") and name not in (
            _UNINFORMATIVE_METHODS if is_method else _UNINFORMATIVE_FUNCTIONS
        ):
            return name
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().strip("_")


def _helper_names(try_: ast.Try, loop_targets: list[str], fn: ast.AST) -> list[str]:
    """Helper names, most readable first: ``_safe_<main call>`` (``_safe_fetch``), else
    ``_process_<loop target>`` (``_process_item`` for one-letter targets), else
    ``_<function>_step``; the same prefixed by the enclosing
    function's name (``_warm_safe_fetch``) for when the short one is taken."""
    call = _main_call_name(try_)
    words = re.sub(r"^safe_", "", _snake(call)) if call else ""
    target = next((_snake(t) for t in loop_targets if len(_snake(t)) > 1), "item" if loop_targets else "")
    fn_words = _snake(fn.name) or "loop"
    if words:
        base = f"safe_{words}"
    elif target:
        base = f"process_{target}"
    else:
        return [f"_{fn_words}_step"]
    return [f"_{base}", f"_{fn_words}_{base}"]


# ---------------------------------------------------------------------------------------------
# Analysis: can this site be hoisted / extracted?
# ---------------------------------------------------------------------------------------------


def _enclosing_scope(ctx: _FileContext, node: ast.AST) -> ast.AST:
    for anc in ctx.ancestors(node):
        if isinstance(anc, (*FUNCTION_NODES, ast.ClassDef, ast.Lambda, ast.Module)):
            return anc
    return ctx.tree


def _plan_hoist(ctx: _FileContext, loop: ast.AST, scope: ast.AST) -> str | None:
    """``None`` when hoisting is provably safe, else why not."""
    try_ = loop.body[0]
    if try_.orelse or try_.finalbody:
        return "the try has an else/finally block that runs per iteration"
    if loop.orelse:
        return "the loop has an else block (it would move inside the try)"
    for h in try_.handlers:
        if not leaves_loop(h.body):
            return "a handler lets the loop continue"
        own = list(own_statements(h.body))
        if any(isinstance(n, ast.Continue) for n in own):
            return "a handler may continue the loop"
        tails = {id(b) for b in tail_breaks(h.body)}
        if any(isinstance(n, ast.Break) and id(n) not in tails for n in own):
            return "a handler breaks out of the loop before its end"
    if any(isinstance(n, (ast.Break, ast.Continue)) for n in own_statements(try_.body)):
        return "the try body breaks or continues the loop"
    fn = scope if isinstance(scope, FUNCTION_NODES) else None
    raised = iteration_exceptions(loop, fn, ctx.shadowed)
    head = loop.test if isinstance(loop, ast.While) else loop.iter
    if raised is not None and fn is not None:
        bound = bound_before(fn, loop) or frozenset()
        facts_deleted = {t.id for n in ast.walk(fn) if isinstance(n, ast.Delete) for t in n.targets
                         if isinstance(t, ast.Name)}
        for name in expression_reads(head):
            if _is_builtin(name.id, ctx):
                continue
            if name.id not in bound or name.id in facts_deleted:
                raised = None
    if raised is not None and fn is None and any(not _is_builtin(n.id, ctx) for n in expression_reads(head)):
        raised = None
    if handlers_may_catch(try_.handlers, raised, ctx.imports_tree or ctx.tree, ctx.shadowed):
        what = "the while test" if isinstance(loop, ast.While) else "iterating"
        return f"{what} might raise an exception the handlers catch"
    return None


def _is_builtin(name: str, ctx: _FileContext) -> bool:
    return name not in ctx.shadowed and hasattr(builtins, name)


def _exposed_reads(stmts: list[ast.stmt]) -> set[str]:
    """Names ``stmts`` may read before binding them themselves (their values come from before)."""
    names: set[str] = set()

    def on_read(name: ast.Name, bound: frozenset) -> None:
        if name.id not in bound:
            names.add(name.id)

    walker = BindingWalker(on_read=on_read)
    walker.loop_depth = 1  # break/continue here belong to loops outside: nothing to record
    walker.block(stmts, frozenset())
    return names


def _reads_after_statement(ctx: _FileContext, fn: ast.AST, node: ast.AST) -> set[str]:
    """Names code running after statement ``node`` completes may read before rebinding them:
    the rest of every enclosing block, enclosing loops run again, sibling try blocks."""
    names: set[str] = set()
    child = node
    for anc in ctx.ancestors(node):
        for block in ast_child_blocks(anc) if anc is not fn else [fn.body]:
            if child in block:
                names |= _exposed_reads(block[block.index(child) + 1:])
            elif isinstance(anc, (ast.Try, getattr(ast, "TryStar", ast.Try))):
                names |= _exposed_reads(block)
        if anc is fn:
            break
        if isinstance(anc, LOOP_NODES):
            names |= _exposed_reads([anc])
        child = anc
    return names


def _escape_readers(ctx: _FileContext, loop: ast.AST, fn: ast.AST, *, returning: bool = False) -> set[str]:
    """Names that code of ``fn`` may still read after an exception (or, with ``returning``, a
    ``return``) leaves the loop body: enclosing handlers and what follows them, ``finally``
    blocks, code after a ``with`` that may swallow the exception."""
    names: set[str] = set()
    child = loop
    for anc in ctx.ancestors(loop):
        if anc is fn:
            break
        if isinstance(anc, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            if anc.finalbody:
                names |= _exposed_reads(anc.finalbody)
            if not returning and anc.handlers and child in anc.body:
                for handler in anc.handlers:
                    names |= _exposed_reads(handler.body)
                names |= _reads_after_statement(ctx, fn, anc)
        if isinstance(anc, (ast.With, ast.AsyncWith)) and not returning:
            names |= _reads_after_statement(ctx, fn, anc)
        child = anc
    return names


def _plan_extract(ctx: _FileContext, loop: ast.AST, scope: ast.AST, plan: Plan) -> None:  # noqa: C901
    """Fill ``plan`` for the extract rewrite, or raise :class:`SkipSite`."""
    if isinstance(scope, ast.Module):
        raise SkipSite("loop at module level: the names it binds are globals, so it cannot move into a helper")
    if isinstance(scope, ast.ClassDef):
        raise SkipSite("loop in a class body: a helper cannot bind class attributes")
    if isinstance(scope, ast.Lambda):
        raise SkipSite("loop inside a lambda")
    fn = scope
    try_: ast.Try = loop.body[0]
    body_nodes = list(nodes_in_scope([try_]))
    in_class = any(isinstance(a, ast.ClassDef) for a in ctx.ancestors(loop))

    in_handlers = {id(n) for h in try_.handlers for n in ast.walk(h)}
    in_else = {id(n) for stmt in [*try_.orelse, *try_.finalbody] for n in ast.walk(stmt)}

    def where(node: ast.AST) -> str:
        """Where in the try statement ``node`` is, for skip reasons."""
        if id(node) in in_handlers:
            return "in a handler"
        return "in the try's else/finally block" if id(node) in in_else else "in the try body"

    for n in body_nodes:
        if isinstance(n, (ast.Yield, ast.YieldFrom)):
            raise SkipSite(f"yield {where(n)}: a helper cannot yield for the generator")
    for n in ast.walk(try_):  # nested lambdas/defs too: they would lose the method's __class__ cell
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "super" and not n.args:
            raise SkipSite(f"zero-argument super() {where(n)} fails in a helper outside the class")
        if isinstance(n, ast.Name) and n.id == "__class__":
            raise SkipSite(f"__class__ {where(n)} is only defined inside the class's methods")
    plan.stacklevels = _stacklevel_calls(try_, where)
    for n in body_nodes:
        if isinstance(n, (ast.Global, ast.Nonlocal)):
            raise SkipSite("global/nonlocal statement inside the try")
    if in_class:
        for n in ast.walk(try_):
            for ident in _identifiers(n):
                if ident.startswith("__") and not ident.endswith("__"):
                    raise SkipSite(f"private name {ident} is mangled inside the class, not in a helper")
    table = find_function_table(ctx.table, fn)
    if table is None:
        raise SkipSite("internal: no symbol table for the enclosing function")
    facts = scope_facts(table, fn)
    if facts.uses_frame_introspection:
        raise SkipSite("the function uses locals()/vars()/exec/eval/frame introspection")
    is_async = any(
        isinstance(n, (ast.Await, ast.AsyncFor, ast.AsyncWith))
        or (isinstance(n, ast.comprehension) and n.is_async)
        for n in body_nodes
    )
    if isinstance(loop, ast.AsyncFor):
        raise SkipSite("async for loop (ruff does not flag it)")

    # -- names ------------------------------------------------------------------------------
    if isinstance(loop, ast.For):
        loop_targets = target_names(loop.target)
    else:  # ``while (item := next_item()) is not None:`` binds item before every iteration
        loop_targets = [name for name, _ in scope_bindings([ast.Expr(loop.test)])]
    exposed: list[str] = []
    read_order: list[str] = []
    bound_order: list[str] = []
    exits: list[tuple[str, ast.AST, frozenset]] = []

    def on_read(name: ast.Name, bound: frozenset) -> None:
        if name.id not in read_order:
            read_order.append(name.id)
        if name.id not in bound and name.id not in exposed:
            exposed.append(name.id)

    def on_exit(kind: str, node: ast.AST, bound: frozenset) -> None:
        exits.append((kind, node, bound))

    walker = BindingWalker(on_read=on_read, on_exit=on_exit)
    fallthrough = walker.stmt(try_, frozenset(loop_targets))
    # every binding, reachable or not: any of them makes the name local to the function
    bindings = scope_bindings([try_])
    for name, _ in bindings:
        if name not in bound_order:
            bound_order.append(name)
    # ``except E as e`` unbinds e when the handler ends: such a name never leaves the try
    plain_bound = {name for name, node in bindings if not isinstance(node, ast.ExceptHandler)}
    fn_names = facts.locals | facts.frees
    used = set(exposed) | set(bound_order)
    clash = used & (facts.declared_global | facts.declared_nonlocal)
    if clash:
        raise SkipSite(f"global/nonlocal declaration of {', '.join(sorted(clash))} used in the try")
    nested_nonlocals = {name for n in ast.walk(fn) if isinstance(n, ast.Nonlocal) for name in n.names}
    if used & nested_nonlocals:
        raise SkipSite(f"a nested function rebinds {', '.join(sorted(used & nested_nonlocals))} via nonlocal")
    deleted = used & (facts.deleted | walker.deleted)
    if deleted:
        raise SkipSite(f"del of {', '.join(sorted(deleted))}, a name the try uses")

    # names read after the try: after the loop, in enclosing loops, in the while test / loop else
    try_ids = {id(n) for n in ast.walk(try_)}
    reads_after = _reads_after_statement(ctx, fn, loop) | _exposed_reads(loop.orelse)
    if isinstance(loop, ast.While):
        reads_after |= {n.id for n in expression_reads(loop.test)}
    # names read by closures defined anywhere else in the function see the function's variable
    inside_try = deferred_scopes([try_])
    inside_ids = {id(d) for d in inside_try}
    captured_outside: set[str] = set()
    for d in deferred_scopes(fn.body):
        if id(d) not in inside_ids and id(d) not in try_ids:
            captured_outside |= captured_names(d)
    # A closure in the helper sees the helper's parameter, a copy taken at the call: harmless
    # for a parameter of the function that nothing rebinds (both variables keep one value).
    # Same for a local assigned once, by a plain ``name = ...`` outside any loop, before the
    # loop and certainly bound when it starts (checked with ``entry`` below).
    binding_nodes: dict[str, list[ast.AST]] = {}
    for name, node in scope_bindings(fn.body):
        binding_nodes.setdefault(name, []).append(node)
    never_rebound = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)} - set(binding_nodes)
    assigned_once = {
        name for name, nodes in binding_nodes.items()
        if len(nodes) == 1 and _single_assignment_before(ctx, nodes[0], name, loop, fn)
    }
    entry_names = bound_before(fn, loop) or frozenset()
    for d in inside_try:
        cap = (captured_names(d) & fn_names) - (never_rebound & facts.locals)
        cap -= assigned_once & entry_names & facts.locals - facts.deleted
        if cap and not is_immediately_consumed(d, ctx.parents):
            raise SkipSite(
                f"a closure created {where(d)} reads {', '.join(sorted(cap))}, which the function "
                "rebinds: in a helper it would see the value at the call instead of later rebindings"
            )
    outputs = [
        n for n in bound_order if n in plain_bound and n in facts.locals and (n in reads_after or n in exposed)
    ]
    # A name only the try binds stops being local to the function once the try moves out:
    # any other mention of it there would then read a global instead of raising UnboundLocalError.
    # (bindings inside any try flagged in this file don't count: that try may move out as well)
    elsewhere_bound = {name for name, node in scope_bindings(fn.body) if id(node) not in ctx.site_try_of}
    elsewhere_bound |= {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    mentioned = {  # reads of the function's own variable (comprehension/lambda locals excluded)
        n.id for n in expression_reads(ast.Module(body=fn.body, type_ignores=[]))
        if id(n) not in try_ids and not _read_of_own_binding(ctx, n)
    }
    rescoped = [n for n in bound_order if n in facts.locals and n not in elsewhere_bound and n in mentioned
                and n not in outputs]
    if rescoped:
        raise SkipSite(
            f"{', '.join(rescoped)} is bound only in the try but used elsewhere in the function "
            "(moving the try would make that use global)"
        )
    captured_bound = set(bound_order) & captured_outside & facts.locals
    if captured_bound:
        raise SkipSite(
            f"{', '.join(sorted(captured_bound))} is bound in the try and read by a nested function "
            "of the enclosing function"
        )
    handler_names = {n.name for n in body_nodes if isinstance(n, ast.ExceptHandler) and n.name}
    unbinds = handler_names & (set(outputs) | set(exposed))
    if unbinds:
        raise SkipSite(
            f"the exception name {', '.join(sorted(unbinds))} is also used outside its handler "
            "(Python unbinds it when the handler ends)"
        )
    stale = set(outputs) & _escape_readers(ctx, loop, fn) if outputs else set()
    if stale:
        raise SkipSite(
            f"{', '.join(o for o in outputs if o in stale)} would not be handed back when an exception "
            "escapes the helper, and an enclosing try/with may read it"
        )
    if try_.finalbody:
        fin_bound = {n.id for n in ast.walk(ast.Module(body=try_.finalbody, type_ignores=[]))
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        if fin_bound & set(outputs):
            raise SkipSite("the finally block rebinds a name the loop reads later")
        if any(isinstance(n, (ast.Break, ast.Continue, ast.Return)) for n in own_statements(try_.finalbody)):
            raise SkipSite("break/continue/return inside the finally block")

    entry = bound_before(fn, loop)
    if entry is None:
        raise SkipSite("internal: could not follow the function's flow to the loop")
    params = [n for n in read_order if n in fn_names and (n in exposed or n in loop_targets)]
    for name in params:
        if name in loop_targets:
            continue
        if name in facts.frees:
            if not _free_name_bound(ctx, fn, name):
                raise SkipSite(f"{name} (from an enclosing function) may be unbound when the loop runs")
            continue
        if name not in entry:
            raise SkipSite(f"{name} may be unbound when the loop starts; the helper would need its value")
    exit_bounds = [fallthrough] if fallthrough is not None else []
    exit_bounds += [b for kind, _, b in exits if kind in ("break", "continue")]
    for name in outputs:
        if name in params:
            continue
        if all(name in b for b in exit_bounds):
            continue
        if name in entry or name in loop_targets:
            params.append(name)
            continue
        raise SkipSite(
            f"{name} is bound on only some paths of the try and may be unbound before the loop"
        )
    # After ``return`` the caller's locals are dead unless an enclosing try/with can still run code.
    return_bounds = [b for kind, _, b in exits if kind == "return"]
    plan.outputs_on_return = all(o in params or o in b for o in outputs for b in return_bounds)
    if not plan.outputs_on_return and set(outputs) & _escape_readers(ctx, loop, fn, returning=True):
        raise SkipSite("a name handed back may be unbound at a return inside the try, and an enclosing try/with "
                       "may read it")
    order = read_order + bound_order
    params = sorted(params, key=lambda n: (
        n not in ("self", "cls"),
        loop_targets.index(n) if n in loop_targets else len(loop_targets),
        order.index(n),
    ))

    # -- control flow ------------------------------------------------------------------------
    kinds = {kind for kind, _, _ in exits}
    returns = [node for kind, node, _ in exits if kind == "return"]
    has_break, has_return = "break" in kinds, bool(returns)
    plan.has_value = any(r.value is not None for r in returns)
    if has_break and has_return:
        plan.flow = "str"
        plan.flow_var = ctx.fresh_local("flow", fn)
    elif has_break:
        plan.flow = "bool-break"
        plan.flow_var = ctx.fresh_local("stop", fn) if outputs else None
    elif has_return:
        plan.flow = "bool-return"
        plan.flow_var = ctx.fresh_local("done", fn) if (outputs or plan.has_value) else None
    if plan.has_value:
        plan.result_var = ctx.fresh_local("returned", fn)

    plan.params, plan.outputs, plan.is_async = params, outputs, is_async
    plan.helper = ctx.fresh_of(_helper_names(try_, loop_targets, fn))
    plan.falls_through = fallthrough is not None or any(
        h.body and isinstance(h.body[-1], ast.Continue) for h in try_.handlers  # dropped: falls through
    )
    _describe(plan, try_, fn)


def _single_assignment_before(ctx: _FileContext, node: ast.AST, name: str, loop: ast.AST, fn: ast.AST) -> bool:
    """Is ``node`` a plain ``name = value`` statement of ``fn`` before ``loop``, in no loop
    (so it runs at most once per call)?"""
    stmt = ctx.parents.get(id(node))
    if not (isinstance(node, ast.Name) and isinstance(stmt, ast.Assign) and stmt.targets == [node]
            and node.id == name and stmt.end_lineno < loop.lineno):
        return False
    for anc in ctx.ancestors(node):
        if anc is fn:
            return True
        if isinstance(anc, (*LOOP_NODES, *FUNCTION_NODES, ast.ClassDef, ast.Lambda)):
            return False
    return False


def _stacklevel_calls(try_: ast.Try, where) -> int:
    """How many calls in the try pass a literal ``stacklevel=`` (the rewrite adds 1 to each:
    the helper is one more frame, so the warning/log record keeps pointing at the same place).

    A computed stacklevel, or one inside a nested function/lambda (whose callers the move may
    change), cannot be adjusted reliably: skipped."""
    count = 0
    nested = {id(n) for d in ast.walk(try_) if isinstance(d, (*FUNCTION_NODES, ast.Lambda))
              for n in ast.walk(d) if n is not d}
    for node in ast.walk(try_):
        if not isinstance(node, ast.Call):
            continue
        for kw in node.keywords:
            if kw.arg != "stacklevel":
                continue
            literal = isinstance(kw.value, ast.Constant) and type(kw.value.value) is int
            if id(node) in nested:
                raise SkipSite(f"a nested function {where(node)} passes stacklevel=: moving it changes its frames")
            if not literal:
                raise SkipSite(
                    f"stacklevel={ast.unparse(kw.value)} {where(node)} is not a literal int: the helper "
                    "adds a frame, so the warning/log record would point one frame lower"
                )
            count += 1
    return count


def _read_of_own_binding(ctx: _FileContext, name: ast.Name) -> bool:
    """A read inside another flagged try that binds the same name itself: wherever that try
    ends up (in place or in its own helper), the read keeps resolving to that local."""
    index = ctx.site_try_of.get(id(name))
    return index is not None and name.id in ctx.site_try_names[index]


def _free_name_bound(ctx: _FileContext, fn: ast.AST, name: str) -> bool:
    """Is free variable ``name`` certainly bound in the function that owns it when ``fn`` is
    defined (and never deleted there)?"""
    child = fn
    for anc in ctx.ancestors(fn):
        if isinstance(anc, FUNCTION_NODES):
            table = find_function_table(ctx.table, anc)
            if table is None:
                return False
            facts = scope_facts(table, anc)
            if name in facts.locals:
                stmt = child
                bound = bound_before(anc, stmt)
                return bound is not None and name in bound and name not in facts.deleted
        if isinstance(anc, ast.stmt):
            child = anc
    return False


def _identifiers(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, (*FUNCTION_NODES, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword) and node.arg:
        return [node.arg]
    if isinstance(node, ast.alias):
        return [node.asname or node.name]
    return []


def _describe(plan: Plan, try_: ast.Try, fn: ast.AST) -> None:
    """The call-site comment (seed 7.2) and the helper's docstring contract (seed 7.1)."""
    logs_per_handler = _logs_per_handler(plan)
    order = ["logged", "re-raised", "raises", "returns", "loop stops", "loop continues", "handled"]
    effects = sorted(
        {e for h, logs in zip(try_.handlers, logs_per_handler, strict=True) for e in _handler_effects(h, logs)},
        key=order.index,
    )
    summaries = [
        _handler_summary(h, logs, fn.name, i == 0)
        for i, (h, logs) in enumerate(zip(try_.handlers, logs_per_handler, strict=True))
    ]
    parts = []
    if plan.flow == "str":
        parts.append(f'``"break"``/``"return"`` when the loop must stop / ``{fn.name}`` must return, else None')
    elif plan.flow == "bool-break":
        parts.append("True when the loop must stop (``break``)")
    elif plan.flow == "bool-return":
        parts.append(f"True when ``{fn.name}`` must return")
    if plan.has_value:
        parts.append(f"the value ``{fn.name}`` returns then (else None)")
    parts += [f"the new value of ``{o}``" for o in plan.outputs]
    if not parts:
        result = "Returns None: the loop goes on" + (
            "." if isinstance(plan.located.loop, cst.While) else " with the next item."
        )
    elif len(parts) == 1:
        result = f"Returns {parts[0]}."
    else:
        result = "Returns a tuple: " + "; ".join(parts) + "."
    catch_all = [_catches_all(h) for h in try_.handlers if _catches_all(h)]
    handled = "; ".join(summaries) + "."
    if not catch_all:
        handled = f"Handled here: {handled} Anything else propagates unchanged."
    elif handled.startswith("every"):  # "Handled here … anything else propagates" would contradict it
        handled = "E" + handled[1:]
    else:
        handled = "Handled here: " + handled
    if catch_all and catch_all[0] == "Exception":
        handled += " Only BaseExceptions such as KeyboardInterrupt propagate."
    width = plan.line_length - len(plan.located_module.default_indent)
    summary = f"One iteration of ``{fn.name}``'s loop, errors handled (Result-style helper)."
    intro: list[str] = []
    if len(summary) + 3 > width:
        summary = "One loop iteration with its error handling (Result-style helper)."
        intro = [f"Called from the loop in ``{fn.name}``."]
    plan.docstring = [
        summary,
        "",
        *intro,
        *textwrap.wrap(result, width, break_on_hyphens=False, break_long_words=False),
        *textwrap.wrap(handled, width, break_on_hyphens=False, break_long_words=False),
    ]
    plan.comment = _call_site_comment(plan, effects)


#: Shorter words for the call-site comment, used only when the full line is too long.
_SHORT_EFFECTS = {"logged": "logs", "re-raised": "re-raises", "raises": "raises", "returns": "returns",
                  "loop stops": "stops", "loop continues": "continues", "handled": "handled"}


def _call_site_comment(plan: Plan, effects: list[str]) -> str:
    """One line within the line length that always says what the handlers do: the full form,
    else shorter words, else only the helper's name plus the most important effect."""
    room = plan.line_length - plan.located.column
    candidates = [
        f"# errors handled in {plan.helper} ({', '.join(effects)})",
        f"# {plan.helper} handles errors ({', '.join(_SHORT_EFFECTS[e] for e in effects)})",
        f"# {plan.helper}: {'/'.join(_SHORT_EFFECTS[e] for e in effects)}",
        f"# {plan.helper}: {_SHORT_EFFECTS[effects[-1]]}",
    ]
    return next((c for c in candidates if len(c) <= room), candidates[-1])


def _logs_per_handler(plan: Plan) -> list[bool]:
    return [bool(logging_calls([h], plan.located_module)) for h in plan.located.try_.handlers]


# ---------------------------------------------------------------------------------------------
# Rewriting (libcst)
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def fix_perf203(
    module: cst.Module,
    sites: list[Site],
    *,
    kinds: Iterable[str] = KINDS,
    line_length: int = 88,
    source: str | None = None,
    whole: FileFacts | None = None,
) -> tuple[cst.Module, list[SiteOutcome]]:
    """Rewrite the PERF203 ``sites`` of ``module``; one outcome per site, in order.

    ``kinds`` limits the rewrites tried (the command classes use one each). A site whose rewrite
    cannot be proved behaviour-preserving is left untouched and reported with the reason.
    Generated lines are wrapped black-style to ``line_length`` (the repo's formatter setting).
    ``source`` (``module.code``, when the caller already has it) saves one code generation.
    ``whole``: ``module`` is only a fragment of a file with these facts (see
    :func:`codemods.perf203_fragment.fix_perf203_source`).
    """
    kinds = tuple(kinds)
    outcomes: list[SiteOutcome | None] = [None] * len(sites)
    try:
        ctx = _FileContext.build(module, source, whole)
    except (SyntaxError, ValueError) as exc:
        return module, [SiteOutcome.skipped(s, f"file skipped: Python cannot parse it ({exc})") for s in sites]
    found = locate_loops(module, ctx.tree, ctx.source)

    plans: list[Plan] = []
    for site in sites:
        located = found.get((site.line, site.col))
        loop = ctx.ast_loops.get(located.line) if located else None
        if loop is not None:
            ctx.site_try_names.append({name for name, _ in scope_bindings([loop.body[0]])})
            ctx.site_try_of.update((id(n), len(ctx.site_try_names) - 1) for n in ast.walk(loop.body[0]))
    requested: set[tuple[int, int]] = set()
    for index, site in enumerate(sites):
        located = found.get((site.line, site.col))
        if (site.line, site.col) in requested:
            outcomes[index] = SiteOutcome.skipped(site, "the same site was requested twice")
            continue
        requested.add((site.line, site.col))
        if located is None:
            outcomes[index] = SiteOutcome.skipped(
                site, f"no loop whose whole body is a try with its first handler at {site.line}:{site.col}"
            )
            continue
        logs = logging_calls(list(located.try_.handlers), module)
        pos_loop = ctx.ast_loops.get(located.line)
        if pos_loop is None:
            outcomes[index] = SiteOutcome.skipped(site, "internal: the loop was not found by ast", logging=logs)
            continue
        plan = Plan(site, index, "", located, logs, module, line_length=line_length)
        try:
            plan.kind = _choose(ctx, pos_loop, plan, kinds)
        except SkipSite as exc:
            outcomes[index] = SiteOutcome.skipped(site, str(exc), logging=logs)
            continue
        plans.append(plan)

    new_module, changed = module, []
    while plans:
        applier = PlanApplier(plans, module)
        new_module, changed = module.visit(applier), applier.changed
        broken = [p for p in plans if p.logging_after != p.logging]
        if not broken:
            break
        for p in broken:
            outcomes[p.index] = SiteOutcome.skipped(
                p.site, "the rewrite would change the handlers' logging calls", logging=p.logging
            )
        plans = [p for p in plans if p not in broken]
        new_module, changed = module, []
    try:
        for plan, node in changed:  # everything else is unchanged source that compiled before
            compile_alone(plan, node, new_module)
    except SyntaxError as exc:  # a bug of ours: never hand out code that does not compile
        return module, [
            o if o is not None and o.status == "skipped" else SiteOutcome.skipped(
                s, f"internal: the rewritten file did not compile ({exc.msg}); file left unchanged"
            )
            for s, o in zip(sites, outcomes, strict=True)
        ]
    for p in plans:
        outcomes[p.index] = SiteOutcome.fixed(p.site, p.kind, logging=p.logging, detail=_detail(p))
    return new_module, outcomes  # type: ignore[return-value]


def _detail(plan: Plan) -> str:
    """One line for the PR body: what the rewrite did and the differences it accepts."""
    if plan.kind == "hoist":
        return "try moved around the loop"
    if plan.kind == "unwrap":
        return "try removed: its only handler re-raised unchanged"
    parts = [f"helper {plan.helper}"]
    if plan.stacklevels:
        parts.append(f"stacklevel+1 on {plan.stacklevels} call(s), so their reported location is unchanged")
    if logging_calls([plan.located.try_], plan.located_module):
        parts.append(f"log records now come from {plan.helper} (funcName/lineno in log formats change)")
    if _unlevelled_warns(plan.located.try_):
        parts.append(f"warnings.warn without stacklevel now reports a line inside {plan.helper}")
    return "; ".join(parts)


def _unlevelled_warns(try_: cst.Try) -> bool:
    """Does the try call ``warnings.warn``/``warn`` without ``stacklevel=``?"""
    for node in walk_cst(try_):
        if not isinstance(node, cst.Call):
            continue
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
        if name == "warn" and not any(a.keyword is not None and a.keyword.value == "stacklevel" for a in node.args):
            return True
    return False


def _why_not_unwrap(ctx: _FileContext, loop: ast.AST, scope: ast.AST, located_try: cst.Try) -> str | None:
    """``None`` when the try is a no-op: every handler is exactly ``raise``, no else/finally.

    Re-raising with a bare ``raise`` keeps the exception object, its traceback and context, so
    without the try the same exception leaves the same statement. Accepted assumption: the
    handler types name exception classes (a name that does not would raise ``TypeError`` only
    when an exception is being matched — broken code either way)."""
    try_ = loop.body[0]
    if try_.orelse or try_.finalbody:
        return "the try has an else/finally block"
    for h in try_.handlers:
        if not (len(h.body) == 1 and isinstance(h.body[0], ast.Raise) and h.body[0].exc is None):
            return "a handler does more than re-raise"
        if h.type is not None and not _is_plain_type(h.type):
            return "a handler's exception type is computed (evaluating it may have effects)"
        if h.name is not None:
            mentions = [n for n in ast.walk(scope) if isinstance(n, ast.Name) and n.id == h.name]
            if mentions:
                return f"the handler unbinds {h.name}, a name the function uses"
    if located_try.body.header.comment is not None:
        return "the try line carries a comment that removing the try would drop"
    for h in located_try.handlers:
        if _cst_has_comment(h):
            return "a handler carries a comment that removing the try would drop"
    return None


def _is_plain_type(node: ast.AST) -> bool:
    if isinstance(node, ast.Tuple):
        return all(_is_plain_type(e) for e in node.elts)
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _cst_has_comment(node: cst.CSTNode) -> bool:
    return any(isinstance(n, cst.Comment) for n in walk_cst(node))


def _choose(ctx: _FileContext, loop: ast.AST, plan: Plan, kinds: tuple[str, ...]) -> str:
    scope = _enclosing_scope(ctx, loop)
    plan.in_async = isinstance(scope, ast.AsyncFunctionDef)
    if isinstance(loop, ast.AsyncFor):
        raise SkipSite("async for loop (ruff does not flag it)")
    why_not_unwrap = _why_not_unwrap(ctx, loop, scope, plan.located.try_)
    if why_not_unwrap is None and "unwrap" in kinds:
        return "unwrap"
    if kinds == ("unwrap",):
        raise SkipSite(f"cannot unwrap: {why_not_unwrap or 'unwrapping not requested'}")
    why_not_hoist = _plan_hoist(ctx, loop, scope) if "hoist" in kinds else "hoisting not requested"
    if why_not_hoist is None:
        return "hoist"
    if "extract" not in kinds:
        raise SkipSite(f"cannot hoist: {why_not_hoist}")
    try:
        _plan_extract(ctx, loop, scope, plan)
    except SkipSite as exc:
        if "hoist" in kinds and why_not_hoist not in ("a handler lets the loop continue",):
            raise SkipSite(f"{exc} (and cannot hoist: {why_not_hoist})") from None
        raise
    return "extract"
