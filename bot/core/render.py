"""Reasons and name lists as whole sentences from the content catalog.

Sentences are never glued from fragments: each situation (shared, "you can tell",
"you are curious", seen by a third person) has its own full template per language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.core.i18n import t
from bot.core.models import Group, Reason, ReasonKind

# A DM lists the strongest reasons only; more would read like a database dump.
MAX_REASONS_SHOWN = 3


def join_names(names: Sequence[str], *, either: bool = False) -> str:
    """ "Anna", "Anna and Ben", "Anna, Ben and Carla" in the current language
    (with ``either``: "English or German")."""
    if not names:
        return ""
    if len(names) == 1:
        return names[0]
    key = "messages.list.join_or" if either else "messages.list.join"
    return t(key, head=", ".join(names[:-1]), last=names[-1])


def reason_lines_for(group: Group, viewer: str, names: Mapping[str, str]) -> list[str]:
    """Why this group was formed, told to one of its members."""

    # What concerns the reader comes first; in a trio, what the other two share comes after.
    def concerns_viewer(r: Reason) -> bool:
        if r.kind is ReasonKind.COMPLEMENTARY:
            return viewer in (r.teller, r.asker)
        return len(group.members) == 2

    mine = sorted(group.reasons, key=lambda r: not concerns_viewer(r))
    return [_reason_for_viewer(r, group, viewer, names) for r in mine[:MAX_REASONS_SHOWN]]


def reason_lines_neutral(group: Group, names: Mapping[str, str]) -> list[str]:
    """Why this group was formed, told to the organizer."""
    lines = []
    for reason in group.reasons[:MAX_REASONS_SHOWN]:
        if reason.kind is ReasonKind.COMPLEMENTARY:
            lines.append(
                t(
                    "messages.reason.complementary",
                    teller=names.get(reason.teller or "", "?"),
                    asker=names.get(reason.asker or "", "?"),
                    topic=reason.topic,
                )
            )
        else:
            lines.append(t("messages.reason.shared", topic=reason.topic))
    return lines


def _reason_for_viewer(reason: Reason, group: Group, viewer: str, names: Mapping[str, str]) -> str:
    if reason.kind is ReasonKind.COMPLEMENTARY:
        teller = names.get(reason.teller or "", "?")
        asker = names.get(reason.asker or "", "?")
        if reason.asker == viewer:
            return t("messages.reason.you_are_curious", teller=teller, topic=reason.topic)
        if reason.teller == viewer:
            return t("messages.reason.you_can_tell", asker=asker, topic=reason.topic)
        return t(
            "messages.reason.others_complementary", teller=teller, asker=asker, topic=reason.topic
        )
    if len(group.members) > 2:
        return t("messages.reason.shared_group", topic=reason.topic)
    return t("messages.reason.shared_you", topic=reason.topic)
