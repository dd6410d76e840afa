"""``GET /healthz``: is the process up, and can it reach the broker it enqueues to?"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """200 when the broker answers a PING, 503 otherwise (so orchestrators can restart us)."""
    try:
        reachable = bool(await run_in_threadpool(request.app.state.broker.ping))
    except (RedisError, OSError):
        reachable = False
    return JSONResponse({"status": "ok" if reachable else "degraded",
                         "broker": "reachable" if reachable else "unreachable"},
                        status_code=200 if reachable else 503)
