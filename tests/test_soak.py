"""The soak at CI size: generated loop programs, fixed by the real codemods, must behave the same.

``bench/soak.py`` runs the same generator and check with ≥ 10,000 programs; here a fixed seed and
150 programs per rule keep it to seconds. A soak that rewrites nothing proves nothing, so the test
also demands that a real share of the programs was rewritten with every kind of fix, and that the
check itself can fail (a deliberately wrong rewrite is caught; a hanging codemod times out).
"""

from __future__ import annotations

import time

import pytest

from codemods.apply import fix_file
from codemods.soak_gen import RULES, check_programs, describe, generate_programs

SEED = 20261203
PER_RULE = 150
#: The rewrite kinds each codemod reports (codemods.perf203.KINDS; perf401's docstring).
# every kind must show up; "unwrap" (a try whose only handler is a bare `raise`) is rare in the
# generated programs, so it may, but need not, appear at this size
KINDS = {"PERF203": {"hoist", "extract"}, "PERF401": {"comprehension", "extend"}}
OPTIONAL_KINDS = {"PERF203": {"unwrap"}, "PERF401": set()}


@pytest.fixture(scope="module", params=RULES)
def soak(request):
    rule = request.param
    programs = generate_programs(rule, PER_RULE, SEED)
    return rule, programs, check_programs(programs, timeout=120)


def test_generation_is_reproducible_and_seeded():
    first = [p.source for p in generate_programs("PERF203", 15, 3)]
    again = [p.source for p in generate_programs("PERF203", 15, 3)]
    other = [p.source for p in generate_programs("PERF203", 15, 4)]
    assert first == again
    assert first != other
    assert len(set(first)) == 15


def test_every_generated_program_compiles_and_has_inputs():
    for rule in RULES:
        for program in generate_programs(rule, 40, SEED):
            compile(program.source, "<soak>", "exec")
            assert program.inputs, program.source
            assert any(type(args[0]).__name__ == "RaisingIterable" for args in program.inputs) or (
                "shape:module" in program.features
            )


def test_soak_finds_no_behaviour_difference(soak):
    rule, programs, results = soak
    assert len(results) == len(programs) == PER_RULE
    bad = [r for r in results if r.verdict in ("differs", "error", "timeout")]
    assert not bad, "\n\n".join(describe(r) for r in bad[:3])


def test_soak_rewrites_a_real_share_with_every_kind(soak):
    rule, programs, results = soak
    rewritten = [r for r in results if r.verdict == "same"]
    kinds = {what for r in results for status, what in r.outcomes if status == "fixed"}
    # Every fix kind must be exercised, and at least a fifth of the programs rewritten: below
    # that the generator has drifted towards shapes ruff does not flag or the codemod skips.
    assert KINDS[rule] <= kinds <= KINDS[rule] | OPTIONAL_KINDS[rule]
    assert len(rewritten) >= PER_RULE // 5, {r.verdict for r in results}
    # Each rewritten program ran on its plain inputs and on part-way raising variants.
    assert all(r.compared >= 4 for r in rewritten)


def test_codemod_own_sites_reach_more_loops_and_keep_behaviour():
    programs = generate_programs("PERF401", 60, SEED)
    by_ruff = check_programs(programs)
    by_codemod = check_programs(programs, timeout=120, sites_from="codemod")
    bad = [r for r in by_codemod if r.verdict in ("differs", "error", "timeout")]
    assert not bad, "\n\n".join(describe(r) for r in bad[:3])
    # ruff leaves e.g. tuple targets alone; the codemod's finder does not, so it sees more sites.
    assert sum(r.sites for r in by_codemod) > sum(r.sites for r in by_ruff)


def _log_to_another_logger(path, data, sites):
    """A wrong "codemod": the real rewrite, but every log record goes to another logger."""
    result, new = fix_file(path, data, sites)
    if new == data:
        return result, new
    return result, new.replace(b"logger.", b'logging.getLogger("elsewhere").')


def test_the_check_catches_a_rewrite_that_changes_behaviour():
    programs = [
        p for p in generate_programs("PERF203", PER_RULE, SEED)
        if "logger.warning(" in p.code or "logger.exception(" in p.code
    ]
    results = check_programs(programs, fixer=_log_to_another_logger)
    differing = [r for r in results if r.verdict == "differs"]
    assert differing, [r.verdict for r in results]
    assert all("logs differs" in r.detail for r in differing)
    assert all(r.after and "elsewhere" in r.after for r in differing)
    report = describe(differing[0])
    assert "--- before" in report and "--- diff" in report and 'getLogger("elsewhere")' in report


def _hang(path, data, sites):
    while True:
        time.sleep(0.05)


def test_a_hanging_codemod_costs_one_program_not_the_run():
    programs = generate_programs("PERF203", 2, SEED)
    results = check_programs(programs, timeout=0.5, fixer=_hang)
    assert [r.verdict for r in results if r.sites] == ["timeout"] * sum(1 for r in results if r.sites)
    assert any(r.sites for r in results)
