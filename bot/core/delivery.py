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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot.core.models import OutboxMessage
from bot.core.ports import Store
from bot.core.text import neutralise_mentions

log = logging.getLogger(__name__)

Send = Callable[[OutboxMessage], Awaitable[None]]
# Told about a message given up after MAX_ATTEMPTS (e.g. to count it in a delivery report).
GivenUp = Callable[[OutboxMessage], Awaitable[None]]
# A message that keeps failing is given up after this many tries (and logged), so one bad
# message can never hold up everyone else's.
MAX_ATTEMPTS = 5
Progress = Callable[[int], None]


class DeliveryFailed(Exception):
    """The platform refused a message for good (e.g. closed DMs); it will not be retried."""


@dataclass
class Deliverer:
    store: Store
    send: Send
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    batch: int = 100
    given_up: GivenUp | None = None
    # Only this platform's messages ("discord", "matrix"); None: every message.
    platform: str | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def poke(self) -> None:
        """New messages were written: deliver soon rather than at the next poll."""
        self._wake.set()

    async def deliver_pending(self, progress: Progress | None = None) -> int:
        """Send every pending message, oldest first. Returns how many were sent.

        A message whose sending raises is retried on later passes (not in this one, so one
        bad message never blocks the queue); after ``MAX_ATTEMPTS`` it is given up and logged.
        """
        sent = 0
        failed_this_pass: set[int] = set()
        while True:
            async with self.store.transaction() as tx:
                pending = await tx.pending_outbox(self.batch + len(failed_this_pass), self.platform)
            todo = [m for m in pending if m.id not in failed_this_pass]
            if not todo:
                return sent
            for message in todo:
                try:
                    # Defence in depth: no delivered text can ping a whole room.
                    await self.send(replace(message, text=neutralise_mentions(message.text)))
                except asyncio.CancelledError:
                    raise
                except DeliveryFailed as exc:
                    # Permanent (e.g. closed DMs): marked done so it never blocks the queue;
                    # the adapter reports who could not be reached.
                    log.warning("outbox %s (%s) not deliverable: %s", message.id, message.kind, exc)
                except Exception as exc:
                    reason = f"{type(exc).__name__}: {exc}"
                    async with self.store.transaction() as tx:
                        attempts = await tx.record_failure(message.id, reason)
                    if attempts < MAX_ATTEMPTS:
                        log.warning(
                            "outbox %s (%s) failed, attempt %d of %d: %s",
                            message.id,
                            message.kind,
                            attempts,
                            MAX_ATTEMPTS,
                            reason,
                        )
                        failed_this_pass.add(message.id)
                        continue
                    log.error(
                        "outbox %s (%s) given up after %d attempts: %s",
                        message.id,
                        message.kind,
                        attempts,
                        reason,
                    )
                    if self.given_up is not None:
                        await self.given_up(message)
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
