"""Cache warming: load hot keys from a backing store into the cache."""

import logging

logger = logging.getLogger(__name__)


class CacheMiss(Exception):
    pass


def warm(cache, store, keys):
    """Copy each key from the store into the cache; a missing key is logged and skipped."""
    warmed = 0
    for key in keys:
        try:
            cache[key] = store.fetch(key)
            warmed += 1
        except CacheMiss as exc:
            logger.warning("cannot warm %s: %s", key, exc)
    return warmed


def evict_all(cache, keys):
    """Remove keys; the first key that is not there aborts the eviction."""
    removed = []
    for key in keys:
        try:
            del cache[key]
            removed.append(key)
        except KeyError:
            logger.error("eviction aborted at %s", key)
            raise
    return removed
