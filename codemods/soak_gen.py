"""Generated loop programs for the codemod soak, and the check that runs each one before and after.

Hand-written examples only cover the shapes someone thought of. The soak draws thousands of small
programs from hypothesis strategies over the dimensions that broke other tools (see
``shared/cases/perf203.md`` and ``perf401.md``): loop kind, what the ``try`` body does, what each
handler does, ``else``/``finally``, handler tuples and broad ``Exception``, iterables that raise
part-way, generators, names unbound before the loop, closures, methods, class bodies, async code;
and for PERF401 filters, walrus, ternaries, lambdas, for-else, annotated or non-empty lists,
tuple targets and loops inside a ``try`` whose handler reads the list.

Each program is one self-contained module (a prelude of helpers plus the function ``f``) and a
list of inputs: the empty list, every item value once, two drawn lists, and a part-way raising
variant at every position. The helper ``work(x)`` raises per item from a ``FAIL`` table that is
drawn after the handlers, so that the handlers' own exception types are among those raised (a
handler that never runs proves nothing). ruff finds the sites (one call per batch of files, via
:mod:`workers.scan` as the job does), :func:`codemods.apply.fix_file` rewrites them exactly as the
job would, and :func:`codemods.differential.assert_same_behaviour` compares what both versions do.
Every generated loop is bounded (``while`` loops pop one item per iteration), and each program's
fix + comparison runs under an optional timer so a hang costs one program, not the run.

Not compared (the harness's limits, not the generator's): log record ``funcName``/``lineno`` and
traceback text (an extracted helper adds a frame), and reprs that embed a ``__qualname__``, which
the generated programs therefore never log.

Generation is driven by hypothesis with a fixed seed and no example database, so the same seed and
count give the same programs on every machine with the same hypothesis version.
"""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from .apply import fix_file
from .differential import RaisingIterable, assert_same_behaviour
from .outcome import Site

__all__ = [
    "Program",
    "ProgramResult",
    "check_programs",
    "describe",
    "generate_programs",
    "perf203_programs",
    "perf401_programs",
    "program_strategy",
]

RULES = ("PERF203", "PERF401")
FUNC = "f"

#: Exception types the helper ``work(x)`` can be told to raise for a given item.
RAISED = ("ValueError", "KeyError", "OSError", "ZeroDivisionError", "RuntimeError", "SoakError")
#: What handlers catch: single types, tuples, bases and the broad ``Exception``.
CAUGHT = (
    "ValueError", "KeyError", "Exception", "(ValueError, KeyError)", "LookupError", "OSError",
    "(OSError, SoakError)", "ArithmeticError", "RuntimeError", "SoakError",
)
#: What input iterables raise part-way (builtins, so inputs pickle to worker processes).
ITER_EXC = (ValueError, KeyError, OSError)


@dataclass(frozen=True)
class Program:
    """One generated module: ``source`` defines ``f``; each input is the args tuple for one call."""

    rule: str
    source: str
    inputs: tuple
    features: tuple[str, ...]
    prelude_chars: int = 0

    @property
    def code(self) -> str:
        """The program without the shared helper prelude: what makes it different from the others."""
        return self.source[self.prelude_chars:]


@dataclass
class ProgramResult:
    """What the soak saw for one program.

    ``verdict``: ``no-site`` (ruff flagged nothing), ``skipped`` (sites, none rewritten), ``same``
    (rewritten, same behaviour on every input), ``differs`` (a behaviour difference: a bug),
    ``error`` (the check itself failed) or ``timeout``.
    """

    rule: str
    index: int
    features: tuple[str, ...]
    verdict: str
    sites: int = 0
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (status, kind-or-reason)
    compared: int = 0
    detail: str | None = None
    before: str = ""
    after: str | None = None
    inputs: str = ""
    prelude_chars: int = 0


# ---------------------------------------------------------------------------------------------
# Drawing helpers
# ---------------------------------------------------------------------------------------------


class _Draw:
    """Thin wrapper so the strategies read as decisions; shrinking goes towards "feature off"."""

    def __init__(self, draw) -> None:
        self.draw = draw

    def pick(self, options: Sequence):
        return self.draw(st.sampled_from(options))

    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) >= 100 - percent

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))


def _block(lines: list[str], indent: int) -> list[str]:
    return [("    " * indent + line) if line else "" for line in lines]


#: For each handler type, the exceptions ``work`` may raise that it catches.
_CATCHES = {
    "ValueError": ("ValueError",), "KeyError": ("KeyError",), "Exception": RAISED,
    "(ValueError, KeyError)": ("ValueError", "KeyError"), "LookupError": ("KeyError",),
    "OSError": ("OSError",), "(OSError, SoakError)": ("OSError", "SoakError"),
    "ArithmeticError": ("ZeroDivisionError",), "RuntimeError": ("RuntimeError",), "SoakError": ("SoakError",),
}


def _fail_table(d: _Draw, caught: Sequence[str] = ()) -> str:
    """``{item: exception type}`` for ``work``; the first entries raise what the handlers catch,
    so the handlers actually run (the rest may escape them)."""
    keys = d.draw(st.lists(st.integers(0, 7), unique=True, min_size=max(1, len(caught)), max_size=4))
    types = [d.pick(_CATCHES[c]) for c in caught] + [d.pick(RAISED) for _ in keys[len(caught):]]
    return "{" + ", ".join(f"{k}: {t}" for k, t in zip(keys, types, strict=False)) + "}"


_PRELUDE = '''\
import asyncio
import contextlib
import logging

logger = logging.getLogger("soak")


class SoakError(Exception):
    """What handlers raise instead of the error they caught."""


FAIL = {fail}
GEN_FAIL = {gen_fail}


def work(x):
    """A number for ``x``, or the exception FAIL assigns to ``x``."""
    exc = FAIL.get(x)
    if exc is not None:
        raise exc(f"bad {{x}}")
    return x * 2 + 1


async def awork(x):
    await asyncio.sleep(0)
    return work(x)


def gen(items):
    """Yields items, but raises OSError on reaching GEN_FAIL."""
    for item in items:
        if item == GEN_FAIL:
            raise OSError(f"gen {{item}}")
        yield item


async def agen(items):
    for item in items:
        await asyncio.sleep(0)
        yield item


class Base:
    def __init__(self):
        self.touched = []

    def touch(self, x):
        self.touched.append(work(x))
'''


def _prelude(d: _Draw, caught: Sequence[str] = ()) -> str:
    gen_fail = d.pick(("None", "6", "2", "0"))
    return _PRELUDE.format(fail=_fail_table(d, caught), gen_fail=gen_fail)


def _inputs(d: _Draw, second: Callable[[], object]) -> tuple:
    """The empty list, every item value once (so each FAIL entry, GEN_FAIL and ``x == k`` branch is
    reached), two drawn lists, and a part-way raising variant at every position."""
    ints = st.lists(st.integers(0, 7), max_size=6)
    lists = [[], list(range(8)), d.draw(ints), d.draw(ints)]
    raising = d.draw(st.lists(st.integers(0, 7), min_size=1, max_size=4))
    exc = d.pick(ITER_EXC)
    out = [(items, second()) for items in lists]
    out += [(RaisingIterable(raising, k, exc), second()) for k in range(len(raising) + 1)]
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# PERF203: a loop whose whole body is one try
# ---------------------------------------------------------------------------------------------

_SHAPES_203 = ("plain", "async", "generator", "nested", "method", "classbody")
_LOOPS_203 = (
    "for", "for", "for_gen", "for_enumerate", "while", "for_local", "for_range", "for_enumerate_local",
    "for_dict", "for_literal", "for_unpack",
)


@dataclass
class _Ctx203:
    shape: str
    names: list[str]  # result names besides ``out`` (``total``, ``last``)
    returns: bool
    yields: bool
    awaits: bool
    method: bool
    scaled: bool
    caught: list[str] = field(default_factory=list)  # every handler's type, in order


def _ret(ctx: _Ctx203) -> str:
    return "(" + ", ".join(['"early"', "x", "out", *ctx.names]) + ")"


def _body_203(d: _Draw, ctx: _Ctx203, first: bool) -> list[str]:
    """One statement (or small block) of the try body; ``first`` ones always call something that can raise."""
    raising = [["out.append(work(x))"], ["value = work(x)", "out.append(value * 2)"]]
    if "total" in ctx.names:
        raising += [["total += work(x)"], ["total = total + work(x)"]]
    if "last" in ctx.names:
        raising.append(["last = work(x)"])
    if ctx.awaits:
        raising.append(["out.append(await awork(x))"])
        if "total" in ctx.names:
            raising.append(["total += await awork(x)"])
    if ctx.yields:
        raising.append(["yield work(x)"])
    if ctx.method:
        raising += [["self.total += work(x)"], ["super().touch(x)"], ["self.touch(x)"]]
    if ctx.scaled:
        raising.append(["out.append(scaled(x))"])
    if "prev" in ctx.names:
        raising.append(["out.append((prev, work(x)))", "prev = x"])
    if "COUNT" in ctx.names:
        raising.append(["COUNT += work(x)"])
    if first:
        return d.pick(raising)
    k = d.int(0, 7)
    other = [
        ["print(\"item\", x)"],
        ["logger.debug(\"item %s\", x)"],
        [f"if x == {k}:", "    raise SoakError(f\"stop {x}\")"],
        ["out.append(lambda: x)"],
        ["for y in range(x % 3):", "    out.append(work(y))"],
    ]
    if ctx.returns:
        other.append([f"if x == {k}:", f"    return {_ret(ctx)}"])
    if "total" in ctx.names:
        other.append(["for y in range(3):", "    if y == x:", "        break", "    total += y"])
    if d.chance(4):  # ruff does not flag these; they must stay untouched
        return [f"if x == {k}:", f"    {d.pick(('break', 'continue'))}"]
    return d.pick(raising + other)


def _log_203(d: _Draw) -> tuple[list[str], bool]:
    """A logging/printing statement for a handler, and whether it needs ``as exc``."""
    return d.pick(
        (
            (["logger.warning(\"failed %s: %s\", x, exc)"], True),
            (["logger.exception(\"failed on %s\", x)"], False),
            (["logger.error(\"bad %r\", x, exc_info=True)"], False),
            (["logger.info(\"skip %s (%s)\", x, type(exc).__name__)"], True),
            (["print(\"error\", x, repr(exc))"], True),
        )
    )


def _handler_203(d: _Draw, ctx: _Ctx203) -> tuple[list[str], bool, str]:
    """Handler statements, whether they read ``exc``, and a feature tag."""
    lines: list[str] = []
    needs_exc = False
    defaults = [["out.append(None)"], ["out.append((\"err\", x))"]]
    if "total" in ctx.names:
        defaults.append(["total += 100"])
    if "last" in ctx.names:
        defaults.append(["last = -1"])
    if ctx.yields:
        defaults.append(["yield (\"err\", x)"])
    if ctx.method:
        defaults.append(["self.total -= 1"])
    for _ in range(d.int(0, 2)):
        if d.chance(50):
            log, uses = _log_203(d)
            lines += log
            needs_exc |= uses
        else:
            lines += d.pick(defaults)
    terminals = ["", "continue", "break", "raise", "raise SoakError(f\"wrapped {x}\") from exc", "raise SoakError(x)"]
    if ctx.returns:
        terminals.append(f"return {_ret(ctx)}")
    terminal = d.pick(terminals)
    if terminal:
        lines.append(terminal)
        needs_exc |= "exc" in terminal
    tag = terminal.split(" ")[0] if terminal else ("log/default" if lines else "pass")
    return lines or ["pass"], needs_exc, tag


def _loop_203(d: _Draw, ctx: _Ctx203, loop: str) -> tuple[list[str], list[str]]:
    """(statements before the loop + the loop, feature tags)."""
    tags = [f"loop:{loop}"]
    pre: list[str] = []
    first: list[str] = []
    if loop == "while":
        pre.append("pending = list(items)")
        header, first = "while pending:", ["x = pending.pop(0)"]
    elif loop == "for_gen":
        header = "for x in gen(items):"
    elif loop == "for_enumerate":
        header = "for i, x in enumerate(items):"
    elif loop == "for_local":
        pre.append("seq = list(items)")
        header = "for x in seq:"
    elif loop == "for_range":
        pre += ["seq = list(items)", "n = len(seq)"]
        header, first = "for i in range(n):", ["x = seq[i]"]
    elif loop == "for_enumerate_local":
        pre.append("seq = list(items)")
        header = "for i, x in enumerate(seq):"
    elif loop == "for_dict":
        pre.append("table = dict.fromkeys(items)")
        header = "for x in table:"
        if d.chance(50):  # "dictionary changed size during iteration" comes from next(), outside the try
            first = [f"if x == {d.int(0, 7)}:", "    table[x + 100] = x"]
            tags.append("dict-resized")
    elif loop == "for_literal":
        header = "for x in (0, 2, 3, 5):"
    elif loop == "for_unpack":  # unpacking the target raises ValueError at item 4, outside the try
        pre.append("pairs = [(v, v) if v != 4 else (v,) for v in items]")
        header = "for i, x in pairs:"
    else:
        header = "for x in items:"
    body = first + _body_203(d, ctx, True)
    for _ in range(d.int(0, 2)):
        body += _body_203(d, ctx, False)
    handlers: list[str] = []
    used: set[str] = set()
    for _ in range(1 + d.chance(30)):
        caught = d.pick([c for c in CAUGHT if c not in used] or CAUGHT)
        used.add(caught)
        ctx.caught.append(caught)
        lines, needs_exc, tag = _handler_203(d, ctx)
        tags.append(f"handler:{tag}")
        tags.append(f"catch:{caught}")
        name = " as exc" if needs_exc or d.chance(20) else ""
        handlers += [f"except {caught}{name}:", *_block(lines, 1)]
    tail: list[str] = []
    if d.chance(25):
        options = [["out.append((\"ok\", x))"], ["logger.info(\"ok %s\", x)"], ["last = x"] if "last" in ctx.names else ["print(\"ok\", x)"], ["continue"]]
        if "total" in ctx.names:
            options.append(["total += 1"])
        if ctx.returns and d.chance(20):
            options.append([f"return {_ret(ctx)}"])
        tail += ["else:", *_block(d.pick(options), 1)]
        tags.append("else")
    if d.chance(25):
        options = [["out.append((\"fin\", x))"], ["print(\"finally\", x)"], ["logger.debug(\"done %s\", x)"]]
        if "total" in ctx.names:
            options.append(["total += 1"])
        tail += ["finally:", *_block(d.pick(options), 1)]
        tags.append("finally")
    loop_lines = [header, *_block(["try:", *_block(body, 1), *handlers, *tail], 1)]
    if d.chance(10):  # for-else / while-else: runs when no handler broke out; may raise itself
        loop_lines += ["else:", *_block(d.pick((["out.append(\"done\")"], ["out.append(work(len(out)))"],
                                                 ["logger.info(\"done %d\", len(out))"])), 1)]
        tags.append("loop-else")
    return pre + loop_lines, tags


@st.composite
def perf203_programs(draw) -> Program:
    """A module with one PERF203 candidate loop in ``f`` (or in code ``f`` calls)."""
    d = _Draw(draw)
    shape = d.pick(_SHAPES_203)
    loop = d.pick(_LOOPS_203)
    names = [n for n, p in (("total", 50), ("last", 50), ("prev", 20)) if d.chance(p)]
    init = [f"{n} = {'0' if n == 'total' else 'None'}" for n in names if d.chance(80)]
    use_global = d.chance(10)
    if use_global:
        names.append("COUNT")
    ctx = _Ctx203(
        shape=shape,
        names=names,
        returns=shape != "classbody",
        yields=shape == "generator",
        awaits=shape == "async",
        method=shape == "method",
        scaled=shape != "classbody" and d.chance(20),
    )
    tags = [f"shape:{shape}", *(f"unbound:{n}" for n in names if n != "COUNT" and f"{n} = " not in " ".join(init))]
    loop_lines, loop_tags = _loop_203(d, ctx, loop)
    tags += loop_tags
    if d.chance(12):  # a second flagged loop in the same scope: two helpers, two names
        second, second_tags = _loop_203(d, ctx, d.pick(_LOOPS_203))
        loop_lines += second
        tags += ["two-loops", *second_tags]
    if use_global:
        init = ["global COUNT", *init]
        tags.append("global")
    setup = ["scale = 3", "", "def scaled(v):", "    return work(v) * scale", ""] if ctx.scaled else []
    after: list[str] = []
    extra_results: list[str] = []
    if shape != "classbody" and d.chance(15):
        extra_results.append("x")  # the loop variable after the loop (unbound if no iteration)
        tags.append("target-after")
    if shape != "classbody" and d.chance(8):
        after += ["try:", "    seen = exc", "except NameError as err:", "    seen = type(err).__name__"]
        extra_results.append("seen")
        tags.append("exc-after")
    user = ""
    if d.chance(12):  # a module function that already has the name a helper would get
        user = '\n\ndef _safe_work(v, *rest):\n    return ("user", v, rest)\n'
        extra_results.append("_safe_work(1)")
        tags.append("user-helper-name")
    result = "(" + ", ".join(["out", *names, *extra_results]) + ",)"
    loop_lines = loop_lines + after
    if shape == "classbody":
        attrs = ", ".join(f'getattr(K, "{n}", "<unset>")' for n in names)
        code = [
            "def f(items, out):",
            "    class K:",
            *_block(init + loop_lines, 2),
            "",
            f"    return ({attrs}{', ' if attrs else ''}out, "
            "sorted(n for n in vars(K) if not n.startswith(\"__\")))",
        ]
    elif shape == "nested":
        nonlocal_names = [n for n in names if f"{n} = " in " ".join(init) and d.chance(50)]
        inner_init = [line for line in init if line.split(" ")[0] not in nonlocal_names]
        outer = [line for line in init if line.split(" ")[0] in nonlocal_names]
        inner = [f"nonlocal {', '.join(nonlocal_names)}"] if nonlocal_names else []
        tags += ["nonlocal"] if nonlocal_names else []
        code = [
            "def f(items, out):",
            *_block(outer + setup, 1),
            "    def run():",
            *_block(inner + inner_init + loop_lines, 2),
            f"        return {result}",
            "",
            f"    return run(), ({', '.join(nonlocal_names)}{',' if nonlocal_names else ''})",
        ]
    elif shape == "method":
        code = [
            "class Worker(Base):",
            "    def __init__(self):",
            "        super().__init__()",
            "        self.total = 0",
            "",
            "    def run(self, items, out):",
            *_block(init + setup + loop_lines, 2),
            f"        return {result}",
            "",
            "",
            "def f(items, out):",
            "    w = Worker()",
            "    return w.run(items, out), vars(w)",
        ]
    else:
        head = "async def f(items, out):" if shape == "async" else "def f(items, out):"
        end = f"yield (\"end\", {result})" if shape == "generator" else f"return {result}"
        code = [head, *_block(init + setup + loop_lines, 1), f"    {end}"]
    # Drawn last so the FAIL table can raise what the handlers catch (at most 4 entries).
    prelude = _prelude(d, list(dict.fromkeys(ctx.caught))[: d.int(1, 4)])
    if use_global:
        prelude += "\nCOUNT = 0\n"
    before_f = d.chance(50)
    source = prelude + (user if before_f else "") + "\n\n" + "\n".join(code) + "\n" + ("" if before_f else user)
    inputs = _inputs(d, lambda: [] if d.chance(70) else ["seed"])
    return Program("PERF203", source, inputs, tuple(dict.fromkeys(tags)), len(prelude))


# ---------------------------------------------------------------------------------------------
# PERF401: a loop that only appends
# ---------------------------------------------------------------------------------------------

_SHAPES_401 = (
    "plain", "plain", "plain", "async", "async", "in_try", "in_try", "classbody", "nested", "method", "module",
    "generator", "global",
)


def _filters_401(d: _Draw, shape: str, out: str, init: list[str]) -> tuple[list[str], list[str], list[str]]:
    """``if`` lines (outermost first), names the tests bind (walrus), feature tags."""
    k = d.int(0, 6)
    options = [(f"if size() < {k}:", None, "closure-reads-list")] * 3 if "def size():" in init else []
    options += [
        (f"if x > {k}:", None, "filter"),
        ("if x % 2:", None, "filter"),
        (f"if (m := x * 2) > {k}:", "m", "walrus-test"),
        (f"if (x if x > {k} else 0):", None, "ternary-test"),
        (f"if (lambda v: v != {k})(x):", None, "lambda-test"),
        (f"if x not in {out}:", None, "reads-list"),
        ("if x in extra:", None, "filter"),
        (f"if work(x) > {k}:", None, "raising-test"),
        (f"if x > {k}:  # keep big ones", None, "comment"),
        (f"if (\n    x > {k}  # big\n    and x != 5\n):", None, "comment"),
    ]
    if shape == "async":
        options.append((f"if await awork(x) > {k}:", None, "await-test"))
    lines, binds, tags = [], [], []
    for _ in range(d.int(0, 2) if d.chance(60) else 0):
        line, bind, tag = d.pick(options)
        if bind and shape in ("classbody", "module"):
            continue  # walrus in a class body is a SyntaxError inside comprehensions *and* noisy
        lines.append(line)
        binds += [bind] if bind else []
        tags.append(tag)
    return lines, binds, tags


def _element_401(d: _Draw, shape: str, target: str, binds: list[str], out: str, init: list[str]) -> tuple[str, str]:
    options = [("push(x)", "closure-appends")] * 4 if "def push(v):" in init else []
    options += [("size()", "closure-reads-list")] * 2 if "def size():" in init else []
    options += [
        ("x", "plain"), ("x * k", "uses-k"), ("x if x > 2 else -x", "ternary"), ("lambda: x", "lambda"),
        ("(c for c in [x])", "genexp"), ("(z := x + 1)", "walrus"), ("(x := x + 1)", "walrus-loopvar"),
        ("work(x)", "raising"), ("str(x)", "plain"), ("{\"v\": x}", "plain"), ("[x, k]", "uses-k"),
        ("*[x]", "starred"), ("f\"{x}-{k}\"", "uses-k"), (f"len({out})", "reads-list"),
    ]
    if target == "enumerate":
        options += [("(i, x)", "tuple"), ("i * x", "tuple")]
    if target == "zip":
        options += [("(x, y)", "tuple"), ("x + y", "tuple")]
    options += [(b, "walrus-value") for b in binds]
    if shape == "async":
        options.append(("await awork(x)", "await"))
    if shape == "generator":
        options.append(("(yield x)", "yield"))
    if shape == "method":
        options.append(("x * self.k", "self"))
    value, tag = d.pick(options)
    if shape in ("classbody", "module") and ":=" in value:
        value, tag = "x", "plain"
    return value, tag


def _loop_401(d: _Draw, shape: str, out: str, tags: list[str], init: list[str]) -> tuple[list[str], list[str]]:
    """The loop lines and the extra result names it may bind (walrus)."""
    target = d.pick(
        ("plain",) * 8 + ("gen", "gen", "sorted", "comment-header", "comment-header", "enumerate", "zip", "paren-tuple")
    )
    source = "DATA" if shape == "module" else "items"
    header = {
        "plain": f"for x in {source}:",
        "enumerate": f"for i, x in enumerate({source}):",
        "zip": f"for x, y in zip({source}, extra):",
        "gen": f"for x in gen({source}):",
        "sorted": f"for x in sorted({source}):",
        "comment-header": f"for x in (  # note\n    {source}\n):",
        "paren-tuple": f"for (i, x) in enumerate({source}):",
    }[target]
    if shape == "async" and d.chance(40):
        header, target = f"async for x in agen({source}):", "async-for"
    if shape == "module":
        header = header.replace("extra", "DATA")
    target_kind = "enumerate" if target == "paren-tuple" else target
    tags.append(f"target:{target}")
    filters, binds, filter_tags = _filters_401(d, shape, out, init)
    tags += filter_tags
    value, tag = _element_401(d, shape, target_kind, binds, out, init)
    if value == "x" and not filters:  # an unfiltered copy is PERF402, not PERF401
        value = "x + 1"
    tags.append(f"value:{tag}")
    inner = [f"{out}.append({value})"]
    for line in reversed(filters):
        inner = [*line.split("\n"), *_block(inner, 1)]
    lines = [*header.split("\n"), *_block(inner, 1)]
    if d.chance(12):
        lines += ["else:", f"    {out}.append(-1)"]
        tags.append("for-else")
    extra = [b for b in binds]
    if "z :=" in value:
        extra.append("z")
    return lines, extra


def _init_401(d: _Draw, out: str, tags: list[str]) -> list[str]:
    init, tag = d.pick(
        (
            ([f"{out} = []"], "empty"),
            ([f"{out} = []"], "empty"),
            ([f"{out} = []"], "empty"),
            ([f"{out} = [0]"], "non-empty"),
            ([f"{out} = [0, 1]"], "non-empty"),
            ([f"{out}: list[int] = []"], "annotated"),
            ([f"{out}: list = []"], "annotated"),
            ([f"{out} = list()"], "list()"),
            ([f"{out} = []", "print(\"start\")"], "between"),
            ([f"{out} = []", "k = len(extra) + 1"], "between"),
            ([f"{out} = []", f"alias = {out}"], "alias"),
            ([f"{out} = []", "", "def size():", f"    return len({out})", ""], "closure-reads-list"),
            ([f"{out} = []", "", "def push(v):", f"    {out}.append(-v)", "    return v", ""], "closure-appends"),
            ([f"{out} = extra"], "param"),
            (["if extra:", f"    {out} = []", "else:", f"    {out} = [9]"], "branches"),
            ([f"{out} = sorted(extra)"], "sorted()"),
        )
    )
    tags.append(f"init:{tag}")
    return init


def _after_401(d: _Draw, out: str, tags: list[str]) -> list[str]:
    if not d.chance(40):
        return []
    lines, tag = d.pick(
        (
            (["print(\"last\", x)"], "target-after"),
            (["x = 100"], "target-rebound"),
            (["i = 100"], "target-rebound"),
            (["del x"], "target-after"),
            ([f"{out}.append(-2)"], "append-after"),
            ([f"logger.info(\"n=%d\", len({out}))"], "log-after"),
            (["for y in extra:", f"    {out}.append(y)"], "second-loop"),
            ([f"{out}.append(-2)"], "append-after"),
            ([f"logger.info(\"n=%d\", len({out}))"], "log-after"),
            (["for y in extra:", f"    {out}.append(y * 2)"], "second-loop"),
        )
    )
    tags.append(f"after:{tag}")
    return lines


@st.composite
def perf401_programs(draw) -> Program:
    """A module with one or two PERF401 candidate loops."""
    d = _Draw(draw)
    prelude = _prelude(d)
    shape = d.pick(_SHAPES_401)
    tags = [f"shape:{shape}"]
    out = "OUT" if shape == "global" else "out"
    init = _init_401(d, out, tags)
    k = ["k = 3"] if d.chance(80) else []
    if shape in ("classbody", "module") and "def " in "".join(init):
        init = init[:1]  # a function in a class body cannot see class-level names at all
    loop, extra_names = _loop_401(d, shape, out, tags, init)
    after = _after_401(d, out, tags) if shape not in ("module",) else []
    if "alias = " in "".join(init):
        extra_names.append("alias")
    if shape in ("plain", "async", "generator", "method") and d.chance(15):
        wrapper = d.pick(("if extra:", "with contextlib.suppress(LookupError):", "if True:", "for rep in range(2):"))
        tags.append(f"wrapped:{wrapper.split('(')[0]}")  # range(2): the loop repeats on a non-empty list
        loop = [wrapper, *_block(loop, 1)]
    result = "(" + ", ".join([out, *extra_names]) + ",)"
    if shape == "in_try":
        handler = d.pick(
            (
                ["return (\"partial\", out)"],
                # len(), not the list: a generator's repr names its (comprehension) scope.
                ["logger.exception(\"partial %d\", len(out))", "raise"],
                ["out.append(\"failed\")"],
                ["pass"],
            )
        )
        caught = d.pick(("ValueError", "Exception", "(KeyError, OSError)", "LookupError"))
        inside = d.chance(50)
        body = (init if inside else []) + k + loop + after
        clause = [f"except {caught}:", *_block(handler, 1)]
        if d.chance(25):
            clause = ["finally:", "    logger.info(\"built %d\", len(out))"]
            tags.append("finally-reads-list")
        code = [
            "def f(items, extra):",
            *_block([] if inside else init, 1),
            "    try:",
            *_block(body, 2),
            *_block(clause, 1),
            f"    return {result}",
        ]
        tags.append("init-in-try" if inside else "init-before-try")
    elif shape == "classbody":
        code = [
            "def f(items, extra):",
            "    class K:",
            *_block(k + init + loop + after, 2),
            "",
            "    return K.out, sorted(n for n in vars(K) if not n.startswith(\"__\"))",
        ]
    elif shape == "nested":
        use_nonlocal = d.chance(40)
        tags.append("nonlocal" if use_nonlocal else "closure")
        code = [
            "def f(items, extra):",
            *_block(k, 1),
            "    out = None",
            "    def run():",
            *_block((["nonlocal out"] if use_nonlocal else []) + init + loop + after, 2),
            f"        return {result}",
            "",
            "    return run(), out",
        ]
    elif shape == "method":
        code = [
            "class Acc:",
            "    def __init__(self):",
            "        self.k = 2",
            "        self.out = []",
            "",
            "    def run(self, items, extra):",
            *_block(k + init + loop + after, 2),
            f"        return {result}",
            "",
            "",
            "def f(items, extra):",
            "    acc = Acc()",
            "    return acc.run(items, extra), vars(acc)",
        ]
    elif shape == "module":
        data = d.draw(st.lists(st.integers(0, 7), max_size=5))
        init = [line.replace("extra", "DATA") for line in init]
        code = [
            f"DATA = {data!r}",
            "extra = DATA",
            *k,
            *init,
            *loop,
            "",
            "",
            "def f(items, extra):",
            f"    return {out}, sorted(n for n in ('x', 'i', 'y', 'z', 'm') if n in globals())",
        ]
    elif shape == "global":
        code = [
            "OUT = None",
            "",
            "",
            "def f(items, extra):",
            "    global OUT",
            *_block(k + init + loop + after, 1),
            f"    return {result}",
        ]
    else:
        head = "async def f(items, extra):" if shape == "async" else "def f(items, extra):"
        end = f"yield (\"end\", {result})" if shape == "generator" else f"return {result}"
        code = [head, *_block(k + init + loop + after, 1), f"    {end}"]
    source = prelude + "\n\n" + "\n".join(code) + "\n"
    inputs = _inputs(d, lambda: d.draw(st.lists(st.integers(0, 7), max_size=4)))
    if shape == "module":
        inputs = inputs[:1]
    return Program("PERF401", source, inputs, tuple(dict.fromkeys(tags)), len(prelude))


def program_strategy(rule: str) -> st.SearchStrategy[Program]:
    """The strategy for ``rule`` (``PERF203`` or ``PERF401``)."""
    if rule == "PERF203":
        return perf203_programs()
    if rule == "PERF401":
        return perf401_programs()
    raise ValueError(f"unknown rule {rule!r}")


class _Enough(Exception):
    """Stops hypothesis once enough distinct programs were drawn."""


def generate_programs(rule: str, count: int, seed: int) -> list[Program]:
    """``count`` programs for ``rule`` with pairwise different source, the same ones for the same seed.

    hypothesis mutates each example into near-copies (often only the inputs change); those are
    dropped, so every program counted is a different module text.

    Programs that do not compile are discarded (the generator is meant never to produce them;
    a discard is a generator bug, visible as fewer programs than asked for).
    """
    found: dict[str, Program] = {}
    if count <= 0:
        return []

    @settings(
        max_examples=count * 10,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        derandomize=False,
        report_multiple_bugs=False,
    )
    @hypothesis_seed(seed)
    @given(program_strategy(rule))
    def collect(program: Program) -> None:
        if len(found) >= count:
            raise _Enough
        try:
            compile(program.source, "<soak>", "exec")
        except SyntaxError:
            return
        found.setdefault(program.source, program)

    try:
        collect()
    except _Enough:
        pass
    return list(found.values())[:count]


# ---------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------


class ProgramTimeout(KeyboardInterrupt):
    """Raised by the per-program timer.

    A KeyboardInterrupt subclass on purpose: generated handlers catch ``Exception`` and the
    differential harness records every other exception as behaviour, but both let this through.
    """


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    usable = seconds and hasattr(signal, "setitimer")
    if usable:
        try:
            previous = signal.signal(signal.SIGALRM, _raise_timeout)
        except ValueError:  # not the main thread: no timer
            usable = False
    if not usable:
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _raise_timeout(signum, frame):
    raise ProgramTimeout


Fixer = Callable[[str, bytes, list[Site]], tuple[object, bytes]]


def _find_sites(root: Path, names: list[str]) -> dict[str, list[Site]]:
    from workers.scan import run_ruff, to_sites

    violations, _ = run_ruff(root, names, target="py310", rules=RULES)
    by_file: dict[str, list[Site]] = {}
    for site in to_sites(root, violations, RULES):
        by_file.setdefault(site.path, []).append(site)
    return by_file


def _codemod_sites(program: Program, name: str) -> list[Site]:
    """The codemod's own candidate finder: wider than ruff for PERF401 (e.g. tuple targets)."""
    if program.rule == "PERF401":
        import libcst as cst

        from .perf401 import find_candidate_sites

        return find_candidate_sites(cst.parse_module(program.source), name, source=program.source)
    from .perf203 import find_perf203_sites

    return find_perf203_sites(program.source, name)


def check_programs(
    programs: Sequence[Program],
    *,
    first_index: int = 0,
    timeout: float | None = None,
    fixer: Fixer = fix_file,
    sites_from: str = "ruff",
) -> list[ProgramResult]:
    """Find each program's sites with one ruff call, fix them with ``fixer``, compare behaviour.

    Only sites of the program's own rule are fixed (the job fixes one rule per group). ``fixer``
    is :func:`codemods.apply.fix_file` in the soak; tests pass a deliberately wrong one to prove
    the check can fail. ``sites_from="codemod"`` asks the codemods' own candidate finders instead
    of ruff, to push loops at the codemods that today's ruff would not flag.
    """
    results = []
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        root = Path(tmp)
        names = []
        for offset, program in enumerate(programs):
            name = f"p{first_index + offset:06d}.py"
            (root / name).write_text(program.source, encoding="utf-8")
            names.append(name)
        sites_by_file = _find_sites(root, names) if sites_from == "ruff" else {}
        for offset, (program, name) in enumerate(zip(programs, names, strict=True)):
            if sites_from == "ruff":
                sites = [s for s in sites_by_file.get(name, []) if s.code == program.rule]
            else:
                sites = _codemod_sites(program, name)
            results.append(_check_one(program, first_index + offset, name, sites, timeout, fixer))
    return results


def _check_one(program, index, name, sites, timeout, fixer) -> ProgramResult:
    result = ProgramResult(program.rule, index, program.features, "no-site", len(sites),
                           before=program.source, inputs=repr(program.inputs),
                           prelude_chars=program.prelude_chars)
    if not sites:
        return result
    try:
        with _time_limit(timeout):
            fixed, new_bytes = fixer(name, program.source.encode(), sites)
            result.outcomes = [(o.status, o.kind if o.status == "fixed" else o.reason) for o in fixed.outcomes]
            if new_bytes == program.source.encode():
                result.verdict = "skipped"
                return result
            result.after = new_bytes.decode()
            result.compared = assert_same_behaviour(program.source, result.after, FUNC, program.inputs)
            result.verdict = "same"
    except ProgramTimeout:
        result.verdict = "timeout"
        result.detail = f"fix + comparison took longer than {timeout}s"
    except AssertionError as exc:
        result.verdict = "differs"
        result.detail = str(exc)
    except Exception as exc:  # the harness itself broke: as bad as a difference, reported apart
        result.verdict = "error"
        result.detail = f"{type(exc).__name__}: {exc}"
    return result


def describe(result: ProgramResult) -> str:
    """A failing program as a human reads it: the mismatch, both sources (without the shared helper
    prelude, which the rewrite does not touch), their diff and the inputs."""
    import difflib

    prelude = result.before[: result.prelude_chars]
    before = result.before[result.prelude_chars:]
    after = result.after or ""
    if after.startswith(prelude):
        after = after[result.prelude_chars:]
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), "before.py", "after.py"))
    return "\n".join(
        [
            f"=== {result.rule} program #{result.index}: {result.verdict}",
            f"features: {', '.join(result.features)}",
            f"outcomes: {result.outcomes}",
            f"inputs: {result.inputs}",
            "--- mismatch",
            result.detail or "",
            "--- before (helper prelude omitted)",
            before.rstrip(),
            "--- after",
            after.rstrip() if result.after is not None else "(not rewritten)",
            "--- diff",
            diff,
        ]
    )
