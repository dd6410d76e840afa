"""PERF401 through codemods.apply.fix_file: the repo's line length and the decoded source reach the codemod."""

from __future__ import annotations

import textwrap

import libcst as cst

from codemods.apply import fix_file
from codemods.differential import assert_same_behaviour
from codemods.perf401 import find_candidate_sites, fix_perf401

LONG = textwrap.dedent(
    """
    def f(measurements):
        normalised = []
        for sensor_name, raw_value in measurements:
            normalised.append(f"{sensor_name}={raw_value:.2f}")
        return normalised
    """
).lstrip("\n")


def _sites(code: str):
    return find_candidate_sites(cst.parse_module(code), "m.py")


def test_line_length_reaches_the_codemod():
    """The same file wraps or not depending only on the line length fix_file is given."""
    one_line = '    normalised = [f"{sensor_name}={raw_value:.2f}" for sensor_name, raw_value in measurements]'
    sites = _sites(LONG)
    wide, wide_bytes = fix_file("m.py", LONG.encode(), sites, line_length=len(one_line))
    narrow, narrow_bytes = fix_file("m.py", LONG.encode(), sites, line_length=len(one_line) - 1)
    assert wide.new_source.splitlines()[1] == one_line
    assert narrow.new_source.splitlines()[1:3] == ["    normalised = [", '        f"{sensor_name}={raw_value:.2f}"']
    assert [o.kind for o in wide.outcomes] == [o.kind for o in narrow.outcomes] == ["comprehension"]
    assert wide_bytes == wide.new_source.encode() and narrow_bytes == narrow.new_source.encode()
    calls = [([("t", 1.5)],), ([],)]
    assert assert_same_behaviour(LONG, wide.new_source, "f", calls) == 2
    assert assert_same_behaviour(LONG, narrow.new_source, "f", calls) == 2


def test_line_length_decides_whether_a_pragma_line_can_be_kept():
    code = textwrap.dedent(
        """
        def f(src):
            dst = []
            for value_with_a_long_name in src:
                dst.append(str(value_with_a_long_name) + "a long literal suffix")  # pragma: no cover
            return dst
        """
    ).lstrip("\n")
    sites = _sites(code)
    narrow, narrow_bytes = fix_file("m.py", code.encode(), sites, line_length=88)
    wide, _ = fix_file("m.py", code.encode(), sites, line_length=120)
    assert narrow.outcomes[0].status == "skipped" and narrow_bytes == code.encode()
    assert wide.outcomes[0].kind == "comprehension"
    assert wide.new_source.splitlines()[1].endswith("  # pragma: no cover")


def test_source_of_a_latin1_crlf_file_maps_columns_and_keeps_bytes():
    """`source=` is the decoded text: non-ASCII names before the call must not shift its column."""
    text = (
        "# -*- coding: latin-1 -*-\r\n"
        "def f(xs):\r\n"
        "    größe = []\r\n"
        "    for x in xs: größe.append(x + 1)  # noqa: E701\r\n"
        "    return größe\r\n"
    )
    data = text.encode("latin-1")
    sites = _sites(text)
    assert [(s.line, s.col) for s in sites] == [(4, text.splitlines()[3].index("größe.append") + 1)]
    result, new_bytes = fix_file("m.py", data, sites)
    assert [o.kind for o in result.outcomes] == ["comprehension"]
    expected = (
        "# -*- coding: latin-1 -*-\r\n"
        "def f(xs):\r\n"
        "    größe = [x + 1 for x in xs]  # noqa: E701\r\n"
        "    return größe\r\n"
    )
    assert new_bytes == expected.encode("latin-1")
    direct, _ = fix_perf401(cst.parse_module(data), sites)
    assert direct.bytes == new_bytes


def test_utf8_bom_file_is_rewritten_and_keeps_its_bom():
    text = "def f(xs):\n    out = []\n    for x in xs:\n        out.append('é' * x)\n    return out\n"
    data = b"\xef\xbb\xbf" + text.encode("utf-8")
    result, new_bytes = fix_file("m.py", data, _sites(text))
    assert [o.kind for o in result.outcomes] == ["comprehension"]
    assert new_bytes.startswith(b"\xef\xbb\xbf")
    assert new_bytes[3:].decode("utf-8") == result.new_source
    assert "    out = ['é' * x for x in xs]\n" in result.new_source
    assert assert_same_behaviour(text, result.new_source, "f", [(2,), (0,)]) == 2
