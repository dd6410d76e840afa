"""Files a reviewer asked the bot to leave out of a group (``@refactor-bot skip <path>``).

Kept in Redis per repository and group, not in the PR, so the choice outlives the PR it was made
in: a PR closed because every file was skipped, or recreated, still leaves those files alone.
"""

from __future__ import annotations

from redis import Redis


def _key(repo: str, group: str) -> str:
    return f"refactor-bot:skip:{repo.lower()}:{group}"


def remember(redis: Redis, repo: str, group: str, paths: list[str]) -> None:
    """Add ``paths`` to the group's skip list."""
    if paths:
        redis.sadd(_key(repo, group), *paths)


def skipped(redis: Redis, repo: str, group: str) -> list[str]:
    """The group's skip list, sorted."""
    return sorted(p.decode() if isinstance(p, bytes) else p for p in redis.smembers(_key(repo, group)))
