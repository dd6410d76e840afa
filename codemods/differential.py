"""Run a "before" and an "after" snippet on the same inputs and compare what they did.

A textual before/after test only proves the codemod prints what we expected; it does not prove the
expected text behaves like the original. This harness executes both snippets and compares every
observable effect a caller could notice: the return value (lazy results materialised), the
exception raised, logging records, stdout/stderr and mutations of the arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import difflib
import inspect
import io
import logging
import re
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

__all__ = [
    "Observation",
    "RaisingIterable",
    "assert_same_behaviour",
    "observe",
    "raising_variants",
]

#: How many items of a returned iterator/generator are materialised before giving up.
ITERATOR_CAP = 1000
#: How deep nested containers/closures are normalised.
MAX_DEPTH = 12

_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")
#: ``__name__`` of every executed snippet, the same on both sides of a comparison.
SNIPPET_MODULE = "snippet"


@dataclass(frozen=True)
class Observation:
    """Everything a caller could notice about one call, in a form that compares with ``==``."""

    returned: object
    raised: tuple[str, str] | None
    logs: tuple[tuple[str, int, str, str | None], ...]
    stdout: str
    stderr: str
    args_after: object


class RaisingIterable:
    """Yields ``items`` but raises ``exc`` when reaching position ``raise_at``.

    Re-iterable (each ``iter()`` starts over and raises a fresh exception), so a snippet that
    iterates twice sees the same thing twice; deep-copyable; ``repr`` is stable so it can appear in
    ``args_after``. ``raise_at == len(items)`` raises after the last item.
    """

    def __init__(self, items: Iterable, raise_at: int, exc: BaseException | type[BaseException] = ValueError):
        self.items = list(items)
        self.raise_at = raise_at
        self.exc = exc

    def _make_exception(self) -> BaseException:
        if isinstance(self.exc, BaseException):
            return type(self.exc)(*self.exc.args)
        return self.exc(f"boom at {self.raise_at}")

    def __iter__(self):
        for index, item in enumerate(self.items):
            if index == self.raise_at:
                raise self._make_exception()
            yield item
        if self.raise_at >= len(self.items):
            raise self._make_exception()

    def __repr__(self) -> str:
        exc = self.exc if isinstance(self.exc, BaseException) else self.exc.__qualname__
        return f"RaisingIterable({self.items!r}, raise_at={self.raise_at}, exc={exc!r})"


def raising_variants(items: list, exc: BaseException | type[BaseException] = ValueError) -> list[RaisingIterable]:
    """One iterable per position 0..len(items) that raises there: every "fails part-way" case."""
    return [RaisingIterable(items, k, exc) for k in range(len(items) + 1)]


class _CaptureHandler(logging.Handler):
    """Records every log record as a comparable tuple (name, level, message, exc type)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[tuple[str, int, str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception as exc:  # a bad format string is behaviour too; don't crash the harness
            message = f"<getMessage failed: {type(exc).__qualname__}: {exc}>"
        exc_type = record.exc_info[0].__qualname__ if record.exc_info and record.exc_info[0] else None
        self.records.append((record.name, record.levelno, message, exc_type))


@contextlib.contextmanager
def _capture_logging():
    """Attach a DEBUG handler to the root logger and undo every change afterwards."""
    root = logging.getLogger()
    handler = _CaptureHandler()
    old_level = root.level
    old_disable = logging.root.manager.disable
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logging.disable(logging.NOTSET)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        logging.disable(old_disable)


def _exception_key(exc: BaseException) -> tuple[str, str]:
    return (type(exc).__qualname__, str(exc))


def _run_awaitable(awaitable):
    async def runner():
        return await awaitable

    return asyncio.run(runner())


def _materialise_async(agen, cap: int):
    async def collect():
        items, error = [], None
        try:
            async for item in agen:
                if len(items) >= cap:
                    return items, True, None
                items.append(item)
        except Exception as exc:
            error = _exception_key(exc)
        return items, False, error

    return asyncio.run(collect())


def _materialise(iterator, cap: int):
    items, error = [], None
    try:
        for item in iterator:
            if len(items) >= cap:
                return items, True, None
            items.append(item)
    except Exception as exc:
        error = _exception_key(exc)
    return items, False, error


def _is_lazy_iterator(value) -> bool:
    return isinstance(value, types.GeneratorType) or (
        hasattr(value, "__next__") and hasattr(value, "__iter__") and not isinstance(value, (str, bytes))
    )


def normalise(value, depth: int = 0, _seen: frozenset = frozenset()):
    """A structural, address-free, comparable stand-in for ``value``.

    Lazy values are forced: iterators/generators are materialised (up to ``ITERATOR_CAP``,
    recording an exception raised while doing so), coroutines are awaited, and zero-argument
    functions (e.g. lambdas that capture a loop variable) are called, because what they *return*
    is the behaviour a rewrite can change. Function qualnames are not compared: a lambda created
    inside a comprehension has a different ``__qualname__`` but the same behaviour.
    """
    if depth > MAX_DEPTH:
        return "<max depth>"
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return repr(value)
    if id(value) in _seen:
        return "<cycle>"
    seen = _seen | {id(value)}
    kind = type(value).__qualname__

    def norm(item):
        return normalise(item, depth + 1, seen)

    if isinstance(value, RaisingIterable):
        return repr(value)
    if isinstance(value, dict):
        return (kind, tuple((norm(k), norm(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return (kind, tuple(sorted((norm(v) for v in value), key=repr)))
    if isinstance(value, (list, tuple)) or type(value).__module__ == "collections" and hasattr(value, "__len__"):
        try:
            return (kind, tuple(norm(v) for v in value))
        except TypeError:
            pass
    if inspect.iscoroutine(value):
        try:
            return ("coroutine", norm(_run_awaitable(value)))
        except Exception as exc:
            return ("coroutine", ("raised", _exception_key(exc)))
    if inspect.isasyncgen(value):
        items, truncated, error = _materialise_async(value, ITERATOR_CAP)
        return ("async-iterator", kind, tuple(norm(v) for v in items), truncated, error)
    if _is_lazy_iterator(value):
        items, truncated, error = _materialise(value, ITERATOR_CAP)
        return ("iterator", kind, tuple(norm(v) for v in items), truncated, error)
    if isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return ("function", getattr(value, "__name__", kind), _call_if_nullary(value, norm))
    if isinstance(value, BaseException):
        return ("exception", _exception_key(value))
    if type(value).__repr__ is object.__repr__ and hasattr(value, "__dict__"):
        return (kind, norm(vars(value)))
    return (kind, _ADDRESS.sub(" at 0x?", repr(value)))


def _call_if_nullary(func, norm):
    """Call ``func`` when it needs no arguments; otherwise only its arity is comparable."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return "<no signature>"
    required = [
        p
        for p in signature.parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required or isinstance(func, types.BuiltinFunctionType):
        return ("signature", str(signature))
    try:
        result = func()
        if inspect.iscoroutine(result):
            result = _run_awaitable(result)
    except Exception as exc:
        return ("raised", _exception_key(exc))
    return ("called", norm(result))


def observe(
    source: str,
    func_name: str,
    args: tuple = (),
    kwargs: dict | None = None,
    *,
    namespace: dict | None = None,
    module_name: str = SNIPPET_MODULE,
) -> Observation:
    """Exec ``source`` as a fresh module, call ``func_name(*args, **kwargs)`` and record it all.

    The module body runs inside the capture too: a class body that raises ``NameError`` at import
    time is an observable difference, reported as ``raised`` (with ``returned`` = "<not called>").
    Async functions (and any awaitable result) are run with ``asyncio.run``. Records of named
    loggers are seen as long as they propagate to the root logger (the default).
    """
    kwargs = dict(kwargs or {})
    # Both sides get the same ``__name__``, so ``logging.getLogger(__name__)`` names the same
    # logger before and after (a unique name per run made every such record differ).
    module = types.ModuleType(module_name)
    module.__dict__.update(namespace or {})
    module.__dict__["__name__"] = module_name
    previous = sys.modules.get(module_name)
    stdout, stderr = io.StringIO(), io.StringIO()
    returned: object = "<not called>"
    raised = None
    sys.modules[module_name] = module  # dataclasses & co. look their module up here
    try:
        with _capture_logging() as handler, contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                exec(compile(source, "<snippet>", "exec"), module.__dict__)
                func = module.__dict__[func_name]
                result = func(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = _run_awaitable(result)
                # Forced inside the capture: a lazy result logs/prints/raises when consumed.
                returned = normalise(result)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: B036 - SystemExit/GeneratorExit are behaviour too
                raised = _exception_key(exc)
            args_after = normalise((args, kwargs))
    finally:
        if previous is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = previous
    # Memory addresses differ between any two runs, so they are masked in printed/logged text.
    return Observation(
        returned=returned,
        raised=None if raised is None else (raised[0], _mask(raised[1])),
        logs=tuple((name, level, _mask(message), exc) for name, level, message, exc in handler.records),
        stdout=_mask(stdout.getvalue()),
        stderr=_mask(stderr.getvalue()),
        args_after=args_after,
    )


def _mask(text: str) -> str:
    return _ADDRESS.sub(" at 0x?", text)


def _split_input(item) -> tuple[tuple, dict]:
    """``(args, kwargs)`` when given a 2-tuple of (tuple, dict); otherwise ``item`` is the args.

    To call with one tuple and one dict positionally, write ``((t, d), {})``.
    """
    if (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], tuple)
        and isinstance(item[1], dict)
    ):
        return item[0], item[1]
    if not isinstance(item, tuple):
        raise TypeError(f"each input must be an args tuple or (args, kwargs), got {item!r}")
    return item, {}


def _describe_mismatch(before: Observation, after: Observation) -> str:
    lines = []
    for field in fields(Observation):
        b, a = getattr(before, field.name), getattr(after, field.name)
        if b == a:
            continue
        lines.append(f"  {field.name} differs:")
        b_text = _pretty(b).splitlines()
        a_text = _pretty(a).splitlines()
        lines.extend(
            "    " + line
            for line in difflib.unified_diff(b_text, a_text, "before", "after", lineterm="")
        )
    return "\n".join(lines)


def _pretty(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and _is_log_tuple(value):
        return "\n".join(repr(record) for record in value)
    return repr(value)


def _is_log_tuple(value: tuple) -> bool:
    return all(isinstance(r, tuple) and len(r) == 4 for r in value) and bool(value)


def assert_same_behaviour(
    before: str,
    after: str,
    func_name: str,
    inputs: Iterable[tuple | tuple[tuple, dict]],
    *,
    namespace_factory: Callable[[], dict] | None = None,
) -> int:
    """Observe both snippets on every input; raise ``AssertionError`` at the first difference.

    Each side gets its own deep copy of the input and its own fresh namespace, so a mutation made
    by one side cannot leak into the other. Returns how many inputs were compared (so a caller can
    assert that its input list was not accidentally empty).
    """
    count = 0
    for index, item in enumerate(inputs):
        args, kwargs = _split_input(item)
        observations = []
        for source in (before, after):
            namespace = namespace_factory() if namespace_factory else None
            observations.append(
                observe(source, func_name, copy.deepcopy(args), copy.deepcopy(kwargs), namespace=namespace)
            )
        b, a = observations
        if b != a:
            raise AssertionError(
                f"behaviour differs for input #{index} args={args!r} kwargs={kwargs!r}:\n"
                + _describe_mismatch(b, a)
            )
        count += 1
    return count
