"""The web process: a thin ``create_app()`` wiring the routers to settings, Redis and Celery.

Run it with ``uvicorn --factory bot.app:create_app``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from redis import Redis

from . import health, webhook
from .deliveries import DeliveryLog
from .events import Enqueue
from .settings import Settings, get_settings


def celery_enqueuer(settings: Settings) -> webhook.Enqueuer:
    """Send jobs by task name through the Celery app configured from ``settings``."""
    from workers.celery_app import configure

    celery = configure(settings)

    def enqueue(job: Enqueue) -> str:
        return celery.send_task(job.task, kwargs=job.kwargs).id

    return enqueue


def create_app(settings: Settings | None = None, *, enqueue: webhook.Enqueuer | None = None) -> FastAPI:
    """Build the app; ``enqueue`` replaces Celery (e.g. an embedding service with its own queue)."""
    settings = settings or get_settings()
    if not settings.webhook_secret.get_secret_value():
        logging.getLogger(__name__).warning(
            "REFACTOR_BOT_WEBHOOK_SECRET is empty: every delivery will be rejected with 401")
    app = FastAPI(title="refactor-bot", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    redis = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    app.state.deliveries = DeliveryLog(redis, settings.delivery_ttl_seconds)
    app.state.broker = (redis if settings.broker_url == settings.redis_url
                        else Redis.from_url(settings.broker_url, socket_timeout=2, socket_connect_timeout=2))
    app.state.enqueue = enqueue or celery_enqueuer(settings)
    app.include_router(webhook.router)
    app.include_router(health.router)
    return app
