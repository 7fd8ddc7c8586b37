"""Phrases that mean the same thing meet; phrases that do not, do not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.phrases import (
    AliasError,
    aliases,
    display,
    normalise,
    normalise_all,
    parse_aliases,
)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("NYC", "New York"),
        ("new york city", "New-York"),
        ("ＮＹＣ", "new york"),  # full-width letters
        ("München", "Munich"),
        ("muenchen", "munich"),
        ("Lissabon", "Lisbon"),
        ("Klettern", "climbing"),
        ("Brettspiele", "board game"),
        ("København", "Copenhagen"),
        ("Athen", "Athens"),
        ("L.A.", "Los Angeles"),
    ],
)
def test_aliases_and_translations_meet(one: str, other: str) -> None:
    """ "NYC" meets "New York", "München" meets "Munich", "Klettern" meets "climbing"."""
    assert normalise(one) == normalise(other)


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("Café", "cafe"),
        ("  Crème   brûlée ", "creme brulee"),
        ("Zürich", "zurich"),
        ("Łódź", "lodz"),
        ("Straße", "strasse"),
        ("Phở", "pho"),
    ],
)
def test_case_and_latin_accents_do_not_matter(written: str, key: str) -> None:
    """ "Café" is "cafe": case, accents on Latin letters and extra spaces are ignored."""
    assert normalise(written) == key


@pytest.mark.parametrize("written", ["東京", "Москва́", "हिंदी", "がっこう", "서울"])
def test_other_scripts_keep_their_marks(written: str) -> None:
    """Marks that belong to a non-Latin letter stay: "東京" and "हिंदी" are not mangled."""
    assert normalise(written) == written.casefold()


@pytest.mark.parametrize(
    ("plural", "singular"),
    [
        ("Bikes", "bike"),
        ("beaches", "beach"),
        ("Cities", "city"),
        ("hobbies", "hobby"),
        ("movies", "movie"),
        ("boxes", "box"),
        ("classes", "class"),
        ("board games", "board game"),
    ],
)
def test_simple_english_plurals_meet_their_singular(plural: str, singular: str) -> None:
    """ "Bikes" meets "bike", "cities" meets "city", "movies" meets "movie"."""
    assert normalise(plural) == normalise(singular)


@pytest.mark.parametrize(
    "word", ["Paris", "Lisbon", "chess", "tennis", "campus", "series", "news", "bus", "yoga"]
)
def test_words_that_only_look_plural_are_kept(word: str) -> None:
    """ "Paris" stays "paris": no stripping of -is, -us, -ss or short words."""
    assert normalise(word) == word.casefold()


def test_punctuation_collapses_but_programming_languages_survive() -> None:
    """ "new-york!" is "new york"; "C++" and "C#" stay apart from "C"; "women's" keeps its s."""
    assert normalise("rock 'n' roll!") == "rock n roll"
    assert normalise("#travel") == normalise("travel")
    assert len({normalise("C++"), normalise("C#"), normalise("C")}) == 3
    assert normalise("Women's football") == normalise("womens football")


@pytest.mark.parametrize("blank", ["", "   ", "\t\n", "!!!", "—", "''"])
def test_blank_phrases_normalise_to_nothing(blank: str) -> None:
    """Whitespace or punctuation alone normalises to "" (and is ignored by matching)."""
    assert normalise(blank) == ""


def test_display_keeps_the_phrase_as_written() -> None:
    """What people see is their own wording, only trimmed: "  Lisboa  nights " → "Lisboa nights"."""
    assert display("  Lisboa  nights ") == "Lisboa nights"
    assert display("NYC") == "NYC"


def test_normalise_all_keeps_the_first_wording_and_drops_blanks_and_duplicates() -> None:
    """A card with "Bikes", "bike", "" and "NYC" has two keys, shown as first written."""
    assert normalise_all(["Bikes", "bike", " ", "NYC", "New York"]) == {
        "bike": "Bikes",
        "new york": "NYC",
    }


def test_shipped_alias_table_is_small_and_every_entry_leads_to_its_key() -> None:
    """Each alias in aliases.yaml normalises to its canonical key; the table stays modest."""
    table = aliases()
    keys = set(table.values())
    assert 20 <= len(keys) <= 40
    for form, key in table.items():
        assert normalise(form) == key
        assert normalise(key) == key


def test_an_alias_with_two_meanings_is_rejected() -> None:
    """A variant listed under two keys is a content bug, reported by name."""
    with pytest.raises(AliasError, match="la"):
        parse_aliases("los angeles: [la]\nlouisiana: [la]\n")
    with pytest.raises(AliasError):
        parse_aliases("- just a list\n")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_normalising_twice_changes_nothing(phrase: str) -> None:
    """A key is its own key, whatever was typed, so stored keys can be compared later."""
    key = normalise(phrase)
    assert normalise(key) == key
    assert key == key.strip()
    assert "  " not in key


@settings(max_examples=500)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_the_ascii_shortcut_splits_words_exactly_like_the_general_rules(text: str) -> None:
    """Most phrases are ASCII and take a faster path; it must agree with the general one."""
    from bot.core import phrases

    folded = text.casefold()
    assert phrases._words(text) == phrases._spelled_words(folded)
