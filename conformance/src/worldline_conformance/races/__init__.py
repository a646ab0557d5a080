"""The race harness of SPEC §8: contenders released together at a barrier, many rounds."""

from .harness import DEFAULT_ROUNDS, KINDS, Racer
from .moves import NOOP, WON, CreateEvent, Move
from .report import RaceRecord

__all__ = ["DEFAULT_ROUNDS", "KINDS", "NOOP", "WON", "CreateEvent", "Move", "RaceRecord",
           "Racer"]
