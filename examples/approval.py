"""A human approval through a hook, with a deadline.

The workflow asks for approval (a notification step), then waits for whichever comes
first: a decision sent to its hook, or the deadline (a durable sleep). Nothing runs while
it waits — the run is suspended in the database, and any worker resumes it.

Run it (embedded; the script itself plays the approver)::

    python examples/approval.py

or by hand::

    worldline worker examples.approval &
    worldline start approval.expense '["exp-7", 420.0]'
    worldline hooks resume approval:exp-7 '{"approved": true, "by": "dana"}'
    worldline runs list
"""

from __future__ import annotations

import asyncio
from typing import Any

import worldline as wl


@wl.step
def notify_approver(expense_id: str, amount: float, token: str) -> str:
    print(f"[mail] please approve {expense_id} ({amount:.2f}): "
          f"worldline hooks resume {token} '{{\"approved\": true}}'")
    return "sent"


@wl.step
def pay_out(expense_id: str, amount: float) -> str:
    return f"paid {amount:.2f} for {expense_id}"


@wl.workflow(name="approval.expense")
async def expense_approval(expense_id: str, amount: float,
                           deadline_s: float = 3600) -> dict[str, Any]:
    hook = wl.create_hook(f"approval:{expense_id}")
    await notify_approver(expense_id, amount, hook.token)
    decision = asyncio.ensure_future(hook.next())
    deadline = wl.sleep(deadline_s)
    done, _ = await asyncio.wait({decision, deadline}, return_when=asyncio.FIRST_COMPLETED)
    if decision not in done:
        return {"expense": expense_id, "status": "expired"}
    answer = decision.result()
    if not answer.get("approved"):
        return {"expense": expense_id, "status": "rejected", "by": answer.get("by")}
    return {"expense": expense_id, "status": "approved", "by": answer.get("by"),
            "payment": await pay_out(expense_id, amount)}


async def main() -> None:
    world = wl.connect("sqlite:///.worldline/examples.db")
    await world.open()
    async with wl.Worker(world):
        approved = await wl.start(expense_approval, "exp-7", 420.0, world=world)
        expired = await wl.start(expense_approval, "exp-8", 99.0, 1.0, world=world)
        while True:  # the approver answers once the request is out
            try:
                await wl.resume_hook("approval:exp-7", {"approved": True, "by": "dana"},
                                     world=world)
                break
            except wl.NotFound:
                await asyncio.sleep(0.05)
        print(await approved.result(timeout=30))
        print(await expired.result(timeout=30))
    await world.close()


if __name__ == "__main__":
    import os
    os.makedirs(".worldline", exist_ok=True)
    asyncio.run(main())
