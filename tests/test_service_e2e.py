"""The whole service on loopback: signed webhook → FastAPI → Redis → Celery worker → the refactor
job on the emulator's copy of the built-in example repository → PR → merge → tasks.md ticked.

Real parts: redis-server, a Celery worker thread consuming from it, the GitHub emulator (REST +
smart-HTTP git), the lead's run_job with the example repository's own tests and benchmarks.
Waiting for the worker is bounded (WAIT seconds) but nothing asserts on durations.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from fastapi.testclient import TestClient
from github import Github

from bot.app import create_app
from bot.settings import Settings, get_settings
from tests.conftest import emulator_client, queued_tasks, signed_headers
from tests.github_emulator import GitHubEmulator
from workers.celery_app import app as celery_app
from workers.celery_app import configure
from workers.cli import EXAMPLE, make_example_repo
from workers.github_publish import PrState

SECRET = "e2e-webhook-secret"
REPO = "octo/inventory"
WAIT = 900.0  # generous bound for a cold test venv; a hang fails instead of blocking CI forever


@dataclass
class Service:
    gh: GitHubEmulator
    client: TestClient
    settings: Settings
    env_dump: Path
    log: list[str]
    payloads: Path

    @property
    def state(self):
        return self.gh.repo(REPO)

    def api(self, login: str) -> Github:
        return emulator_client(self.gh, login)

    def post(self, event: str, payload: dict, delivery: str | None = None, secret: str = SECRET):
        body = json.dumps(payload).encode()
        return self.client.post("/webhook", content=body, headers=signed_headers(secret, body, event, delivery))

    def comment(self, login: str, number: int, text: str) -> tuple[dict, int]:
        """Write a comment as ``login`` on the emulator; returns its webhook payload and id."""
        made = self.api(login).get_repo(REPO).get_issue(number).create_comment(text)
        payload = json.loads((self.payloads / "issue_comment.created.payload.json").read_text())
        payload["repository"].update(full_name=REPO, name="inventory", default_branch="main")
        payload["repository"]["owner"]["login"] = "octo"
        payload["issue"].update(number=number)
        payload["issue"].pop("pull_request", None)
        payload["comment"].update(id=made.id, body=text)
        payload["comment"]["user"]["login"] = login
        payload["sender"].update(login=login, type="User")
        return payload, made.id

    def bot_comments(self, number: int) -> list[str]:
        return [c.body for c in self.state.comments_on(number) if c.user.login == "refactor-bot"]

    def next_reply(self, number: int, seen: int, containing: str = "") -> str:
        """Wait for a bot comment on ``number`` after the first ``seen`` ones (containing
        ``containing``, if given) and return it."""
        def found():
            return next((b for b in self.bot_comments(number)[seen:] if containing in b), None)
        return wait_for(f"a reply on #{number} after {seen} containing {containing!r}", found)


def wait_for(what: str, predicate: Callable[[], object], timeout: float = WAIT):
    """Poll until ``predicate`` is truthy; fail naming ``what`` if the worker never gets there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def task_result(task_id: str):
    """The task's return value. The AsyncResult dies here, while Redis is still up: its
    unsubscribe on garbage collection would otherwise retry against a stopped server."""
    result = celery_app.AsyncResult(task_id)
    try:
        return result.get(timeout=WAIT)
    finally:
        result.forget()


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]):
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.append(self.format(record) + " " + json.dumps(record.__dict__, default=str))
        except Exception:  # a log line we cannot format is not what this test checks
            pass


ENV_PROBE = '''"""Written by the service test: records the environment the repository's tests run with."""
import json
import os


def test_environment_probe():
    with open({path!r}, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(dict(os.environ)) + "\\n")
'''


@pytest.fixture(scope="module")
def service(tmp_path_factory, redis_server, webhook_payloads_dir):
    root = tmp_path_factory.mktemp("service")
    env_dump = root / "test-env.jsonl"
    source = make_example_repo(root / "example")
    (source / "tests" / "test_zz_environment_probe.py").write_text(ENV_PROBE.format(path=str(env_dump)))
    log: list[str] = []
    handler = _Collect(log)
    logging.getLogger().addHandler(handler)
    previous_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    with GitHubEmulator(root / "github") as gh, pytest.MonkeyPatch.context() as mp:
        gh.add_user("octo", "admin")
        gh.add_user("writer", "write")
        gh.add_user("reader", "read")
        gh.add_user("refactor-bot", "write")
        gh.add_repo(REPO, files_from=source)
        env = {
            "WEBHOOK_SECRET": SECRET, "REDIS_URL": redis_server, "GITHUB_API_URL": gh.api_url,
            "GITHUB_TOKEN": gh.token_for("refactor-bot"), "GITHUB_SECONDS_BETWEEN_REQUESTS": "0",
            "GITHUB_SECONDS_BETWEEN_WRITES": "0", "GITHUB_MAX_WAIT_SECONDS": "10",
            "WORKSPACE_DIR": str(root / "workspaces"), "CACHE_DIR": str(root / "cache"),
            "LOCK_RETRY_SECONDS": "1", "REBASE_POLICY": "comment",
        }
        for key, value in env.items():
            mp.setenv(f"REFACTOR_BOT_{key}", value)
        get_settings.cache_clear()
        settings = get_settings()
        configure(settings)
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=60,
                          loglevel="INFO"):
            with TestClient(create_app(settings)) as client:
                yield Service(gh, client, settings, env_dump, log, webhook_payloads_dir)
        celery_app.backend.result_consumer.stop()
    get_settings.cache_clear()
    logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(previous_level)


def checklist_ticks(body: str) -> set[str]:
    """Ids of the top-level checklist rows the PR body shows as ticked."""
    return set(re.findall(r"^- \[x\] (\d+(?:\.\d+)*) ", body, re.MULTILINE))


def tasks_path() -> str:
    """The example repository's plan, wherever the lead put it under openspec/changes/."""
    [path] = EXAMPLE.glob("openspec/changes/*/tasks.md")
    return path.relative_to(EXAMPLE).as_posix()


def test_run_command_opens_one_pr_updates_it_and_merge_ticks_tasks(service: Service):
    issue = service.state.add_issue("The cache warmer is slow", user="writer")
    payload, comment_id = service.comment("writer", issue.number, "Can you look?\n@refactor-bot run cache")
    response = service.post("issue_comment", payload)
    assert response.status_code == 202, response.text

    first = service.next_reply(issue.number, 0)
    assert "`cache`: opened #" in first, first
    [pr] = [p for p in service.state.pulls if p.head_ref == "refactor-bot/cache"]
    assert f"#{pr.number}" in first
    assert ("+1", "refactor-bot") in [(r[1], r[2]) for r in service.state.comments[comment_id].reactions]

    body = pr.body
    assert "### Checklist" in body and re.search(r"^- \[[ x]\] 2\.1 ", body, re.MULTILINE)
    bench = body.split("### Benchmark comparison", 1)[1].split("\n###", 1)[0]
    table = [line for line in bench.splitlines() if line.startswith("|")]
    assert len(table) >= 3 and table[0].startswith("| benchmark |"), "a benchmark table with rows"
    commits = service.state.bare.log("refactor-bot/cache", exclude="main")
    assert commits, "the branch has the job's commits"
    for commit in commits:
        assert commit.message.splitlines()[0] in body
    assert set(pr.labels) >= {"refactor-bot"}

    # The same command again: the same PR is updated, never a second one.
    payload, _ = service.comment("writer", issue.number, "@refactor-bot run cache")
    assert service.post("issue_comment", payload).status_code == 202
    second = service.next_reply(issue.number, 1)
    assert f"`cache`: updated #{pr.number}" in second, second
    assert len([p for p in service.state.pulls if p.head_ref == "refactor-bot/cache"]) == 1

    # Merge it and tell the bot: tasks.md gets exactly the PR checklist's ticks.
    path = tasks_path()
    before = service.state.file_at(path)
    shown_ticked = checklist_ticks(service.state.pull(pr.number).body)
    assert shown_ticked, "the example repository's cache group should be fully fixable"
    service.api("writer").get_repo(REPO).get_pull(pr.number).merge()
    closed = json.loads((service.payloads / "pull_request.closed.payload.json").read_text())
    closed.pop("installation", None)
    closed["number"] = pr.number
    closed["repository"].update(full_name=REPO, name="inventory", default_branch="main")
    closed["pull_request"].update(number=pr.number, merged=True)
    closed["pull_request"]["base"]["ref"] = "main"
    closed["pull_request"]["head"]["ref"] = "refactor-bot/cache"
    assert service.post("pull_request", closed).status_code == 202
    after = wait_for("tasks.md to change on main", lambda: (service.state.file_at(path) or before) != before
                     and service.state.file_at(path))
    old_lines, new_lines = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old_lines) == len(new_lines)
    ticked = set()
    for old, new in zip(old_lines, new_lines, strict=True):
        if old != new:
            assert new == old.replace(b"[ ]", b"[x]", 1)
            ticked.add(re.search(rb"\[x\] (\d+(?:\.\d+)*) ", new).group(1).decode())
    assert ticked == shown_ticked
    assert any(r.method == "PUT" and r.path == f"/repos/{REPO}/contents/{path}" and r.status == 200
               for r in service.gh.requests)


def test_replay_forgery_and_read_only_commenter(service: Service, redis_server):
    issue = service.state.add_issue("Please refactor lists", user="reader")
    payload, comment_id = service.comment("reader", issue.number, "@refactor-bot run list-ops")
    assert service.post("issue_comment", payload, secret="wrong").status_code == 401
    unsigned = service.client.post("/webhook", content=json.dumps(payload).encode(),
                                    headers={"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "u-1"})
    assert unsigned.status_code == 401

    accepted = service.post("issue_comment", payload, delivery="reader-delivery")
    assert accepted.status_code == 202
    replay = service.post("issue_comment", payload, delivery="reader-delivery")
    assert (replay.status_code, replay.json()["status"]) == (200, "duplicate")
    assert task_result(accepted.json()["task_id"]) == {"status": "refused"}
    [reply] = service.bot_comments(issue.number)
    assert "Only people with write" in reply and "@reader" in reply
    assert service.state.comments[comment_id].reactions == []
    assert service.state.branch_sha("refactor-bot/list-ops") is None
    assert not [p for p in service.state.pulls if p.head_ref == "refactor-bot/list-ops"]
    assert [m for m in queued_tasks(redis_server) if m["task"].startswith("refactor_bot.")] == []


def test_help_plan_status_and_mistakes_get_replies(service: Service):
    issue = service.state.add_issue("questions", user="writer")
    expected = [
        ("@refactor-bot help", "`run <group|all>`"),
        ("@refactor-bot plan", "- **cache** (PERF203)"),
        ("@refactor-bot status", "refactor-bot pull requests"),
        ("@refactor-bot run nosuchgroup", "no group `nosuchgroup`"),
        ("@refactor-bot frobnicate", "I don't know the command `frobnicate`"),
        ("@refactor-bot skip inventory/cache/warmer.py", "works inside a refactor-bot pull request"),
    ]
    for seen, (command, reply) in enumerate(expected):
        payload, _ = service.comment("writer", issue.number, command)
        assert service.post("issue_comment", payload).status_code == 202
        assert reply in service.next_reply(issue.number, seen), command
    plan_reply = service.bot_comments(issue.number)[1]
    assert f"`{tasks_path()}`" in plan_reply


def test_github_errors_are_retried_and_still_one_pr(service: Service):
    issue = service.state.add_issue("core please", user="writer")
    payload, _ = service.comment("writer", issue.number, "/refactor run core")
    service.gh.fail_next("GET", r"/collaborators/writer/permission$", status=403, headers={"Retry-After": "1"})
    service.gh.fail_next("POST", rf"^/repos/{REPO}/pulls$", status=502)
    assert service.post("issue_comment", payload).status_code == 202
    reply = service.next_reply(issue.number, 0)
    assert "`core`: opened #" in reply, reply
    assert len([p for p in service.state.pulls if p.head_ref == "refactor-bot/core"]) == 1
    log = [(r.method, r.path, r.status) for r in service.gh.requests]
    assert ("GET", f"/repos/{REPO}/collaborators/writer/permission", 403) in log
    assert ("POST", f"/repos/{REPO}/pulls", 502) in log
    failed_at = log.index(("POST", f"/repos/{REPO}/pulls", 502))
    assert ("POST", f"/repos/{REPO}/pulls", 201) in log[failed_at + 1:]


def test_task_level_retry_when_client_retries_are_off(service: Service, monkeypatch):
    """With PyGithub's own retry disabled the Celery task retries, honouring Retry-After."""
    monkeypatch.setenv("REFACTOR_BOT_GITHUB_RETRIES", "0")
    get_settings.cache_clear()
    try:
        issue = service.state.add_issue("status?", user="writer")
        payload, _ = service.comment("writer", issue.number, "@refactor-bot status")
        service.gh.fail_next("GET", rf"^/repos/{REPO}$", status=403, headers={"Retry-After": "1"})
        response = service.post("issue_comment", payload)
        assert task_result(response.json()["task_id"]) == {"status": "answered"}
        [reply] = service.bot_comments(issue.number)
        assert "refactor-bot pull requests" in reply
        statuses = [r.status for r in service.gh.requests if (r.method, r.path) == ("GET", f"/repos/{REPO}")]
        assert 403 in statuses and statuses[-1] == 200
    finally:
        monkeypatch.delenv("REFACTOR_BOT_GITHUB_RETRIES")
        get_settings.cache_clear()


def test_github_app_installation_mode(service: Service, monkeypatch, tmp_path):
    """The same worker as a GitHub App: a token per event's installation, replies as the App's bot."""
    app = service.gh.add_app(app_id=4242, slug="refactor-bot")
    inst = service.gh.install_app(4242, [REPO])
    key = tmp_path / "app.pem"
    key.write_text(app.private_key_pem)
    monkeypatch.delenv("REFACTOR_BOT_GITHUB_TOKEN")
    monkeypatch.setenv("REFACTOR_BOT_GITHUB_APP_ID", "4242")
    monkeypatch.setenv("REFACTOR_BOT_GITHUB_PRIVATE_KEY_PATH", str(key))
    get_settings.cache_clear()
    try:
        issue = service.state.add_issue("app mode", user="writer")
        payload, comment_id = service.comment("writer", issue.number, "@refactor-bot status")
        payload["installation"] = {"id": inst.id, "node_id": "x"}
        response = service.post("issue_comment", payload)
        assert task_result(response.json()["task_id"]) == {"status": "answered"}
        [reply] = [c for c in service.state.comments_on(issue.number) if c.user.login == "refactor-bot[bot]"]
        assert "refactor-bot pull requests" in reply.body
        assert ("+1", "refactor-bot[bot]") in [(r[1], r[2]) for r in service.state.comments[comment_id].reactions]
        assert ("POST", f"/app/installations/{inst.id}/access_tokens", 201) in service.gh.requests
    finally:
        get_settings.cache_clear()


def test_skip_inside_the_pr_regenerates_without_that_file_and_remembers(service: Service):
    state = service.state
    issue = state.add_issue("database", user="writer")
    payload, _ = service.comment("writer", issue.number, "@refactor-bot run database")
    service.post("issue_comment", payload)
    assert "`database`: opened #" in service.next_reply(issue.number, 0)
    [pr] = [p for p in state.pulls if p.head_ref == "refactor-bot/database"]
    files = sorted(state.bare.changed_files("main", "refactor-bot/database"))
    skipped, remaining = files[0], files[1:]

    payload, _ = service.comment("writer", pr.number, f"@refactor-bot skip {skipped}")
    payload["issue"]["pull_request"] = {"url": f"{service.gh.api_url}/repos/{REPO}/pulls/{pr.number}"}
    seen = len(service.bot_comments(pr.number))
    assert service.post("issue_comment", payload).status_code == 202
    reply = service.next_reply(pr.number, seen, containing="`database`:")
    if remaining:
        assert f"`database`: updated #{pr.number}" in reply, reply
        assert sorted(state.bare.changed_files("main", "refactor-bot/database")) == remaining
        assert f"`{skipped}`" in state.pull(pr.number).body
    else:  # the group's only file: nothing is left, so the PR is closed and says why
        assert f"`database`: closed #{pr.number}" in reply, reply
        assert state.pull(pr.number).state == "closed"

    # Remembered: a plain `run` later still leaves the file out.
    seen = len(service.bot_comments(issue.number))
    payload, _ = service.comment("writer", issue.number, "@refactor-bot run database")
    service.post("issue_comment", payload)
    assert "`database`:" in service.next_reply(issue.number, seen)
    for open_pr in [p for p in state.pulls if p.head_ref == "refactor-bot/database" and p.state == "open"]:
        assert skipped not in state.bare.changed_files("main", "refactor-bot/database"), open_pr.number


def test_every_event_kind_is_handled_without_breaking(service: Service):
    """push, check_run and installation payloads reach the worker (or not) and end cleanly."""
    [core] = [p for p in service.state.pulls if p.head_ref == "refactor-bot/core" and p.state == "open"]
    moved = service.state.commit_file("main", "NOTES.md", "notes\n", "Add notes", "octo")
    push = json.loads((service.payloads / "push.with-installation.payload.json").read_text())
    push.pop("installation")
    push.update(ref="refs/heads/main", deleted=False, after=moved)
    push["repository"].update(full_name=REPO, default_branch="main")
    response = service.post("push", push)
    assert response.status_code == 202
    outcome = task_result(response.json()["task_id"])
    assert outcome == {"policy": "comment", "outdated": [core.number]}
    assert "outdated" in service.bot_comments(core.number)[-1] and moved[:10] in service.bot_comments(core.number)[-1]

    rerun = json.loads((service.payloads / "check_run.rerequested.payload.json").read_text())
    rerun.pop("installation")
    rerun["repository"].update(full_name=REPO, default_branch="main")
    rerun["check_run"]["check_suite"]["head_branch"] = "feature/not-ours"
    assert task_result(service.post("check_run", rerun).json()["task_id"]) == {"status": "ignored"}
    rerun["check_run"]["check_suite"]["head_branch"] = "refactor-bot/core"
    queued = task_result(service.post("check_run", rerun).json()["task_id"])
    assert (queued["status"], queued["group"]) == ("queued", "core")
    rebuilt = task_result(queued["task_id"])
    assert (rebuilt["status"], rebuilt["pr_number"]) == ("updated", core.number)
    assert PrState.parse(service.state.pull(core.number).body).base_sha == moved

    installation = json.loads((service.payloads / "installation.created.payload.json").read_text())
    assert service.post("installation", copy.deepcopy(installation)).json()["status"] == "ignored"


def test_push_with_rebase_policy_rebuilds_bot_prs_on_the_new_base(service: Service, monkeypatch):
    """REBASE_POLICY=rebase: a push to main queues the group's job, which rebuilds the open bot PR
    on the new base (force-push allowed: every commit on it is the bot's) — still one PR."""
    [core] = [p for p in service.state.pulls if p.head_ref == "refactor-bot/core" and p.state == "open"]
    monkeypatch.setenv("REFACTOR_BOT_REBASE_POLICY", "rebase")
    get_settings.cache_clear()
    try:
        moved = service.state.commit_file("main", "CHANGES.md", "changes\n", "Add changes", "octo")
        push = json.loads((service.payloads / "push.payload.json").read_text())
        push.update(ref="refs/heads/main", deleted=False, after=moved)
        push["repository"].update(full_name=REPO, default_branch="main")
        outcome = task_result(service.post("push", push).json()["task_id"])
        assert outcome == {"policy": "rebase", "outdated": [core.number]}
        wait_for("the core PR rebuilt on the new base",
                 lambda: PrState.parse(service.state.pull(core.number).body).base_sha == moved)
        open_core = [p for p in service.state.pulls if p.head_ref == "refactor-bot/core" and p.state == "open"]
        assert [p.number for p in open_core] == [core.number]
        # the rebuilt branch really sits on the new main
        head = service.state.head_sha(service.state.pull(core.number))
        assert service.state.bare.is_ancestor(moved, head) and head != moved
    finally:
        monkeypatch.delenv("REFACTOR_BOT_REBASE_POLICY")
        get_settings.cache_clear()


def test_token_never_leaks(service: Service):
    """Runs last in this module: nothing the jobs above left behind contains the token."""
    token = service.settings.github_token.get_secret_value()
    for line in service.env_dump.read_text().splitlines() if service.env_dump.exists() else []:
        assert token not in line, "the repository's tests saw the token"
    assert service.env_dump.exists(), "the environment probe test never ran"
    workspaces = Path(service.settings.workspace_dir)
    leaked = [p for p in workspaces.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    assert leaked == []
    for pr in service.state.pulls:
        assert token not in (pr.body or "")
    for comment in service.state.comments.values():
        assert token not in comment.body
    assert service.log, "the log collector saw nothing"
    assert not [line for line in service.log if token in line]
