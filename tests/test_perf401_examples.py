"""Tests generated from RewriteAppendLoopCommand.VALID / INVALID: text, outcome and behaviour."""

from __future__ import annotations

import re
from collections import Counter

import libcst as cst
import pytest
from libcst.codemod import CodemodContext

from codemods.differential import assert_same_behaviour, raising_variants
from codemods.perf401 import RewriteAppendLoopCommand, find_candidate_sites

INVALID = RewriteAppendLoopCommand.INVALID
VALID = RewriteAppendLoopCommand.VALID


def _run(code: str):
    command = RewriteAppendLoopCommand(CodemodContext(filename="example.py"))
    new = command.transform_module(cst.parse_module(code))
    return new.code, command.outcomes, command.context.warnings


def _with_raising_variants(calls: tuple) -> list[tuple]:
    """Every call as given, plus each list argument swapped for one that raises at every position."""
    expanded = []
    for args in calls:
        expanded.append(args)
        for index, arg in enumerate(args):
            if isinstance(arg, list):
                for variant in raising_variants(arg):
                    expanded.append((*args[:index], variant, *args[index + 1 :]))
    return expanded


def _comments(code: str) -> Counter:
    """Comment texts; pragmas joined on one line (`# type: T  # noqa: E501`) count separately."""
    module = cst.parse_module(code)
    found = Counter()

    class Collect(cst.CSTVisitor):
        def visit_Comment(self, node: cst.Comment) -> None:
            found.update(re.split(r"\s+(?=#)", node.value))

    module.visit(Collect())
    return found


@pytest.mark.parametrize("example", INVALID, ids=[f"invalid{i}" for i in range(len(INVALID))])
def test_invalid_example_is_rewritten_exactly(example):
    new_code, outcomes, _ = _run(example.code)
    assert new_code == example.expected
    assert [(o.status, o.kind) for o in outcomes] == [("fixed", example.kind)]
    compile(new_code, "example.py", "exec")


@pytest.mark.parametrize("example", INVALID, ids=[f"invalid{i}" for i in range(len(INVALID))])
def test_invalid_example_behaves_the_same_including_failing_iterables(example):
    calls = _with_raising_variants(example.calls)
    compared = assert_same_behaviour(example.code, example.expected, "f", calls)
    assert compared == len(calls) >= 1


@pytest.mark.parametrize("example", INVALID, ids=[f"invalid{i}" for i in range(len(INVALID))])
def test_every_comment_survives_exactly_once(example):
    new_code, _, _ = _run(example.code)
    assert _comments(new_code) == _comments(example.code)


@pytest.mark.parametrize("example", VALID, ids=[f"valid{i}" for i in range(len(VALID))])
def test_valid_example_is_left_alone_with_its_reason(example):
    new_code, outcomes, warnings = _run(example.code)
    assert new_code == example.code
    assert [(o.status, o.reason) for o in outcomes] == [("skipped", example.reason)]
    assert any(example.reason in w for w in warnings)


NAIVE = [e for e in [*VALID, *INVALID] if e.naive is not None]


@pytest.mark.parametrize("example", NAIVE, ids=[f"naive{i}" for i in range(len(NAIVE))])
def test_the_naive_rewrite_would_really_change_behaviour(example):
    """A skip (or the choice of extend) must be necessary, not just cautious."""
    with pytest.raises(AssertionError, match="behaviour differs"):
        assert_same_behaviour(example.code, example.naive, "f", _with_raising_variants(example.calls))


@pytest.mark.parametrize("example", INVALID, ids=[f"invalid{i}" for i in range(len(INVALID))])
def test_rewrite_leaves_no_append_loop_behind(example):
    before = find_candidate_sites(cst.parse_module(example.code))
    assert len(before) == 1
    assert find_candidate_sites(cst.parse_module(example.expected)) == []


def test_examples_cover_every_rewrite_kind_and_are_distinct():
    assert {e.kind for e in INVALID} == {"comprehension", "extend"}
    assert len({e.code for e in INVALID}) == len(INVALID)
    assert len({e.code for e in VALID}) == len(VALID)
