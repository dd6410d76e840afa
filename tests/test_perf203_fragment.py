"""fix_perf203_source (libcst parses only the statements holding sites) must give exactly what
fix_perf203 gives on the whole parsed file: same text, same outcomes."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from codemods.outcome import Site
from codemods.perf203 import find_perf203_sites, fix_perf203
from codemods.perf203_commands import ExtractTryIntoHelperCommand, HoistTryOutOfLoopCommand, UnwrapNoOpTryCommand
from codemods.soak_gen import generate_programs


def _whole(source: str, sites):
    new, outcomes = fix_perf203(cst.parse_module(source), sites)
    return new.code, outcomes


def _both(source: str, sites=None):
    from codemods.perf203_fragment import fix_perf203_source

    sites = find_perf203_sites(source, "m.py") if sites is None else sites
    return _whole(source, sites), fix_perf203_source(source, sites)


EXAMPLES = [
    pytest.param(textwrap.dedent(e.code).lstrip("\n"), id=f"{c.__name__}-{e.name}")
    for c in (HoistTryOutOfLoopCommand, ExtractTryIntoHelperCommand, UnwrapNoOpTryCommand)
    for e in (*c.VALID, *c.INVALID)
]

CLASS_LAYOUT = '''\
"""Module docstring."""
import logging

log = logging.getLogger(__name__)
# a comment above the class


@decorate
class Store(Base):
    """Docstring."""

    limit = 3

    def first(self, keys):
        out = []
        for key in keys:
            try:
                out.append(self.fetch(key))
            except KeyError:
                log.warning("missing %s", key)
                # keep going
        return out
        # trailing, indented

    # between members
    def middle(self):
        return 1

    def second(self, rows):
        total = 0
        for row in rows:
            try:
                total += int(row)
            except ValueError:
                continue
        return total


def after(items):
    for x in items:
        try:
            use(x)
        except OSError:
            raise
'''


@pytest.mark.parametrize("source", EXAMPLES)
def test_same_result_as_whole_file_on_every_example(source):
    whole, fragment = _both(source)
    assert fragment == whole


def test_same_result_on_generated_programs():
    for program in generate_programs("PERF203", 60, 11):
        whole, fragment = _both(program.source)
        assert fragment == whole, program.source


def test_two_methods_of_one_class_and_a_function_keep_order_and_comments():
    whole, fragment = _both(CLASS_LAYOUT)
    assert fragment == whole
    text, outcomes = fragment
    assert [o.status for o in outcomes] == ["fixed", "fixed", "fixed"]
    assert text.index("def _safe_fetch") < text.index("def _safe_parse_int") < text.index("@decorate")
    assert "        # trailing, indented\n" in text and "    # between members\n" in text


@pytest.mark.parametrize(
    "layout",
    [
        CLASS_LAYOUT.replace("\n", "\r\n"),  # CRLF: whole-file path
        CLASS_LAYOUT.replace("limit = 3", "limit = 3; other = 4"),
        CLASS_LAYOUT.replace("    # between members", "        # deeper comment between members"),
        CLASS_LAYOUT.replace('"""Module docstring."""\n', "").replace("import logging\n", "import logging; x = 1\n"),
        CLASS_LAYOUT.rstrip("\n"),  # no newline at the end
        CLASS_LAYOUT.replace("        return total\n", "        return total\n        # after the class\n"),
        CLASS_LAYOUT.split("\n\n\ndef after")[0].replace('"""Module docstring."""\nimport logging\n\nlog = logging'
                                                          '.getLogger(__name__)\n# a comment above the class\n\n\n', ""),
    ],
)
def test_awkward_layouts_give_the_same_result(layout):
    whole, fragment = _both(layout)
    assert fragment == whole


def test_sites_outside_any_statement_and_duplicates_are_reported_like_the_whole_file():
    sites = find_perf203_sites(CLASS_LAYOUT, "m.py")
    requested = [sites[1], Site("m.py", 999, 1, "PERF203"), sites[0], sites[1]]
    whole, fragment = _both(CLASS_LAYOUT, requested)
    assert fragment == whole
    assert [o.site for o in fragment[1]] == requested


def test_nothing_to_fix_returns_the_source_object():
    from codemods.perf203_fragment import fix_perf203_source

    source = CLASS_LAYOUT.replace("self.fetch(key)", "super().fetch(key)")
    sites = find_perf203_sites(source, "m.py")
    text, outcomes = fix_perf203_source(source, sites[:1])
    assert text is source and outcomes[0].status == "skipped"


def test_only_the_members_holding_sites_are_parsed(monkeypatch):
    import codemods.perf203_fragment as fragment_module

    parsed: list[str] = []
    real = cst.parse_module

    def spy(text, *args, **kwargs):
        parsed.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(fragment_module.cst, "parse_module", spy)
    sites = find_perf203_sites(CLASS_LAYOUT, "m.py")
    fragment_module.fix_perf203_source(CLASS_LAYOUT, sites)
    assert len(parsed) == 3  # one per method/function, never the whole file
    assert all("def middle" not in text and "Module docstring" not in text for text in parsed)
