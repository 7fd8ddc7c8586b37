"""Platform adapters: each converts its platform's events to neutral ones at the edge."""

import asyncio
import contextlib
from typing import Any


class StartupError(Exception):
    """An adapter cannot start (bad credentials, unreachable rooms); the message says why."""


async def cancel_and_wait(task: "asyncio.Task[Any]") -> None:
    """Cancel a background task (the outbox worker) and wait until it has stopped."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
