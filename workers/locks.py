"""One job per repository and group at a time, across every worker process (a Redis lock).

The lock expires on its own (``timeout``) so a worker killed mid-job cannot block the group
forever; a job that finds the lock taken is not run but retried later by its Celery task.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis
from redis.exceptions import LockError

logger = logging.getLogger(__name__)


class LockBusy(RuntimeError):
    """Another job holds the lock for this repository and group."""


def lock_name(repo: str, scope: str) -> str:
    """The Redis key of the lock for ``scope`` (a group name, or "tasks" for ticking)."""
    return f"refactor-bot:lock:{repo.lower()}:{scope}"


@contextmanager
def job_lock(redis: Redis, repo: str, scope: str, *, timeout: float) -> Iterator[None]:
    """Hold the repo-and-scope lock for the body, or raise :class:`LockBusy` at once."""
    lock = redis.lock(lock_name(repo, scope), timeout=timeout, blocking=False)
    if not lock.acquire(blocking=False):
        raise LockBusy(f"a job for {repo} {scope} is already running")
    try:
        yield
    finally:
        try:
            lock.release()
        except LockError:  # expired and possibly taken by another job: theirs now
            logger.warning("lock %s expired before the job ended", lock_name(repo, scope),
                           extra={"repo": repo, "scope": scope})
