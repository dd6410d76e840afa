"""scan (real ruff), repo config and plan building, on small repositories written here."""

import textwrap
from pathlib import Path

import pytest

from workers.plan import build_plan, find_tasks_file, group_of_section, load_plan
from workers.repo_config import DEFAULT_GROUPS, ConfigError, load_repo_config
from workers.scan import effective_target, scan

TRY_LOOP = "def f(xs, log):\n    for x in xs:\n        try:\n            g(x)\n        except ValueError:\n            log(x)\n"
APPEND_LOOP = "def h(xs):\n    out = []\n    for x in xs:\n        out.append(x + 1)\n    return out\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_scan_forces_rules_over_repo_ignores_and_respects_excludes(tmp_path):
    write(tmp_path, {
        "pyproject.toml": '[tool.ruff]\ntarget-version = "py312"\nexclude = ["legacy"]\n'
                          '[tool.ruff.lint]\nselect = ["E"]\nignore = ["PERF203"]\n',
        "pkg/a.py": TRY_LOOP, "legacy/b.py": TRY_LOOP, "pkg/c.py": APPEND_LOOP,
        "pkg/noqa.py": TRY_LOOP.replace("except ValueError:", "except ValueError:  # noqa: PERF203"),
    })
    result = scan(tmp_path, load_repo_config(tmp_path), ["."])
    assert {(s.path, s.code) for s in result.sites} == {("pkg/a.py", "PERF203"), ("pkg/c.py", "PERF401")}
    site = next(s for s in result.sites if s.code == "PERF203")
    assert (site.line, site.col) == (5, 9)  # ruff points at the first handler


def test_target_pinned_below_311_and_requires_python_note():
    from workers.repo_config import RepoConfig

    target, notes = effective_target(RepoConfig(target_version="py312", requires_python=">=3.12"))
    assert target == "py310"
    assert any("pinned" in n for n in notes) and any("3.11" in n for n in notes)
    assert effective_target(RepoConfig(target_version="py39")) == ("py39", [])


def test_repo_config_overrides_and_errors(tmp_path):
    write(tmp_path, {"pyproject.toml": """
        [tool.refactor-bot]
        tasks-file = "plan.md"
        test-command = "pytest -x tests"
        regression-threshold = 5
        [[tool.refactor-bot.groups]]
        name = "hot"
        rule = "PERF203"
        paths = ["*/hot/*"]
        """})
    config = load_repo_config(tmp_path)
    assert [g.name for g in config.groups] == ["hot"]
    assert config.test_command == ("pytest", "-x", "tests") and config.regression_threshold_pct == 5
    with pytest.raises(ConfigError, match="unknown group 'cache'"):
        config.group("cache")
    (tmp_path / "pyproject.toml").write_text("[tool.refactor-bot]\nbogus = 1\n")
    with pytest.raises(ConfigError, match="unknown keys: bogus"):
        load_repo_config(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.refactor-bot\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_repo_config(tmp_path)


@pytest.mark.parametrize("heading,group", [
    ("2. Group A: Cache Services (PERF203 - 35 violations)", "cache"),
    ("3. Group B: Database Layer (PERF203 - 30 violations)", "database"),
    ("4. Group C: Core Services (PERF203 - 61 violations)", "core"),
    ("5. List Operations (PERF401 - 28 violations)", "list-ops"),
    ("6. Validation & Performance Testing", None),
])
def test_section_headings_map_to_default_groups(heading, group):
    found = group_of_section(heading, DEFAULT_GROUPS)
    assert (found.name if found else None) == group


def test_plan_named_file_wins_over_globs_and_counts(tmp_path):
    write(tmp_path, {
        "openspec/changes/archive/old/tasks.md": "- [ ] 1.1 Fix `x.py` PERF203\n",
        "openspec/changes/other/tasks.md": "## 1. Unrelated\n- [ ] 1.1 Do a thing\n",
        "openspec/changes/perf/tasks.md": textwrap.dedent("""\
            ## 1. Setup
            - [ ] 1.1 Run `ruff check app --select=PERF203,PERF401 --output-format=json`
            ## 2. Group A: Cache Services (PERF203 - 1 violations)
            - [ ] 2.1 Fix `app/core/memo.py` (1 violations)
            - [ ] 2.2 Fix `app/cache/gone.py` (2 violations)
            ## 4. Group C: Core Services (PERF203 - 2 violations)
            - [ ] 4.1 Fix remaining core service files (2 violations across 2 files)
            """),
        "app/core/memo.py": TRY_LOOP, "app/core/b.py": TRY_LOOP, "app/user_db.py": TRY_LOOP,
        "app/cache/lru.py": TRY_LOOP, "outside/x.py": TRY_LOOP,
    })
    config = load_repo_config(tmp_path)
    assert find_tasks_file(tmp_path, config).parent.name == "perf"
    plan = load_plan(tmp_path, config)
    assert plan.scan.paths == ("app",)  # scope taken from the plan's own ruff command
    files = {name: sorted(gp.files) for name, gp in plan.groups.items()}
    assert files["cache"] == ["app/cache/lru.py", "app/core/memo.py"]  # named under cache: plan wins
    assert files["database"] == ["app/user_db.py"]
    assert files["core"] == ["app/core/b.py"]
    status = {s.item.id: s for gp in plan.groups.values() for s in gp.items}
    assert status["2.1"].found == 1 and not status["2.1"].satisfied
    assert status["2.2"].missing == ("app/cache/gone.py",) and not status["2.2"].satisfied
    assert status["4.1"].found == 1  # remaining core files: b.py only


def test_build_plan_without_tasks(tmp_path):
    write(tmp_path, {"m.py": APPEND_LOOP})
    config = load_repo_config(tmp_path)
    plan = build_plan(scan(tmp_path, config), config)
    assert plan.groups["list-ops"].site_count == 1 and plan.tasks is None
