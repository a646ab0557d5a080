"""The log checker run after every conformance test (SPEC §8, last paragraph).

Stub: the full checker is filled in by the race-harness work.
"""

from __future__ import annotations

from worldline import World


async def check_world_logs(world: World) -> None:
    """Check every run of the world's namespace; raise AssertionError on a violation."""
    return None
