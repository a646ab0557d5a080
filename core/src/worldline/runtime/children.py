"""Child workflows: a durable step that starts the child (idempotently) and awaits it."""

from __future__ import annotations

from typing import Any

from .registry import STEPS, StepDef, WorkflowDef
from .steps import STEP_ENV


def child_step(wf: WorkflowDef) -> StepDef:
    """The built-in step ``workflow:<name>`` that runs ``wf`` as a child run."""
    name = f"workflow:{wf.name}"
    existing = STEPS.get(name)
    if existing is not None:
        return existing

    async def run_child(*args: Any, **kwargs: Any) -> Any:
        from .handle import start
        env = STEP_ENV.get()
        assert env is not None, "child workflows run inside a step"
        handle = await start(wf.name, *args, idempotency_key=f"child:{env.step_id}",
                             world=env.world, **kwargs)
        return await handle.result()

    sd = StepDef(name, run_child, max_retries=0, is_async=True)
    STEPS[name] = sd
    return sd
