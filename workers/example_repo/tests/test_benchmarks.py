from inventory.core.orders import total_quantity
from inventory.reports.summary import big_orders

LINES = [f"item{i},{i % 7},{i}.5" if i % 10 else "broken" for i in range(2000)]
ORDERS = [{"id": i, "qty": i % 100} for i in range(2000)]


def test_bench_total_quantity(benchmark):
    assert benchmark(total_quantity, LINES) > 0


def test_bench_big_orders(benchmark):
    assert len(benchmark(big_orders, ORDERS, 50)) > 0
