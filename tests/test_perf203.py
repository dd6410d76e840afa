"""fix_perf203's contract: site bookkeeping, byte-identical surroundings, ruff agreement, and the
differential harness actually catching the rewrites this codemod refuses to make."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest

import codemods.perf203_locate as perf203_locate
import codemods.perf203_rewrite as perf203_rewrite
from codemods.apply import fix_file
from codemods.differential import RaisingIterable, assert_same_behaviour, raising_variants
from codemods.outcome import Site
from codemods.perf203 import find_perf203_sites, fix_perf203
from codemods.perf203_commands import ExtractTryIntoHelperCommand, HoistTryOutOfLoopCommand

RUFF = str(Path(sys.executable).with_name("ruff"))
ALL_EXAMPLES = [
    ex for cmd in (HoistTryOutOfLoopCommand, ExtractTryIntoHelperCommand) for ex in (*cmd.VALID, *cmd.INVALID)
]


def src(code: str) -> str:
    return textwrap.dedent(code).lstrip("\n")


def fix(code: str, sites=None, **options):
    code = src(code)
    module = cst.parse_module(code)
    sites = find_perf203_sites(code, "m.py") if sites is None else sites
    new, outcomes = fix_perf203(module, sites, **options)
    return code, new.code, outcomes


def ruff_json(tmp_path: Path, files: dict[str, str], select: str) -> list[dict]:
    for name, code in files.items():
        (tmp_path / name).write_text(code)
    result = subprocess.run(
        [RUFF, "check", "--isolated", "--select", select, "--target-version", "py310",
         "--output-format", "json", "--exit-zero", "."],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout)


def test_site_finder_agrees_with_ruff_on_every_example(tmp_path):
    files = {f"ex{i}.py": src(ex.code) for i, ex in enumerate(ALL_EXAMPLES)}
    flagged = ruff_json(tmp_path, files, "PERF203")
    by_ruff = sorted((Path(v["filename"]).name, v["location"]["row"], v["location"]["column"]) for v in flagged)
    ours = sorted((name, s.line, s.col) for name, code in files.items() for s in find_perf203_sites(code, name))
    assert ours == by_ruff
    assert len(ours) >= len(ALL_EXAMPLES)


def test_rewritten_examples_are_clean_for_ruff(tmp_path):
    """Fixed sites are gone and no pyflakes error (undefined/unused names…) appears."""
    outputs = {}
    for i, ex in enumerate(ALL_EXAMPLES):
        _, new, outcomes = fix(ex.code)
        if any(o.status == "fixed" for o in outcomes):
            outputs[f"out{i}.py"] = new
    assert len(outputs) >= sum(len(c.INVALID) for c in (HoistTryOutOfLoopCommand, ExtractTryIntoHelperCommand))
    assert ruff_json(tmp_path, outputs, "PERF203") == []
    before = ruff_json(tmp_path, {f"out{i}.py": src(ex.code) for i, ex in enumerate(ALL_EXAMPLES)}, "F")
    after = ruff_json(tmp_path, outputs, "F")
    assert [v["code"] for v in after if Path(v["filename"]).name in outputs] == [
        v["code"] for v in before if Path(v["filename"]).name in outputs
    ]


def test_one_outcome_per_site_in_request_order_and_unlocatable_sites_skipped():
    code = """
    def f(xs, ys):
        for x in xs:
            try:
                use(x)
            except ValueError:
                pass
        for y in ys:
            try:
                use(y)
            except ValueError:
                pass
    """
    sites = find_perf203_sites(src(code), "m.py")
    bogus = Site("m.py", 1, 1, "PERF203")
    requested = [sites[1], bogus, sites[0], sites[1]]
    _, new, outcomes = fix(code, requested)
    assert [o.site for o in outcomes] == requested
    assert [o.status for o in outcomes] == ["fixed", "skipped", "fixed", "skipped"]
    assert "no loop whose whole body is a try" in outcomes[1].reason
    assert outcomes[3].reason == "the same site was requested twice"
    # the second helper for the same call gets the function name, not a number
    assert "def _safe_use(y):" in new and "def _f_safe_use(x):" in new


def test_helper_name_never_collides_with_existing_names():
    code = """
    def _safe_check(x):
        return x


    def f(nodes, out):
        for n in nodes:
            try:
                out.append(check(n))
            except ConnectionError:
                pass
    """
    _, new, outcomes = fix(code)
    assert outcomes[0].status == "fixed"
    assert "def _f_safe_check(n, out):" in new
    assert new.count("def _safe_check(") == 1


def test_flag_variables_never_shadow_names_the_function_uses():
    code = """
    def f(items, stop):
        total = 0
        for x in items:
            try:
                total += x
            except TypeError:
                break
        return total, stop
    """
    _, new, outcomes = fix(code)
    assert outcomes[0].status == "fixed"
    assert "stop_2, total = _process_item(x, total)" in new
    assert_same_behaviour(src(code), new, "f", [([1, 2], "s"), ([1, "a", 2], "s"), ([], None)])


def test_everything_outside_the_rewritten_loop_is_byte_identical():
    code = """
    import os  # keep   this   spacing


    X = {  'odd' :1 }


    def f(items):
        # a comment before the loop
        for x in items:
            try:
                os.fspath(x)
            except TypeError:
                pass
        return   X


    class Z: pass
    """
    before, new, outcomes = fix(code)
    assert outcomes[0].status == "fixed"
    head = before[: before.index("def f(items):")]
    tail = before[before.index("    return   X"):]
    assert new.startswith(head)
    assert new.endswith(tail)
    assert "    # a comment before the loop\n    for x in items:\n" in new


def test_crlf_files_stay_crlf():
    code = src("""
    def f(items):
        for x in items:
            try:
                use(x)
            except ValueError:
                pass
    """).replace("\n", "\r\n")
    module = cst.parse_module(code)
    new, outcomes = fix_perf203(module, find_perf203_sites(code))
    assert outcomes[0].status == "fixed"
    assert "\n" not in new.code.replace("\r\n", "")


def test_continuation_lines_follow_the_moved_code():
    code = """
    class C:
        def f(self, items):
            for x in items:
                try:
                    self.send(
                        Record(
                            x,
                            retries=3,
                        )
                    )
                    self.log(
    "dedented continuation")
                except OSError:
                    pass
    """
    _, new, outcomes = fix(code)
    assert outcomes[0].status == "fixed"
    expected = (
        "    try:\n"
        "        self.send(\n"
        "            Record(\n"
        "                x,\n"
        "                retries=3,\n"
        "            )\n"
        "        )\n"
        "        self.log(\n"
        '"dedented continuation")\n'
    )
    assert expected in new
    compile(new, "<moved>", "exec")


def test_logging_contract_is_recorded_per_site():
    code = """
    import logging
    import sys

    logger = logging.getLogger("svc")


    def f(items):
        for x in items:
            try:
                use(x)
            except KeyError as e:
                logger.warning("missing %s", x)
                print("oops", file=sys.stderr)
                print("not a log")
                logging.getLogger("other").error("second: %s", e)
    """
    _, _, outcomes = fix(code)
    assert outcomes[0].logging == [
        'logger.warning("missing %s", x)',
        'print("oops", file=sys.stderr)',
        'logging.getLogger("other").error("second: %s", e)',
    ]


def test_a_rewrite_that_changes_logging_calls_is_dropped(monkeypatch):
    real = perf203_rewrite.build_extract

    def lossy(plan, loop, module):
        new_loop, helper = real(plan, loop, module)
        plan.logging_after = plan.logging_after[:-1]  # as if a logging call had been lost
        return new_loop, helper

    monkeypatch.setattr(perf203_rewrite, "build_extract", lossy)
    code = """
    import logging

    log = logging.getLogger("svc")


    def f(items):
        for x in items:
            try:
                use(x)
            except KeyError:
                log.error("missing %s", x)
    """
    before, new, outcomes = fix(code)
    assert new == before
    assert outcomes[0].status == "skipped"
    assert outcomes[0].reason == "the rewrite would change the handlers' logging calls"
    assert outcomes[0].logging == ['log.error("missing %s", x)']


def test_case14_tab_indented_file_is_skipped_untouched():
    data = b"def f(items):\n\tfor x in items:\n\t\ttry:\n\t\t\tuse(x)\n\t\texcept ValueError:\n\t\t\tpass\n"
    sites = [Site("t.py", 5, 3, "PERF203")]
    result, new_bytes = fix_file("t.py", data, sites)
    assert new_bytes == data
    assert [o.status for o in result.outcomes] == ["skipped"]
    assert "tab" in result.outcomes[0].reason


def test_nested_flagged_loops_are_both_fixed_and_behave_the_same():
    code = """
    import logging

    log = logging.getLogger("svc")


    def f(batches):
        totals = []
        pending = list(batches)
        while pending:
            try:
                batch = pending.pop(0)
                subtotal = 0
                for item in batch:
                    try:
                        subtotal += 100 // item
                    except ZeroDivisionError:
                        log.warning("zero in %s", batch)
                totals.append(subtotal)
            except TypeError as e:
                log.error("bad batch: %s", e)
        return totals
    """
    before, new, outcomes = fix(code)
    assert [o.status for o in outcomes] == ["fixed", "fixed"]
    compile(new, "<nested>", "exec")
    inputs = [([[1, 2], [0, 5], 3],), ([[4]],), ([],)]
    inputs += [([[1, 0, 2], v],) for v in raising_variants([1, 2], ZeroDivisionError)]
    assert assert_same_behaviour(before, new, "f", inputs) == len(inputs)


def test_hoist_is_refused_when_the_iterable_may_raise_a_caught_type():
    """The proof behind case 13: hoisting here would log iteration errors the original did not."""
    code = """
    import logging

    log = logging.getLogger("svc")


    def f(rows):
        seen = []
        for row in rows:
            try:
                seen.append(len(row))
            except Exception:
                log.exception("row failed")
                raise
        return seen
    """
    before, new, outcomes = fix(code)
    assert outcomes[0].kind == "extract"
    naive_hoist = src("""
    import logging

    log = logging.getLogger("svc")


    def f(rows):
        seen = []
        try:
            for row in rows:
                seen.append(len(row))
        except Exception:
            log.exception("row failed")
            raise
        return seen
    """)
    raising = [(RaisingIterable(["ab", "c"], 1, ValueError),)]
    with pytest.raises(AssertionError, match="logs differ"):
        assert_same_behaviour(before, naive_hoist, "f", raising)
    assert assert_same_behaviour(before, new, "f", raising) == 1


def test_dropping_a_loop_carried_name_would_be_caught():
    """The differential inputs are strong enough to see a helper that forgets to hand back."""
    code = """
    def f(paths):
        last = None
        for p in paths:
            try:
                last = p.upper()
            except AttributeError:
                pass
        return last
    """
    before, new, outcomes = fix(code)
    assert "last = _process_item(p, last)" in new
    forgetful = new.replace("last = _process_item(p, last)", "_process_item(p, last)")
    with pytest.raises(AssertionError, match="returned differs"):
        assert_same_behaviour(before, forgetful, "f", [(["a", "b"],)])


def test_module_level_loop_is_hoisted_when_safe():
    code = """
    RESULTS = []
    for name in ("a", "b"):
        try:
            RESULTS.append(name.upper())
        except AttributeError:
            break
    """
    _, new, outcomes = fix(code)
    assert outcomes[0].kind == "hoist"
    assert new.startswith("RESULTS = []\ntry:\n    for name in (\"a\", \"b\"):\n")


def test_generated_helpers_document_their_contract():
    code = """
    def f(items):
        done = 0
        for x in items:
            try:
                done += work(x)
            except KeyError:
                break
            except ValueError:
                continue
        return done
    """
    _, new, _ = fix(code)
    helper = " ".join(new[new.index("def _safe_work"): new.index("def f(")].split())
    assert "Result-style helper" in helper
    assert "True when the loop must stop (``break``)" in helper
    assert "the new value of ``done``" in helper
    assert "Handled here: KeyError: the loop stops; ValueError: the loop goes on." in helper
    assert "# errors handled in _safe_work (loop stops, loop continues)" in new


def test_long_generated_lines_are_wrapped_like_black():
    code = """
    class Service:
        async def refresh_everything(self, items, first_parameter, second_parameter, third_one):
            counter_of_things = 0
            for item in items:
                try:
                    counter_of_things += await self.refresh(item, first_parameter, second_parameter, third_one)
                except OSError:
                    pass
            return counter_of_things
    """
    before, new, outcomes = fix(code)
    assert outcomes[0].status == "fixed"
    assert (
        "async def _safe_refresh(\n"
        "    self, item, counter_of_things, first_parameter, second_parameter, third_one\n"
        "):\n"
    ) in new
    args = ["self", "item", "counter_of_things", "first_parameter", "second_parameter", "third_one"]
    assert (
        "            counter_of_things = await _safe_refresh(\n"
        + "".join(f"                {a},\n" for a in args)
        + "            )\n"
    ) in new
    moved = {line.strip() for line in before.splitlines()}
    generated = {line for line in new.splitlines() if line.strip() not in moved}
    assert generated and all(len(line) <= 88 for line in generated)


def test_position_provider_fallback_locates_the_same_loops(monkeypatch):
    """If the fast statement walk and ast ever disagree, libcst positions are used instead."""
    code = """
    def f(items):
        for x in items:
            try:
                use(x)
            except ValueError:
                pass
        while items:
            try:
                items.pop()
            except IndexError:
                break
    """
    _, fast, fast_outcomes = fix(code)
    monkeypatch.setattr(perf203_locate, "_ast_candidates", lambda tree: [])
    _, slow, slow_outcomes = fix(code)
    assert slow == fast
    assert [(o.status, o.kind) for o in slow_outcomes] == [(o.status, o.kind) for o in fast_outcomes]
    assert all(o.status == "fixed" for o in slow_outcomes)


def test_a_name_bound_only_in_two_flagged_tries_keeps_its_scope():
    """Each try alone looks safe (the other one binds the name), both moving out is not."""
    code = """
    def f(items, verbose):
        if verbose:
            print(conn)
        for x in items:
            try:
                conn = open_conn(x)
            except OSError:
                pass
        for y in items:
            try:
                conn = open_conn(y)
            except OSError:
                pass
    """
    before, new, outcomes = fix(code)
    assert new == before
    assert all("bound only in the try but used elsewhere" in o.reason for o in outcomes)


def test_moving_the_only_binding_out_would_be_caught():
    """Why the "bound only in the try" skip exists: the earlier read would turn global."""
    before = src("""
    def f(items, verbose):
        if verbose:
            print(note)
        for x in items:
            try:
                note = str(x)
            except ValueError:
                pass
    """)
    _, new, outcomes = fix(before)
    assert new == before and "bound only in the try" in outcomes[0].reason
    naive = src("""
    def _safe_str(x):
        try:
            note = str(x)
        except ValueError:
            pass


    def f(items, verbose):
        if verbose:
            print(note)
        for x in items:
            _safe_str(x)
    """)
    with pytest.raises(AssertionError, match="raised differs"):
        assert_same_behaviour(before, naive, "f", [([1], True)])


STACKLEVEL_SOURCE = '''
import logging
import warnings

log = logging.getLogger("stacklevel")


def f(items):
    for x in items:
        try:
            int(x)
        except ValueError:
            warnings.warn("bad " + x, stacklevel=2)
            log.warning("bad %s", x, stacklevel=2)
'''


def _locations(source: str) -> tuple[list, list]:
    """Run ``f(["a"])`` from this test; (warning filename/lineno, record pathname/funcName/lineno)."""
    import logging
    import warnings

    namespace: dict = {"__name__": "stacklevel_snippet"}
    exec(compile(source, "<stacklevel>", "exec"), namespace)
    records: list = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("stacklevel")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            namespace["f"](["a"])  # the line both sides must point at
    finally:
        logger.removeHandler(handler)
    return ([(w.filename, w.lineno) for w in caught], [(r.pathname, r.funcName, r.lineno) for r in records])


def test_literal_stacklevel_is_bumped_so_warning_and_record_locations_are_identical():
    before = textwrap.dedent(STACKLEVEL_SOURCE).lstrip()
    module, outcomes = fix_perf203(cst.parse_module(before), find_perf203_sites(before))
    assert [o.kind for o in outcomes] == ["extract"]
    assert "stacklevel=3" in module.code and "stacklevel=2" not in module.code
    warned, logged = _locations(before)
    assert warned and logged
    assert warned[0][0] == __file__ and logged[0][1] == "_locations"  # the caller of f, not the snippet
    assert _locations(module.code) == (warned, logged)
    assert "stacklevel+1 on 2 call(s)" in outcomes[0].detail
    assert "log records now come from _safe" in outcomes[0].detail


def test_without_the_bump_the_locations_would_differ():
    """The comparison above can fail: the helper really is one more frame."""
    before = textwrap.dedent(STACKLEVEL_SOURCE).lstrip()
    module, _ = fix_perf203(cst.parse_module(before), find_perf203_sites(before))
    unbumped = module.code.replace("stacklevel=3", "stacklevel=2")
    assert _locations(unbumped) != _locations(before)


def test_warn_without_stacklevel_is_accepted_and_said_in_the_detail():
    source = textwrap.dedent(STACKLEVEL_SOURCE).lstrip().replace(", stacklevel=2)", ")")
    module, outcomes = fix_perf203(cst.parse_module(source), find_perf203_sites(source))
    assert [o.kind for o in outcomes] == ["extract"]
    assert "warnings.warn without stacklevel now reports a line inside _safe" in outcomes[0].detail
    (before_file, _), = _locations(source)[0]
    (after_file, _), = _locations(module.code)[0]
    assert before_file == after_file == "<stacklevel>"  # same file, only the line moves


def test_helper_numbered_only_when_every_readable_name_is_taken():
    code = """
    def _safe_check(x):
        return x


    def _f_safe_check(x):
        return x


    def f(nodes, out):
        for n in nodes:
            try:
                out.append(check(n))
            except ConnectionError:
                pass
    """
    _, new, outcomes = fix(code)
    assert outcomes[0].detail == "helper _f_safe_check_2"


def test_helper_names_come_from_the_call_then_the_target_never_iteration():
    code = """
    def warm(store, keys, rows, queue):
        for key in keys:
            try:
                store.fetch(key)
            except KeyError:
                pass
        for row in rows:
            try:
                store.append(row[0])
            except IndexError:
                pass
        while queue:
            try:
                queue.pop()
            except IndexError:
                pass
    """
    _, new, outcomes = fix(code)
    assert [o.detail for o in outcomes] == ["helper _safe_fetch", "helper _process_row", "helper _warm_step"]
    assert "_iteration" not in new


def test_catch_all_handler_docstring_does_not_say_anything_else_propagates():
    code = """
    def f(items, out):
        for x in items:
            try:
                out.append(work(x))
            except ValueError:
                out.append(None)
            except:
                return None
    """
    _, new, _ = fix(code)
    assert "Anything else propagates" not in new
    assert "Handled here: ValueError: the loop goes on; every other exception: ``f`` returns." in " ".join(
        new.split()
    )


def test_no_unreachable_final_return_when_every_path_returns():
    code = """
    def f(items):
        for x in items:
            try:
                return work(x)
            except ValueError:
                return None
        return -1
    """
    before, new, outcomes = fix(code)
    helper = new[: new.index("def f(")]
    assert outcomes[0].kind == "extract"
    assert "return True, work(x)" in helper and "return False, None" not in helper
    assert_same_behaviour(before, new, "f", [([1],), ([],)])


def test_call_site_comment_is_shortened_not_dropped():
    code = """
    class Very:
        def deeply_nested_method_name(self, items):
            for x in items:
                if x:
                    for y in x:
                        if y:
                            for zz in y:
                                try:
                                    self.process_the_really_long_named_item(zz)
                                except KeyError:
                                    self.log.warning("bad %s", zz)
                                except ValueError:
                                    return None
    """
    _, new, outcomes = fix(code)
    comment = next(line for line in new.splitlines() if line.strip().startswith("# "))
    assert outcomes[0].kind == "extract"
    full = "errors handled in _safe_process_the_really_long_named_item (logged, returns, loop continues)"
    assert comment.index("#") + len("# " + full) > 88  # the full form would not fit
    assert len(comment) <= 88
    assert comment.strip().startswith("# _safe_process_the_really_long_named_item:")  # still says what happens


def test_unwrap_is_preferred_when_every_handler_only_re_raises():
    code = """
    def f(items):
        out = []
        for x in items:
            try:
                out.append(10 // x)
            except ZeroDivisionError:
                raise
        return out
    """
    before, new, outcomes = fix(code)
    assert [(o.kind, o.detail) for o in outcomes] == [("unwrap", "try removed: its only handler re-raised unchanged")]
    assert "try" not in new
    assert_same_behaviour(before, new, "f", [([1, 2],), ([1, 0],), *[(v,) for v in raising_variants([1, 2])]])
