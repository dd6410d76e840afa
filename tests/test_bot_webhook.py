"""The webhook endpoint against a real Redis broker: what gets enqueued, and what never does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import free_port, queued_tasks, signed_headers
from workers import celery_app as names

SECRET = "webhook-test-secret"


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(webhook_secret=SECRET, redis_url=redis_url, max_body_bytes=64 * 1024)


@pytest.fixture
def client(settings: Settings):
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def comment_payload(payloads: Path, body: str, *, sender_type: str = "User") -> dict:
    payload = json.loads((payloads / "issue_comment.created.with-installation.payload.json").read_text())
    payload["comment"]["body"] = body
    payload["sender"]["type"] = sender_type
    return payload


def post(client: TestClient, event: str, payload, *, secret: str = SECRET, delivery: str | None = None,
         headers: dict | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    all_headers = signed_headers(secret, body, event, delivery)
    all_headers.update(headers or {})
    return client.post("/webhook", content=body, headers=all_headers)


def test_command_comment_is_enqueued_once_and_replay_enqueues_nothing(client, redis_url, webhook_payloads_dir):
    payload = comment_payload(webhook_payloads_dir, "Looks slow.\n@refactor-bot run cache")
    first = post(client, "issue_comment", payload, delivery="delivery-1")
    assert first.status_code == 202, first.text
    assert first.json()["task"] == names.HANDLE_COMMAND
    replay = post(client, "issue_comment", payload, delivery="delivery-1")
    assert replay.status_code == 200
    assert replay.json()["status"] == "duplicate"
    queued = queued_tasks(redis_url)
    assert [m["task"] for m in queued] == [names.HANDLE_COMMAND]
    kwargs = queued[0]["kwargs"]
    assert kwargs["repo"] == payload["repository"]["full_name"]
    assert kwargs["installation_id"] == payload["installation"]["id"]
    assert kwargs["number"] == payload["issue"]["number"]
    assert kwargs["comment_id"] == payload["comment"]["id"]
    assert kwargs["author"] == payload["comment"]["user"]["login"]
    assert (kwargs["command"], kwargs["args"]) == ("run", ["cache"])


def test_a_new_delivery_of_the_same_comment_is_a_new_job(client, redis_url, webhook_payloads_dir):
    payload = comment_payload(webhook_payloads_dir, "/refactor status")
    assert post(client, "issue_comment", payload).status_code == 202
    assert post(client, "issue_comment", payload).status_code == 202
    assert len(queued_tasks(redis_url)) == 2


@pytest.mark.parametrize("headers", [
    {"X-Hub-Signature-256": ""},
    {"X-Hub-Signature-256": "sha256=" + "0" * 64},
])
def test_missing_or_forged_signature_is_401(client, redis_url, webhook_payloads_dir, headers):
    payload = comment_payload(webhook_payloads_dir, "@refactor-bot run all")
    response = post(client, "issue_comment", payload, headers=headers)
    assert response.status_code == 401
    assert queued_tasks(redis_url) == []


def test_unsigned_request_is_401(client, redis_url):
    response = client.post("/webhook", content=b"{}", headers={"X-GitHub-Event": "ping",
                                                               "X-GitHub-Delivery": "x"})
    assert response.status_code == 401


def test_signature_with_another_secret_is_401(client, redis_url, webhook_payloads_dir):
    payload = comment_payload(webhook_payloads_dir, "@refactor-bot run all")
    assert post(client, "issue_comment", payload, secret="not-the-secret").status_code == 401
    assert queued_tasks(redis_url) == []


def test_signature_covers_the_raw_bytes_not_the_json(client, redis_url, webhook_payloads_dir):
    """Same JSON, different bytes: signed compactly, sent pretty-printed → refused."""
    payload = comment_payload(webhook_payloads_dir, "@refactor-bot run all")
    compact = json.dumps(payload, separators=(",", ":")).encode()
    pretty = json.dumps(payload, indent=2).encode()
    headers = signed_headers(SECRET, compact, "issue_comment")
    assert client.post("/webhook", content=pretty, headers=headers).status_code == 401
    assert client.post("/webhook", content=compact, headers=headers).status_code == 202


def test_service_without_secret_rejects_everything(redis_url, webhook_payloads_dir):
    with TestClient(create_app(Settings(redis_url=redis_url, webhook_secret=""))) as client:
        payload = comment_payload(webhook_payloads_dir, "@refactor-bot run all")
        assert post(client, "issue_comment", payload, secret="").status_code == 401


def test_ping_is_200(client, webhook_payloads_dir):
    payload = json.loads((webhook_payloads_dir / "ping.payload.json").read_text())
    response = post(client, "ping", payload)
    assert response.status_code == 200
    assert response.json()["zen"] == payload["zen"]


def test_ordinary_comments_and_unknown_events_are_ignored(client, redis_url, webhook_payloads_dir):
    assert post(client, "issue_comment", comment_payload(webhook_payloads_dir, "+1")).json()["status"] == "ignored"
    response = post(client, "star", {"action": "created", "repository": {"full_name": "a/b"}})
    assert (response.status_code, response.json()["status"]) == (202, "ignored")
    assert queued_tasks(redis_url) == []


def test_commands_from_bots_are_ignored(client, redis_url, webhook_payloads_dir):
    payload = comment_payload(webhook_payloads_dir, "@refactor-bot run all", sender_type="Bot")
    assert post(client, "issue_comment", payload).json()["status"] == "ignored"
    assert queued_tasks(redis_url) == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b""])
def test_malformed_bodies_are_400(client, redis_url, body):
    assert post(client, "issue_comment", body).status_code == 400
    assert queued_tasks(redis_url) == []


def test_handled_event_missing_fields_is_400(client, redis_url, webhook_payloads_dir):
    payload = comment_payload(webhook_payloads_dir, "@refactor-bot run all")
    del payload["comment"]["id"]
    assert post(client, "issue_comment", payload).status_code == 400
    payload = comment_payload(webhook_payloads_dir, "@refactor-bot run all")
    payload["issue"]["number"] = "7"
    assert post(client, "issue_comment", payload).status_code == 400
    assert queued_tasks(redis_url) == []


def test_missing_event_or_delivery_header_is_400(client, webhook_payloads_dir):
    payload = comment_payload(webhook_payloads_dir, "@refactor-bot run all")
    assert post(client, "issue_comment", payload, headers={"X-GitHub-Delivery": ""}).status_code == 400
    assert post(client, "", payload).status_code == 400


def test_body_size_limit(client, settings, redis_url, webhook_payloads_dir):
    payload = comment_payload(webhook_payloads_dir, "@refactor-bot run all\n" + "x" * settings.max_body_bytes)
    assert post(client, "issue_comment", payload).status_code == 413
    assert queued_tasks(redis_url) == []


def test_failed_enqueue_releases_the_delivery_so_github_can_retry(settings, redis_url, webhook_payloads_dir):
    sent = []

    def flaky(job):
        if not sent:
            sent.append(None)
            raise ConnectionError("broker down")
        sent.append(job)

    payload = comment_payload(webhook_payloads_dir, "@refactor-bot run cache")
    with TestClient(create_app(settings, enqueue=flaky)) as client:
        assert post(client, "issue_comment", payload, delivery="d-1").status_code == 503
        assert post(client, "issue_comment", payload, delivery="d-1").status_code == 202
        assert post(client, "issue_comment", payload, delivery="d-1").status_code == 200
    assert len(sent) == 2 and sent[1].kwargs["args"] == ["cache"]


def test_merged_pull_request_enqueues_ticking(client, redis_url, webhook_payloads_dir):
    payload = json.loads((webhook_payloads_dir / "pull_request.closed.payload.json").read_text())
    assert post(client, "pull_request", payload).json()["status"] == "ignored"  # closed, not merged
    payload["pull_request"]["merged"] = True
    assert post(client, "pull_request", payload).status_code == 202
    [message] = queued_tasks(redis_url)
    assert message["task"] == names.TICK_TASKS
    assert message["kwargs"]["pr_number"] == payload["pull_request"]["number"]


def test_push_to_default_branch_only(client, redis_url, webhook_payloads_dir):
    payload = json.loads((webhook_payloads_dir / "push.with-installation.payload.json").read_text())
    payload["ref"] = "refs/heads/some-feature"
    payload["deleted"] = False
    assert post(client, "push", payload).json()["status"] == "ignored"
    payload["ref"] = "refs/heads/" + payload["repository"]["default_branch"]
    assert post(client, "push", payload).status_code == 202
    [message] = queued_tasks(redis_url)
    assert (message["task"], message["kwargs"]["after"]) == (names.MARK_OUTDATED, payload["after"])


def test_healthz_reports_broker(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()["broker"]) == (200, "reachable")


def test_healthz_reports_unreachable_broker():
    dead = f"redis://127.0.0.1:{free_port()}/0"
    # enqueue given: this app must not re-point the process-wide Celery app at a dead broker
    with TestClient(create_app(Settings(webhook_secret=SECRET, redis_url=dead), enqueue=lambda job: None)) as client:
        response = client.get("/healthz")
    assert (response.status_code, response.json()["broker"]) == (503, "unreachable")


def test_review_and_review_comment_commands(client, redis_url, webhook_payloads_dir):
    review = json.loads((webhook_payloads_dir / "pull_request_review.submitted.payload.json").read_text())
    review["review"]["body"] = "LGTM but\n/refactor skip pkg/a.py"
    line = json.loads((webhook_payloads_dir / "pull_request_review_comment.created.payload.json").read_text())
    line["comment"]["body"] = "@refactor-bot rebase"
    assert post(client, "pull_request_review", review).status_code == 202
    assert post(client, "pull_request_review_comment", line).status_code == 202
    first, second = (m["kwargs"] for m in queued_tasks(redis_url))
    assert (first["comment_kind"], first["command"], first["args"], first["is_pull_request"]) == \
        ("review", "skip", ["pkg/a.py"], True)
    assert (first["number"], first["comment_id"]) == (review["pull_request"]["number"], review["review"]["id"])
    assert (second["comment_kind"], second["command"], second["number"]) == \
        ("review_comment", "rebase", line["pull_request"]["number"])
