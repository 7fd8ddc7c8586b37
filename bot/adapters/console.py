"""The console adapter: try every command by hand, typing as different people.

    @anna join
    @anna card curious Lisbon; beekeeping
    @orga round start
    @anna dm met            (a private message to the bot instead of the meetup room)

Like every adapter it only converts lines to neutral events, hands them to ``on_event`` and
prints what comes back; it knows nothing about the services behind it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TextIO

from bot.core.events import CommandReceived, Event, Reply
from bot.core.models import MemberRef, OutboxMessage, TargetKind

PLATFORM = "console"
COMMUNITY_ID = "console:default"
ROOM = "meetup"
ROOM_NAME = "Funkel Meetup"
BOT_NAME = "funkel"

_LINE = re.compile(r"^@(?P<who>[^\s:>]+)[:>]?\s*(?P<dm>dm(?:\s+|$))?(?P<text>.*)$", re.DOTALL)

OnEvent = Callable[[Event], Awaitable[list[Reply]]]


class ConsoleInputError(ValueError):
    """A line the console cannot read; the message says how to write it."""


def parse_line(line: str) -> CommandReceived | None:
    """``@anna card ...`` → an event from anna; blank lines and ``# comments`` → None."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    match = _LINE.match(stripped)
    if match is None:
        raise ConsoleInputError(
            "Start each line with who is speaking, for example: @anna join "
            "(type 'help' for the console's help)."
        )
    who = match["who"]
    return CommandReceived(
        community_id=COMMUNITY_ID,
        member=MemberRef(PLATFORM, who.casefold()),
        display_name=who,
        text=match["text"],
        room=None if match["dm"] else ROOM,
        room_name=None if match["dm"] else ROOM_NAME,
    )


CONSOLE_HELP = """\
Type as different people; each line starts with who is speaking:
  @anna join                         anna joins this meetup
  @anna card curious Lisbon; bees    anna's card: what she's curious about
  @anna card tell Shanghai           ... and what she can tell about
  @orga round preview                the organizer previews a round (orga is an organizer)
  @orga round start                  ... and starts it; everyone gets a private message
  @anna dm met                       anna asks privately whom she met
  @anna help                         the bot's own help
Lines starting with # are comments. 'quit' or Ctrl-D ends the session."""


@dataclass
class ConsoleAdapter:
    """Prints replies and delivered outbox messages as a readable transcript."""

    out: TextIO
    names: dict[str, str] = field(default_factory=dict)

    def remember(self, event: CommandReceived) -> None:
        self.names[event.member.key] = event.display_name

    def show_input(self, event: CommandReceived) -> None:
        where = " (private)" if event.room is None else ""
        self.out.write(f"{event.display_name}{where} › {event.text}\n")

    def show_replies(self, event: CommandReceived, replies: list[Reply]) -> None:
        for reply in replies:
            if reply.private:
                label = f"{BOT_NAME} → {event.display_name} (only they see this)"
            else:
                label = f"{BOT_NAME} → #{ROOM}"
            self.out.write(_block(label, reply.text))

    async def send(self, message: OutboxMessage) -> None:
        """Deliver one outbox message by printing it."""
        self.out.write(self.render_message(message))

    def render_message(self, message: OutboxMessage) -> str:
        if message.target_kind is TargetKind.ROOM:
            label = f"{BOT_NAME} → #{ROOM}"
        else:
            name = self.names.get(message.target, MemberRef.from_key(message.target).user_id)
            label = f"{BOT_NAME} → {name} (private)"
        return _block(label, message.text)


def _block(label: str, text: str) -> str:
    lines = text.splitlines() or [""]
    body = "\n".join("    " + line if line else "" for line in lines)
    return f"  {label}:\n{body}\n"
