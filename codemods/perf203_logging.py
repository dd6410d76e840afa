"""The logging contract of a PERF203 site (seed 6.5): which logging calls its handlers make.

A rewrite may move a handler, never change what it logs. The calls are recorded as source text in
order before the rewrite, recollected from the rewritten code, and the two lists must be equal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import libcst as cst

LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log"})


def _dotted_parts(expr: cst.BaseExpression) -> list[str]:
    """``self.logger.error`` → ["self", "logger", "error"]; calls in the chain contribute their
    callee (``logging.getLogger(__name__).info`` → ["logging", "getLogger", "info"])."""
    parts: list[str] = []
    while True:
        if isinstance(expr, cst.Attribute):
            parts.append(expr.attr.value)
            expr = expr.value
        elif isinstance(expr, cst.Call):
            expr = expr.func
        elif isinstance(expr, cst.Name):
            parts.append(expr.value)
            return list(reversed(parts))
        else:
            return list(reversed(parts))


def is_logging_call(call: cst.Call) -> bool:
    """``logger.*``/``logging.*``/``log.*``-like calls and ``print(..., file=sys.stderr)``."""
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in LOG_METHODS:
        receiver = _dotted_parts(func.value)
        return any("log" in part.lower() for part in receiver)
    if isinstance(func, cst.Name) and func.value == "print":
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "file":
                return _dotted_parts(arg.value) == ["sys", "stderr"]
    return False


_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def walk_cst(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and every node under it, parents before children, in field (source) order.

    A read-only walk over the dataclass fields: ``CSTNode.visit`` rebuilds every node it passes
    (the transformer machinery), several times slower for the same answer."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        names = _CHILD_FIELDS.get(type(current))
        if names is None:
            names = _CHILD_FIELDS[type(current)] = tuple(f.name for f in dataclasses.fields(current))
        children: list[cst.CSTNode] = []
        for name in names:
            value = getattr(current, name)
            if isinstance(value, cst.CSTNode):
                children.append(value)
            elif isinstance(value, (tuple, list)):
                children.extend(v for v in value if isinstance(v, cst.CSTNode))
        stack.extend(reversed(children))


def logging_calls(handlers: list[cst.CSTNode], module: cst.Module) -> list[str]:
    """Source text of every logging call inside ``handlers``, in source order."""
    return [
        " ".join(module.code_for_node(c).split())
        for handler in handlers for c in walk_cst(handler) if isinstance(c, cst.Call) and is_logging_call(c)
    ]
