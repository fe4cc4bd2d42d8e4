"""Which tracked shows an article is about: keywords, excludes and require_any, whole words only."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from feedwatch.config import ShowSettings
from feedwatch.models import Article
from feedwatch.text import normalize

_WORD_CHAR = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class _Phrases:
    """Any of some phrases, as whole words, in normalised text."""

    folded: tuple[str, ...]
    pattern: re.Pattern[str]

    @classmethod
    def compile(cls, phrases: Sequence[str]) -> _Phrases:
        # ShowSettings has refused every phrase that normalises to nothing.
        folded = tuple(normalize(phrase) for phrase in phrases)
        alternatives = []
        for text in folded:
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
                keywords=_Phrases.compile(show.keywords),
                exclude=_Phrases.compile(show.exclude) if show.exclude else None,
                require_any=_Phrases.compile(show.require_any) if show.require_any else None,
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
