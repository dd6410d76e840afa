"""Which webhook events start work, and the simple IDs each one hands to a worker.

A handler reads only what the worker needs to re-fetch the rest (repository name, installation,
numbers, SHAs) and returns one :class:`Enqueue`, or ``None`` when the event asks for nothing.
No GitHub call and no parsing beyond this happens on the request path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workers import celery_app as tasks

from .commands import parse_command
from .settings import Settings


class MalformedPayload(ValueError):
    """A handled event lacks a field it must carry; the webhook answers 400."""


@dataclass(frozen=True)
class Enqueue:
    """A Celery task name and the keyword arguments to send it."""

    task: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def _get(payload: dict, *keys: str, kind: type | tuple[type, ...] = (str, int)) -> Any:
    value: Any = payload
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise MalformedPayload(f"payload lacks {'.'.join(keys)}")
        value = value[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedPayload(f"payload field {'.'.join(keys)} has the wrong type")
    return value


def _installation_id(payload: dict) -> int | None:
    installation = payload.get("installation")
    if isinstance(installation, dict) and isinstance(installation.get("id"), int):
        return installation["id"]
    return None


def _repo(payload: dict) -> str:
    return _get(payload, "repository", "full_name", kind=str)


def _from_bot(payload: dict) -> bool:
    sender = payload.get("sender")
    return isinstance(sender, dict) and sender.get("type") == "Bot"


def _command_job(payload: dict, settings: Settings, *, body: Any, number: int,
                 comment_kind: str, comment_id: int, author: str, is_pull_request: bool) -> Enqueue | None:
    if _from_bot(payload) or not isinstance(body, str):
        return None
    command = parse_command(body, bot_name=settings.bot_name, command_prefix=settings.command_prefix)
    if command is None:
        return None
    return Enqueue(tasks.HANDLE_COMMAND, {
        "repo": _repo(payload),
        "installation_id": _installation_id(payload),
        "number": number,
        "is_pull_request": is_pull_request,
        "comment_kind": comment_kind,
        "comment_id": comment_id,
        "author": author,
        "command": command.name,
        "args": list(command.args),
    })


def on_issue_comment(payload: dict, settings: Settings) -> Enqueue | None:
    """``issue_comment.created``: a command in an issue or pull request conversation."""
    if payload.get("action") != "created":
        return None
    issue = _get(payload, "issue", kind=dict)
    return _command_job(
        payload, settings,
        body=_get(payload, "comment", kind=dict).get("body"),
        number=_get(payload, "issue", "number", kind=int),
        comment_kind="issue",
        comment_id=_get(payload, "comment", "id", kind=int),
        author=_get(payload, "comment", "user", "login", kind=str),
        is_pull_request=bool(issue.get("pull_request")),
    )


def on_review(payload: dict, settings: Settings) -> Enqueue | None:
    """``pull_request_review.submitted``: a command in a review's summary."""
    if payload.get("action") != "submitted":
        return None
    return _command_job(
        payload, settings,
        body=_get(payload, "review", kind=dict).get("body"),
        number=_get(payload, "pull_request", "number", kind=int),
        comment_kind="review",
        comment_id=_get(payload, "review", "id", kind=int),
        author=_get(payload, "review", "user", "login", kind=str),
        is_pull_request=True,
    )


def on_review_comment(payload: dict, settings: Settings) -> Enqueue | None:
    """``pull_request_review_comment.created``: a command on a line of a pull request."""
    if payload.get("action") != "created":
        return None
    return _command_job(
        payload, settings,
        body=_get(payload, "comment", kind=dict).get("body"),
        number=_get(payload, "pull_request", "number", kind=int),
        comment_kind="review_comment",
        comment_id=_get(payload, "comment", "id", kind=int),
        author=_get(payload, "comment", "user", "login", kind=str),
        is_pull_request=True,
    )


def on_pull_request(payload: dict, settings: Settings) -> Enqueue | None:
    """``pull_request.closed`` with ``merged``: tick the plan on the default branch."""
    if payload.get("action") != "closed":
        return None
    pr = _get(payload, "pull_request", kind=dict)
    if pr.get("merged") is not True:
        return None
    default = _get(payload, "repository", "default_branch", kind=str)
    if _get(payload, "pull_request", "base", "ref", kind=str) != default:
        return None
    return Enqueue(tasks.TICK_TASKS, {
        "repo": _repo(payload),
        "installation_id": _installation_id(payload),
        "pr_number": _get(payload, "pull_request", "number", kind=int),
        "head_ref": _get(payload, "pull_request", "head", "ref", kind=str),
    })


def on_push(payload: dict, settings: Settings) -> Enqueue | None:
    """A push to the default branch makes every open bot pull request outdated."""
    ref = _get(payload, "ref", kind=str)
    default = _get(payload, "repository", "default_branch", kind=str)
    if ref != f"refs/heads/{default}" or payload.get("deleted"):
        return None
    return Enqueue(tasks.MARK_OUTDATED, {
        "repo": _repo(payload),
        "installation_id": _installation_id(payload),
        "after": _get(payload, "after", kind=str),
    })


def on_check_run(payload: dict, settings: Settings) -> Enqueue | None:
    """``check_run.rerequested``: the user pressed "Re-run"; regenerate that branch's group."""
    if payload.get("action") != "rerequested":
        return None
    head_branch = _get(payload, "check_run", "check_suite", kind=dict).get("head_branch")
    if not isinstance(head_branch, str):
        return None
    return Enqueue(tasks.RERUN_CHECK, {
        "repo": _repo(payload),
        "installation_id": _installation_id(payload),
        "head_branch": head_branch,
        "check_run_id": _get(payload, "check_run", "id", kind=int),
    })


#: event name → handler. ``installation*`` and everything else are acknowledged and ignored.
HANDLERS: dict[str, Callable[[dict, Settings], Enqueue | None]] = {
    "issue_comment": on_issue_comment,
    "pull_request_review": on_review,
    "pull_request_review_comment": on_review_comment,
    "pull_request": on_pull_request,
    "push": on_push,
    "check_run": on_check_run,
}


def route(event: str, payload: dict, settings: Settings) -> Enqueue | None:
    """The work ``event`` asks for, ``None`` if none; raises :class:`MalformedPayload`."""
    handler = HANDLERS.get(event)
    return handler(payload, settings) if handler else None
