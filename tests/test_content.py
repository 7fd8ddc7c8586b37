"""Every shipped content file is valid: prompt decks, message catalogs, topics, demo cards."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core import i18n
from bot.core.icebreakers import (
    ALLOWED_PLACEHOLDERS,
    KINDS,
    Prompt,
    deck,
    render,
)
from bot.core.models import (
    LANGUAGES,
    MAX_NAME_CHARS,
    MAX_PHRASE_CHARS,
    MAX_PHRASES_PER_LIST,
    Group,
    Reason,
    ReasonKind,
)
from bot.core.phrases import normalise

CONTENT = Path(__file__).resolve().parents[1] / "bot" / "content"
LANGUAGE_DIRS = sorted(p for p in CONTENT.iterdir() if p.is_dir() and p.name in LANGUAGES)
MIN_PROMPTS = 40
MIN_PER_KIND = 8


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _fields(template: str) -> list[tuple[str, str | None, str | None]]:
    """(name, format spec, conversion) of every placeholder in a template."""
    return [
        (name, spec, conv)
        for _, name, spec, conv in string.Formatter().parse(template)
        if name is not None
    ]


def _catalog_stems(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.yaml")} - {"icebreakers"}


# --- icebreaker decks ------------------------------------------------------------------


def test_every_language_folder_is_a_known_language_with_a_deck() -> None:
    """Each language in LANGUAGES has a folder with an icebreakers.yaml."""
    assert [p.name for p in LANGUAGE_DIRS] == sorted(LANGUAGES)
    for folder in LANGUAGE_DIRS:
        assert (folder / "icebreakers.yaml").is_file(), folder


@pytest.mark.parametrize("language", LANGUAGES)
def test_deck_parses_and_is_big_enough(language: str) -> None:
    """A deck parses, has meta for joining names, and at least 40 prompts, 8 per kind."""
    data = _load(CONTENT / language / "icebreakers.yaml")
    assert set(data) == {"meta", "prompts"}
    assert data["meta"]["names_separator"].strip() == ","
    assert data["meta"]["names_last_separator"].strip()
    prompts = data["prompts"]
    assert len(prompts) >= MIN_PROMPTS
    for kind in KINDS:
        count = sum(1 for p in prompts.values() if p["kind"] == kind)
        assert count >= MIN_PER_KIND, f"{language}: only {count} {kind} prompts"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_prompt_has_a_known_kind_and_only_its_placeholders(language: str) -> None:
    """Each prompt's kind is known and its text uses only plain placeholders allowed for it."""
    prompts = _load(CONTENT / language / "icebreakers.yaml")["prompts"]
    for pid, entry in prompts.items():
        assert set(entry) == {"kind", "text"}, pid
        assert entry["kind"] in KINDS, pid
        assert pid.startswith(entry["kind"] + "."), f"{pid}: the id should start with its kind"
        text = entry["text"]
        assert isinstance(text, str) and text.strip(), pid
        for name, spec, conversion in _fields(text):
            assert name in ALLOWED_PLACEHOLDERS[entry["kind"]], f"{language} {pid}: {{{name}}}"
            assert not spec and not conversion, f"{language} {pid}: {{{name}}} must be plain"


@pytest.mark.parametrize("language", LANGUAGES)
def test_prompts_mention_what_they_are_about(language: str) -> None:
    """Topic prompts show the topic; complementary prompts name both teller and asker."""
    for prompt in deck(language).values():
        names = {name for name, _, _ in _fields(prompt.text)}
        if prompt.kind != "generic":
            assert "topic" in names, f"{language} {prompt.id} never shows the topic"
        if prompt.kind == "complementary":
            assert {"teller", "asker"} <= names, f"{language} {prompt.id}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_prompts_fit_a_trio_and_any_topic(language: str) -> None:
    """No "both" (groups can be trios) and no article glued to the topic ("a {topic}")."""
    both = {"en": r"\bboth\b", "de": r"\bbeide"}[language]
    glued = {
        "en": r"\b(a|an|the)\s+[“\"]?\{topic\}",
        "de": r"\b(der|die|das|den|dem|des|ein|eine|einen|einem|im|am|zum|zur|vom)\s+\{topic\}",
    }[language]
    for prompt in deck(language).values():
        assert not re.search(both, prompt.text, re.IGNORECASE), f"{language} {prompt.id}"
        assert not re.search(glued, prompt.text, re.IGNORECASE), f"{language} {prompt.id}"


def test_english_and_german_decks_have_the_same_prompts() -> None:
    """en and de have exactly the same prompt ids, each with the same kind."""
    en, de = deck("en"), deck("de")
    assert set(en) == set(de)
    assert {pid: p.kind for pid, p in en.items()} == {pid: p.kind for pid, p in de.items()}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_prompt_renders_with_sample_names_and_topics(language: str) -> None:
    """Every prompt renders for a pair and a trio without leftover placeholders."""
    names = {"x:1": "Anna", "x:2": "Ben", "x:3": "Zoë"}
    for members in (("x:1", "x:2"), ("x:1", "x:2", "x:3")):
        for prompt in deck(language).values():
            reason: Reason | None
            if prompt.kind == "complementary":
                reason = Reason(ReasonKind.COMPLEMENTARY, "Shanghai", teller="x:1", asker="x:2")
            elif prompt.kind == "generic":
                reason = None
            else:
                reason = Reason(ReasonKind.SHARED, "Lisbon")
            group = Group(members, (reason,) if reason else ())
            text = render(prompt, group, reason, names, language)
            assert "{" not in text and "}" not in text, f"{language} {prompt.id}: {text}"
            assert text.strip() == text and text, prompt.id


def test_a_malformed_prompt_is_not_a_prompt() -> None:
    """The test helper and the loader agree on what a placeholder is (sanity check)."""
    prompt = Prompt("hobby.x", "hobby", "Tell about {topic} and {names}.")
    assert {name for name, _, _ in _fields(prompt.text)} == {"topic", "names"}


# --- message catalogs --------------------------------------------------------------------


def test_every_catalog_file_exists_in_every_language() -> None:
    """A message file (messages.yaml, commands.yaml, ...) in one language exists in all."""
    stems = {folder.name: _catalog_stems(folder) for folder in LANGUAGE_DIRS}
    assert stems["en"] == stems["de"], stems


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_file_parses_to_a_mapping(language: str) -> None:
    """Each message catalog is a YAML mapping whose leaves are text."""
    for path in sorted((CONTENT / language).glob("*.yaml")):
        if path.stem == "icebreakers":
            continue
        data = _load(path)
        assert data is None or isinstance(data, dict), path


def test_catalogs_have_the_same_keys_and_placeholders_in_english_and_german() -> None:
    """Every message key exists in en and de, with the same placeholders."""
    en, de = i18n.catalog("en"), i18n.catalog("de")
    assert sorted(set(en) - set(de)) == [], "missing in German"
    assert sorted(set(de) - set(en)) == [], "missing in English"
    differing = {
        key: (i18n.placeholders(en[key]), i18n.placeholders(de[key]))
        for key in en
        if i18n.placeholders(en[key]) != i18n.placeholders(de[key])
    }
    assert differing == {}


# --- topics lexicon ----------------------------------------------------------------------


def test_topics_lexicon_has_places_and_life_change_patterns() -> None:
    """topics.yaml lists places (cities, countries, regions) and life-change patterns."""
    data = _load(CONTENT / "topics.yaml")
    assert set(data) == {"places", "life_change"}
    assert set(data["places"]) == {"cities", "countries", "regions"}
    places = [p for group in data["places"].values() for p in group]
    patterns = data["life_change"]
    for entry in [*places, *patterns]:
        assert isinstance(entry, str) and entry.strip() == entry and entry, repr(entry)
    assert 100 <= len(places) <= 300
    assert 30 <= len(patterns) <= 80
    for entries in (places, patterns):
        folded = [entry.casefold() for entry in entries]
        assert sorted(e for e in set(folded) if folded.count(e) > 1) == [], "duplicates"
        assert all(normalise(entry) for entry in entries), "an entry normalises to nothing"


# --- demo attendees ----------------------------------------------------------------------


def _demo_people() -> list[dict[str, Any]]:
    data = _load(CONTENT / "demo" / "attendees.yaml")
    assert set(data) == {"attendees", "late_arrival"}
    return [*data["attendees"], data["late_arrival"]]


def test_demo_attendees_are_valid_cards() -> None:
    """Demo people have unique ascii ids, known languages, and cards within the limits."""
    people = _demo_people()
    assert 14 <= len(people) - 1 <= 20
    ids = [p["id"] for p in people]
    assert len(set(ids)) == len(ids), "duplicate ids"
    for person in people:
        assert set(person) == {"id", "name", "languages", "curious_about", "can_tell_about"}
        assert re.fullmatch(r"[a-z][a-z0-9_]*", person["id"]), person["id"]
        assert 0 < len(person["name"]) <= MAX_NAME_CHARS
        assert person["languages"] and set(person["languages"]) <= set(LANGUAGES)
        for key in ("curious_about", "can_tell_about"):
            phrases = person[key]
            assert 3 <= len(phrases) <= min(6, MAX_PHRASES_PER_LIST), (person["id"], key)
            for phrase in phrases:
                assert isinstance(phrase, str) and 0 < len(phrase) <= MAX_PHRASE_CHARS


def test_demo_attendees_contain_the_stories_the_demo_shows() -> None:
    """The deliberate overlaps exist: Lisbon, Shanghai, bouldering, bees, a rare city."""

    def holders(phrase: str, lists: tuple[str, ...]) -> set[str]:
        return {
            p["id"]
            for p in _demo_people()
            for key in lists
            if normalise(phrase) in {normalise(x) for x in p[key]}
        }

    both = ("curious_about", "can_tell_about")
    assert len(holders("Lisbon", ("can_tell_about",))) >= 2
    assert holders("Shanghai", ("curious_about",)) and holders("Shanghai", ("can_tell_about",))
    assert len(holders("Bouldern", both)) >= 2
    assert len(holders("Imkerei", ("can_tell_about",))) >= 2
    assert len(holders("Ulaanbaatar", both)) == 2
    assert len(holders("travel", both)) >= 5
    names = [p["name"] for p in _demo_people()]
    assert any(not name.isascii() for name in names), "someone's name has an accent"
