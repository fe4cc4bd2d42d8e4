"""Which tracked shows an article is about: keywords, excludes and require_any, whole words only."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from feedwatch.config import ShowSettings
from feedwatch.errors import ConfigError
from feedwatch.models import Article
from feedwatch.text import INVISIBLE

_APOSTROPHES = "\u2019\u2018\u201a\u201b\u2032\u0060\u00b4\u02bc\u02b9\u2039\u203a\uff07"
_QUOTES = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\uff02"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
# Applied before NFKD, which would turn the acute accent U+00B4 into a space plus a combining
# accent, and "™" into "TM" ("Marvel™" must still match "Marvel").
_TYPOGRAPHY = str.maketrans(
    dict.fromkeys(_APOSTROPHES, "'")
    | dict.fromkeys(_QUOTES, '"')
    | dict.fromkeys(_DASHES, "-")
    | dict.fromkeys("\u2122\u2120", " ")
    | dict.fromkeys(INVISIBLE)
)
# Only these runs need Unicode work; plain ASCII (nearly all of an English article) skips it.
_SPECIAL = re.compile(r"[^\x00-\x5f\x61-\x7f]+")  # non-ASCII, or the backtick
_WORD_CHAR = re.compile(r"\w")


def _fold(match: re.Match[str]) -> str:
    # Casefold after NFKD, which turns fullwidth capitals into ASCII ones; drop accents last,
    # as casefold can add some ("İ" -> "i" plus a combining dot).
    run = unicodedata.normalize("NFKD", match.group().translate(_TYPOGRAPHY)).casefold()
    if run.isascii():
        return run
    return "".join(char for char in run if not unicodedata.combining(char))


def normalize(text: str) -> str:
    """The form every phrase and every article is compared in.

    Case and accents are ignored, each whitespace run is one space, typographic apostrophes,
    quotes and dashes are the plain ASCII ones.
    """
    return " ".join(_SPECIAL.sub(_fold, text).casefold().split())


@dataclass(frozen=True, slots=True)
class _Phrases:
    """Any of some phrases, as whole words, in normalised text."""

    folded: tuple[str, ...]
    pattern: re.Pattern[str]

    @classmethod
    def compile(cls, show: str, phrases: Sequence[str]) -> _Phrases:
        folded = tuple(normalize(phrase) for phrase in phrases)
        alternatives = []
        for phrase, text in zip(phrases, folded, strict=True):
            if not text:
                raise ConfigError(f"shows: {show}: {phrase!r} has nothing that can be matched")
            # Lookarounds on \w rather than \b: "M*A*S*H", "9-1-1" and "Agents of S.H.I.E.L.D."
            # begin or end with a character \b would misjudge. An apostrophe is not \w, so
            # possessives ("Daredevil's", "Jones'") still match.
            head = r"(?<!\w)" if _WORD_CHAR.match(text[0]) else ""
            tail = r"(?!\w)" if _WORD_CHAR.match(text[-1]) else ""
            alternatives.append(head + re.escape(text) + tail)
        return cls(folded, re.compile("|".join(alternatives)))

    def found_in(self, text: str) -> bool:
        # Most articles contain none of a show's phrases, and a substring test says so many
        # times faster than the regex, which has to try its lookbehind at every position.
        return any(phrase in text for phrase in self.folded) and bool(self.pattern.search(text))


@dataclass(frozen=True, slots=True)
class _Show:
    name: str
    keywords: _Phrases
    exclude: _Phrases | None
    require_any: _Phrases | None

    def matches(self, text: str) -> bool:
        return (
            self.keywords.found_in(text)
            and (self.exclude is None or not self.exclude.found_in(text))
            and (self.require_any is None or self.require_any.found_in(text))
        )


class Matcher:
    """Decides which configured shows an article mentions. Build once, reuse for every article."""

    def __init__(self, shows: Sequence[ShowSettings]) -> None:
        self._shows = tuple(
            _Show(
                name=show.name,
                keywords=_Phrases.compile(show.name, show.keywords),
                exclude=_Phrases.compile(show.name, show.exclude) if show.exclude else None,
                require_any=(
                    _Phrases.compile(show.name, show.require_any) if show.require_any else None
                ),
            )
            for show in shows
        )

    def match(self, article: Article) -> tuple[str, ...]:
        """Names of the shows the article is about, in config order."""
        # Normalised text has no newlines and neither has any phrase, so joining the fields
        # with one keeps a phrase from matching across two of them.
        fields = (article.title, article.summary, article.body)
        text = "\n".join(normalize(field) for field in fields)
        return tuple(show.name for show in self._shows if show.matches(text))
