"""Copy as content: full sentences with named placeholders, per language.

Every ``bot/content/<lang>/*.yaml`` file is a mapping; nested keys are joined with dots and
prefixed with the file's stem, so ``messages.yaml``'s ``card: {saved: ...}`` is
``messages.card.saved``. The locale is set per community (a ContextVar) before a use case runs,
so the code never passes a language through every call.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib import resources
from typing import Any

import yaml

from bot.core.models import LANGUAGES

DEFAULT_LANGUAGE = "en"
_locale: ContextVar[str] = ContextVar("funkel_locale", default=DEFAULT_LANGUAGE)
# How users type commands on the current platform ("" in the console, "!funkel " on Matrix);
# every template may use {prefix} so copy shows the exact thing to type.
_prefix: ContextVar[str] = ContextVar("funkel_command_prefix", default="")

# Files in a language folder that are not message catalogs.
_NOT_CATALOGS = frozenset({"icebreakers"})


class MissingCopy(KeyError):
    """A message key is absent in every language: a bug, caught by the content tests."""


def _flatten(prefix: str, node: Any, out: dict[str, str]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    elif isinstance(node, str):
        out[prefix] = node
    elif isinstance(node, list):
        # Lists of strings are joined as lines (e.g. multi-line help).
        out[prefix] = "\n".join(str(item) for item in node)
    else:
        out[prefix] = str(node)


@cache
def catalog(language: str) -> dict[str, str]:
    """All message keys of one language, flattened."""
    out: dict[str, str] = {}
    folder = resources.files("bot.content").joinpath(language)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        name = entry.name
        if not name.endswith(".yaml"):
            continue
        stem = name.removesuffix(".yaml")
        if stem in _NOT_CATALOGS:
            continue
        data = yaml.safe_load(entry.read_text(encoding="utf-8")) or {}
        _flatten(stem, data, out)
    return out


def placeholders(template: str) -> set[str]:
    """Named placeholders in a template (``{name}``)."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def current_language() -> str:
    return _locale.get()


@contextmanager
def use_language(language: str | None) -> Iterator[None]:
    """Run a block with messages in ``language`` (falls back to English if unknown)."""
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    token = _locale.set(lang)
    try:
        yield
    finally:
        _locale.reset(token)


@contextmanager
def use_prefix(prefix: str) -> Iterator[None]:
    """Show commands in copy with the platform's prefix (set by the adapter's entry point)."""
    token = _prefix.set(prefix)
    try:
        yield
    finally:
        _prefix.reset(token)


def t(key: str, /, **params: object) -> str:
    """The message ``key`` in the current language, with placeholders filled.

    Missing keys fall back to English so a half-translated catalog never breaks a reply.
    """
    lang = _locale.get()
    template = _lookup(catalog(lang), key, params)
    if template is None:
        template = _lookup(catalog(DEFAULT_LANGUAGE), key, params)
    if template is None:
        raise MissingCopy(key)
    values = _Params(params)
    values.setdefault("prefix", _prefix.get())
    return template.format_map(values)


def t_in(language: str | None, key: str, /, **params: object) -> str:
    """Like ``t`` but for an explicit language (e.g. a DM in the recipient's language)."""
    with use_language(language):
        return t(key, **params)


def _lookup(messages: Mapping[str, str], key: str, params: Mapping[str, object]) -> str | None:
    """The template for ``key``; for a plural message (``key.one`` / ``key.other``) the form
    that fits ``params["count"]``. English and German share the rule: one is 1, else other."""
    if key in messages:
        return messages[key]
    count = params.get("count")
    form = "one" if count == 1 else "other"
    return messages.get(f"{key}.{form}")


class _Params(dict[str, object]):
    """Formatting values; a missing one shows as ``{name}`` rather than raising mid-reply."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
