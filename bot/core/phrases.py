"""Phrase normalisation: when do two phrases on curiosity cards mean the same thing?

People write "NYC", "New York" and "new-york"; "Café culture" and "cafe culture"; "bikes" and
"bike"; "Klettern" and "climbing". Matching compares *normalised keys*; users only ever see a
phrase the way one of them wrote it (:func:`display`), never a key.

The rules are few and deliberately conservative, because a wrong merge pairs people around
nothing, while a missed one only loses a little:

1. Unicode compatibility forms are unified (full-width "ＮＹＣ" is "NYC") and case is folded
   ("Straße" and "STRASSE" agree).
2. Accents are stripped from *Latin* letters only ("Café" is "cafe", "Zürich" is "zurich").
   Marks on other scripts are part of the letter: "東京", "Москва́" and "हिंदी" keep theirs.
3. Punctuation and whitespace collapse into single spaces ("new-york" is "new york");
   apostrophes vanish ("women's" is "womens"); "+" and "#" stay after a letter ("C++", "C#").
4. Simple English plurals go, word by word, on ASCII words longer than four letters that do
   not end in "ss", "us" or "is" ("bikes" is "bike", "beaches" is "beach", "cities" is "city";
   "Paris", "chess", "campus" and "tennis" stay). German plurals are left alone.
5. A small alias table (``bot/content/aliases.yaml``) maps synonyms and translations to one
   key ("NYC" and "New York City" are "new york", "München" is "munich").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType

import yaml

__all__ = ["AliasError", "aliases", "display", "normalise", "normalise_all", "parse_aliases"]

# Latin letters that have no decomposition, spelled the way they are usually transliterated.
_LATIN_EXTRA = str.maketrans(
    {"ø": "o", "đ": "d", "ł": "l", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d"}
)
_APOSTROPHES = frozenset("'’ʼ`´")
# Kept inside a word, so that "C++" and "C#" do not both become "c".
_WORD_SYMBOLS = frozenset("+#")

# "-ies" plurals of words whose singular ends in "-ie" (not "-y"): "movies" is "movie".
_IE_SINGULARS = frozenset(
    {
        "movie",
        "cookie",
        "zombie",
        "rookie",
        "selfie",
        "hippie",
        "foodie",
        "hoodie",
        "smoothie",
        "brownie",
        "calorie",
        "indie",
        "genie",
        "goalie",
        "newbie",
        "techie",
        "aussie",
    }
)
# Words that look plural but are not (or whose singular is the same word).
_NOT_PLURAL = frozenset({"series", "species", "news", "physics", "economics", "politics"})


class AliasError(ValueError):
    """``aliases.yaml`` is malformed or maps one phrase to two keys: a content bug."""


@lru_cache(maxsize=256)
def _is_latin(ch: str) -> bool:
    return (ch.isascii() and ch.isalpha()) or unicodedata.name(ch, "").startswith("LATIN ")


def _strip_latin_accents(text: str) -> str:
    if text.isascii():
        return text  # nothing to strip (most phrases: a quick way out)
    out: list[str] = []
    after_latin = False
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.category(ch).startswith("M"):
            if not after_latin:
                out.append(ch)  # a mark on another script is part of its letter
        else:
            out.append(ch)
            after_latin = _is_latin(ch)
    return unicodedata.normalize("NFC", "".join(out))


# Rule 3 for ASCII text (most phrases), equal to _spelled_words's loop but much faster: a word
# starts with a letter or digit and may go on with "+" and "#".
_ASCII_WORD = re.compile(r"[0-9a-z][0-9a-z+#]*")


def _words(phrase: str) -> str:
    """Rules 1–3: case, accents, punctuation. No plurals, no aliases."""
    text = unicodedata.normalize("NFKC", phrase).casefold()
    if text.isascii():
        return " ".join(_ASCII_WORD.findall(text.replace("'", "").replace("`", "")))
    return _spelled_words(_strip_latin_accents(text).translate(_LATIN_EXTRA))


def _spelled_words(text: str) -> str:
    out: list[str] = []
    in_word = False
    for ch in text:
        if ch in _APOSTROPHES:
            continue
        if ch.isalnum() or unicodedata.category(ch).startswith("M"):
            out.append(ch)
            in_word = True
        elif ch in _WORD_SYMBOLS and in_word:
            out.append(ch)
        else:
            out.append(" ")
            in_word = False
    return " ".join("".join(out).split())


def _singular(word: str) -> str:
    """Rule 4, for one word. Conservative: when unsure, keep the word as it is."""
    if len(word) <= 4 or not (word.isascii() and word.isalpha()) or word in _NOT_PLURAL:
        return word
    if word.endswith("ies") and len(word) > 5:
        return word[:-1] if word[:-1] in _IE_SINGULARS else word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zzes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _singular_phrase(words: str) -> str:
    return " ".join(_singular(word) for word in words.split())


@cache
def aliases() -> Mapping[str, str]:
    """The alias table: every known way of writing a phrase (already normalised) → its key.

    Read lazily from ``bot/content/aliases.yaml`` on first use and cached; both the written
    and the singular form of each entry are listed, so lookups need no further care.
    """
    text = resources.files("bot.content").joinpath("aliases.yaml").read_text(encoding="utf-8")
    return MappingProxyType(parse_aliases(text))


def parse_aliases(text: str) -> dict[str, str]:
    """Parse an alias table (``canonical: [variants]``); raise :class:`AliasError` if unsound."""
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise AliasError("aliases.yaml must be a mapping of canonical: [variants]")
    table: dict[str, str] = {}
    for canonical, variants in data.items():
        if not isinstance(canonical, str) or not isinstance(variants, list):
            raise AliasError(f"aliases.yaml: {canonical!r} must map to a list of variants")
        key = _words(canonical)
        if not key:
            raise AliasError(f"aliases.yaml: {canonical!r} normalises to nothing")
        for variant in [canonical, *variants]:
            if not isinstance(variant, str):
                raise AliasError(f"aliases.yaml: {canonical}: {variant!r} is not text")
            written = _words(variant)
            for form in (written, _singular_phrase(written)):
                if not form:
                    raise AliasError(f"aliases.yaml: {canonical}: {variant!r} is empty")
                if table.get(form, key) != key:
                    raise AliasError(
                        f"aliases.yaml: {variant!r} means both {table[form]!r} and {key!r}"
                    )
                table[form] = key
    return table


@lru_cache(maxsize=16384)
def normalise(phrase: str) -> str:
    """The key two phrases share when they mean the same thing; ``""`` for a blank phrase.

    >>> normalise("NYC") == normalise("New York"), normalise("Café"), normalise("Bikes")
    (True, 'cafe', 'bike')
    """
    words = _words(phrase)
    if not words:
        return ""
    table = aliases()
    if words in table:
        return table[words]
    singular = _singular_phrase(words)
    return table.get(singular, singular)


def display(phrase: str) -> str:
    """A phrase as its author wrote it, tidied for showing: NFC, ends trimmed, one space.

    This is what reasons and icebreakers quote ("you both love Lisboa"), never the key.
    """
    return " ".join(unicodedata.normalize("NFC", phrase).split())


def normalise_all(
    phrases: Iterable[str], memo: dict[str, tuple[str, str]] | None = None
) -> dict[str, str]:
    """Normalised key → display form of the first phrase with that key, in written order.

    Blank phrases are dropped, duplicates ("Bikes", "bike") collapse into one entry. ``memo``
    (phrase → key and display form) saves the work for phrases seen before: pairing 100,000
    people passes one for the whole pool, where the same phrases recur thousands of times.
    """
    out: dict[str, str] = {}
    for phrase in phrases:
        known = memo.get(phrase) if memo is not None else None
        if known is None:
            known = (normalise(phrase), display(phrase))
            if memo is not None:
                memo[phrase] = known
        key, shown = known
        if key and key not in out:
            out[key] = shown
    return out
