"""Replay protection: each ``X-GitHub-Delivery`` id is acted on at most once.

GitHub redelivers on timeouts and users can press "Redeliver"; both must not start a second job.
The id is claimed atomically in Redis (``SET NX EX``) before enqueuing and released again if the
enqueue fails, so a redelivery after a broker outage still gets through.
"""

from __future__ import annotations

from redis import Redis

KEY_PREFIX = "refactor-bot:delivery:"


class DeliveryLog:
    """Remembers delivery ids for ``ttl_seconds``."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    def claim(self, delivery_id: str) -> bool:
        """True the first time ``delivery_id`` is seen, False for a replay."""
        return bool(self.redis.set(KEY_PREFIX + delivery_id, b"1", nx=True, ex=self.ttl_seconds))

    def release(self, delivery_id: str) -> None:
        """Forget a claim whose work could not be enqueued, so GitHub's retry is not dropped."""
        self.redis.delete(KEY_PREFIX + delivery_id)
