"""Reports built from order records."""


def big_orders(orders, threshold):
    """Ids of the orders above the threshold."""
    ids = []
    for order in orders:
        if order["qty"] > threshold:
            ids.append(order["id"])
    return ids


def labelled(orders):
    """Header row followed by one (id, qty) row per order."""
    rows = [("id", "qty")]
    for order in orders:
        rows.append((order["id"], order["qty"]))
    return rows


def squares(n):
    out: list[int] = []
    for i in range(n):
        out.append(i * i)
    return out
