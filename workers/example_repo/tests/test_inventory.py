import logging

import pytest

from inventory.cache.warmer import CacheMiss, evict_all, warm
from inventory.core.orders import AuditedList, last_valid_price, total_quantity
from inventory.database.shards import first_answer, healthy_shards
from inventory.reports.summary import big_orders, labelled, squares


class Store:
    def __init__(self, data):
        self.data = data

    def fetch(self, key):
        if key not in self.data:
            raise CacheMiss(key)
        return self.data[key]


class Shard:
    def __init__(self, name, up=True, answer=None):
        self.name, self.up, self.answer = name, up, answer

    def ping(self):
        if not self.up:
            raise ConnectionError(self.name)

    def run(self, query):
        if self.answer is None:
            raise TimeoutError(self.name)
        return f"{self.answer}:{query}"


def test_warm_skips_missing_keys_and_logs(caplog):
    cache = {}
    with caplog.at_level(logging.WARNING):
        assert warm(cache, Store({"a": 1, "b": 2}), ["a", "x", "b"]) == 2
    assert cache == {"a": 1, "b": 2}
    assert [r.getMessage() for r in caplog.records] == ["cannot warm x: x"]


def test_evict_all_aborts_on_missing_key(caplog):
    cache = {"a": 1, "b": 2}
    with pytest.raises(KeyError):
        evict_all(cache, ["a", "zz", "b"])
    assert cache == {"b": 2}
    assert evict_all(cache, ["b"]) == ["b"]


def test_healthy_shards_logs_traceback(caplog):
    shards = [Shard("s1"), Shard("s2", up=False), Shard("s3")]
    assert healthy_shards(shards) == ["s1", "s3"]
    assert caplog.records[0].exc_info[0] is ConnectionError


def test_first_answer_stops_at_timeout():
    shards = [Shard("a", answer=1), Shard("b"), Shard("c", answer=3)]
    assert first_answer(shards, "q") == ["1:q"]


def test_total_quantity_and_prices():
    lines = ["a,2,1.5", "bad", "b,x,2.0", "c,3,oops"]
    assert total_quantity(lines) == 5
    assert last_valid_price(lines) == 2.0
    assert last_valid_price([]) is None


def test_audited_list():
    acc = AuditedList()
    acc.extend_checked(["1", "x", "3"])
    assert acc == [1, 3]


def test_reports():
    orders = [{"id": 1, "qty": 5}, {"id": 2, "qty": 50}]
    assert big_orders(orders, 10) == [2]
    assert labelled(orders) == [("id", "qty"), (1, 5), (2, 50)]
    assert squares(4) == [0, 1, 4, 9]
