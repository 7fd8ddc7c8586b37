"""Choosing and rendering icebreakers from what a group shares."""

from __future__ import annotations

import random

import pytest

from bot.core.icebreakers import (
    Prompt,
    choose_icebreaker,
    deck,
    reason_for_prompt,
    render,
    topic_kind,
)
from bot.core.models import Group, GroupFlag, Reason, ReasonKind

ANNA, BEN, CEM = "discord:1", "discord:2", "discord:3"
NAMES = {ANNA: "Anna", BEN: "Ben", CEM: "Cem"}


def _shared(topic: str) -> Reason:
    return Reason(ReasonKind.SHARED, topic)


def _told(topic: str, teller: str = ANNA, asker: str = BEN) -> Reason:
    return Reason(ReasonKind.COMPLEMENTARY, topic, teller=teller, asker=asker)


def _choose(
    group: Group, *, language: str = "en", used: list[str] | None = None, seed: int = 7
) -> tuple[str, str]:
    return choose_icebreaker(
        group, NAMES, language=language, used=used or [], rng=random.Random(seed)
    )


@pytest.mark.parametrize(
    ("phrase", "kind"),
    [
        ("Lisbon", "place"),
        ("Lissabon", "place"),
        ("  zürich ", "place"),
        ("Shanghai in the 80s", "place"),
        ("New York", "place"),
        ("NYC", "place"),
        ("Biergarten in München", "place"),
        ("Auswandern", "life_change"),
        ("moving to Berlin", "life_change"),
        ("becoming a parent", "life_change"),
        ("Eltern werden", "life_change"),
        ("Ruhestand", "life_change"),
        ("ausgewandert nach Kanada", "life_change"),
        ("bouldering", "hobby"),
        ("Imkerei", "hobby"),
        ("Romania cuisine", "hobby"),
        ("Rentiere in Lappland", "place"),
    ],
)
def test_topic_kind_tells_places_and_life_changes_from_interests(phrase: str, kind: str) -> None:
    """A phrase is classified as a place, a life change, or (by default) an interest."""
    assert topic_kind(phrase) == kind


def test_a_shared_city_gets_a_place_prompt_that_mentions_the_city() -> None:
    """Two people who both love Lisbon get a place prompt about Lisbon."""
    for seed in range(10):
        pid, text = _choose(Group((ANNA, BEN), (_shared("Lisbon"),)), seed=seed)
        assert deck("en")[pid].kind == "place"
        assert "Lisbon" in text


def test_a_shared_life_change_gets_a_life_change_prompt() -> None:
    """A shared "becoming a parent" gets a gentle life-change prompt mentioning it."""
    pid, text = _choose(Group((ANNA, BEN), (_shared("becoming a parent"),)))
    assert deck("en")[pid].kind == "life_change"
    assert "becoming a parent" in text


def test_a_shared_hobby_gets_a_hobby_prompt() -> None:
    """A shared interest the lexicon does not know is treated as a hobby."""
    pid, text = _choose(Group((ANNA, BEN), (_shared("beekeeping"),)))
    assert deck("en")[pid].kind == "hobby"
    assert "beekeeping" in text


def test_a_complementary_reason_names_the_teller_and_the_asker() -> None:
    """When Anna can tell about Shanghai and Ben is curious, the prompt names both."""
    for seed in range(10):
        group = Group((BEN, ANNA), (_told("Shanghai"), _shared("travel")))
        pid, text = _choose(group, seed=seed)
        assert deck("en")[pid].kind == "complementary"
        assert "Anna" in text and "Ben" in text and "Shanghai" in text


def test_the_strongest_reason_comes_first() -> None:
    """The first reason (most specific) decides the prompt while it has fresh prompts."""
    group = Group((ANNA, BEN), (_shared("Ulaanbaatar"), _shared("travel")))
    _, text = _choose(group)
    assert "Ulaanbaatar" in text


def test_a_group_never_gets_the_same_prompt_twice() -> None:
    """Choosing again and again for one group never repeats a prompt until all are used."""
    group = Group((ANNA, BEN, CEM), (_told("Shanghai"), _shared("Lisbon")))
    fitting = {
        pid for pid, p in deck("en").items() if p.kind in {"complementary", "place", "generic"}
    }
    rng = random.Random(3)
    used: list[str] = []
    for _ in range(len(fitting)):
        pid, _ = choose_icebreaker(group, NAMES, language="en", used=used, rng=rng)
        assert pid not in used
        used.append(pid)
    assert set(used) == fitting


def test_other_reasons_are_tried_before_generic_prompts() -> None:
    """Once every prompt for the first reason was used, the next reason gets a turn."""
    group = Group((ANNA, BEN), (_shared("Lisbon"), _shared("bouldering")))
    used = [pid for pid, p in deck("en").items() if p.kind == "place"]
    pid, text = _choose(group, used=used)
    assert deck("en")[pid].kind == "hobby"
    assert "bouldering" in text


def test_generic_prompts_come_after_every_reason_is_used_up() -> None:
    """When all topic prompts were used, the group gets a fresh generic prompt."""
    group = Group((ANNA, BEN), (_shared("Lisbon"),))
    used = [pid for pid, p in deck("en").items() if p.kind == "place"]
    pid, _ = _choose(group, used=used)
    assert deck("en")[pid].kind == "generic"


def test_when_everything_was_used_the_oldest_prompt_for_the_best_reason_returns() -> None:
    """With literally everything used, the prompt used longest ago is reused."""
    group = Group((ANNA, BEN), (_shared("Lisbon"),))
    places = [pid for pid, p in deck("en").items() if p.kind == "place"]
    generics = [pid for pid, p in deck("en").items() if p.kind == "generic"]
    used = [*places[3:], *generics, *places[:3]]  # places[3] is the oldest use
    pid, text = _choose(group, used=used)
    assert pid == places[3]
    assert "Lisbon" in text


def test_a_group_without_reasons_gets_a_generic_prompt() -> None:
    """A fallback group that shares nothing gets a gentle generic prompt."""
    group = Group((ANNA, BEN), (), frozenset({GroupFlag.NOTHING_SHARED}))
    for seed in range(10):
        pid, text = _choose(group, seed=seed)
        assert deck("en")[pid].kind == "generic"
        assert "{" not in text


def test_the_same_seed_gives_the_same_prompt() -> None:
    """Choosing is reproducible: the same seed picks the same prompt."""
    group = Group((ANNA, BEN), (_shared("Lisbon"),))
    assert _choose(group, seed=42) == _choose(group, seed=42)


@pytest.mark.parametrize("topic", ["{teller}", "**x**", "{0}", "{names!r:>9}", "{{}}"])
def test_user_text_in_a_topic_appears_literally(topic: str) -> None:
    """A topic with braces or markdown is shown exactly as written, never formatted again."""
    for kind_reason in (_shared(topic), _told(topic)):
        _, text = _choose(Group((ANNA, BEN), (kind_reason,)))
        assert topic in text


def test_names_with_braces_appear_literally() -> None:
    """A display name such as "{asker}" is not mistaken for a placeholder."""
    names = {ANNA: "{asker}", BEN: "Ben"}
    group = Group((ANNA, BEN), (_told("Shanghai"),))
    _, text = choose_icebreaker(group, names, language="en", used=[], rng=random.Random(1))
    assert "{asker}" in text and "Ben" in text


def test_german_groups_get_the_german_deck() -> None:
    """For language "de" the prompt is German and the names are joined with "und"."""
    prompt = deck("de")["generic.5"]
    group = Group((ANNA, BEN, CEM))
    assert render(prompt, group, None, NAMES, "de").startswith("Anna, Ben und Cem:")
    pid, text = _choose(Group((ANNA, BEN), (_shared("Lissabon"),)), language="de")
    assert text == deck("de")[pid].text.replace("{topic}", "Lissabon")
    assert "„Lissabon“" in text


def test_english_names_are_joined_with_and() -> None:
    """{names} reads "Anna and Ben" for a pair and "Anna, Ben and Cem" for a trio."""
    prompt = Prompt("generic.x", "generic", "{names}")
    assert render(prompt, Group((ANNA, BEN)), None, NAMES, "en") == "Anna and Ben"
    assert render(prompt, Group((ANNA, BEN, CEM)), None, NAMES, "en") == "Anna, Ben and Cem"


def test_an_unknown_language_falls_back_to_english() -> None:
    """A language without a deck uses the English prompts; a regional variant its base."""
    assert deck("fr") == deck("en")
    assert deck("de-AT") == deck("de")
    assert deck("../en") == deck("en")


def test_a_member_without_a_display_name_is_shown_by_their_platform_id() -> None:
    """A missing display name falls back to the user id, not "platform:id"."""
    prompt = Prompt("generic.x", "generic", "{names}")
    assert render(prompt, Group((ANNA, "matrix:@dee:example.org")), None, NAMES, "en") == (
        "Anna and @dee:example.org"
    )


def test_rendering_a_prompt_without_what_it_needs_is_an_error() -> None:
    """A topic prompt rendered without a reason fails loudly instead of showing "{topic}"."""
    with pytest.raises(ValueError, match="topic"):
        render(deck("en")["place.1"], Group((ANNA, BEN)), None, NAMES, "en")


def test_the_chosen_prompt_can_be_rendered_again_from_its_id_in_another_language() -> None:
    """reason_for_prompt finds the reason a prompt was chosen for, so each member's DM matches."""
    group = Group((ANNA, BEN), (_shared("Lisbon"), _shared("bouldering"), _told("Shanghai")))
    used = [pid for pid, p in deck("en").items() if p.kind == "place"]
    pid, text = _choose(group, used=used)
    reason = reason_for_prompt(group, deck("en")[pid])
    assert reason is not None and reason.topic == "bouldering"
    assert render(deck("en")[pid], group, reason, NAMES, "en") == text
    german = render(deck("de")[pid], group, reason, NAMES, "de")
    assert "„bouldering“" in german
    assert reason_for_prompt(group, deck("en")["generic.1"]) is None
