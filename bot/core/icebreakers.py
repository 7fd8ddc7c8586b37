"""Icebreakers: a prompt deck per language, and choosing one from what a group shares.

The deck is content (``bot/content/<lang>/icebreakers.yaml``); this module only loads it,
picks a prompt that fits the group's strongest reason, and fills in the placeholders.
Pure: no I/O beyond reading the shipped content files, randomness only through the
``rng`` the caller passes (so a round can be replayed).
"""

from __future__ import annotations

import random
import re
import string
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import yaml

from bot.core.models import Group, MemberRef, Reason, ReasonKind
from bot.core.phrases import normalise

DEFAULT_LANGUAGE = "en"

PLACE = "place"
HOBBY = "hobby"
LIFE_CHANGE = "life_change"
COMPLEMENTARY = "complementary"
GENERIC = "generic"
KINDS = (PLACE, HOBBY, LIFE_CHANGE, COMPLEMENTARY, GENERIC)

# What each kind of prompt may mention. A generic prompt is chosen exactly when there is
# nothing to mention, so it may only address the group.
_TOPIC_PLACEHOLDERS = frozenset({"topic", "names"})
ALLOWED_PLACEHOLDERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        PLACE: _TOPIC_PLACEHOLDERS,
        HOBBY: _TOPIC_PLACEHOLDERS,
        LIFE_CHANGE: _TOPIC_PLACEHOLDERS,
        COMPLEMENTARY: frozenset({"topic", "teller", "asker", "names"}),
        GENERIC: frozenset({"names"}),
    }
)


class ContentError(ValueError):
    """A shipped content file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Prompt:
    id: str
    kind: str
    text: str


@dataclass(frozen=True)
class _Deck:
    language: str
    prompts: Mapping[str, Prompt]  # in file order, which keeps seeded choices stable
    names_separator: str
    names_last_separator: str

    def ids_of_kind(self, kind: str) -> list[str]:
        return [pid for pid, prompt in self.prompts.items() if prompt.kind == kind]


# --- loading ---------------------------------------------------------------------------


def _content_file(*parts: str) -> Any:
    return resources.files("bot.content").joinpath(*parts)


def _resolve_language(language: str) -> str:
    """``de``, ``de-AT`` and ``de_CH`` use the German deck; anything unknown uses English."""
    base = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
    if base.isascii() and base.isalpha() and _content_file(base, "icebreakers.yaml").is_file():
        return base
    return DEFAULT_LANGUAGE


def _field_names(template: str) -> list[str]:
    """Placeholders in a template; conversions (``!r``) and format specs are not allowed."""
    fields = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(f"{{{name}}} must be a plain placeholder, without ! or :")
        fields.append(name)
    return fields


def _parse_deck(language: str, data: Any) -> _Deck:
    where = f"{language}/icebreakers.yaml"
    if not isinstance(data, Mapping):
        raise ContentError(f"{where}: expected a mapping with 'meta' and 'prompts'")
    meta = data.get("meta")
    raw_prompts = data.get("prompts")
    if not isinstance(meta, Mapping):
        raise ContentError(f"{where}: meta is missing")
    if not isinstance(raw_prompts, Mapping) or not raw_prompts:
        raise ContentError(f"{where}: prompts is missing or empty")
    separators = {}
    for key in ("names_separator", "names_last_separator"):
        value = meta.get(key)
        if not isinstance(value, str) or not value:
            raise ContentError(f"{where}: meta.{key} must be a non-empty string")
        separators[key] = value

    prompts: dict[str, Prompt] = {}
    for pid, entry in raw_prompts.items():
        path = f"{where}: prompts.{pid}"
        if not isinstance(entry, Mapping):
            raise ContentError(f"{path} must be a mapping with kind and text")
        kind, text = entry.get("kind"), entry.get("text")
        if not isinstance(kind, str) or kind not in ALLOWED_PLACEHOLDERS:
            raise ContentError(f"{path}.kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if not isinstance(text, str) or not text.strip():
            raise ContentError(f"{path}.text must be a non-empty string")
        try:
            fields = _field_names(text)
        except ValueError as exc:
            raise ContentError(f"{path}.text: {exc}") from exc
        unknown = set(fields) - ALLOWED_PLACEHOLDERS[kind]
        if unknown:
            allowed = ", ".join(sorted(ALLOWED_PLACEHOLDERS[kind]))
            raise ContentError(
                f"{path}.text uses {', '.join(sorted(unknown))}; a {kind} prompt may use {allowed}"
            )
        prompts[str(pid)] = Prompt(id=str(pid), kind=kind, text=text)
    return _Deck(
        language=language,
        prompts=MappingProxyType(prompts),
        names_separator=separators["names_separator"],
        names_last_separator=separators["names_last_separator"],
    )


@cache
def _load_deck(language: str) -> _Deck:
    text = _content_file(language, "icebreakers.yaml").read_text(encoding="utf-8")
    return _parse_deck(language, yaml.safe_load(text))


def _deck(language: str) -> _Deck:
    return _load_deck(_resolve_language(language))


def deck(language: str) -> dict[str, Prompt]:
    """All prompts of a language by id (English for a language without a deck)."""
    return dict(_deck(language).prompts)


# --- what a topic is about -------------------------------------------------------------


def _plain(phrase: str) -> str:
    """Case and accents away, whitespace collapsed: "  Zürich " -> "zurich". No aliases."""
    decomposed = unicodedata.normalize("NFKD", phrase.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split())


@dataclass(frozen=True)
class _Patterns:
    places: re.Pattern[str]
    life_change: re.Pattern[str]


@dataclass(frozen=True)
class _Lexicon:
    # Two views of the same lexicon: the matching key (``phrases.normalise``: aliases, so
    # "NYC" is "new york" and "Ruhestand" is "retirement") only works for a whole phrase,
    # while the plain form finds a place inside a longer phrase ("Biergarten in München").
    keyed: _Patterns
    plain: _Patterns


def _alternation(forms: Collection[str], *, whole_word: bool) -> re.Pattern[str]:
    # Longest first, so "new york" wins over "york" and the match is the most specific.
    ordered = sorted(set(forms) - {""}, key=lambda form: (-len(form), form))
    if not ordered:
        return re.compile(r"(?!)")  # matches nothing
    body = "|".join(re.escape(form) for form in ordered)
    end = r"(?!\w)" if whole_word else ""
    return re.compile(rf"(?<!\w)(?:{body}){end}")


def _patterns(places: list[str], life: list[str], form: Callable[[str], str]) -> _Patterns:
    return _Patterns(
        places=_alternation([form(p) for p in places], whole_word=True),
        # A stem matches at the start of a word: "auswander" covers "auswandern".
        life_change=_alternation([form(p) for p in life], whole_word=False),
    )


@cache
def _lexicon() -> _Lexicon:
    data = yaml.safe_load(_content_file("topics.yaml").read_text(encoding="utf-8")) or {}
    places = [str(p) for group in (data.get("places") or {}).values() for p in group or ()]
    life = [str(p) for p in data.get("life_change") or ()]
    return _Lexicon(keyed=_patterns(places, life, normalise), plain=_patterns(places, life, _plain))


def topic_kind(phrase: str) -> str:
    """What a curiosity phrase is about: ``"place"``, ``"life_change"`` or ``"hobby"``.

    A life change is checked first, because "moving to Berlin" mentions a place but is
    about the move. Anything unknown is an interest, which every hobby prompt fits.
    """
    lexicon = _lexicon()
    views = ((lexicon.keyed, normalise(phrase)), (lexicon.plain, _plain(phrase)))
    if any(patterns.life_change.search(text) for patterns, text in views):
        return LIFE_CHANGE
    if any(patterns.places.search(text) for patterns, text in views):
        return PLACE
    return HOBBY


# --- rendering ---------------------------------------------------------------------------


def _display_name(key: str, names: Mapping[str, str]) -> str:
    name = names.get(key)
    if name:
        return name
    # Better a bare platform id than "platform:id" in a friendly sentence.
    return MemberRef.from_key(key).user_id or key


def _join_names(items: Sequence[str], deck: _Deck) -> str:
    if len(items) <= 1:
        return "".join(items)
    return deck.names_separator.join(items[:-1]) + deck.names_last_separator + items[-1]


def render(
    prompt: Prompt, group: Group, reason: Reason | None, names: Mapping[str, str], language: str
) -> str:
    """The prompt's text with the group's names and the reason's topic filled in.

    The topic is shown as the member wrote it. Values are substituted exactly once, so
    user text such as ``{teller}`` or ``**bold**`` appears literally; escaping for a
    platform's markup is the adapter's job.
    """
    deck = _deck(language)
    values: dict[str, str] = {
        "names": _join_names([_display_name(m, names) for m in group.members], deck)
    }
    if reason is not None:
        values["topic"] = reason.topic
        if reason.teller is not None:
            values["teller"] = _display_name(reason.teller, names)
        if reason.asker is not None:
            values["asker"] = _display_name(reason.asker, names)
    missing = set(_field_names(prompt.text)) - values.keys()
    if missing:
        raise ValueError(
            f"prompt {prompt.id} needs {', '.join(sorted(missing))}, which the reason lacks"
        )
    return prompt.text.format_map(values)


# --- choosing ----------------------------------------------------------------------------


def _kind_for(reason: Reason) -> str:
    if (
        reason.kind is ReasonKind.COMPLEMENTARY
        and reason.teller is not None
        and reason.asker is not None
    ):
        return COMPLEMENTARY
    return topic_kind(reason.topic)


def reason_for_prompt(group: Group, prompt: Prompt) -> Reason | None:
    """The reason ``choose_icebreaker`` renders ``prompt`` with, for rendering it again.

    The first (strongest) reason whose kind fits the prompt; ``None`` for a generic prompt
    or one that fits none of the group's reasons. Lets a caller store only the prompt id
    and render the same text later, in each member's language.
    """
    if prompt.kind == GENERIC:
        return None
    return next((r for r in group.reasons if _kind_for(r) == prompt.kind), None)


def _least_recently_used(ids: Sequence[str], used: Collection[str], rng: random.Random) -> str:
    """Among prompts that were all used, the one used longest ago when ``used`` has an order."""
    if isinstance(used, Sequence) and not isinstance(used, str):
        last_use = {pid: index for index, pid in enumerate(used)}
        return min(ids, key=lambda pid: last_use.get(pid, -1))
    return rng.choice(list(ids))


def choose_icebreaker(
    group: Group,
    names: Mapping[str, str],
    *,
    language: str,
    used: Collection[str],
    rng: random.Random,
) -> tuple[str, str]:
    """Pick a prompt for ``group`` and render it: ``(prompt_id, text)``.

    The strongest reason comes first (``group.reasons`` is sorted most specific first):
    a complementary reason gets a complementary prompt naming teller and asker; a shared
    one gets a prompt for what its topic is about. A prompt in ``used`` (what this exact
    group already got) is never repeated while another fits: first the other reasons of
    the group are tried, then the generic prompts. Only when every one of those was used
    is one reused — for the strongest reason, the one used longest ago if ``used`` is a
    sequence in the order of use (oldest first), otherwise a random one.
    """
    deck = _deck(language)
    options: list[tuple[str, Reason | None]] = [(_kind_for(r), r) for r in group.reasons]
    options.append((GENERIC, None))
    seen = set(used)

    for kind, reason in options:
        fresh = [pid for pid in deck.ids_of_kind(kind) if pid not in seen]
        if fresh:
            pid = rng.choice(fresh)
            return pid, render(deck.prompts[pid], group, reason, names, deck.language)

    for kind, reason in options:
        ids = deck.ids_of_kind(kind)
        if ids:
            pid = _least_recently_used(ids, used, rng)
            return pid, render(deck.prompts[pid], group, reason, names, deck.language)
    raise ContentError(f"{deck.language}/icebreakers.yaml has no {GENERIC} prompts")
