"""fix_perf401's contract: one outcome per site, ruff's locations, untouched bytes elsewhere."""

from __future__ import annotations

import ast
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


# --------------------------------------------------------------------------------------------
# Pragma comments (noqa, type comments, …) stay on the line they cover
# --------------------------------------------------------------------------------------------

PRAGMA_EXAMPLES = [e for e in RewriteAppendLoopCommand.INVALID if "noqa:" in e.code or "type:" in e.code]


def _ruff_codes(tmp_path: Path, code: str, select: str) -> list[str]:
    path = tmp_path / "p.py"
    path.write_text(code)
    result = subprocess.run(
        [str(RUFF), "check", "--isolated", "--no-fix", "--select", select, "--output-format", "json",
         "--exit-zero", str(path)],
        capture_output=True, text=True, check=True,
    )
    return [v["code"] for v in json.loads(result.stdout)]


@pytest.mark.skipif(not RUFF.exists(), reason="ruff binary not installed next to the interpreter")
@pytest.mark.parametrize("example", PRAGMA_EXAMPLES, ids=[f"pragma{i}" for i in range(len(PRAGMA_EXAMPLES))])
def test_rewrites_with_pragmas_stay_ruff_quiet(tmp_path, example):
    """A detached `# noqa: E501` would leave an E501 on the new line (and the comment alone)."""
    assert _ruff_codes(tmp_path, example.code, "E501,E702,E703,RUF100") == []
    assert _ruff_codes(tmp_path, example.expected, "E501,E702,E703,RUF100") == []


def test_pragma_examples_exist():
    assert len(PRAGMA_EXAMPLES) >= 3


def _type_comment_of(code: str, target: str) -> str | None:
    for node in ast.walk(ast.parse(code, type_comments=True)):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == target for t in node.targets):
            return node.type_comment
    raise AssertionError(f"no assignment to {target}")


def test_type_comment_of_the_dropped_init_still_annotates_the_list_and_comes_first():
    code = _src(
        """
        def f(src):
            dst = []  # type: list[int]
            for v in src:
                dst.append(v * 1000 + 123456789 + 987654321 + 1111111111111111 + 22222222222)  # noqa: E501
            return dst
        """
    )
    new_code, outcomes = _fix_all(code)
    assert [o.kind for o in outcomes] == ["comprehension"]
    assert _type_comment_of(code, "dst") == "list[int]"
    comment = _type_comment_of(new_code, "dst")
    assert ast.dump(ast.parse(comment, mode="eval")) == ast.dump(ast.parse("list[int]", mode="eval"))
    assert new_code.splitlines()[1].endswith("  # type: list[int]  # noqa: E501")
    assert assert_same_behaviour(code, new_code, "f", [([1, 2],)]) == 1


def test_type_comment_ending_a_semicolon_line_is_not_handed_to_its_other_statement():
    """`n = 0; dst = []  # type: list[int]`: dropping `dst = []` would make it annotate `n`."""
    code = _src(
        """
        def f(src):
            n = 0; dst = []  # type: list[int]
            for v in src:
                dst.append(v)
            return dst, n
        """
    )
    new_code, outcomes = _fix_all(code)
    assert [o.kind for o in outcomes] == ["extend"]
    assert _type_comment_of(new_code, "dst") == "list[int]"
    assert _type_comment_of(new_code, "n") is None


def test_a_wider_line_length_lets_a_counted_pragma_stay_on_one_line():
    code = _src(
        """
        def f(src):
            dst = []
            for value_with_a_long_name in src:
                dst.append(str(value_with_a_long_name) + "a long literal suffix")  # pragma: no cover
            return dst
        """
    )
    _, narrow = _fix_all(code, line_length=88)
    wide_code, wide = _fix_all(code, line_length=120)
    assert narrow[0].status == "skipped" and "pragma: no cover" in narrow[0].reason
    assert wide[0].kind == "comprehension"
    assert wide_code.splitlines()[1].endswith(" for value_with_a_long_name in src]  # pragma: no cover")


def test_two_inits_on_one_line_both_move_and_the_line_goes():
    code = _src(
        """
        def f(src):
            evens = []; odds = []
            for v in src:
                if v % 2 == 0:
                    evens.append(v)
            for v in src:
                if v % 2:
                    odds.append(v)
            return evens, odds
        """
    )
    new_code, outcomes = _fix_all(code)
    assert [o.kind for o in outcomes] == ["comprehension", "comprehension"]
    assert new_code == _src(
        """
        def f(src):
            evens = [v for v in src if v % 2 == 0]
            odds = [v for v in src if v % 2]
            return evens, odds
        """
    )
    assert assert_same_behaviour(code, new_code, "f", [([1, 2, 3],), ([],)]) == 2
