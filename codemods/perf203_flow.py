"""Control-flow facts about a PERF203 loop: do its handlers leave it, and can iterating raise?

Hoisting ``try`` around the loop is only correct when (a) every handler leaves the loop on every
path, so "continue with the next item" never happens, and (b) nothing the hoisted ``try`` newly
covers — evaluating the iterable, each ``next()``, binding the target, the ``while`` test — can
raise an exception one of the handlers would catch. (b) is proved here for a few iterable shapes
whose failure modes are known exactly; everything else counts as "might raise anything".
"""

from __future__ import annotations

import ast
import builtins
import importlib
import sys

from .perf203_scope import target_names

ANY = None  # "might raise any exception"

_SAFE_SEQUENCE_CALLS = {"list": "list", "sorted": "list", "tuple": "tuple", "dict": "dict", "set": "set"}


def leaves_loop(stmts: list[ast.stmt]) -> bool:
    """True when every path through ``stmts`` ends in ``raise``/``return``/``break`` (tail)."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (ast.Raise, ast.Return, ast.Break)):
        return True
    if isinstance(last, ast.If):
        return leaves_loop(last.body) and leaves_loop(last.orelse)
    return False


def tail_breaks(stmts: list[ast.stmt]) -> list[ast.Break]:
    """The ``break`` statements in tail position of ``stmts`` (see :func:`leaves_loop`)."""
    if not stmts:
        return []
    last = stmts[-1]
    if isinstance(last, ast.Break):
        return [last]
    if isinstance(last, ast.If):
        return tail_breaks(last.body) + tail_breaks(last.orelse)
    return []


def _value_kind(value: ast.AST, shadowed: set[str]) -> str | None:
    """``list``/``tuple``/``dict``/``set``/``int`` when an expression certainly builds one."""
    if isinstance(value, (ast.List, ast.ListComp)):
        return "list"
    if isinstance(value, ast.Tuple):
        return "tuple"
    if isinstance(value, (ast.Dict, ast.DictComp)):
        return "dict"
    if isinstance(value, (ast.Set, ast.SetComp)):
        return "set"
    if isinstance(value, ast.Constant) and type(value.value) is int:
        return "int"
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id not in shadowed:
        if value.func.id in _SAFE_SEQUENCE_CALLS:
            return _SAFE_SEQUENCE_CALLS[value.func.id]
        if value.func.id == "len":
            return "int"
    return None


def local_kind(fn: ast.AST, name: str, shadowed: set[str]) -> str | None:
    """The container kind of local ``name`` when *every* binding in ``fn`` gives it that kind."""
    args = fn.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
    if name in params:
        return None
    kinds: set[str | None] = set()
    for n in ast.walk(fn):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name) and t.id == name:
                    kinds.add(_value_kind(n.value, shadowed))
                elif name in target_names(t):
                    kinds.add(None)
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == name:
            kinds.add(_value_kind(n.value, shadowed) if n.value else "unbound-ok")
        elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name) and n.target.id == name:
            kinds.add("augmented")
        elif isinstance(n, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith, ast.NamedExpr, ast.comprehension)):
            targets = [n.target] if hasattr(n, "target") else [i.optional_vars for i in n.items if i.optional_vars]
            if any(name in target_names(t) for t in targets if t is not None):
                kinds.add(None)
        elif isinstance(n, (ast.Global, ast.Nonlocal)) and name in n.names:
            kinds.add(None)
        elif isinstance(n, (ast.Import, ast.ImportFrom)) and any(
            (a.asname or a.name.split(".")[0]) == name for a in n.names
        ):
            kinds.add(None)
        elif isinstance(n, ast.ExceptHandler) and n.name == name:
            kinds.add(None)
    kinds.discard("unbound-ok")
    if "augmented" in kinds:
        kinds.discard("augmented")
        if kinds != {"list"}:  # list += iterable stays a list; other kinds may change type
            return None
    if len(kinds) != 1:
        return None
    return kinds.pop()


def iteration_exceptions(loop: ast.AST, fn: ast.AST | None, shadowed: set[str]) -> frozenset | None:
    """Exceptions the loop machinery itself may raise: ``frozenset()`` (none), a set of builtin
    exception classes, or ``ANY``. Only shapes whose behaviour is fully known are proved."""
    if isinstance(loop, ast.While):
        test = loop.test
        if isinstance(test, ast.Constant) and test.value:
            return frozenset()
        if isinstance(test, ast.Name) and fn is not None and local_kind(fn, test.id, shadowed) in ("list", "tuple"):
            return frozenset()
        return ANY
    if not isinstance(loop, ast.For):
        return ANY
    it, target = loop.iter, loop.target
    simple_target = isinstance(target, ast.Name)

    def kind_of(expr: ast.AST) -> str | None:
        if isinstance(expr, ast.Name) and fn is not None:
            return local_kind(fn, expr.id, shadowed)
        if isinstance(expr, (ast.List, ast.Tuple)) and all(_is_inert(e) for e in expr.elts):
            return "list"
        if isinstance(expr, ast.Constant) and isinstance(expr.value, (str, bytes)):
            return "str"
        return None

    k = kind_of(it)
    if k in ("list", "tuple", "str") and simple_target:
        return frozenset()
    if k in ("dict", "set") and simple_target:
        return frozenset({RuntimeError})  # "changed size during iteration"
    if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id not in shadowed and not it.keywords:
        if it.func.id == "range" and simple_target and 1 <= len(it.args) <= 3:
            if all(_int_literal(a) is not None for a in it.args):
                if len(it.args) == 3 and _int_literal(it.args[2]) == 0:
                    return ANY
                return frozenset()
            if all(_int_literal(a) is not None or (
                isinstance(a, ast.Name) and fn is not None and local_kind(fn, a.id, shadowed) == "int"
            ) for a in it.args) and len(it.args) < 3:
                return frozenset()
        if it.func.id == "enumerate" and len(it.args) == 1 and kind_of(it.args[0]) in ("list", "tuple", "str"):
            if simple_target or (
                isinstance(target, ast.Tuple) and len(target.elts) == 2
                and all(isinstance(e, ast.Name) for e in target.elts)
            ):
                return frozenset()
    if (
        isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and not it.args and not it.keywords
        and it.func.attr in ("items", "keys", "values") and kind_of(it.func.value) == "dict"
    ):
        pair = isinstance(target, ast.Tuple) and len(target.elts) == 2 and all(
            isinstance(e, ast.Name) for e in target.elts
        )
        if simple_target or (pair and it.func.attr == "items"):
            return frozenset({RuntimeError})
    return ANY


def _is_inert(expr: ast.AST) -> bool:
    return isinstance(expr, ast.Constant) or (
        isinstance(expr, (ast.Tuple, ast.List)) and all(_is_inert(e) for e in expr.elts)
    )


def _int_literal(expr: ast.AST) -> int | None:
    if isinstance(expr, ast.Constant) and type(expr.value) is int:
        return expr.value
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        inner = _int_literal(expr.operand)
        return None if inner is None else -inner
    return None


def _stdlib_imports(tree: ast.Module) -> dict[str, tuple[str, str | None]]:
    """Module-level import aliases that come from the standard library: name → (module, attr)."""
    out: dict[str, tuple[str, str | None]] = {}
    for n in tree.body:
        if isinstance(n, ast.Import):
            for a in n.names:
                root = a.name.split(".")[0]
                if root in sys.stdlib_module_names:
                    out[a.asname or root] = (a.name if a.asname else root, None)
        elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
            if n.module.split(".")[0] in sys.stdlib_module_names:
                for a in n.names:
                    out[a.asname or a.name] = (n.module, a.name)
    return out


def resolve_exception_type(expr: ast.AST, tree: ast.Module, shadowed: set[str]) -> type | None:
    """The class a handler's type expression names, when it is a builtin or a stdlib import."""
    imports = _stdlib_imports(tree)
    if isinstance(expr, ast.Name):
        if expr.id in imports:
            module, attr = imports[expr.id]
            return _load(module, attr)
        if expr.id not in shadowed:
            value = getattr(builtins, expr.id, None)
            return value if isinstance(value, type) and issubclass(value, BaseException) else None
        return None
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id in imports:
        module, attr = imports[expr.value.id]
        if attr is None:
            return _load(module, expr.attr)
    return None


def _load(module: str, attr: str | None) -> type | None:
    try:
        mod = importlib.import_module(module)
        value = getattr(mod, attr) if attr else None
    except Exception:
        return None
    return value if isinstance(value, type) and issubclass(value, BaseException) else None


def handlers_may_catch(handlers: list[ast.ExceptHandler], raised: frozenset | None, tree: ast.Module,
                       shadowed: set[str]) -> bool:
    """Could any handler catch one of ``raised`` (``ANY`` = anything)?"""
    if raised is not None and not raised:
        return False
    for h in handlers:
        if h.type is None or raised is ANY:
            return True
        parts = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
        for part in parts:
            cls = resolve_exception_type(part, tree, shadowed)
            if cls is None or any(issubclass(exc, cls) for exc in raised):
                return True
    return False
