"""LibCST codemod commands for PERF203, each carrying its own VALID/INVALID examples (Fixit style).

The examples are the tests: ``tests/test_perf203_examples.py`` runs every INVALID example through
its command, compares the text with ``expected``, then *executes* before and after on the
example's inputs (plus iterables that raise part-way) and compares results, exceptions and log
records. Every VALID example must come back untouched with its skip reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
from libcst.codemod import CodemodCommand, SkipFile

from .outcome import SiteOutcome
from .perf203 import find_perf203_sites, fix_perf203


@dataclass(frozen=True)
class Valid:
    """Code the command must leave alone; ``reason`` is a fragment of the expected skip reason."""

    name: str
    code: str
    reason: str


@dataclass(frozen=True)
class Invalid:
    """Code the command rewrites to ``expected``; ``func`` is called on each of ``inputs`` (and on
    raising variants of every list argument, raising each of ``exceptions``) before and after."""

    name: str
    code: str
    expected: str
    func: str
    inputs: tuple = ()
    exceptions: tuple = (ValueError,)
    logging: tuple[str, ...] = field(default=())


class _Perf203Command(CodemodCommand):
    KIND = ""

    def __init__(self, context) -> None:
        super().__init__(context)
        self.outcomes: list[SiteOutcome] = []

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        sites = find_perf203_sites(tree.code, self.context.filename or "<module>")
        if not sites:
            raise SkipFile("no PERF203 site")
        new, self.outcomes = fix_perf203(tree, sites, kinds=(self.KIND,))
        for outcome in self.outcomes:
            if outcome.status == "skipped":
                self.warn(f"line {outcome.site.line}: {outcome.reason}")
        if not any(o.status == "fixed" for o in self.outcomes):
            raise SkipFile("; ".join(o.reason or "" for o in self.outcomes))
        return new


class HoistTryOutOfLoopCommand(_Perf203Command):
    """Move a per-iteration ``try`` around the whole loop when every handler leaves the loop.

    ## What it does
    Rewrites ``for x in xs: try: body except E: <raise|return|break>`` into ``try: for x in xs:
    body except E: ...`` (a ``break`` ending a handler is dropped: the loop is already left).

    ## Why is this bad?
    Before Python 3.11 entering a ``try`` costs time on every iteration (ruff PERF203). When the
    first handled error ends the loop anyway, one ``try`` around the loop does the same job.

    Only done when nothing the ``try`` would newly cover — evaluating the iterable, ``next()``,
    binding the target, the ``while`` test — can raise an exception a handler catches (a local
    list/tuple, ``range`` of ints, ``while True``…); otherwise the extract command applies.

    ## Example
    ```python
    nodes = list(found)
    for n in nodes:
        try:
            n.sync()
        except OSError as e:
            raise SyncError(n) from e
    ```

    ## Use instead
    ```python
    nodes = list(found)
    try:
        for n in nodes:
            n.sync()
    except OSError as e:
        raise SyncError(n) from e
    ```
    """

    DESCRIPTION = "PERF203: move a try/except whose handlers all leave the loop around the loop."
    KIND = "hoist"

    VALID = [
        Valid(
            "handler-continues",
            '''
def f(items):
    out = []
    for x in items:
        try:
            out.append(int(x))
        except ValueError:
            continue
    return out
''',
            "a handler lets the loop continue",
        ),
        Valid(
            "iterable-might-raise-caught-type",
            '''
def f(rows):
    for row in rows:
        try:
            check(row)
        except Exception:
            raise
''',
            "iterating might raise an exception the handlers catch",
        ),
        Valid(
            "try-else",
            '''
def f(items):
    xs = list(items)
    for x in xs:
        try:
            use(x)
        except KeyError:
            raise
        else:
            done(x)
''',
            "else/finally",
        ),
        Valid(
            "loop-else",
            '''
def f(items):
    xs = list(items)
    for x in xs:
        try:
            use(x)
        except KeyError:
            break
    else:
        finished()
''',
            "the loop has an else block",
        ),
        Valid(
            "break-before-handler-end",
            '''
def f(items):
    xs = list(items)
    for x in xs:
        try:
            use(x)
        except KeyError:
            if x:
                break
            log(x)
            raise
''',
            "breaks out of the loop before its end",
        ),
    ]

    INVALID = [
        Invalid(
            "case1-reraise",
            '''
class SyncError(Exception):
    pass


def sync(n, done):
    if n < 0:
        raise OSError(f"cannot sync {n}")
    if n == 0:
        raise ZeroDivisionError("zero")
    done.append(n)


def f(found):
    done = []
    nodes = list(found)
    for n in nodes:
        try:
            sync(n, done)
        except OSError as e:
            raise SyncError(n) from e
    return done
''',
            '''
class SyncError(Exception):
    pass


def sync(n, done):
    if n < 0:
        raise OSError(f"cannot sync {n}")
    if n == 0:
        raise ZeroDivisionError("zero")
    done.append(n)


def f(found):
    done = []
    nodes = list(found)
    try:
        for n in nodes:
            sync(n, done)
    except OSError as e:
        raise SyncError(n) from e
    return done
''',
            "f",
            inputs=(([1, 2, 3],), ([1, -2, 3],), ([],), ([4, 0, -1],)),
            exceptions=(OSError, ValueError),
        ),
        Invalid(
            "case2-return-in-body-and-handler",
            '''
def f(cache, keys):
    wanted = list(keys)
    for k in wanted:
        try:
            return cache[k]
        except KeyError:
            return None
    return "empty"
''',
            '''
def f(cache, keys):
    wanted = list(keys)
    try:
        for k in wanted:
            return cache[k]
    except KeyError:
        return None
    return "empty"
''',
            "f",
            inputs=(({"a": 1}, ["a", "b"]), ({"a": 1}, ["b", "a"]), ({}, []), ({"a": 1}, [["unhashable"]])),
            exceptions=(KeyError,),
        ),
        Invalid(
            "case5-break-logged",
            '''
import logging

log = logging.getLogger("svc")


class StopSignal(Exception):
    pass


def step(x, seen):
    if x == "stop":
        raise StopSignal(x)
    seen.append(x.upper())


def f(items):
    seen = []
    todo = list(items)
    for x in todo:
        try:
            step(x, seen)
        except StopSignal:
            log.info("stopping at %s", x)
            break
    return seen
''',
            '''
import logging

log = logging.getLogger("svc")


class StopSignal(Exception):
    pass


def step(x, seen):
    if x == "stop":
        raise StopSignal(x)
    seen.append(x.upper())


def f(items):
    seen = []
    todo = list(items)
    try:
        for x in todo:
            step(x, seen)
    except StopSignal:
        log.info("stopping at %s", x)
    return seen
''',
            "f",
            inputs=((["a", "b"],), (["a", "stop", "b"],), (["stop"],), ([],), (["a", 3, "b"],)),
            exceptions=(StopIteration, ValueError),
            logging=('log.info("stopping at %s", x)',),
        ),
        Invalid(
            "case11-while-true-queue",
            '''
import queue


def f(items):
    q = queue.Queue()
    for item in items:
        q.put(item)
    drained = []
    while True:
        try:
            drained.append(10 // q.get_nowait())
        except queue.Empty:
            break
    return drained
''',
            '''
import queue


def f(items):
    q = queue.Queue()
    for item in items:
        q.put(item)
    drained = []
    try:
        while True:
            drained.append(10 // q.get_nowait())
    except queue.Empty:
        pass
    return drained
''',
            "f",
            inputs=(([1, 2, 5],), ([],), ([1, 0, 2],)),
        ),
        Invalid(
            "range-of-literals-with-return",
            '''
def f(attempts):
    for i in range(3):
        try:
            return attempts[i]()
        except IndexError:
            return "exhausted"
''',
            '''
def f(attempts):
    try:
        for i in range(3):
            return attempts[i]()
    except IndexError:
        return "exhausted"
''',
            "f",
            inputs=(([lambda: "ok"],), ([],), ([lambda: 1 / 0],)),
        ),
        Invalid(
            "hoist-dict-items-with-return",
            '''
def f(pairs):
    table = dict(pairs)
    for key, value in table.items():
        try:
            if value < 0:
                return key
        except TypeError:
            return None
    return "all positive"
''',
            '''
def f(pairs):
    table = dict(pairs)
    try:
        for key, value in table.items():
            if value < 0:
                return key
    except TypeError:
        return None
    return "all positive"
''',
            "f",
            inputs=(([("a", 1), ("b", -1)],), ([("a", "x")],), ([],)),
            exceptions=(TypeError, RuntimeError),
        ),
    ]


class ExtractTryIntoHelperCommand(_Perf203Command):
    """Move a per-iteration ``try`` into a module-level helper the loop calls (Result pattern).

    ## What it does
    The loop body ``try`` moves into ``_safe_<what it calls>(...)``. The helper takes the names
    the ``try`` reads from the enclosing function and returns the names it binds that are read
    later; ``continue`` becomes ``return``, ``break``/``return`` become a flag (plus the value)
    the loop checks. The helper's docstring states its contract; the call site gets a comment.

    ## Why is this bad?
    Before Python 3.11 every entry into a ``try`` costs time (ruff PERF203). When handlers let
    the loop go on, the ``try`` cannot simply move around the loop; a helper keeps the exact
    per-item semantics while keeping the loop body free of ``try``.

    Skipped, with the reason, whenever the move could change behaviour: ``yield``, zero-argument
    ``super()``/``__class__``, private-name mangling, ``global``/``nonlocal``/``del`` of names
    the try uses, names that may be unbound, closures created in the try, frame introspection,
    loops at module or class level, a ``stacklevel=`` that is not a literal int.

    Frames: the helper is one more frame. A literal ``stacklevel=N`` in the moved code becomes
    ``N + 1``, so warnings and log records keep pointing at the same file, line and function.
    Accepted, and said in the outcome's detail for the PR body: log records made in the helper
    carry its name as ``funcName`` and its lines as ``lineno`` (visible only in log formats
    using ``%(funcName)s``/``%(lineno)d``); ``warnings.warn`` without ``stacklevel`` reports
    its own line, which is now inside the helper (same file, another line).

    Naming: ``_safe_<main call of the try>`` (``store.fetch(k)`` → ``_safe_fetch``), else
    ``_process_<loop target>``, else ``_<function>_step``; on a collision the enclosing
    function's name is prefixed (``_warm_safe_fetch``), and only then a number is added.

    Placement: a module-level function right before the top-level statement holding the loop
    (for a method: right before its class). A method helper would keep ``self.`` natural but
    would be looked up on the instance (a subclass attribute of the same name, ``__getattr__``
    or a ``__slots__``/metaclass quirk could change which code runs), would take part in
    name mangling, and could not serve loops in static methods or nested functions; a plain
    function is called exactly as written, so it is the one behaviour-preserving choice.

    ## Example
    ```python
    for n in nodes:
        try:
            out.append(n.check())
        except ConnectionError as exc:
            log.warning("%s: %s", n, exc)
    ```

    ## Use instead
    ```python
    def _safe_check(n, out):
        \"\"\"One iteration of ``f``'s loop, errors handled (Result-style helper). …\"\"\"
        try:
            out.append(n.check())
        except ConnectionError as exc:
            log.warning("%s: %s", n, exc)

    for n in nodes:
        # errors handled in _safe_check (logged, loop continues)
        _safe_check(n, out)
    ```
    """

    DESCRIPTION = "PERF203: move a loop-body try/except into a helper the loop calls."
    KIND = "extract"

    VALID = [
        Valid(
            "case9-zero-arg-super",
            '''
class Base:
    def close(self, x):
        pass


class C(Base):
    def close_all(self, items):
        for x in items:
            try:
                super().close(x)
            except OSError:
                pass
''',
            "zero-argument super()",
        ),
        Valid(
            "zero-arg-super-in-nested-lambda",
            '''
class Base:
    def get(self):
        return 1


class C(Base):
    def total(self, items):
        out = []
        for x in items:
            try:
                out.append((lambda: super().get() + x)())
            except TypeError:
                pass
        return out
''',
            "zero-argument super()",
        ),
        Valid(
            "dunder-class",
            '''
class C:
    def f(self, items):
        for x in items:
            try:
                __class__.g(x)
            except OSError:
                pass
''',
            "__class__",
        ),
        Valid(
            "case10-yield",
            '''
def f(items):
    for x in items:
        try:
            yield parse(x)
        except ValueError:
            pass
''',
            "yield",
        ),
        Valid(
            "yield-in-handler",
            '''
def f(items):
    for x in items:
        try:
            parse(x)
        except ValueError:
            yield x
''',
            "yield in a handler",
        ),
        Valid(
            "zero-arg-super-in-handler",
            '''
class Base:
    def fallback(self, x):
        return x


class C(Base):
    def run(self, items):
        for x in items:
            try:
                self.handle(x)
            except KeyError:
                super().fallback(x)
''',
            "zero-argument super() in a handler",
        ),
        Valid(
            "lambda-in-handler-reads-rebound-name",
            '''
def f(items):
    later = []
    for x in items:
        try:
            check(x)
        except ValueError:
            later.append(lambda: x)
    return later
''',
            "closure created in a handler reads x, which the function rebinds",
        ),
        Valid(
            "lambda-reads-local-assigned-twice",
            '''
def f(items, base):
    offset = base
    if base > 1:
        offset = 0
    out = []
    for x in items:
        try:
            out.append((int(x), lambda: offset))
        except ValueError:
            pass
    return out
''',
            "closure created in the try body reads offset, which the function rebinds",
        ),
        Valid(
            "lambda-reads-local-assigned-after-the-loop",
            '''
def f(items):
    out = []
    for x in items:
        try:
            out.append(lambda: x + 1)
        except ValueError:
            pass
    x = 0
    return out
''',
            "closure created in the try body reads x, which the function rebinds",
        ),
        Valid(
            "computed-stacklevel",
            '''
import warnings


def f(items, depth):
    for x in items:
        try:
            check(x)
        except ValueError:
            warnings.warn("bad " + str(x), stacklevel=depth + 1)
''',
            "stacklevel=depth + 1 in a handler is not a literal int",
        ),
        Valid(
            "class-body-loop",
            '''
class Table:
    for name in ("a", "b"):
        try:
            value = lookup(name)
        except KeyError:
            pass
''',
            "class body",
        ),
        Valid(
            "module-level-loop",
            '''
for name in NAMES:
    try:
        register(name)
    except KeyError:
        pass
''',
            "module level",
        ),
        Valid(
            "global-statement",
            '''
counter = 0


def f(items):
    global counter
    for x in items:
        try:
            counter += parse(x)
        except ValueError:
            pass
''',
            "global/nonlocal declaration of counter",
        ),
        Valid(
            "nonlocal-in-nested-function",
            '''
def f(items):
    total = 0

    def bump():
        nonlocal total
        total += 1

    for x in items:
        try:
            bump()
            use(total)
        except ValueError:
            pass
''',
            "via nonlocal",
        ),
        Valid(
            "del-of-outer-name",
            '''
def f(items, cache):
    for x in items:
        try:
            use(cache)
        except ValueError:
            pass
    del cache
''',
            "del of cache",
        ),
        Valid(
            "case7-may-be-unbound-before-loop",
            '''
def f(paths):
    for p in paths:
        try:
            last = load(p)
        except OSError:
            pass
    return last
''',
            "may be unbound before the loop",
        ),
        Valid(
            "locals-call",
            '''
def f(items):
    for x in items:
        try:
            use(x)
        except ValueError:
            pass
    return locals()
''',
            "locals()",
        ),
        Valid(
            "closure-captures-loop-variable",
            '''
def f(items):
    callbacks = []
    for x in items:
        try:
            callbacks.append(lambda: check(x))
        except ValueError:
            pass
    return callbacks
''',
            "closure created in the try body reads x, which the function rebinds",
        ),
        Valid(
            "name-read-by-nested-function",
            '''
def f(items):
    last = None

    def report():
        return last

    for x in items:
        try:
            last = parse(x)
            report()
        except ValueError:
            pass
    return last
''',
            "read by a nested function",
        ),
        Valid(
            "stale-on-escape",
            '''
def f(items):
    count = 0
    try:
        for x in items:
            try:
                count += 1
                check(x)
            except ValueError:
                pass
    except OSError:
        return count
    return count
''',
            "would not be handed back when an exception escapes",
        ),
        Valid(
            "private-name-mangling",
            '''
class C:
    def f(self, items):
        for x in items:
            try:
                self.__check(x)
            except ValueError:
                pass
''',
            "private name __check",
        ),
        Valid(
            "name-bound-only-in-try-read-elsewhere",
            '''
def f(items, verbose):
    if verbose:
        print(note)
    for x in items:
        try:
            note = check(x)
        except ValueError:
            pass
''',
            "bound only in the try but used elsewhere",
        ),
        Valid(
            "exception-name-used-outside-handler",
            '''
def f(items):
    e = None
    for x in items:
        try:
            check(x, e)
        except ValueError as e:
            pass
    return e
''',
            "exception name e",
        ),
    ]

    INVALID = [
        Invalid(
            "case3-log-and-go-on",
            '''
import logging

log = logging.getLogger("svc")


def check(n):
    if n < 0:
        raise ConnectionError(f"node {n} down")
    if n == 0:
        raise ZeroDivisionError("zero")
    return n * 2


def f(nodes):
    out = []
    for n in nodes:
        try:
            out.append(check(n))
        except ConnectionError as exc:
            log.warning("%s: %s", n, exc)
    return out
''',
            '''
import logging

log = logging.getLogger("svc")


def check(n):
    if n < 0:
        raise ConnectionError(f"node {n} down")
    if n == 0:
        raise ZeroDivisionError("zero")
    return n * 2


def _safe_check(n, out):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns None: the loop goes on with the next item.
    Handled here: ConnectionError is logged, then the loop goes on. Anything else
    propagates unchanged.
    """
    try:
        out.append(check(n))
    except ConnectionError as exc:
        log.warning("%s: %s", n, exc)


def f(nodes):
    out = []
    for n in nodes:
        # errors handled in _safe_check (logged, loop continues)
        _safe_check(n, out)
    return out
''',
            "f",
            inputs=(([1, 2],), ([1, -1, 3],), ([-1, -2],), ([5, 0, 6],), ([],)),
            exceptions=(ConnectionError, ValueError),
            logging=('log.warning("%s: %s", n, exc)',),
        ),
        Invalid(
            "walrus-while-binds-before-every-iteration",
            '''
def f(items):
    queue = list(items)
    out = []
    while (item := (queue.pop(0) if queue else None)) is not None:
        try:
            out.append(10 // item)
        except ZeroDivisionError:
            out.append(None)
    return out, item
''',
            '''
def _process_item(item, out):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns None: the loop goes on.
    Handled here: ZeroDivisionError: the loop goes on. Anything else propagates
    unchanged.
    """
    try:
        out.append(10 // item)
    except ZeroDivisionError:
        out.append(None)


def f(items):
    queue = list(items)
    out = []
    while (item := (queue.pop(0) if queue else None)) is not None:
        # errors handled in _process_item (loop continues)
        _process_item(item, out)
    return out, item
''',
            "f",
            inputs=(([1, 2],), ([1, 0, 3],), ([],)),
            exceptions=(),
        ),
        Invalid(
            "lambda-reads-parameter-never-rebound",
            '''
def f(items, scale):
    out = []
    for x in items:
        try:
            out.append((int(x), lambda: scale * 2))
        except ValueError:
            out.append((None, lambda: -scale))
    return out
''',
            '''
def _safe_parse_int(x, out, scale):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns None: the loop goes on with the next item.
    Handled here: ValueError: the loop goes on. Anything else propagates unchanged.
    """
    try:
        out.append((int(x), lambda: scale * 2))
    except ValueError:
        out.append((None, lambda: -scale))


def f(items, scale):
    out = []
    for x in items:
        # errors handled in _safe_parse_int (loop continues)
        _safe_parse_int(x, out, scale)
    return out
''',
            "f",
            inputs=(([1, 2], 1), (["a", 1, "b"], -1), ([], 2)),
            exceptions=(ValueError, TypeError),
        ),
        Invalid(
            "lambda-reads-local-assigned-once-before-the-loop",
            '''
def f(items, base):
    offset = base * 10
    out = []
    for x in items:
        try:
            out.append((int(x), lambda: offset + 1))
        except ValueError:
            out.append((None, lambda: -offset))
    return out
''',
            '''
def _safe_parse_int(x, out, offset):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns None: the loop goes on with the next item.
    Handled here: ValueError: the loop goes on. Anything else propagates unchanged.
    """
    try:
        out.append((int(x), lambda: offset + 1))
    except ValueError:
        out.append((None, lambda: -offset))


def f(items, base):
    offset = base * 10
    out = []
    for x in items:
        # errors handled in _safe_parse_int (loop continues)
        _safe_parse_int(x, out, offset)
    return out
''',
            "f",
            inputs=(([1, 2], 1), (["a", 1, "b"], -1), ([], 2)),
            exceptions=(ValueError, TypeError),
        ),
        Invalid(
            "literal-stacklevel-gets-one-more-frame",
            '''
import logging

log = logging.getLogger(__name__)


def f(items):
    total = 0
    for x in items:
        try:
            total += int(x)
        except ValueError:
            log.warning("bad %s", x, stacklevel=2)
    return total
''',
            '''
import logging

log = logging.getLogger(__name__)


def _safe_parse_int(x, total):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns the new value of ``total``.
    Handled here: ValueError is logged, then the loop goes on. Anything else propagates
    unchanged.
    """
    try:
        total += int(x)
    except ValueError:
        log.warning("bad %s", x, stacklevel=3)
    return total


def f(items):
    total = 0
    for x in items:
        # errors handled in _safe_parse_int (logged, loop continues)
        total = _safe_parse_int(x, total)
    return total
''',
            "f",
            inputs=(([1, 2],), (["a", 1],), ([],)),
            exceptions=(ValueError, KeyError),
            logging=('log.warning("bad %s", x, stacklevel=2)',),
        ),
        Invalid(
            "case4-continue-and-logger-exception",
            '''
import logging

logger = logging.getLogger("svc")


def f(rows):
    parsed = []
    for row in rows:
        try:
            parsed.append(int(row))
        except ValueError:
            if row == "":
                continue
            logger.exception("bad row %r", row)
            parsed.append(-1)
            continue
    return parsed
''',
            '''
import logging

logger = logging.getLogger("svc")


def _safe_parse_int(row, parsed):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns None: the loop goes on with the next item.
    Handled here: ValueError is logged, then the loop goes on. Anything else propagates
    unchanged.
    """
    try:
        parsed.append(int(row))
    except ValueError:
        if row == "":
            return
        logger.exception("bad row %r", row)
        parsed.append(-1)


def f(rows):
    parsed = []
    for row in rows:
        # errors handled in _safe_parse_int (logged, loop continues)
        _safe_parse_int(row, parsed)
    return parsed
''',
            "f",
            inputs=((["1", "x", "", "4"],), ([],), (["1", None, "2"],)),
            exceptions=(ValueError, TypeError),
            logging=('logger.exception("bad row %r", row)',),
        ),
        Invalid(
            "case5-break-with-sentinel",
            '''
class StopSignal(Exception):
    pass


def f(items):
    total = 0
    for x in items:
        try:
            if x == "stop":
                raise StopSignal()
            total += len(x)
        except StopSignal:
            break
        except TypeError:
            total -= 1
    return total
''',
            '''
class StopSignal(Exception):
    pass


def _safe_stop_signal(x, total):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns a tuple: True when the loop must stop (``break``); the new value of
    ``total``.
    Handled here: StopSignal: the loop stops; TypeError: the loop goes on. Anything else
    propagates unchanged.
    """
    try:
        if x == "stop":
            raise StopSignal()
        total += len(x)
    except StopSignal:
        return True, total
    except TypeError:
        total -= 1
    return False, total


def f(items):
    total = 0
    for x in items:
        # errors handled in _safe_stop_signal (loop stops, loop continues)
        stop, total = _safe_stop_signal(x, total)
        if stop:
            break
    return total
''',
            "f",
            inputs=((["ab", "c"],), (["ab", "stop", "c"],), (["a", 3, "b"],), ([],)),
            exceptions=(TypeError, ValueError),
        ),
        Invalid(
            "case6-else-and-finally",
            '''
def f(items):
    log = []
    for x in items:
        try:
            y = 10 // x
        except ZeroDivisionError:
            log.append("zero")
        else:
            log.append(y)
        finally:
            log.append("end")
    return log
''',
            '''
def _process_item(x, log):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns None: the loop goes on with the next item.
    Handled here: ZeroDivisionError: the loop goes on. Anything else propagates
    unchanged.
    """
    try:
        y = 10 // x
    except ZeroDivisionError:
        log.append("zero")
    else:
        log.append(y)
    finally:
        log.append("end")


def f(items):
    log = []
    for x in items:
        # errors handled in _process_item (loop continues)
        _process_item(x, log)
    return log
''',
            "f",
            inputs=(([1, 0, 5],), ([],), ([2, "x", 3],)),
            exceptions=(ZeroDivisionError, ValueError),
        ),
        Invalid(
            "case7-name-used-after-loop",
            '''
def load(p):
    if p.endswith(".bad"):
        raise OSError(p)
    return p.upper()


def f(paths):
    last = None
    for p in paths:
        try:
            last = load(p)
        except OSError:
            pass
    return last
''',
            '''
def load(p):
    if p.endswith(".bad"):
        raise OSError(p)
    return p.upper()


def _safe_load(p, last):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns the new value of ``last``.
    Handled here: OSError: the loop goes on. Anything else propagates unchanged.
    """
    try:
        last = load(p)
    except OSError:
        pass
    return last


def f(paths):
    last = None
    for p in paths:
        # errors handled in _safe_load (loop continues)
        last = _safe_load(p, last)
    return last
''',
            "f",
            inputs=((["a", "b.bad"],), (["a.bad"],), ([],), (["a", 1, "c"],)),
            exceptions=(OSError, ValueError),
        ),
        Invalid(
            "case8-augmented-assignment-loop-carried",
            '''
def f(values):
    total = 0
    count = 0
    for v in values:
        try:
            total += int(v)
            count += 1
        except ValueError:
            total -= 100
    return total, count
''',
            '''
def _safe_parse_int(v, total, count):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns a tuple: the new value of ``total``; the new value of ``count``.
    Handled here: ValueError: the loop goes on. Anything else propagates unchanged.
    """
    try:
        total += int(v)
        count += 1
    except ValueError:
        total -= 100
    return total, count


def f(values):
    total = 0
    count = 0
    for v in values:
        # errors handled in _safe_parse_int (loop continues)
        total, count = _safe_parse_int(v, total, count)
    return total, count
''',
            "f",
            inputs=((["1", "2"],), (["1", "x", "3"],), ([],), (["1", None],)),
            exceptions=(ValueError, KeyError),
        ),
        Invalid(
            "case10-await-async-helper",
            '''
import asyncio
import logging

logger = logging.getLogger("svc")


async def fetch(x):
    await asyncio.sleep(0)
    if x < 0:
        raise TimeoutError(x)
    return x + 1


async def f(items):
    results = {}
    for x in items:
        try:
            results[x] = await fetch(x)
        except TimeoutError as e:
            logger.error("timeout for %s: %s", x, e)
            results[x] = None
    return results
''',
            '''
import asyncio
import logging

logger = logging.getLogger("svc")


async def fetch(x):
    await asyncio.sleep(0)
    if x < 0:
        raise TimeoutError(x)
    return x + 1


async def _safe_fetch(x, results):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns None: the loop goes on with the next item.
    Handled here: TimeoutError is logged, then the loop goes on. Anything else
    propagates unchanged.
    """
    try:
        results[x] = await fetch(x)
    except TimeoutError as e:
        logger.error("timeout for %s: %s", x, e)
        results[x] = None


async def f(items):
    results = {}
    for x in items:
        # errors handled in _safe_fetch (logged, loop continues)
        await _safe_fetch(x, results)
    return results
''',
            "f",
            inputs=(([1, -1, 2],), ([],)),
            exceptions=(TimeoutError, ValueError),
            logging=('logger.error("timeout for %s: %s", x, e)',),
        ),
        Invalid(
            "case11-while-loop-state-in-test",
            '''
def f(jobs):
    queue = list(jobs)
    done = 0
    while queue:
        try:
            job = queue.pop()
            done += 10 // job
        except ZeroDivisionError:
            queue = queue[:-1]
    return done, queue
''',
            '''
def _f_step(queue, done):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns a tuple: the new value of ``done``; the new value of ``queue``.
    Handled here: ZeroDivisionError: the loop goes on. Anything else propagates
    unchanged.
    """
    try:
        job = queue.pop()
        done += 10 // job
    except ZeroDivisionError:
        queue = queue[:-1]
    return done, queue


def f(jobs):
    queue = list(jobs)
    done = 0
    while queue:
        # errors handled in _f_step (loop continues)
        done, queue = _f_step(queue, done)
    return done, queue
''',
            "f",
            inputs=(([1, 2, 5],), ([3, 0, 2, 1],), ([],), ([1, "x"],)),
        ),
        Invalid(
            "case12-break-in-nested-loop",
            '''
def f(groups):
    firsts = []
    for group in groups:
        try:
            firsts.append(max(group))
        except TypeError:
            for item in group:
                if isinstance(item, int):
                    firsts.append(item)
                    break
            else:
                firsts.append(None)
    return firsts
''',
            '''
def _process_group(group, firsts):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns None: the loop goes on with the next item.
    Handled here: TypeError: the loop goes on. Anything else propagates unchanged.
    """
    try:
        firsts.append(max(group))
    except TypeError:
        for item in group:
            if isinstance(item, int):
                firsts.append(item)
                break
        else:
            firsts.append(None)


def f(groups):
    firsts = []
    for group in groups:
        # errors handled in _process_group (loop continues)
        _process_group(group, firsts)
    return firsts
''',
            "f",
            inputs=(([[0, 2, 3], ["a", 1, 2], [None, "b"], [1]],), ([],), ([[1], 5, [2]],)),
            exceptions=(TypeError, ValueError),
        ),
        Invalid(
            "case13-broad-exception-generator-iterable",
            '''
import logging

log = logging.getLogger("svc")


def check(row, seen):
    if row == "bad":
        raise ValueError(row)
    seen.append(row)


def f(rows):
    seen = []
    for row in rows:
        try:
            check(row, seen)
        except Exception:
            log.exception("row %r failed", row)
            raise
    return seen
''',
            '''
import logging

log = logging.getLogger("svc")


def check(row, seen):
    if row == "bad":
        raise ValueError(row)
    seen.append(row)


def _safe_check(row, seen):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns None: the loop goes on with the next item.
    Every exception is logged, then it is re-raised. Only BaseExceptions such as
    KeyboardInterrupt propagate.
    """
    try:
        check(row, seen)
    except Exception:
        log.exception("row %r failed", row)
        raise


def f(rows):
    seen = []
    for row in rows:
        # errors handled in _safe_check (logged, re-raised)
        _safe_check(row, seen)
    return seen
''',
            "f",
            inputs=((["a", "b"],), (["a", "bad", "b"],), ([],)),
            exceptions=(ValueError, RuntimeError),
            logging=('log.exception("row %r failed", row)',),
        ),
        Invalid(
            "return-value-from-try-and-continue",
            '''
import logging

log = logging.getLogger("svc")


def f(strategies, text):
    for strategy in strategies:
        try:
            chunks = strategy(text)
            if chunks:
                return chunks
        except Exception as exc:
            log.warning("strategy %s failed: %s", strategy.__name__, exc)
            continue
    return [text]
''',
            '''
import logging

log = logging.getLogger("svc")


def _safe_strategy(strategy, text):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns a tuple: True when ``f`` must return; the value ``f`` returns then (else
    None).
    Every exception is logged, then the loop goes on. Only BaseExceptions such as
    KeyboardInterrupt propagate.
    """
    try:
        chunks = strategy(text)
        if chunks:
            return True, chunks
    except Exception as exc:
        log.warning("strategy %s failed: %s", strategy.__name__, exc)
    return False, None


def f(strategies, text):
    for strategy in strategies:
        # errors handled in _safe_strategy (logged, loop continues)
        done, returned = _safe_strategy(strategy, text)
        if done:
            return returned
    return [text]
''',
            "f",
            inputs=(
                ([str.split], "a b"),
                ([lambda t: [], str.split], "a b"),
                ([lambda t: 1 / 0, str.split], "a b"),
                ([], "x"),
            ),
            exceptions=(ValueError,),
            logging=('log.warning("strategy %s failed: %s", strategy.__name__, exc)',),
        ),
        Invalid(
            "retry-loop-break-return-and-carried-state",
            '''
def f(attempts):
    last_error = None
    delay = 1
    for attempt in attempts:
        try:
            return attempt(delay)
        except KeyError:
            raise
        except Exception as e:
            last_error = e
            if delay > 4:
                break
            delay *= 2
    return ("failed", delay, repr(last_error))
''',
            '''
def _safe_attempt(attempt, delay):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns a tuple: ``"break"``/``"return"`` when the loop must stop / ``f`` must
    return, else None; the value ``f`` returns then (else None); the new value of
    ``last_error``; the new value of ``delay``.
    Handled here: KeyError: it is re-raised; every other exception: the loop stops or
    goes on. Only BaseExceptions such as KeyboardInterrupt propagate.
    """
    try:
        return "return", attempt(delay), None, None
    except KeyError:
        raise
    except Exception as e:
        last_error = e
        if delay > 4:
            return "break", None, last_error, delay
        delay *= 2
    return None, None, last_error, delay


def f(attempts):
    last_error = None
    delay = 1
    for attempt in attempts:
        # errors handled in _safe_attempt (re-raised, loop stops, loop continues)
        flow, returned, last_error, delay = _safe_attempt(attempt, delay)
        if flow == "break":
            break
        if flow == "return":
            return returned
    return ("failed", delay, repr(last_error))
''',
            "f",
            inputs=(
                ([lambda d: 1 / 0, lambda d: d * 10],),
                ([lambda d: 1 / 0] * 5,),
                ([lambda d: {}["k"], lambda d: d],),
                ([],),
            ),
            exceptions=(ValueError,),
        ),
        Invalid(
            "method-with-self-and-walrus-in-comprehension",
            '''
import logging

log = logging.getLogger("svc")


class Pool:
    def __init__(self):
        self.live = []

    def refresh(self, batches):
        best = y = 0
        for batch in batches:
            try:
                self.live.extend([y for b in batch if (y := 100 // b) > best])
                best = max(best, y)
            except ZeroDivisionError as e:
                log.error("batch %s failed: %s", batch, e)
        return best, self.live


def f(batches):
    return Pool().refresh(batches)
''',
            '''
import logging

log = logging.getLogger("svc")


def _process_batch(self, batch, best, y):
    """One iteration of ``refresh``'s loop, errors handled (Result-style helper).

    Returns a tuple: the new value of ``y``; the new value of ``best``.
    Handled here: ZeroDivisionError is logged, then the loop goes on. Anything else
    propagates unchanged.
    """
    try:
        self.live.extend([y for b in batch if (y := 100 // b) > best])
        best = max(best, y)
    except ZeroDivisionError as e:
        log.error("batch %s failed: %s", batch, e)
    return y, best


class Pool:
    def __init__(self):
        self.live = []

    def refresh(self, batches):
        best = y = 0
        for batch in batches:
            # errors handled in _process_batch (logged, loop continues)
            y, best = _process_batch(self, batch, best, y)
        return best, self.live


def f(batches):
    return Pool().refresh(batches)
''',
            "f",
            inputs=(([[1, 2], [5]],), ([[1], [0, 2], [3]],), ([],)),
            exceptions=(ZeroDivisionError, ValueError),
            logging=('log.error("batch %s failed: %s", batch, e)',),
        ),
        Invalid(
            "lambda-default-captures-value-not-variable",
            '''
def f(items):
    fns = []
    for x in items:
        try:
            fns.append(lambda x=x: 10 // x)
        except TypeError:
            pass
    return [g() for g in fns[:-1]], fns[-1:]
''',
            '''
def _process_item(x, fns):
    """One iteration of ``f``'s loop, errors handled (Result-style helper).

    Returns None: the loop goes on with the next item.
    Handled here: TypeError: the loop goes on. Anything else propagates unchanged.
    """
    try:
        fns.append(lambda x=x: 10 // x)
    except TypeError:
        pass


def f(items):
    fns = []
    for x in items:
        # errors handled in _process_item (loop continues)
        _process_item(x, fns)
    return [g() for g in fns[:-1]], fns[-1:]
''',
            "f",
            inputs=(([1, 2, 5],), ([],), ([3, 0],), ([0, 1],)),
            exceptions=(TypeError, ValueError),
        ),
        Invalid(
            "async-monitor-loop-cancelled-breaks",
            '''
import asyncio
import logging

logger = logging.getLogger("svc")


class Monitor:
    def __init__(self, ticks):
        self.ticks = list(ticks)
        self.seen = []
        self._running = True

    async def tick(self):
        await asyncio.sleep(0)
        t = self.ticks.pop(0)
        if t == "cancel":
            raise asyncio.CancelledError()
        if t == "stop":
            self._running = False
        elif t == "bad":
            raise RuntimeError("bad tick")
        elif t == "fatal":
            raise SystemExit(3)
        self.seen.append(t)

    async def run(self):
        while self._running:
            try:
                await self.tick()
            except asyncio.CancelledError:
                break
            except Exception as e:
                logger.error(f"Error in monitor loop: {e}")
                await asyncio.sleep(0)
        return self.seen


async def f(ticks):
    return await Monitor(ticks).run()
''',
            '''
import asyncio
import logging

logger = logging.getLogger("svc")


async def _safe_tick(self):
    """One iteration of ``run``'s loop, errors handled (Result-style helper).

    Returns True when the loop must stop (``break``).
    Handled here: asyncio.CancelledError: the loop stops; every other exception is
    logged, then the loop goes on. Only BaseExceptions such as KeyboardInterrupt
    propagate.
    """
    try:
        await self.tick()
    except asyncio.CancelledError:
        return True
    except Exception as e:
        logger.error(f"Error in monitor loop: {e}")
        await asyncio.sleep(0)
    return False


class Monitor:
    def __init__(self, ticks):
        self.ticks = list(ticks)
        self.seen = []
        self._running = True

    async def tick(self):
        await asyncio.sleep(0)
        t = self.ticks.pop(0)
        if t == "cancel":
            raise asyncio.CancelledError()
        if t == "stop":
            self._running = False
        elif t == "bad":
            raise RuntimeError("bad tick")
        elif t == "fatal":
            raise SystemExit(3)
        self.seen.append(t)

    async def run(self):
        while self._running:
            # errors handled in _safe_tick (logged, loop stops, loop continues)
            if await _safe_tick(self):
                break
        return self.seen


async def f(ticks):
    return await Monitor(ticks).run()
''',
            "f",
            inputs=(
                (["a", "bad", "b", "stop"],),
                (["a", "cancel", "b", "stop"],),
                (["bad", "bad", "stop"],),
                (["a", "fatal", "stop"],),
            ),
            exceptions=(),
            logging=('logger.error(f"Error in monitor loop: {e}")',),
        ),
        Invalid(
            "nested-function-reads-enclosing-closure",
            '''
def f(items, factor):
    def run():
        out = []
        for x in items:
            try:
                out.append(x * factor + 1)
            except TypeError:
                out.append(None)
        return out

    return run()
''',
            '''
def _process_item(x, out, factor):
    """One iteration of ``run``'s loop, errors handled (Result-style helper).

    Returns None: the loop goes on with the next item.
    Handled here: TypeError: the loop goes on. Anything else propagates unchanged.
    """
    try:
        out.append(x * factor + 1)
    except TypeError:
        out.append(None)


def f(items, factor):
    def run():
        out = []
        for x in items:
            # errors handled in _process_item (loop continues)
            _process_item(x, out, factor)
        return out

    return run()
''',
            "f",
            inputs=(([1, 2], 3), ([1, "a", 2], 2), ([], 1)),
            exceptions=(TypeError, ValueError),
        ),
    ]


class UnwrapNoOpTryCommand(_Perf203Command):
    """Remove a loop-body ``try`` whose handlers only re-raise (``except E: raise``).

    ## What it does
    ``for x in xs: try: body except E: raise`` becomes ``for x in xs: body``.

    ## Why is this bad?
    A handler that is exactly ``raise`` re-raises the same exception object with its traceback:
    the ``try`` changes nothing but still costs time on every iteration before Python 3.11
    (ruff PERF203). Only a handler whose whole body is ``raise`` counts — one that logs first,
    wraps the exception (``raise X from e``) or has a comment keeps its ``try``; so does a try
    with ``else``/``finally``, or an ``as e`` whose name the function uses elsewhere.

    ## Example
    ```python
    for n in nodes:
        try:
            n.sync()
        except OSError:
            raise
    ```

    ## Use instead
    ```python
    for n in nodes:
        n.sync()
    ```
    """

    DESCRIPTION = "PERF203: remove a loop-body try/except whose handlers only re-raise."
    KIND = "unwrap"

    VALID = [
        Valid(
            "handler-logs-before-raising",
            '''
import logging


def f(items):
    for x in items:
        try:
            check(x)
        except ValueError:
            logging.warning("bad %s", x)
            raise
''',
            "a handler does more than re-raise",
        ),
        Valid(
            "handler-wraps",
            '''
def f(items):
    for x in items:
        try:
            check(x)
        except ValueError as e:
            raise RuntimeError(x) from e
''',
            "a handler does more than re-raise",
        ),
        Valid(
            "finally-block",
            '''
def f(items):
    for x in items:
        try:
            check(x)
        except ValueError:
            raise
        finally:
            done(x)
''',
            "else/finally",
        ),
        Valid(
            "handler-comment",
            '''
def f(items):
    for x in items:
        try:
            check(x)
        except ValueError:
            # callers rely on ValueError here
            raise
''',
            "comment that removing the try would drop",
        ),
        Valid(
            "as-name-used-elsewhere",
            '''
def f(items):
    e = "kept"
    for x in items:
        try:
            check(x)
        except ValueError as e:
            raise
    return e
''',
            "unbinds e",
        ),
    ]

    INVALID = [
        Invalid(
            "bare-raise-handlers",
            '''
def check(x):
    if x < 0:
        raise ValueError(x)
    if x == 0:
        raise KeyError(x)
    return x * 2


def f(items):
    out = []
    for x in items:
        # keep the order
        try:
            out.append(check(x))
        except ValueError:
            raise
        except (KeyError, TypeError):
            raise
    return out
''',
            '''
def check(x):
    if x < 0:
        raise ValueError(x)
    if x == 0:
        raise KeyError(x)
    return x * 2


def f(items):
    out = []
    for x in items:
        # keep the order
        out.append(check(x))
    return out
''',
            "f",
            inputs=(([1, 2],), ([1, -1, 3],), ([2, 0],), (["a"],), ([],)),
            exceptions=(ValueError, KeyError),
        ),
        Invalid(
            "while-with-return-and-bare-except",
            '''
def f(items):
    i = 0
    while i < len(items):
        try:
            if items[i] is None:
                return i
            i += 10 // items[i]
        except:
            raise
    return -1
''',
            '''
def f(items):
    i = 0
    while i < len(items):
        if items[i] is None:
            return i
        i += 10 // items[i]
    return -1
''',
            "f",
            inputs=(([1, 2, 5],), ([5, None],), ([0, 1],), ([],)),
            exceptions=(),
        ),
    ]
