"""Shard health checks for the sharded store."""

import logging

log = logging.getLogger(__name__)


def healthy_shards(shards):
    """Names of the shards that answer a ping; unreachable ones are logged with the traceback."""
    alive = []
    for shard in shards:
        try:
            shard.ping()
        except ConnectionError:
            log.exception("shard %s is unreachable", shard.name)
            continue
        else:
            alive.append(shard.name)
    return alive


def first_answer(shards, query):
    """Ask shards in turn; stop at the first shard that is down."""
    answers = []
    for shard in shards:
        try:
            answers.append(shard.run(query))
        except TimeoutError:
            break
    return answers
