"""The logging contract of a PERF203 site (seed 6.5): which logging calls its handlers make.

A rewrite may move a handler, never change what it logs. The calls are recorded as source text in
order before the rewrite, recollected from the rewritten code, and the two lists must be equal.
"""

from __future__ import annotations

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


class _Collector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        if is_logging_call(node):
            self.calls.append(node)


def logging_calls(handlers: list[cst.ExceptHandler], module: cst.Module) -> list[str]:
    """Source text of every logging call inside ``handlers``, in source order."""
    collector = _Collector()
    for handler in handlers:
        handler.visit(collector)
    return [" ".join(module.code_for_node(c).split()) for c in collector.calls]
