"""The outbox delivery worker: sends what use cases wrote to the outbox, then marks it sent.

Messages are written in the same transaction as the change that caused them, so a crash
never loses one; the adapter's ``send`` is given the outbox id to make a resend after a crash
between sending and marking idempotent (Matrix transaction ids, Discord nonces).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.core.models import OutboxMessage
from bot.core.ports import Store

log = logging.getLogger(__name__)

Send = Callable[[OutboxMessage], Awaitable[None]]
Progress = Callable[[int], None]


class DeliveryFailed(Exception):
    """The platform refused a message for good (e.g. closed DMs); it will not be retried."""


@dataclass
class Deliverer:
    store: Store
    send: Send
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    batch: int = 100
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def poke(self) -> None:
        """New messages were written: deliver soon rather than at the next poll."""
        self._wake.set()

    async def deliver_pending(self, progress: Progress | None = None) -> int:
        """Send every pending message, oldest first. Returns how many were sent."""
        sent = 0
        while True:
            async with self.store.transaction() as tx:
                pending = await tx.pending_outbox(self.batch)
            if not pending:
                return sent
            for message in pending:
                try:
                    await self.send(message)
                except DeliveryFailed as exc:
                    # Marked so a permanent refusal does not block the queue forever; the
                    # adapter reports who could not be reached.
                    log.warning(
                        "outbox %s to a %s not deliverable: %s",
                        message.id,
                        message.target_kind,
                        exc,
                    )
                async with self.store.transaction() as tx:
                    await tx.mark_sent(message.id, self.clock())
                sent += 1
                if progress is not None:
                    progress(sent)

    async def run(self, poll_seconds: float = 2.0) -> None:
        """Deliver until cancelled; errors are logged and retried, never fatal."""
        while True:
            try:
                await self.deliver_pending()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox delivery failed; retrying in %.0f s", poll_seconds)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
