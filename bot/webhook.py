"""``POST /webhook``: verify, dedupe, route, enqueue — and answer within milliseconds.

Order matters: the size limit and the signature are checked before the body is parsed, so an
unauthenticated sender can make us do no more than one HMAC; the delivery id is claimed only
for events that start work, and released again if the broker refuses the message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .deliveries import DeliveryLog
from .events import Enqueue, MalformedPayload, route
from .settings import Settings
from .signature import verify_signature

logger = logging.getLogger(__name__)

router = APIRouter()

#: Sends one task to the broker and returns its id; the default wraps Celery's ``send_task``.
Enqueuer = Callable[[Enqueue], str | None]


class BodyTooLarge(Exception):
    """The request body exceeds ``Settings.max_body_bytes``."""


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refusing to buffer more than ``limit`` bytes whatever Content-Length says."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(code: int, **content: Any) -> JSONResponse:
    return JSONResponse(content, status_code=code)


def dispatch(job: Enqueue, delivery: str, deliveries: DeliveryLog, enqueue: Enqueuer) -> JSONResponse:
    """Claim the delivery and enqueue its job; a replay enqueues nothing (blocking I/O)."""
    if not deliveries.claim(delivery):
        return _answer(200, status="duplicate", delivery=delivery)
    try:
        task_id = enqueue(job)
    except Exception:
        deliveries.release(delivery)
        logger.exception("could not enqueue %s", job.task, extra={"delivery": delivery, "task": job.task})
        return _answer(503, status="broker unavailable, retry the delivery")
    return _answer(202, status="queued", task=job.task, task_id=task_id, delivery=delivery)


@router.post("/webhook")
async def webhook(request: Request) -> JSONResponse:
    """GitHub's webhook endpoint (see the module docstring for the order of checks)."""
    settings: Settings = request.app.state.settings
    try:
        body = await read_limited(request, settings.max_body_bytes)
    except BodyTooLarge:
        return _answer(413, status="payload too large")
    if not verify_signature(settings.webhook_secret.get_secret_value(), body,
                            request.headers.get("x-hub-signature-256")):
        return _answer(401, status="bad or missing signature")
    event = request.headers.get("x-github-event")
    delivery = request.headers.get("x-github-delivery")
    if not event or not delivery:
        return _answer(400, status="missing X-GitHub-Event or X-GitHub-Delivery")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _answer(400, status="body is not JSON")
    if not isinstance(payload, dict):
        return _answer(400, status="body is not a JSON object")
    if event == "ping":
        return _answer(200, status="pong", zen=payload.get("zen"))
    try:
        job = route(event, payload, settings)
    except MalformedPayload as exc:
        return _answer(400, status=str(exc))
    if job is None:
        return _answer(202, status="ignored", event=event, action=payload.get("action"))
    logger.info("delivery %s: %s → %s", delivery, event, job.task,
                extra={"delivery": delivery, "event": event, "task": job.task})
    return await run_in_threadpool(dispatch, job, delivery, request.app.state.deliveries,
                                   request.app.state.enqueue)
