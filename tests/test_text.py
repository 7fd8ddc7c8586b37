"""Cleaning typed text: what is removed, what is kept, and mass mentions defused."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.models import MAX_NAME_CHARS
from bot.core.text import clean, display_name, neutralise_mentions

SPOOFING = [
    "\u200b",  # zero-width space
    "\ufeff",  # byte order mark / zero-width no-break space
    "\u2060",  # word joiner
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u061c",  # arabic letter mark
    "\u202a",  # left-to-right embedding
    "\u202b",  # right-to-left embedding
    "\u202c",  # pop directional formatting
    "\u202d",  # left-to-right override
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2067",  # right-to-left isolate
    "\u2068",  # first strong isolate
    "\u2069",  # pop directional isolate
]


@pytest.mark.parametrize("char", SPOOFING, ids=lambda c: f"U+{ord(c):04X}")
def test_spoofing_characters_are_removed(char: str) -> None:
    """Zero-width and bidi control characters vanish, in single- and multi-line text."""
    assert clean(f"ad{char}min") == "admin"
    assert clean(f"ad{char}min\nok", multiline=True) == "admin\nok"


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\x1f"])
def test_control_characters_are_removed(char: str) -> None:
    """NUL, BEL, ESC, DEL and C1 controls are dropped without leaving a space."""
    assert clean(f"a{char}b") == "ab"


@pytest.mark.parametrize(
    "kept",
    [
        "👩\u200d💻",  # ZWJ sequence
        "🏳️\u200d🌈",  # variation selector + ZWJ
        "❤\ufe0f",  # variation selector
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland flag tags
        "می\u200cخواهم",  # Persian with zero-width non-joiner
        "مرحبا بالعالم",
        "שלום עולם",
        "Zoë Ñandú",
    ],
)
def test_emoji_sequences_and_scripts_are_kept(kept: str) -> None:
    """Joiners, variation selectors, tag characters and RTL scripts survive."""
    assert clean(kept) == unicodedata.normalize("NFC", kept)


def test_text_is_nfc_normalised() -> None:
    """A decomposed "é" (e + combining accent) becomes the composed character."""
    assert clean("Cafe\u0301") == "Café"


def test_a_removed_character_does_not_keep_an_accent_from_its_letter() -> None:
    """Normalisation happens after removal, so "e<ZWSP><accent>" composes to "é"."""
    assert clean("e\u200b\u0301") == "é"


def test_single_line_collapses_all_whitespace() -> None:
    """Tabs, line breaks and runs of spaces become single spaces; ends are stripped."""
    assert clean("  Lisbon \t\r\n and\u2028 Porto\u00a0 ") == "Lisbon and Porto"


def test_multiline_keeps_lines_and_indentation() -> None:
    """Line breaks (CRLF too) are kept, trailing spaces dropped, blank runs shortened."""
    typed = "  first  \r\n    indented\r\n\r\n\r\n\r\nlast\x00 \n\n"
    assert clean(typed, multiline=True) == "first\n    indented\n\nlast"


def test_multiline_turns_other_line_separators_into_newlines() -> None:
    """Unicode line/paragraph separators and NEL count as line breaks."""
    assert clean("a\u2028b\u2029c\x85d", multiline=True) == "a\nb\nc\nd"


def test_markup_and_code_are_not_touched() -> None:
    """Cleaning is not escaping: SQL, Markdown and braces are kept as typed."""
    typed = "'; DROP TABLE x; -- **b** `c` [l](u) {name} <@123>"
    assert clean(typed) == typed


def test_display_name_is_cleaned_and_capped() -> None:
    """A display name is cleaned and at most 80 characters; nothing visible gives ""."""
    assert display_name("  Anna\u202e \x00Lena ") == "Anna Lena"
    assert len(display_name("n" * 200)) == MAX_NAME_CHARS
    assert display_name("\u200b\u200f ") == ""


def test_display_name_cut_leaves_no_dangling_joiner() -> None:
    """Cutting inside an emoji sequence does not leave a trailing zero-width joiner."""
    name = display_name("x" * (MAX_NAME_CHARS - 2) + "👩\u200d💻")
    assert not name.endswith("\u200d") and len(name) <= MAX_NAME_CHARS


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("hi @everyone", "hi ＠everyone"),
        ("@here now", "＠here now"),
        ("@Room!", "＠Room!"),
        ("@EVERYONE", "＠EVERYONE"),
        ("@anna and @ann:example.org", "@anna and @ann:example.org"),
        ("<@123>", "<@123>"),
    ],
)
def test_mass_mentions_are_neutralised(typed: str, expected: str) -> None:
    """@everyone/@here/@room get a full-width "＠"; mentions of one person are untouched."""
    assert neutralise_mentions(typed) == expected


@given(st.text(), st.booleans())
def test_cleaning_is_idempotent_and_leaves_nothing_invisible(text: str, multiline: bool) -> None:
    """Cleaning twice changes nothing, and no control or spoofing character remains."""
    once = clean(text, multiline=multiline)
    assert clean(once, multiline=multiline) == once
    assert once == once.strip()
    for char in once:
        assert char not in SPOOFING
        assert char == "\n" or unicodedata.category(char) != "Cc"
    if not multiline:
        assert "\n" not in once
