"""An order saga with compensation.

Reserve stock, charge the card, book shipping. If a later step fails for good, the
workflow undoes what already happened — in reverse order — with compensating steps, then
fails with the original error. Every step is durable: a crash in the middle resumes where
it left off, and a compensation runs exactly once.

Run it (embedded world and worker, no server)::

    python examples/order_saga.py

or with separate workers::

    worldline worker examples.order_saga &
    worldline start saga.order '[{"id": "o-1", "sku": "tea", "qty": 2, "amount": 9.0}]' --wait 30
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import worldline as wl


@wl.step
def reserve_stock(sku: str, qty: int) -> str:
    return f"rsv-{sku}-{qty}"


@wl.step
def release_stock(reservation: str) -> str:
    return f"released {reservation}"


@wl.step(max_retries=2, backoff=wl.Backoff(base=0.1, cap=1.0))
def charge_card(order_id: str, amount: float) -> str:
    if amount <= 0:
        raise wl.FatalError(f"invalid amount {amount}")
    return f"ch-{order_id}"


@wl.step
def refund(charge_id: str) -> str:
    return f"refunded {charge_id}"


@wl.step(max_retries=1, backoff=wl.Backoff(base=0.1))
def book_shipping(order_id: str, sku: str) -> str:
    if sku == "piano":
        raise wl.FatalError("no carrier takes pianos")
    return f"ship-{order_id}"


@wl.workflow(name="saga.order")
async def order_saga(order: dict[str, Any]) -> dict[str, Any]:
    """Run the order; on a permanent failure, compensate in reverse and re-raise."""
    undo: list[Callable[[], Awaitable[str]]] = []
    done: list[str] = []
    try:
        reservation = await reserve_stock(order["sku"], order["qty"])
        undo.append(lambda: release_stock(reservation))
        charge = await charge_card(order["id"], order["amount"])
        undo.append(lambda: refund(charge))
        shipment = await book_shipping(order["id"], order["sku"])
        return {"order": order["id"], "status": "shipped", "shipment": shipment}
    except wl.WorkflowError as exc:
        for compensate in reversed(undo):
            done.append(await compensate())
        return {"order": order["id"], "status": "compensated", "reason": exc.message,
                "compensations": done}


async def main() -> None:
    world = wl.connect("sqlite:///.worldline/examples.db")
    await world.open()
    async with wl.Worker(world):
        good = await wl.start(order_saga, {"id": "o-1", "sku": "tea", "qty": 2,
                                           "amount": 9.0}, world=world)
        bad = await wl.start(order_saga, {"id": "o-2", "sku": "piano", "qty": 1,
                                          "amount": 900.0}, world=world)
        print(await good.result(timeout=30))
        print(await bad.result(timeout=30))
    await world.close()


if __name__ == "__main__":
    import os
    os.makedirs(".worldline", exist_ok=True)
    asyncio.run(main())
