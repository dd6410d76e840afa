"""Randomly generated PERF203 loops, rewritten and then executed before/after on the same inputs.

The hand-written examples cover the known kinds; this covers their combinations: names bound on
some paths only, loop-carried state, walrus in comprehensions, break/continue/return in
handlers, else/finally, an enclosing try that reads the state, while loops. A program is built
from a seed, so a failure names a reproducible seed.
"""

from __future__ import annotations

import random

import libcst as cst
import pytest

from codemods.differential import assert_same_behaviour, raising_variants
from codemods.perf203 import find_perf203_sites, fix_perf203

SEEDS = range(400)

BODY = [
    "a += x",
    "b.append(x)",
    "c = x * 2",
    "d = a + 1",
    "r = 10 // x",
    "if x == 7:\n    raise KeyError(x)",
    "if x == 3:\n    return ('early', a, c)",
    'log.info("x=%s", x)',
    "e = [y for y in range(2) if (z := y + x) > 1]",
    "c = c if c is not None else x",
    "if x == 4:\n    for y in range(3):\n        if y == 1:\n            break\n        a += y",
    "b = b + [x]",
    "a, c = c, a",
    "with contextlib.suppress(KeyError):\n    c = {1: 'one'}[x]",
    "import math as m\nd = m.floor(x)",
    "def h():\n    return 1\nd = h()",
    "for q in range(2):\n    a += q",
    "w = (v := x + 1) * v",
]
HANDLER = [
    'log.warning("failed on %r", x)',
    "a -= 1",
    "c = None",
    "continue",
    "break",
    "return ('handled', a)",
    "raise",
    "pass",
    "if x == 5:\n    break",
    "if x == 0:\n    continue",
    "d = -1",
]
EXITS = ["break", "return ('handled', a)", "raise", "if x == 5:\n    break\nelse:\n    raise"]
PRE = ["a = 0", "b = []", "c = None", "if flag:\n    d = 0", "d = 5", "z = 0", "if not flag:\n    log.info('%s', w)"]
POST = ["a", "b", "c", "d", "z", "len(b)", "w", "v"]
TYPES = ["ZeroDivisionError", "TypeError", "(KeyError, ZeroDivisionError)", "Exception"]


def _indent(code: str, level: int) -> str:
    return "\n".join("    " * level + line for line in code.splitlines())


def _loop(rng: random.Random, depth: int, extra: list[str]) -> list[str]:
    """A flagged loop: ``for``/``while`` whose whole body is a random ``try``."""
    lines = []
    use_while = rng.random() < 0.3
    if use_while:
        lines.append(_indent("pending = list(items)", depth))
        lines.append(_indent("while pending:", depth))
    elif rng.random() < 0.5:  # a local list: iterating it cannot raise, so hoisting may apply
        lines.append(_indent("seq = list(items)", depth))
        lines.append(_indent("for x in seq:", depth))
    else:
        lines.append(_indent("for x in items:", depth))
    lines.append(_indent("try:", depth + 1))
    body = rng.sample(BODY + extra, rng.randint(1, 4))
    if use_while:
        body.insert(0, "x = pending.pop(0)")
    lines += [_indent(s, depth + 2) for s in body]
    for handler_type in rng.sample(TYPES, rng.randint(1, 2)):
        name = " as err" if rng.random() < 0.3 else ""
        lines.append(_indent(f"except {handler_type}{name}:", depth + 1))
        pool = EXITS if rng.random() < 0.3 else HANDLER
        lines += [_indent(s, depth + 2) for s in rng.sample(pool, rng.randint(1, min(3, len(pool))))]
    if rng.random() < 0.2:
        lines += [_indent("else:", depth + 1), _indent("b.append('ok')", depth + 2)]
    if rng.random() < 0.15:
        lines += [_indent("finally:", depth + 1), _indent("log.debug('done %s', x)", depth + 2)]
    return lines


def generate(seed: int) -> str:
    """One program: ``f(items, flag)``, sync or async, its loop maybe in a nested closure."""
    rng = random.Random(seed)
    is_async = rng.random() < 0.2
    nested = rng.random() < 0.2
    lines = ["import asyncio", "import contextlib", "import logging", "", 'log = logging.getLogger("fuzz")', "",
             "", "async def g(x):", "    await asyncio.sleep(0)", "    return 10 // x", "", ""]
    head = "async def" if is_async else "def"
    base = 1
    if nested:
        lines += [f"{head} f(items, flag):", "    k = 3", f"    {head} inner():"]
        base = 2
    else:
        lines.append(f"{head} f(items, flag):")
    pre = [p for p in PRE if rng.random() < 0.75]
    lines += [_indent(p, base) for p in pre]
    outer = rng.random() < 0.25
    depth = base
    if outer:
        lines.append(_indent("try:", base))
        depth = base + 1
    extra = (["c = await g(x)"] if is_async else []) + (["a += k"] if nested else [])
    for _ in range(2 if rng.random() < 0.25 else 1):  # sometimes two flagged loops in a row
        lines += _loop(rng, depth, extra)
    post = rng.sample(POST, rng.randint(1, 3))
    lines.append(_indent(f"return ({', '.join(post)},)", depth))
    if outer:
        lines += [_indent("except ValueError:", base), _indent(f"return ('outer', {', '.join(post)})", base + 1)]
    if nested:
        lines.append(f"    return {'await ' if is_async else ''}inner()")
    return "\n".join(lines) + "\n"


INPUTS = [
    ([1, 2, 3],),
    ([1, 0, 2],),
    ([4, 5, "s", 6],),
    ([7, 1],),
    ([],),
    ([0, 0, 5, 3],),
]


def _all_inputs() -> list[tuple]:
    out = []
    for (items,) in INPUTS:
        for flag in (True, False):
            out.append((items, flag))
    for exc in (ValueError, ZeroDivisionError):
        for variant in raising_variants([1, 2, 0], exc):
            out.append((variant, True))
    return out


def _fix(source: str):
    module = cst.parse_module(source)
    return fix_perf203(module, find_perf203_sites(source, "fuzz.py"))


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_loop_behaves_the_same_after_the_rewrite(seed):
    source = generate(seed)
    compile(source, f"<seed {seed}>", "exec")
    new, outcomes = _fix(source)
    if not any(o.status == "fixed" for o in outcomes):
        assert new.code == source
        return
    inputs = _all_inputs()
    assert assert_same_behaviour(source, new.code, "f", inputs) == len(inputs), new.code


def test_the_fuzz_corpus_actually_exercises_both_rewrites():
    """Guard against a generator drift that would make the test above vacuous."""
    kinds, flagged = {}, 0
    for seed in SEEDS:
        source = generate(seed)
        if not find_perf203_sites(source):
            continue
        flagged += 1
        for outcome in _fix(source)[1]:
            key = outcome.kind if outcome.status == "fixed" else "skipped"
            kinds[key] = kinds.get(key, 0) + 1
    assert flagged >= len(SEEDS) * 0.6
    assert kinds.get("extract", 0) >= flagged * 0.3
    assert kinds.get("hoist", 0) >= 1
