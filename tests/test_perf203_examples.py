"""Tests generated from the VALID/INVALID examples the PERF203 commands carry (Fixit style).

Each INVALID example is checked twice: the text must be exactly ``expected``, and the before and
after code must *behave* the same (results, exceptions, log records, output, argument mutations)
on the example's inputs and on every "iterable raises part-way" variant of its list arguments.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from libcst.codemod import CodemodContext, SkipFile

from codemods.differential import assert_same_behaviour, raising_variants
from codemods.perf203 import find_perf203_sites, fix_perf203
from codemods.perf203_commands import (
    ExtractTryIntoHelperCommand,
    HoistTryOutOfLoopCommand,
    UnwrapNoOpTryCommand,
)

COMMANDS = (HoistTryOutOfLoopCommand, ExtractTryIntoHelperCommand, UnwrapNoOpTryCommand)


def _cases(attr: str):
    return [
        pytest.param(command, example, id=f"{command.__name__}-{example.name}")
        for command in COMMANDS
        for example in getattr(command, attr)
    ]


def _source(code: str) -> str:
    return textwrap.dedent(code).lstrip("\n")


def _run(command, code: str):
    instance = command(CodemodContext(filename="example.py"))
    module = cst.parse_module(code)
    try:
        new = instance.transform_module(module)
    except SkipFile as skip:
        return None, instance.outcomes, str(skip)
    return new.code, instance.outcomes, None


def _inputs(example) -> list[tuple]:
    """The example's inputs plus, for each list argument, every part-way raising variant."""
    out = list(example.inputs)
    for args in example.inputs:
        for position, value in enumerate(args):
            if isinstance(value, list) and value:
                for exc in example.exceptions:
                    for variant in raising_variants(value, exc):
                        out.append((*args[:position], variant, *args[position + 1 :]))
    return out


@pytest.mark.parametrize(("command", "example"), _cases("INVALID"))
def test_invalid_example_is_rewritten_as_expected(command, example):
    before = _source(example.code)
    after, outcomes, skipped = _run(command, before)
    assert skipped is None, f"expected a rewrite, got skip: {skipped}"
    assert after == _source(example.expected)
    assert [o.status for o in outcomes] == ["fixed"] * len(outcomes)
    assert {o.kind for o in outcomes} == {command.KIND}


@pytest.mark.parametrize(("command", "example"), _cases("INVALID"))
def test_invalid_example_behaves_the_same(command, example):
    before = _source(example.code)
    after, _, skipped = _run(command, before)
    assert skipped is None
    inputs = _inputs(example)
    assert assert_same_behaviour(before, after, example.func, inputs) == len(inputs)


@pytest.mark.parametrize(("command", "example"), _cases("INVALID"))
def test_invalid_example_keeps_logging_contract(command, example):
    before = _source(example.code)
    _, outcomes, _ = _run(command, before)
    assert [tuple(o.logging) for o in outcomes] == [example.logging] * len(outcomes)


@pytest.mark.parametrize(("command", "example"), _cases("VALID"))
def test_valid_example_is_left_alone_with_reason(command, example):
    code = _source(example.code)
    assert find_perf203_sites(code), "a VALID example must contain a PERF203 site to be meaningful"
    after, outcomes, skipped = _run(command, code)
    assert after is None
    assert outcomes and all(o.status == "skipped" for o in outcomes)
    assert all(example.reason in (o.reason or "") for o in outcomes), [o.reason for o in outcomes]
    assert example.reason in skipped


@pytest.mark.parametrize(("command", "example"), _cases("VALID"))
def test_valid_example_is_byte_identical_through_the_api(command, example):
    code = _source(example.code)
    module = cst.parse_module(code)
    new, outcomes = fix_perf203(module, find_perf203_sites(code), kinds=(command.KIND,))
    assert new.code == code
    assert len(outcomes) == len(find_perf203_sites(code))
