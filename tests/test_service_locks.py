"""The per-repo-and-group Redis lock: one holder at a time, released after, expiring if abandoned."""

from __future__ import annotations

import time

import pytest
from redis import Redis

from workers.locks import LockBusy, job_lock, lock_name
from workers.skips import remember, skipped


def test_second_holder_is_refused_until_release(redis_url):
    redis = Redis.from_url(redis_url)
    with job_lock(redis, "Octo/Demo", "cache", timeout=60):
        with pytest.raises(LockBusy):
            with job_lock(redis, "octo/demo", "cache", timeout=60):
                pass
        with job_lock(redis, "octo/demo", "core", timeout=60):  # another group runs alongside
            pass
    with job_lock(redis, "octo/demo", "cache", timeout=60):
        pass
    assert redis.get(lock_name("octo/demo", "cache")) is None


def test_abandoned_lock_expires(redis_url):
    redis = Redis.from_url(redis_url)
    abandoned = redis.lock(lock_name("octo/demo", "cache"), timeout=0.2)
    assert abandoned.acquire(blocking=False)
    with pytest.raises(LockBusy):
        with job_lock(redis, "octo/demo", "cache", timeout=60):
            pass
    deadline = time.monotonic() + 5
    while redis.exists(lock_name("octo/demo", "cache")) and time.monotonic() < deadline:
        time.sleep(0.05)
    with job_lock(redis, "octo/demo", "cache", timeout=60):
        pass


def test_skip_memory_is_per_repo_and_group(redis_url):
    redis = Redis.from_url(redis_url)
    remember(redis, "octo/demo", "cache", ["b.py", "a.py"])
    remember(redis, "octo/demo", "cache", ["a.py"])
    remember(redis, "octo/demo", "cache", [])
    assert skipped(redis, "octo/demo", "cache") == ["a.py", "b.py"]
    assert skipped(redis, "octo/demo", "core") == []
