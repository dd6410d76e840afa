"""The Celery application, configured lazily from :class:`bot.settings.Settings`.

Creating the app reads nothing: the configuration is added as a lazy default that Celery
evaluates the first time something touches ``app.conf`` (a worker starting, a task being sent).
Task names live here, not in ``tasks.py``, so the web process can enqueue by name without
importing the job code.

Run a worker with ``celery -A workers.celery_app worker``.
"""

from __future__ import annotations

from celery import Celery

from bot.settings import Settings, get_settings

HANDLE_COMMAND = "refactor_bot.handle_command"
REFACTOR_GROUP = "refactor_bot.refactor_group"
TICK_TASKS = "refactor_bot.tick_tasks"
MARK_OUTDATED = "refactor_bot.mark_outdated"
RERUN_CHECK = "refactor_bot.rerun_check"


def celery_config(settings: Settings) -> dict:
    """Celery settings derived from ours: JSON only, late acks, one job per worker process."""
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": settings.task_time_limit_seconds,
        "result_expires": 7 * 24 * 3600,
        # A message not acked within this many seconds is redelivered; it must outlast a job.
        "broker_transport_options": {"visibility_timeout": settings.task_time_limit_seconds + 600},
        "broker_connection_retry_on_startup": True,
        "include": ["workers.tasks"],
    }


app = Celery("refactor_bot", set_as_current=False)
app.add_defaults(lambda: celery_config(get_settings()))


def configure(settings: Settings) -> Celery:
    """Point the app at ``settings`` explicitly (tests, embedded workers); returns the app."""
    app.conf.update(celery_config(settings))
    return app
