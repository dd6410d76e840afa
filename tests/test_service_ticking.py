"""tasks.md ticking after a merge, against the emulator: only the boxes with evidence change,
every other byte (CRLF line endings included) stays, via contents PUT or via a PR when protected."""

from __future__ import annotations

import pytest

from tests.conftest import emulator_client

from workers.checkout import sync
from workers.github_publish import PrState
from workers.ticking import merged_evidence, tick_default_branch

CLEAN = "def total(xs):\n    return sum(xs)\n"
DIRTY = (
    "def load(paths, log):\n"
    "    out = {}\n"
    "    for p in paths:\n"
    "        try:\n"
    "            out[p] = open(p).read()\n"
    "        except OSError:\n"
    "            log.warning('skip %s', p)\n"
    "    return out\n"
)
TASKS = (
    "# Tasks\r\n\r\n"
    "## 2. Group A: Cache Services (PERF203 - 1 violations)\r\n"
    "- [ ] 2.1 Fix `pkg/cache_a.py` (1 violations)\r\n"
    "- [ ] 2.2 Fix `pkg/cache_b.py` (1 violations)\r\n"
    "- [ ] 2.3 Run cache service tests to verify no regressions\r\n"
)
PYPROJECT = '[project]\nname = "demo"\nversion = "0"\n\n[tool.refactor-bot]\nsrc = ["pkg"]\n'


@pytest.fixture
def world(github_emulator, tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "cache_a.py").write_text(CLEAN)  # already fixed: 2.1 has its evidence
    (src / "pkg" / "cache_b.py").write_text(DIRTY)  # still flagged: 2.2 must stay open
    (src / "openspec" / "changes" / "perf").mkdir(parents=True)
    (src / "openspec" / "changes" / "perf" / "tasks.md").write_bytes(TASKS.encode())
    (src / "pyproject.toml").write_text(PYPROJECT)
    github_emulator.add_user("octo", "admin")
    github_emulator.add_user("refactor-bot", "write")
    github_emulator.add_repo("octo/demo", files_from=src)
    token = github_emulator.token_for("refactor-bot")
    return github_emulator, token, emulator_client(github_emulator, "refactor-bot").get_repo("octo/demo")


PATH = "openspec/changes/perf/tasks.md"


def test_ticks_only_items_with_evidence_keeping_bytes(world, tmp_path):
    gh, token, repo = world
    checkout = tmp_path / "checkout"
    sha = sync(repo.clone_url, checkout, token, "main")
    result = tick_default_branch(repo, checkout, sha, evidence=None, pr_number=7)
    assert result.status == "committed"
    assert set(result.ticked) == {"2.1"}
    after = gh.repo("octo/demo").file_at(PATH)
    assert after == TASKS.replace("- [ ] 2.1", "- [x] 2.1").encode()
    assert gh.repo("octo/demo").branch_sha("main") == result.sha
    message = gh.repo("octo/demo").bare.log("main")[0].message
    assert "#7" in message and "2.1" in message
    # Nothing new to tick: no commit at all.
    sha = sync(repo.clone_url, checkout, token, "main")
    assert tick_default_branch(repo, checkout, sha, evidence=None).status == "nothing"
    assert gh.repo("octo/demo").branch_sha("main") == result.sha


def test_test_items_tick_only_on_the_merged_prs_own_measurement(world, tmp_path):
    gh, token, repo = world
    checkout = tmp_path / "checkout"
    sha = sync(repo.clone_url, checkout, token, "main")
    measured = PrState(group="cache", base_sha="b" * 40, head_sha="h" * 40, tests_ok=True)
    assert merged_evidence(measured.render(), "other-sha") is None  # merged after more pushes
    evidence = merged_evidence(measured.render(), "h" * 40)
    result = tick_default_branch(repo, checkout, sha, evidence=evidence)
    assert set(result.ticked) == {"2.1", "2.3"}


def test_protected_default_branch_gets_a_pull_request(world, tmp_path):
    gh, token, repo = world
    gh.repo("octo/demo").protect_branch("main")
    before_main = gh.repo("octo/demo").branch_sha("main")
    checkout = tmp_path / "checkout"
    sha = sync(repo.clone_url, checkout, token, "main")
    result = tick_default_branch(repo, checkout, sha, evidence=None)
    assert result.status == "pull-request"
    assert gh.repo("octo/demo").branch_sha("main") == before_main
    [pr] = gh.repo("octo/demo").pulls
    assert pr.head_ref == "refactor-bot/tick-tasks" and pr.base_ref == "main"
    assert gh.repo("octo/demo").file_at(PATH, "refactor-bot/tick-tasks") == \
        TASKS.replace("- [ ] 2.1", "- [x] 2.1").encode()
