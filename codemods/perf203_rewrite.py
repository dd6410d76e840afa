"""The libcst side of PERF203: turn an analysed :class:`Plan` into the new loop and helper.

Nodes are moved, never re-printed: libcst keeps indentation relative to the enclosing block
(bracketed continuation lines included), so a moved ``try`` re-indents itself and every comment
inside it survives. Only the few lines generated here are formatted, black-style.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from .outcome import Site
from .perf203_locate import Located
from .perf203_logging import logging_calls


@dataclass
class Plan:
    """One site's chosen rewrite and everything the analysis proved about it.

    The extract fields describe the helper's contract: ``params`` it takes, ``outputs`` it hands
    back (rebound by the loop), and how ``break``/``return`` travel back (``flow``).
    """

    site: Site
    index: int
    kind: str
    located: Located
    logging: list[str]
    located_module: cst.Module
    # extract only
    helper: str = ""
    params: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    is_async: bool = False
    flow: str | None = None  # "bool-break" | "bool-return" | "str"
    flow_var: str | None = None
    result_var: str | None = None
    has_value: bool = False
    in_async: bool = False  # the loop is inside an ``async def``
    line_length: int = 88
    outputs_on_return: bool = True  # False: a ``return`` exit hands back None for the locals
    stacklevels: int = 0  # calls passing a literal ``stacklevel=`` (each gets +1 in the helper)
    falls_through: bool = True  # some path reaches the end of the try (needs a final return)
    comment: str = ""
    docstring: list[str] = field(default_factory=list)
    # filled while rewriting
    logging_after: list[str] | None = None


def _has_comment(line: cst.SimpleStatementLine) -> bool:
    return line.trailing_whitespace.comment is not None or any(e.comment is not None for e in line.leading_lines)


def _drop_tail(block: cst.IndentedBlock, kind: type, *, nested: bool = True) -> cst.IndentedBlock:
    """Remove a trailing ``break``/``continue`` statement line (or turn it into ``pass``);
    with ``nested``, also at the end of a trailing ``if``/``elif``/``else``."""
    body = list(block.body)
    if not body:
        return block
    last = body[-1]
    if isinstance(last, cst.SimpleStatementLine) and len(last.body) == 1 and isinstance(last.body[0], kind):
        if _has_comment(last) or len(body) == 1:
            body[-1] = last.with_changes(body=[cst.Pass()])
        else:
            body.pop()
        return block.with_changes(body=body)
    if isinstance(last, cst.If) and nested:
        body[-1] = _drop_tail_if(last, kind)
        return block.with_changes(body=body)
    return block


def _drop_tail_if(node: cst.If, kind: type) -> cst.If:
    orelse = node.orelse
    if isinstance(orelse, cst.If):
        orelse = _drop_tail_if(orelse, kind)
    elif isinstance(orelse, cst.Else):
        orelse = orelse.with_changes(body=_drop_tail(orelse.body, kind))
    return node.with_changes(body=_drop_tail(node.body, kind), orelse=orelse)


class _ExitRewriter(cst.CSTTransformer):
    """Inside the moved try: ``continue``/``break``/``return`` of the loop become helper returns."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.loop_depth = 0
        self.scope_depth = 0

    def visit_For_body(self, node) -> None:
        self.loop_depth += 1

    def leave_For_body(self, node) -> None:
        self.loop_depth -= 1

    def visit_While_body(self, node) -> None:
        self.loop_depth += 1

    def leave_While_body(self, node) -> None:
        self.loop_depth -= 1

    def visit_FunctionDef(self, node) -> None:
        self.scope_depth += 1

    def leave_FunctionDef(self, original, updated):
        self.scope_depth -= 1
        return updated

    def visit_ClassDef(self, node) -> None:
        self.scope_depth += 1

    def leave_ClassDef(self, original, updated):
        self.scope_depth -= 1
        return updated

    def leave_Continue(self, original, updated):
        if self.loop_depth or self.scope_depth:
            return updated
        return _return_node(self.plan, "continue", None, updated.semicolon)

    def leave_Break(self, original, updated):
        if self.loop_depth or self.scope_depth:
            return updated
        return _return_node(self.plan, "break", None, updated.semicolon)

    def leave_Return(self, original, updated):
        if self.scope_depth:
            return updated
        return _return_node(self.plan, "return", updated.value, updated.semicolon)


class _StacklevelBumper(cst.CSTTransformer):
    """``stacklevel=N`` → ``N + 1`` in the moved code: the helper is one more frame between the
    call and the code the warning/log record should point at (the analysis allows literals only)."""

    def leave_Arg(self, original, updated):
        if updated.keyword is not None and updated.keyword.value == "stacklevel" and isinstance(
            updated.value, cst.Integer
        ):
            return updated.with_changes(value=cst.Integer(str(int(updated.value.value, 0) + 1)))
        return updated


def _return_values(plan: Plan, exit_kind: str, value: cst.BaseExpression | None) -> list[cst.BaseExpression]:
    values: list[cst.BaseExpression] = []
    if plan.flow == "str":
        values.append(cst.Name("None") if exit_kind == "continue" else cst.SimpleString(f'"{exit_kind}"'))
    elif plan.flow is not None:
        target = "break" if plan.flow == "bool-break" else "return"
        values.append(cst.Name("True" if exit_kind == target else "False"))
    if plan.has_value:
        if value is None:
            value = cst.Name("None")
        elif isinstance(value, cst.Tuple) and not value.lpar:
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        values.append(value if exit_kind == "return" else cst.Name("None"))
    placeholder = exit_kind == "return" and not plan.outputs_on_return
    values += [cst.Name("None" if placeholder else o) for o in plan.outputs]
    return values


def _return_node(plan: Plan, exit_kind: str, value, semicolon) -> cst.Return:
    values = _return_values(plan, exit_kind, value)
    if not values:
        expr = None
    elif len(values) == 1:
        expr = values[0]
    else:
        expr = cst.Tuple([cst.Element(v) for v in values], lpar=[], rpar=[])
    return cst.Return(value=expr, semicolon=semicolon)


def build_hoist(plan: Plan, loop: cst.For | cst.While, module: cst.Module) -> cst.Try:
    try_ = loop.body.body[0]
    # libcst stores indentation relative to the enclosing block (bracketed continuation lines
    # included, ``ParenthesizedWhitespace.indent``), so moved nodes re-indent themselves.
    handlers = [h.with_changes(body=_drop_tail(h.body, cst.Break)) for h in try_.handlers]
    body_stmts = list(try_.body.body)
    if try_.leading_lines:
        body_stmts[0] = body_stmts[0].with_changes(leading_lines=[*try_.leading_lines, *body_stmts[0].leading_lines])
    new_loop = loop.with_changes(
        leading_lines=[],
        body=cst.IndentedBlock(
            body=body_stmts, header=loop.body.header, indent=loop.body.indent,
            footer=[*try_.body.footer, *loop.body.footer],
        ),
    )
    new_try = try_.with_changes(
        leading_lines=loop.leading_lines,
        body=cst.IndentedBlock(body=[new_loop], header=try_.body.header, indent=try_.body.indent),
        handlers=handlers,
    )
    plan.logging_after = logging_calls(list(new_try.handlers), module)
    return new_try


def build_unwrap(plan: Plan, loop: cst.For | cst.While) -> cst.For | cst.While:
    """The try's body becomes the loop's body (its handlers only re-raised: a no-op)."""
    try_: cst.Try = loop.body.body[0]
    body = list(try_.body.body)
    body[0] = body[0].with_changes(leading_lines=[*try_.leading_lines, *body[0].leading_lines])
    plan.logging_after = []
    return loop.with_changes(
        body=loop.body.with_changes(body=body, footer=[*try_.body.footer, *loop.body.footer])
    )


def build_extract(plan: Plan, loop: cst.For | cst.While, module: cst.Module) -> tuple[cst.CSTNode, cst.FunctionDef]:
    try_: cst.Try = loop.body.body[0]
    indent = module.default_indent
    nl = module.default_newline
    config = module.config_for_parsing
    handlers = [h.with_changes(body=_drop_tail(h.body, cst.Continue, nested=False)) for h in try_.handlers]
    moved = try_.with_changes(leading_lines=[], handlers=handlers).visit(_ExitRewriter(plan))
    plan.logging_after = logging_calls(list(moved.handlers), module)  # before the stacklevel bump
    if plan.stacklevels:
        moved = moved.visit(_StacklevelBumper())

    doc_lines = [plan.docstring[0]] + [(indent + line) if line else "" for line in plan.docstring[1:]]
    docstring = '"""' + nl.join(doc_lines) + nl + indent + '"""'
    limit = plan.line_length
    header = _wrap_call(0, f"{'async ' if plan.is_async else ''}def {plan.helper}(", plan.params, "):", limit,
                        indent, nl)
    helper = cst.parse_statement(f"{header}{nl}{indent}{docstring}{nl}{indent}pass{nl}", config)
    body = [helper.body.body[0], moved]
    final = _return_values(plan, "continue", None)
    if final and plan.falls_through:  # else every path already returns: no dead code
        body.append(cst.SimpleStatementLine([_return_node(plan, "continue", None, cst.MaybeSentinel.DEFAULT)]))
    helper = helper.with_changes(
        body=helper.body.with_changes(body=body),
        leading_lines=[cst.EmptyLine(), cst.EmptyLine()],
    )

    column = plan.located.column
    callee = f"{'await ' if plan.is_async else ''}{plan.helper}("
    lhs = [v for v in (plan.flow_var, plan.result_var) if v] + plan.outputs
    lines: list[str] = []
    exit_stmt = "break" if plan.flow == "bool-break" else ("return" + (f" {plan.result_var}" if plan.has_value else ""))
    if plan.flow in ("bool-break", "bool-return") and not lhs:
        call = _wrap_call(column, f"if {callee}", plan.params, "):", limit, indent, nl)
        lines.append(f"{call}{nl}{indent}{exit_stmt}{nl}")
    else:
        target = f"{', '.join(lhs)} = " if lhs else ""
        lines.append(_wrap_call(column, f"{target}{callee}", plan.params, ")", limit, indent, nl) + nl)
        if plan.flow in ("bool-break", "bool-return"):
            lines.append(f"if {plan.flow_var}:{nl}{indent}{exit_stmt}{nl}")
        elif plan.flow == "str":
            lines.append(f'if {plan.flow_var} == "break":{nl}{indent}break{nl}')
            ret = f"return {plan.result_var}" if plan.has_value else "return"
            lines.append(f'if {plan.flow_var} == "return":{nl}{indent}{ret}{nl}')
    stmts = [cst.parse_statement(text, config) for text in lines]
    comment = cst.EmptyLine(indent=True, comment=cst.Comment(plan.comment))
    stmts[0] = stmts[0].with_changes(leading_lines=[*try_.leading_lines, comment])
    new_loop = loop.with_changes(body=loop.body.with_changes(body=stmts))
    return new_loop, helper


def compile_alone(plan: Plan, node: cst.CSTNode, module: cst.Module) -> None:
    """Compile one generated statement: a helper as is, a rewritten loop inside a function of
    the same kind as the one it lives in (so ``return``/``await`` stay legal)."""
    code = module.code_for_node(node)
    if not isinstance(node, cst.FunctionDef):
        prefix = "async def _check():" if plan.in_async else "def _check():"
        code = prefix + "\n" + "".join(f"    {line}\n" for line in code.splitlines())
    try:
        compile(code, "<perf203>", "exec")
    except SyntaxError:
        # e.g. ``nonlocal`` needs the real enclosing function: check the whole file instead
        compile(module.code, "<perf203>", "exec")


def _wrap_call(column: int, head: str, args: list[str], tail: str, limit: int, indent: str, nl: str) -> str:
    """``head`` + args + ``tail`` on one line when it fits, else black's two shapes: all
    arguments on one indented line, or one per line with a trailing comma."""
    one = f"{head}{', '.join(args)}{tail}"
    if column + len(one) <= limit or not args:
        return one
    inner = ", ".join(args)
    if column + len(indent) + len(inner) <= limit:
        return f"{head}{nl}{indent}{inner}{nl}{tail}"
    return f"{head}{nl}" + "".join(f"{indent}{a},{nl}" for a in args) + tail


def _blank_lines_before(stmt: cst.CSTNode) -> int:
    count = 0
    for line in getattr(stmt, "leading_lines", ()):
        if line.comment is not None:
            break
        count += 1
    return count


class PlanApplier(cst.CSTTransformer):
    """Rewrites every planned loop in one pass and puts each helper before its top statement."""

    def __init__(self, plans: list[Plan], module: cst.Module) -> None:
        super().__init__()
        self.module = module
        self.by_loop = {id(p.located.loop): p for p in plans}
        self.helpers: dict[int, list[cst.FunctionDef]] = {}
        self.changed: list[tuple[Plan, cst.CSTNode]] = []  # every new loop/try and helper
        # only statements on the way to a rewritten loop are entered: the rest is left untouched
        self.on_path = {id(a) for p in plans for a in p.located.ancestors}

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.BaseStatement):
            return id(node) in self.on_path
        return True

    def _rewrite(self, original, updated):
        plan = self.by_loop.get(id(original))
        if plan is None:
            return updated
        if plan.kind == "unwrap":
            new_node = build_unwrap(plan, updated)
            self.changed.append((plan, new_node))
            return new_node
        if plan.kind == "hoist":
            new_node = build_hoist(plan, updated, self.module)
            self.changed.append((plan, new_node))
            return new_node
        new_loop, helper = build_extract(plan, updated, self.module)
        self.helpers.setdefault(id(plan.located.top), []).append(helper)
        self.changed += [(plan, new_loop), (plan, helper)]
        return new_loop

    def leave_For(self, original_node, updated_node):
        return self._rewrite(original_node, updated_node)

    def leave_While(self, original_node, updated_node):
        return self._rewrite(original_node, updated_node)

    def leave_Module(self, original_node, updated_node):
        body = []
        for orig, new in zip(original_node.body, updated_node.body, strict=True):
            helpers = self.helpers.get(id(orig), [])
            if helpers and not body:  # first statement of the file: no blank lines above the helper
                helpers[0] = helpers[0].with_changes(leading_lines=[])
            if helpers and _blank_lines_before(new) < 2:
                new = new.with_changes(leading_lines=[cst.EmptyLine()] * (2 - _blank_lines_before(new))
                                       + list(new.leading_lines))
            body.extend(helpers)
            body.append(new)
        return updated_node.with_changes(body=body)
