"""Which tracked shows an article is about: keywords, excludes and require_any, whole words only."""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from feedwatch.config import ShowSettings
from feedwatch.models import Article, ShowMatch
from feedwatch.text import normalize

_WORD_CHAR = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class _Phrases:
    """Any of some phrases, as whole words, in normalised text."""

    folded: tuple[str, ...]
    pattern: re.Pattern[str]
    configured: dict[str, str]  # folded form -> the phrase as configured (the first one)

    @classmethod
    def compile(cls, phrases: Sequence[str]) -> _Phrases:
        # ShowSettings has refused every phrase that normalises to nothing.
        folded = tuple(normalize(phrase) for phrase in phrases)
        configured: dict[str, str] = {}
        for text, phrase in zip(folded, phrases, strict=True):
            configured.setdefault(text, phrase)
        alternatives = []
        for text in folded:
            # Lookarounds on \w rather than \b: "M*A*S*H", "9-1-1" and "Agents of S.H.I.E.L.D."
            # begin or end with a character \b would misjudge. An apostrophe is not \w, so
            # possessives ("Daredevil's", "Jones'") still match.
            head = r"(?<!\w)" if _WORD_CHAR.match(text[0]) else ""
            tail = r"(?!\w)" if _WORD_CHAR.match(text[-1]) else ""
            alternatives.append(head + re.escape(text) + tail)
        return cls(folded, re.compile("|".join(alternatives)), configured)

    def find(self, text: str) -> str | None:
        """The configured phrase found first in `text`, else None."""
        # Most articles contain none of a show's phrases, and a substring test says so many
        # times faster than the regex, which has to try its lookbehind at every position.
        if not any(phrase in text for phrase in self.folded):
            return None
        found = self.pattern.search(text)
        return None if found is None else self.configured[found.group()]


class Verdict(enum.Enum):
    """Why a show matches an article or does not."""

    MATCHED = "matched"
    NO_KEYWORD = "no keyword"  # none of its keywords occurs
    EXCLUDED = "excluded"  # a keyword occurs, and so does an exclude phrase
    NO_CONTEXT = "no context"  # a keyword occurs, but none of its require_any phrases


@dataclass(frozen=True, slots=True)
class Explanation:
    """One show's verdict on one article, with the configured phrases that decided it."""

    show: str
    verdict: Verdict
    keyword: str | None = None  # the keyword found first; None with NO_KEYWORD
    # EXCLUDED: the exclude phrase found. NO_CONTEXT: every require_any phrase, none of which
    # occurs. MATCHED: the require_any phrase found, when the show has some.
    phrases: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return self.verdict is Verdict.MATCHED


@dataclass(frozen=True, slots=True)
class _Show:
    name: str
    keywords: _Phrases
    exclude: _Phrases | None
    require_any: _Phrases | None
    # The verdict on nearly every article, made once: matching builds no record for it.
    no_keyword: Explanation

    def explain(self, text: str) -> Explanation:
        """The one place a show's rules are applied: match() only reads its verdict."""
        keyword = self.keywords.find(text)
        if keyword is None:
            return self.no_keyword
        vetoed = None if self.exclude is None else self.exclude.find(text)
        if vetoed is not None:
            return Explanation(self.name, Verdict.EXCLUDED, keyword, (vetoed,))
        if self.require_any is None:
            return Explanation(self.name, Verdict.MATCHED, keyword)
        context = self.require_any.find(text)
        if context is None:
            looked_for = tuple(self.require_any.configured.values())
            return Explanation(self.name, Verdict.NO_CONTEXT, keyword, looked_for)
        return Explanation(self.name, Verdict.MATCHED, keyword, (context,))

    def match(self, text: str) -> ShowMatch | None:
        explained = self.explain(text)
        return ShowMatch(self.name, explained.keyword) if explained.matched else None


def fingerprint(shows: Sequence[ShowSettings]) -> str:
    """Changes whenever what decides a match does: any show's name, keywords, exclude or
    require_any, or the order shows are listed in."""
    dumped = "\n".join(show.model_dump_json() for show in shows)
    return hashlib.sha256(dumped.encode()).hexdigest()


class Matcher:
    """Decides which configured shows an article mentions. Build once, reuse for every article."""

    def __init__(self, shows: Sequence[ShowSettings]) -> None:
        self._shows = tuple(
            _Show(
                name=show.name,
                keywords=_Phrases.compile(show.keywords),
                exclude=_Phrases.compile(show.exclude) if show.exclude else None,
                require_any=_Phrases.compile(show.require_any) if show.require_any else None,
                no_keyword=Explanation(show.name, Verdict.NO_KEYWORD),
            )
            for show in shows
        )

    def match(self, article: Article) -> tuple[ShowMatch, ...]:
        """The shows the article is about, in config order, each with the phrase found."""
        text = _matched_text(article)
        found = (show.match(text) for show in self._shows)
        return tuple(match for match in found if match is not None)

    def explain(self, article: Article) -> tuple[Explanation, ...]:
        """Every configured show, in config order, with why it matches the article or not.

        Its verdicts are match()'s: the shows MATCHED are exactly those match() gives.
        """
        text = _matched_text(article)
        return tuple(show.explain(text) for show in self._shows)


def _matched_text(article: Article) -> str:
    """The article's fields in the form phrases are searched in."""
    # Normalised text has no newlines and neither has any phrase, so joining the fields
    # with one keeps a phrase from matching across two of them.
    fields = (article.title, article.summary, article.body, *article.tags)
    return "\n".join(normalize(field) for field in fields)
