"""Order processing: parse raw order lines into totals."""

import logging

logger = logging.getLogger(__name__)


def total_quantity(lines):
    """Sum the quantity column; malformed lines count as zero and are logged."""
    total = 0
    for line in lines:
        try:
            total += int(line.split(",")[1])
        except (IndexError, ValueError):
            logger.info("ignoring malformed order line %r", line)
    return total


def last_valid_price(lines):
    """The price of the last line whose price parses, or None."""
    price = None
    for line in lines:
        try:
            price = float(line.split(",")[2])
        except (IndexError, ValueError):
            pass
    return price


class AuditedList(list):
    def extend_checked(self, items):
        for item in items:
            try:
                super().append(int(item))
            except ValueError:
                logger.warning("not a number: %r", item)
