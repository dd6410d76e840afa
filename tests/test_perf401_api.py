"""fix_perf401's contract: one outcome per site, ruff's locations, untouched bytes elsewhere."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from codemods.differential import assert_same_behaviour, raising_variants
from codemods.outcome import Site
from codemods.perf401 import (
    R_NOT_FOUND,
    R_NOT_LOOP_BODY,
    RewriteAppendLoopCommand,
    find_candidate_sites,
    fix_perf401,
)

RUFF = Path(sys.executable).with_name("ruff")


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _fix_all(code: str, **kwargs):
    module = cst.parse_module(code)
    sites = find_candidate_sites(module, "m.py")
    new, outcomes = fix_perf401(module, sites, **kwargs)
    return new.code, outcomes


def _ruff_sites(tmp_path: Path, code: str) -> list[Site]:
    path = tmp_path / "m.py"
    path.write_text(code, newline="")
    result = subprocess.run(
        [str(RUFF), "check", "--isolated", "--no-fix", "--select", "PERF401", "--target-version", "py310",
         "--output-format", "json", "--exit-zero", str(path)],
        capture_output=True, text=True, check=True,
    )
    return sorted(
        Site("m.py", v["location"]["row"], v["location"]["column"], v["code"]) for v in json.loads(result.stdout)
    )


TWO_LOOPS = _src(
    """
    def f(xs):
        out = []
        for x in xs:
            out.append(x)
        for x in xs:
            if x > 1:
                out.append(-x)
        return out
    """
)


def test_one_outcome_per_site_in_request_order_with_unknown_and_duplicate_sites():
    module = cst.parse_module(TWO_LOOPS)
    first, second = find_candidate_sites(module, "m.py")
    nowhere = Site("m.py", 1, 1, "PERF401")  # `def f(xs):` has no append call there
    _, outcomes = fix_perf401(module, [second, nowhere, first, second])
    assert [o.site for o in outcomes] == [second, nowhere, first, second]
    assert [o.status for o in outcomes] == ["fixed", "skipped", "fixed", "fixed"]
    assert outcomes[1].reason == R_NOT_FOUND
    assert outcomes[0].kind == outcomes[3].kind


def test_shared_list_first_loop_becomes_comprehension_second_extends_and_behaves_the_same():
    new_code, outcomes = _fix_all(TWO_LOOPS)
    assert [o.kind for o in outcomes] == ["comprehension", "extend"]
    assert "out = [x for x in xs]" in new_code
    assert "out.extend(-x for x in xs if x > 1)" in new_code
    inputs = [([1, 2, 3],), *[(v,) for v in raising_variants([1, 2, 3])]]
    assert assert_same_behaviour(TWO_LOOPS, new_code, "f", inputs) == len(inputs)


def test_adjacent_inits_both_move_and_their_comments_follow():
    code = _src(
        """
        def f(xs):
            # evens and odds
            evens = []
            odds = []  # odd ones
            for x in xs:
                if x % 2 == 0:
                    evens.append(x)
            for x in xs:
                if x % 2:
                    odds.append(x)
            return evens, odds
        """
    )
    new_code, outcomes = _fix_all(code)
    assert [o.kind for o in outcomes] == ["comprehension", "comprehension"]
    assert new_code == _src(
        """
        def f(xs):
            # evens and odds
            evens = [x for x in xs if x % 2 == 0]
            # odd ones
            odds = [x for x in xs if x % 2]
            return evens, odds
        """
    )
    assert assert_same_behaviour(code, new_code, "f", [([1, 2, 3, 4],), ([],)]) == 2


def test_while_loops_are_not_sites():
    code = _src(
        """
        def f(xs):
            out = []
            while xs:
                out.append(xs.pop())
            return out
        """
    )
    module = cst.parse_module(code)
    assert find_candidate_sites(module) == []
    _, outcomes = fix_perf401(module, [Site("m.py", 4, 9, "PERF401")])
    assert outcomes[0].status == "skipped" and outcomes[0].reason == R_NOT_LOOP_BODY


def test_a_call_that_is_not_append_is_not_rewritten():
    code = "def f(xs):\n    out = []\n    for x in xs:\n        out.add(x)\n    return out\n"
    new, outcomes = fix_perf401(cst.parse_module(code), [Site("m.py", 4, 9, "PERF401")])
    assert new.code == code
    assert outcomes[0].reason == R_NOT_FOUND


def test_everything_outside_the_site_is_byte_identical_including_crlf_and_odd_spacing():
    code = (
        "import os ;  import sys\r\n"
        "def  g( a ,b ):\r\n"
        "\treturn a+b   # tabs and spaces\r\n"
        "\r\n"
        "def f(xs):\r\n"
        "    out = []\r\n"
        "    for x in xs:\r\n"
        "        out.append(x+1)\r\n"
        "    return out   \r\n"
        "x = [1,2 ,3]\r\n"
    )
    new_code, outcomes = _fix_all(code)
    assert outcomes[0].kind == "comprehension"
    old_lines, new_lines = code.split("\r\n"), new_code.split("\r\n")
    assert "\n" not in new_code.replace("\r\n", "")
    assert new_lines[:5] == old_lines[:5]
    assert new_lines[5] == "    out = [x+1 for x in xs]"
    assert new_lines[6:] == old_lines[8:]


def test_passing_the_source_gives_the_same_result():
    module = cst.parse_module(TWO_LOOPS)
    sites = find_candidate_sites(module, "m.py", source=TWO_LOOPS)
    with_source, _ = fix_perf401(module, sites, source=TWO_LOOPS)
    without, _ = fix_perf401(cst.parse_module(TWO_LOOPS), sites)
    assert with_source.code == without.code != TWO_LOOPS


def test_line_length_decides_between_one_line_and_one_clause_per_line():
    code = "def f(xs):\n    out = []\n    for x in xs:\n        out.append(x + 1)\n    return out\n"
    narrow, _ = _fix_all(code, line_length=20)
    wide, _ = _fix_all(code, line_length=88)
    assert wide.splitlines()[1] == "    out = [x + 1 for x in xs]"
    assert narrow.splitlines()[1:5] == ["    out = [", "        x + 1", "        for x in xs", "    ]"]
    assert assert_same_behaviour(narrow, wide, "f", [([1, 2],)]) == 1


@pytest.mark.skipif(not RUFF.exists(), reason="ruff binary not installed next to the interpreter")
def test_ruff_locations_are_the_ones_we_resolve(tmp_path):
    """Every site ruff reports in the examples is one of ours and gets the expected outcome."""
    checked = 0
    for example in RewriteAppendLoopCommand.INVALID:
        reported = _ruff_sites(tmp_path, example.code)
        module = cst.parse_module(example.code)
        assert set(reported) <= set(find_candidate_sites(module, "m.py"))
        if reported:
            new, outcomes = fix_perf401(module, reported)
            assert new.code == example.expected
            assert [o.kind for o in outcomes] == [example.kind]
            checked += 1
    assert checked > len(RewriteAppendLoopCommand.INVALID) // 2


@pytest.mark.skipif(not RUFF.exists(), reason="ruff binary not installed next to the interpreter")
def test_columns_count_characters_not_bytes(tmp_path):
    code = "def f(xs):\n    größe = []\n    for x in xs: größe.append(x + 1)\n    return größe\n"
    reported = _ruff_sites(tmp_path, code)
    assert reported, "ruff should flag the one-line loop"
    new, outcomes = fix_perf401(cst.parse_module(code), reported)
    assert outcomes[0].status == "fixed"
    assert "größe = [x + 1 for x in xs]" in new.code


def test_sites_are_found_in_every_kind_of_statement_block():
    """The ast -> libcst mapping must reach loops under elif/else/except/finally/match/with/suites."""
    code = _src(
        """
        import contextlib

        def f(xs, mode):
            a = 1; b = 2
            if mode == 0:
                pass
            elif mode == 1:
                out = []
                for x in xs:
                    if x: out.append(x + a)
                return out
            else:
                out = []
                for x in xs: out.append(x + b)
                return out

        def g(xs):
            try:
                pass
            except ValueError:
                pass
            else:
                out = []
                for x in xs:
                    out.append(x * 2)
                return out
            finally:
                fin = []
                for x in xs:
                    fin.append(x * 3)

        def h(xs, cmd):
            match cmd:
                case "go":
                    with contextlib.nullcontext():
                        out = []
                        for x in xs:
                            out.append(-x)
                    return out
                case _:
                    return None
        """
    )
    module = cst.parse_module(code)
    sites = find_candidate_sites(module, "m.py")
    new, outcomes = fix_perf401(module, sites)
    assert len(sites) == 5
    assert [o.status for o in outcomes] == ["fixed"] * 5, [o.reason for o in outcomes]
    assert find_candidate_sites(cst.parse_module(new.code)) == []
    for func, calls in {"f": [([1, 0, 2], 1), ([1, 2], 2)], "g": [([1, 2],)], "h": [([1, 2], "go")]}.items():
        assert assert_same_behaviour(code, new.code, func, calls) == len(calls)


def test_form_feed_does_not_shift_line_numbers():
    """str.splitlines() treats \\f as a line break; Python's tokenizer (and ruff) do not."""
    code = "x = 1\x0c\ndef f(xs):\n    out = []\n    for x in xs: out.append(x + 1)\n    return out\n"
    module = cst.parse_module(code)
    sites = find_candidate_sites(module, "m.py")
    assert [(s.line, s.col) for s in sites] == [(4, 18)]
    new, outcomes = fix_perf401(module, sites)
    assert outcomes[0].kind == "comprehension"
    assert "    out = [x + 1 for x in xs]\n" in new.code
