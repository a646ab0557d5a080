"""The bundled demo: an order pipeline with several steps, a parallel fan-out, a retry and
a short durable sleep. ``worldline demo`` runs it end to end on the embedded world."""

from __future__ import annotations

import asyncio
from typing import Any

from .runtime import Backoff, RetryableError, sleep, step, workflow

_FLAKY_CALLS: dict[str, int] = {}


@step
async def validate_order(order: dict[str, Any]) -> dict[str, Any]:
    """Check the order and compute its total."""
    await asyncio.sleep(0.05)
    total = sum(item["qty"] * item["price"] for item in order["items"])
    return {**order, "total": round(total, 2)}


@step
async def reserve_item(sku: str, qty: int) -> str:
    """Reserve stock for one line (the fan-out)."""
    await asyncio.sleep(0.1)
    return f"rsv-{sku}-{qty}"


@step(max_retries=3, backoff=Backoff(base=0.1, cap=0.5, jitter=False))
async def charge_card(order_id: str, amount: float) -> str:
    """Charge the card; the payment gateway times out on the first call."""
    _FLAKY_CALLS[order_id] = _FLAKY_CALLS.get(order_id, 0) + 1
    await asyncio.sleep(0.05)
    if _FLAKY_CALLS[order_id] == 1:
        raise RetryableError("payment gateway timed out", retry_after=0.2)
    return f"ch-{order_id}-{amount:.2f}"


@step
async def send_receipt(order_id: str, charge: str) -> str:
    await asyncio.sleep(0.05)
    return f"receipt for {order_id} ({charge}) sent"


@workflow(name="demo.order")
async def demo_order(order: dict[str, Any]) -> dict[str, Any]:
    """Validate, reserve every line in parallel, charge (retried once), wait, send."""
    checked = await validate_order(order)
    reservations = await asyncio.gather(
        *(reserve_item(item["sku"], item["qty"]) for item in checked["items"]))
    charge = await charge_card(checked["id"], checked["total"])
    await sleep(0.5)  # a durable pause (e.g. the fraud-check window)
    receipt = await send_receipt(checked["id"], charge)
    return {"order": checked["id"], "total": checked["total"],
            "reservations": list(reservations), "charge": charge, "receipt": receipt}


DEMO_ORDER: dict[str, Any] = {
    "id": "ord-1001",
    "items": [{"sku": "tea", "qty": 2, "price": 4.5}, {"sku": "mug", "qty": 1, "price": 12.0},
              {"sku": "pot", "qty": 1, "price": 29.9}],
}
