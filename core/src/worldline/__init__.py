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

__all__ = [
    "Capabilities", "Conflict", "Enqueue", "Event", "EventResult", "EventType", "Gone", "Hook",
    "Message", "NewEvent", "NotFound", "Page", "Run", "RunStatus", "StartFailed", "Step",
    "StepStatus", "StreamInfo", "TooEarly", "UnknownWorldError", "ValidationError", "Wait",
    "WaitStatus", "World", "WorldError", "WorldUnavailable", "WorldlineError",
    "available_worlds", "connect",
]
