"""The differential harness must notice every kind of behaviour change, and only those."""

from __future__ import annotations

import logging

import pytest

from codemods.differential import (
    Observation,
    RaisingIterable,
    assert_same_behaviour,
    normalise,
    observe,
    raising_variants,
)

LOOP = """
def f(xs):
    out = []
    for x in xs:
        if x % 2:
            out.append(x * x)
    return out
"""

COMPREHENSION = """
def f(xs):
    out = [x * x for x in xs if x % 2]
    return out
"""


def test_identical_behaviour_is_accepted_including_raising_inputs():
    inputs = [([1, 2, 3],), ([],), *[(v,) for v in raising_variants([1, 2, 3])]]
    assert assert_same_behaviour(LOOP, COMPREHENSION, "f", inputs) == len(inputs)


def test_different_return_value_is_caught():
    after = LOOP.replace("x * x", "x + x")
    with pytest.raises(AssertionError, match="returned differs"):
        assert_same_behaviour(LOOP, after, "f", [([3],)])


def test_returned_list_vs_tuple_is_caught():
    after = LOOP.replace("return out", "return tuple(out)")
    with pytest.raises(AssertionError, match="returned"):
        assert_same_behaviour(LOOP, after, "f", [([1],)])


def test_different_exception_type_is_caught():
    before = "def f(d):\n    return d['k']\n"
    after = "def f(d):\n    return d.k\n"
    with pytest.raises(AssertionError, match="raised differs"):
        assert_same_behaviour(before, after, "f", [({},)])


def test_exception_only_on_one_side_is_caught_on_raising_iterable():
    # "before" swallows the failure and returns the partial list; "after" lets it escape.
    before = """
def f(xs):
    out = []
    try:
        for x in xs:
            out.append(x)
    except ValueError:
        return out
    return out
"""
    after = """
def f(xs):
    try:
        out = [x for x in xs]
    except ValueError:
        return out
    return out
"""
    with pytest.raises(AssertionError, match="UnboundLocalError"):
        assert_same_behaviour(before, after, "f", [(v,) for v in raising_variants([1, 2])])


def test_log_record_order_is_caught():
    before = "import logging\nlog = logging.getLogger('a.b')\ndef f():\n    log.info('one')\n    log.warning('two')\n"
    after = "import logging\nlog = logging.getLogger('a.b')\ndef f():\n    log.warning('two')\n    log.info('one')\n"
    with pytest.raises(AssertionError, match="logs differs"):
        assert_same_behaviour(before, after, "f", [()])


def test_log_args_are_caught():
    before = "import logging\ndef f(x):\n    logging.getLogger('n').info('got %s', x)\n"
    after = "import logging\ndef f(x):\n    logging.getLogger('n').info('got %s', x + 1)\n"
    with pytest.raises(AssertionError, match="got 1"):
        assert_same_behaviour(before, after, "f", [(1,)])


def test_exc_info_difference_is_caught():
    before = """
import logging
def f():
    try:
        1 / 0
    except ZeroDivisionError:
        logging.getLogger('n').exception('failed')
"""
    after = before.replace(".exception('failed')", ".error('failed')")
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        assert_same_behaviour(before, after, "f", [()])


def test_debug_records_of_named_loggers_are_captured_and_root_level_restored():
    root = logging.getLogger()
    level_before, handlers_before = root.level, list(root.handlers)
    source = "import logging\ndef f():\n    logging.getLogger('deep.child').debug('x=%d', 3)\n"
    obs = observe(source, "f")
    assert obs.logs == (("deep.child", logging.DEBUG, "x=3", None),)
    assert root.level == level_before
    assert root.handlers == handlers_before


def test_different_stdout_and_stderr_are_caught():
    before = "import sys\ndef f():\n    print('a')\n    print('e', file=sys.stderr)\n"
    with pytest.raises(AssertionError, match="stdout differs"):
        assert_same_behaviour(before, before.replace("print('a')", "print('b')"), "f", [()])
    with pytest.raises(AssertionError, match="stderr differs"):
        assert_same_behaviour(before, before.replace("print('e'", "print('E'"), "f", [()])


def test_mutated_arguments_are_caught_and_inputs_are_copied_per_side():
    before = "def f(xs, *, extra):\n    return len(xs)\n"
    after = "def f(xs, *, extra):\n    xs.append(0)\n    return len(xs) - 1\n"
    shared = [1, 2]
    with pytest.raises(AssertionError, match="args_after differs"):
        assert_same_behaviour(before, after, "f", [((shared,), {"extra": 1})])
    assert shared == [1, 2], "the caller's input must never be mutated by the harness"


def test_generators_are_materialised_so_lazy_differences_show():
    before = "def f(n):\n    return (i for i in range(n))\n"
    same = "def f(n):\n    return iter(list(range(n)))\n"
    different = "def f(n):\n    return (i for i in range(n + 1))\n"
    assert observe(before, "f", (3,)).returned[2] == observe(same, "f", (3,)).returned[2]
    with pytest.raises(AssertionError, match="returned differs"):
        assert_same_behaviour(before, different, "f", [(3,)])


def test_lambdas_capturing_the_loop_variable_are_called_to_compare():
    before = "def f():\n    fs = []\n    for i in range(3):\n        fs.append(lambda: i)\n    i = 100\n    return fs\n"
    after = "def f():\n    fs = [lambda: i for i in range(3)]\n    i = 100\n    return fs\n"
    with pytest.raises(AssertionError, match="returned differs"):
        assert_same_behaviour(before, after, "f", [()])


def test_async_functions_are_run():
    source = """
async def src(xs):
    for x in xs:
        yield x
async def f(xs):
    return [v async for v in src(xs)]
"""
    assert observe(source, "f", ([1, 2],)).returned == ("list", ("1", "2"))


def test_module_level_errors_are_observed_not_crashing():
    before = "class C:\n    k = 3\n    out = []\n    for x in range(2):\n        out.append(x * k)\ndef f():\n    return C.out\n"
    after = "class C:\n    k = 3\n    out = [x * k for x in range(2)]\ndef f():\n    return C.out\n"
    assert observe(before, "f").returned == ("list", ("0", "3"))
    assert observe(after, "f").raised == ("NameError", "name 'k' is not defined")
    with pytest.raises(AssertionError, match="NameError"):
        assert_same_behaviour(before, after, "f", [()])


def test_namespace_factory_gives_each_side_a_fresh_namespace():
    source = "def f():\n    STATE.append(1)\n    return len(STATE)\n"
    made = []

    def factory():
        made.append({"STATE": []})
        return made[-1]

    assert assert_same_behaviour(source, source, "f", [(), ()], namespace_factory=factory) == 2
    assert len(made) == 4 and all(ns["STATE"] == [1] for ns in made)


def test_raising_iterable_is_reiterable_and_has_stable_repr():
    it = RaisingIterable([1, 2], 1)
    for _ in range(2):
        got = []
        with pytest.raises(ValueError, match="boom at 1"):
            for v in it:
                got.append(v)
        assert got == [1]
    assert repr(it) == repr(RaisingIterable([1, 2], 1))


def test_raising_variants_cover_every_position_and_custom_exceptions():
    variants = raising_variants(["a", "b"], KeyError("k"))
    assert [v.raise_at for v in variants] == [0, 1, 2]
    with pytest.raises(KeyError):
        list(variants[2])
    seen = []
    with pytest.raises(KeyError):
        for v in variants[2]:
            seen.append(v)
    assert seen == ["a", "b"]


def test_observation_is_hashable_and_comparable():
    obs = observe(COMPREHENSION, "f", ([1, 2, 3],))
    assert isinstance(obs, Observation)
    assert obs == observe(LOOP, "f", ([1, 2, 3],))
    assert hash(obs) == hash(observe(LOOP, "f", ([1, 2, 3],)))


def test_memory_addresses_in_printed_text_are_masked_but_content_is_not():
    source = "def f():\n    print(object())\n    return 1\n"
    assert assert_same_behaviour(source, source, "f", [()]) == 1
    with pytest.raises(AssertionError, match="stdout differs"):
        assert_same_behaviour(source, source.replace("object()", "[object()]"), "f", [()])


def test_get_logger_dunder_name_is_the_same_on_both_sides():
    source = "import logging\nlog = logging.getLogger(__name__)\ndef f():\n    log.warning('x')\n"
    obs = observe(source, "f")
    assert obs.logs[0][0] == "snippet"
    assert assert_same_behaviour(source, source + "\n", "f", [()]) == 1


def test_genuinely_different_logger_name_is_still_caught():
    before = "import logging\nlog = logging.getLogger(__name__)\ndef f():\n    log.warning('x')\n"
    after = before.replace("getLogger(__name__)", "getLogger(__name__ + '.helpers')")
    with pytest.raises(AssertionError, match="snippet.helpers"):
        assert_same_behaviour(before, after, "f", [()])


def test_snippet_module_is_registered_while_running_and_removed_after():
    import sys

    source = "import sys\ndef f():\n    return sys.modules[__name__].__name__\n"
    assert observe(source, "f").returned == normalise("snippet")
    assert "snippet" not in sys.modules
