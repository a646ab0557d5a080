"""The durable runtime: authoring API, replay, workers and the codec."""

from .codec import SerializationError, decode, encode, register_type
from .context import Hook, create_hook, now, random, sleep, uuid4
from .errors import (
    FatalError,
    NonDeterminismError,
    RetryableError,
    RunCancelled,
    RunTimeout,
    WorkflowError,
)
from .handle import RunHandle, configure, get_run, resume_hook, start
from .registry import Backoff, step, workflow
from .worker import Worker

__all__ = [
    "Backoff", "FatalError", "Hook", "NonDeterminismError", "RetryableError", "RunCancelled",
    "RunHandle", "RunTimeout", "SerializationError", "Worker", "WorkflowError", "configure",
    "create_hook", "decode", "encode", "get_run", "now", "random", "register_type",
    "resume_hook", "sleep", "start", "step", "uuid4", "workflow",
]
