"""worldline: durable workflows for Python on the database you already run."""

from .errors import (
    Conflict,
    Gone,
    NotFound,
    StartFailed,
    TooEarly,
    UnknownWorldError,
    ValidationError,
    WorldError,
    WorldlineError,
    WorldUnavailable,
)
from .model import (
    Capabilities,
    Enqueue,
    Event,
    EventResult,
    EventType,
    Hook,
    Message,
    NewEvent,
    Page,
    Run,
    RunStatus,
    Step,
    StepStatus,
    StreamInfo,
    Wait,
    WaitStatus,
)
from .plugins import available_worlds, connect
from .protocol import World
from .runtime import (
    Backoff,
    FatalError,
    NonDeterminismError,
    RetryableError,
    RunCancelled,
    RunHandle,
    RunTimeout,
    SerializationError,
    Worker,
    WorkflowError,
    configure,
    create_hook,
    get_run,
    now,
    random,
    register_type,
    resume_hook,
    sleep,
    start,
    step,
    uuid4,
    workflow,
)
from .runtime.reconcile import ReconcileReport, reconcile

__all__ = [
    "Backoff", "Capabilities", "Conflict", "Enqueue", "Event", "EventResult", "EventType",
    "FatalError", "Gone", "Hook", "Message", "NewEvent", "NonDeterminismError", "NotFound", "Page",
    "ReconcileReport", "RetryableError", "Run", "RunCancelled", "RunHandle", "RunStatus",
    "RunTimeout", "SerializationError", "StartFailed", "Step", "StepStatus", "StreamInfo",
    "TooEarly", "UnknownWorldError", "ValidationError", "Wait", "WaitStatus", "Worker",
    "WorkflowError", "World", "WorldError", "WorldUnavailable", "WorldlineError",
    "available_worlds", "configure", "connect", "create_hook", "get_run", "now", "random",
    "reconcile", "register_type", "resume_hook", "sleep", "start", "step", "uuid4", "workflow",
]
