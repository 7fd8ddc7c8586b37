"""Cleaning of text people type, before it is parsed, stored or echoed back.

The rules are few and deliberate: Unicode is NFC-normalised; control characters and the
invisible characters that can be used to spoof what a reader sees (zero-width spaces, bidi
overrides) are removed; everything a person can see is kept as typed. SQL, Markdown, braces,
emoji and right-to-left scripts survive unchanged: escaping is the job of whoever renders or
stores the text, never of this module.
"""

from __future__ import annotations

import re
import unicodedata

from bot.core.models import MAX_NAME_CHARS

# Invisible characters removed everywhere. Zero-width space/no-break space/word joiner hide
# inside words ("ad\u200bmin" looks like "admin"); the bidi embeddings, overrides, isolates and
# marks reorder what a reader sees ("Trojan Source"). Deliberately NOT here: U+200D zero-width
# joiner (👩‍💻 and other emoji sequences), U+200C zero-width non-joiner (needed in Persian),
# variation selectors (❤️) and tag characters (subdivision flags like 🏴󠁧󠁢󠁳󠁣󠁴󠁿).
_INVISIBLE = frozenset(
    {
        "\u200b",  # zero-width space
        "\ufeff",  # zero-width no-break space / byte order mark
        "\u2060",  # word joiner
        "\u200e",  # left-to-right mark
        "\u200f",  # right-to-left mark
        "\u061c",  # arabic letter mark (a bidi mark like the two above)
        *(chr(c) for c in range(0x202A, 0x202F)),  # LRE, RLE, PDF, LRO, RLO
        *(chr(c) for c in range(0x2066, 0x206A)),  # LRI, RLI, FSI, PDI
    }
)

# Control characters that separate text; they become whitespace rather than vanishing, so that
# "a\tb" reads "a b", not "ab". Other C0/C1 controls (NUL, ESC, ...) are removed.
_LINE_BREAKS = frozenset({"\n", "\r", "\v", "\f", "\x85", "\u2028", "\u2029"})
_SPACES = frozenset({"\t"})

_BLANK_LINES = re.compile(r"\n{3,}")

# "@everyone"/"@here" ping a whole Discord server or channel, "@room" a whole Matrix room.
_MASS_MENTION = re.compile(r"@(?=(?:everyone|here|room))", re.IGNORECASE)
_FULLWIDTH_AT = "\uff20"  # "＠": looks like "@" to a reader, pings nobody


def clean(text: str, *, multiline: bool = False) -> str:
    """``text`` NFC-normalised, without control or spoofing characters, ends stripped.

    Single-line (the default) collapses every run of whitespace, line breaks included, to one
    space. ``multiline`` keeps line breaks (normalised to ``\\n``, at most one blank line in a
    row) and indentation, and drops trailing spaces on each line.
    """
    kept: list[str] = []
    for char in text.replace("\r\n", "\n"):
        if char in _INVISIBLE:
            continue
        if char in _LINE_BREAKS:
            kept.append("\n" if multiline else " ")
        elif char in _SPACES:
            kept.append(" ")
        elif unicodedata.category(char) != "Cc":
            kept.append(char)
    # Normalise after removal: a removed character may have separated a base from its mark.
    joined = unicodedata.normalize("NFC", "".join(kept))
    if not multiline:
        return " ".join(joined.split())
    lines = [line.rstrip() for line in joined.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def display_name(text: str) -> str:
    """A platform display name made safe to store and show: cleaned, at most 80 characters.

    Returns "" when nothing visible is left; the caller picks its own fallback ("someone").
    """
    name = clean(text)
    if len(name) <= MAX_NAME_CHARS:
        return name
    # Never leave half an emoji sequence dangling at the cut.
    return name[:MAX_NAME_CHARS].rstrip(" \u200d\ufe0e\ufe0f")


def neutralise_mentions(text: str) -> str:
    """``text`` with "@everyone", "@here" and "@room" defused (any case).

    The "@" becomes a full-width "＠", which reads the same but pings nobody. Adapters also send
    with mass mentions disabled; this is defence in depth for user text the bot echoes back.
    """
    return _MASS_MENTION.sub(_FULLWIDTH_AT, text)
