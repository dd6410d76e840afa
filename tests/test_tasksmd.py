"""tasks.md parsing and byte-exact ticking, on the real seed plan and on awkward inputs."""

import pytest

from workers.tasksmd import TasksError, parse_tasks, tick

@pytest.fixture
def seed_text(shared_dir) -> str:
    seed = shared_dir / "seed" / "tasks.md"
    assert seed.is_file(), f"the seed plan is missing: {seed}"
    return seed.read_bytes().decode("utf-8")


def test_seed_items_files_and_claims(seed_text):
    plan = parse_tasks(seed_text)
    item = plan.get("2.1")
    assert item.files == ("backend/services/cache_coherency_manager.py",)
    assert item.claimed == 8 and item.kind == "fix" and item.rule == "PERF203"
    assert plan.get("5.5").rule == "PERF401"
    assert plan.get("2.7").kind == "tests"
    assert plan.get("6.1").kind == "verify" and plan.get("6.1").rule is None  # names both rules
    subs = [i for i in plan.items if i.parent == "2.1"]
    assert [i.id for i in subs] == ["2.1/1", "2.1/2"]
    # every numbered checkbox line of the file is an item
    numbered = [ln for ln in seed_text.splitlines() if ln.lstrip().startswith("- [ ] ") and ln.strip()[6:7].isdigit()]
    assert len([i for i in plan.items if "/" not in i.id]) == len(numbered)


def test_tick_changes_only_the_chosen_boxes(seed_text):
    out = tick(seed_text, {"2.1", "5.5"})
    before, after = seed_text.splitlines(keepends=True), out.splitlines(keepends=True)
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(before) == len(after) and len(changed) == 2
    for a, b in changed:
        assert b == a.replace("[ ]", "[x]", 1)
    assert parse_tasks(out).get("2.1").checked


def test_tick_keeps_crlf_and_trailing_bytes():
    text = "# T\r\n\r\n## 2. Cache (PERF203)\r\n- [ ] 2.1 Fix `a/cache.py` (1 violation)\r\n- [ ] 2.2 Run tests\r\nno newline at end"
    out = tick(text, {"2.1"})
    assert out == text.replace("- [ ] 2.1", "- [x] 2.1")
    assert out.count("\r\n") == text.count("\r\n")


def test_tick_unknown_item_is_an_error_not_a_silent_noop():
    with pytest.raises(KeyError):
        tick("- [ ] 1.1 something\n", {"9.9"})


@pytest.mark.parametrize("text", ["", "just prose\nno boxes\n", "## 1. Heading only\n"])
def test_malformed_plan_gives_clear_error(text):
    with pytest.raises(TasksError, match="no checkbox items"):
        parse_tasks(text)


def test_ticked_and_nested_items_with_tabs_and_stars():
    text = "## 5. List Operations (PERF401)\n* [X] 5.1 Fix `x.py`\n\t- [ ] sub step\n- [ ] 5.2 Fix remaining files (3 violations)\n"
    plan = parse_tasks(text)
    assert plan.get("5.1").checked and plan.get("5.1/1").parent == "5.1"
    assert plan.get("5.2").claimed == 3 and plan.get("5.2").files == ()
