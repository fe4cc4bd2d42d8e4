"""Story clustering: articles about one event, from any feeds, form one story.

Online and deterministic: each article joins the nearest story that has an article within
`window` of its publish time, or starts a new one; a story's id is its first article's id.

An article is a bag of weighted terms: its title's words (words of names and quoted titles weigh
more, words every TV story has weigh less), pairs of adjacent title words, the words of its URL's
path and of the lead of its text, without the words naming its outlet. Terms are weighted by
rarity (tf-idf) over the articles in the window, so what everyone writes about this week counts
for little. The nearest story is the one whose centroid is nearest by cosine; it is joined when
that is at least JOIN_SIMILARITY, the two share enough telling words (_MIN_SHARED) and, for a
story only the article's own outlet has reported, twice that similarity (one outlet's articles on
one subject are usually different events). An article with text (more than its title) must also
show evidence of one event: two names in common, or one and more words of the opening, or a
near-identical title (_Evidence); in a window of a few articles about the same shows rarity
cannot tell the show's name from the event's. The same normalised title or URL joins at once.
Publish times only bound the window, never add similarity: an event is reported for days, and
unrelated news breaks at the same hour.

Pure: no I/O. State is the stories inside the window; older ones are evicted as time moves on.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from heapq import heappop, heappush
from itertools import pairwise

from feedwatch.errors import StoryError
from feedwatch.models import DigestItem, ShowMatch, Source, StoredStory, StoryArticle, StoryMember
from feedwatch.text import normalize
from feedwatch.urls import canonical_url, http_host

DEFAULT_WINDOW = timedelta(days=3)
# Chosen on the business and technology headlines of bench/stories.py (health is held out),
# in publish and shuffled orders: 0.05 scores a little higher there but lumps a week of one
# subject ("Germany", "the Winter Olympics") into one story in real general-news feeds.
JOIN_SIMILARITY = 0.08
# Words neither generic nor stop words that an article with text must share with a story to
# join it: a show's name and "season" alone do not make a casting and a renewal one event, and
# an article about the same event names more (the actor, the showrunner). A bare headline has
# a handful of words, and one rare word in common ("Titanfall") is most of what it can show.
_MIN_SHARED = 2
_MIN_SHARED_HEADLINE = 1
_SAME_OUTLET = 0.5  # similarity counted towards a story only the article's outlet reported
_ENTITY_WEIGHT = 1.6  # a word inside a name or a quoted title
_PAIR_WEIGHT = 0.7  # two adjacent title words: "jessica jones" beside "jessica", "jones"
_URL_WEIGHT = 0.8  # a word of the URL's path that the title does not have
_TEXT_WEIGHT = 0.3  # a word of the text's lead that the title does not have
_GENERIC_WEIGHT = 0.3  # see _GENERIC
_LEAD_WORDS = 80  # the text beyond its lead says more about the outlet than the event
# Until this many articles are in the window every word looks rare; pretend there are more.
_PRIOR_DOCUMENTS = 20
# What an article with text must share with a story, besides similarity, to join it: this many
# names (an actor, a character, a place, the show), or a title this near one of the story's
# (Jaccard of their telling words). In a window of a few articles, all about the tracked
# shows, rarity cannot tell that the show's name is common: two reports of one show's
# different news share its name and words like "return" or "season", while two reports of one
# casting also share the actor's name.
_MIN_NAMES = 2
_MIN_OPENING = 2  # with one shared name: "cancelled", "two" in "cancelled after two seasons"
_SAME_TITLE = 0.5
# The same for a story only the article's outlet reported: its series of articles have titles
# that differ in a word or two ("Things to do in London: Monday 26 June", "Tuesday 27 June").
_SAME_TITLE_ALONE = 0.8

# fmt: off
_STOPWORDS = frozenset({
    "a", "about", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "between", "both", "but", "by",
    "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him",
    "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "me", "more", "most",
    "my", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our",
    "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too",
    "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "you", "your", "via", "vs", "amid",
    "says", "said", "say", "new", "news", "report", "reports", "update", "updates", "video",
    "photos", "watch", "here's", "what's", "how's", "why's", "http", "https", "www",
    "com", "html", "htm", "php", "asp", "aspx", "index", "story", "article", "articles",
})
# Words every entertainment story has; they weigh little and do not count as shared.
_GENERIC = frozenset({
    "season", "series", "episode", "show", "tv", "television", "network", "streamer",
    "streaming", "netflix", "hbo", "hulu", "marvel", "fx", "amc", "cw", "showtime", "starz",
})
# Months and weekdays: two reports "on Monday" or "in December" are not one event for it.
_CALENDAR = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday",
})
# Where a show streams or airs, and who makes it: every show on Disney+ names it, so it says
# nothing as a name (as a word, "Apple" or "Fox" may well be business news: see _GENERIC).
_PLATFORMS = frozenset({
    "disney", "prime", "amazon", "apple", "peacock", "paramount", "max", "cbs", "abc", "nbc",
    "fox", "bbc", "itv", "channel", "studio", "entertainment", "original",
})
# fmt: on
_INVARIANT = frozenset({"series", "species"})  # plural-looking singulars
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# A run of capitalised words ("Charlie Cox", "Marvel's Daredevil"), joined by "of"/"the"/"&".
_NAME_RUN = re.compile(
    r"(?:[A-Z][\w'\u2019.&-]*|[0-9]+)(?:\s+(?:(?:of|the|and|&|de|van|von)\s+)?"
    r"(?:[A-Z][\w'\u2019.&-]*|[0-9]+))*"
)
# The same, each name within one sentence: "Daredevil. Showrunner Erik Oleson" is two, and
# "Daredevil: Born Again" one. A name run stops at "and": "Luke Cage and Iron Fist" is two.
_NAME = re.compile(
    r"(?:[A-Z][\w'\u2019&-]*|[0-9]+)(?::?\s+(?:(?:of|the|&|de|van|von)\s+)?"
    r"(?:[A-Z][\w'\u2019&-]*|[0-9]+))*"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_QUOTED = re.compile(
    r"[\"\u201c\u201d\u2018\u2019']([^\"\u201c\u201d\u2018\u2019']{2,60})"
    r"[\"\u201c\u201d\u2018\u2019']"
)
_CAPITALISED = re.compile(r"\b[A-Z]")
_PATH_WORD = re.compile(r"[a-z]+")


@dataclass(slots=True)
class _Story:
    id: str
    order: int  # creation order: of equally near stories the oldest wins
    size: int = 0
    centroid: dict[str, float] = field(default_factory=dict)
    norm2: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)  # articles holding each term
    times: list[datetime] = field(default_factory=list)  # sorted
    latest: datetime | None = None  # its latest publish time, else the clock when it grew
    keys: list[str] = field(default_factory=list)  # exact titles and URLs
    sources: dict[str | None, None] = field(default_factory=dict)  # its outlets; None: unknown
    names: set[str] = field(default_factory=set)  # _names of its articles
    opening: set[str] = field(default_factory=set)  # their _Evidence.opening
    titles: list[frozenset[str]] = field(default_factory=list)  # their _Evidence.title


class Clusterer:
    """Assigns articles, one at a time, to stories; see the module docstring."""

    def __init__(self, window: timedelta = DEFAULT_WINDOW) -> None:
        if window <= timedelta(0):
            raise StoryError(f"the window must be positive, not {window}")
        self.window = window
        self._stories: dict[str, _Story] = {}  # in order of creation: ties go to the oldest
        self._postings: dict[str, dict[str, None]] = defaultdict(dict)  # term -> story ids
        self._frequency: dict[str, int] = defaultdict(int)  # term -> articles in the window
        self._articles = 0
        self._exact: dict[str, str] = {}  # normalised title or URL -> story id
        self._clock: datetime | None = None  # the latest publish time seen
        self._created = 0
        # (latest, order, story id) for every time a story's `latest` moved; stale ones skipped.
        self._expiry: list[tuple[datetime, int, str]] = []
        self._unstamped: list[_Story] = []  # stories of undated articles, before any clock
        # (publish time, order, story id) of every dated article of the stories, sorted: the
        # stories an article can join, when they are fewer than those sharing its terms. They
        # are when articles come out of publish order (a feed lists its newest first): the
        # clock is soon at the newest, and stories of months ago stay until it moves on.
        self._dated: list[tuple[datetime, int, str]] = []
        self._undated: dict[str, None] = {}  # stories of undated articles only: in any window

    def __len__(self) -> int:
        """How many stories are in the window."""
        return len(self._stories)

    def add(self, article: StoryArticle) -> str:
        """The id of the story `article` joined, or its own id when it starts one."""
        published = article.published
        if published is not None and published.utcoffset() is None:
            raise StoryError(f"{article.id}: publish time {published} has no time zone")
        if published is not None and (self._clock is None or published > self._clock):
            self._advance(published)
        terms = _terms(article)
        keys = _keys(article)
        evidence = _evidence(article)
        headline = not _has_text(article)
        source = _outlet(article)
        story = (
            self._stories.get(article.id)  # the same article again
            or self._exact_match(keys, published)
            or self._nearest(terms, published, evidence, headline, source)
        )
        if story is None:
            self._created += 1
            story = _Story(article.id, self._created)
            self._stories[article.id] = story
        self._grow(story, terms, keys, published)
        story.sources[source] = None
        story.names |= evidence.names
        story.opening |= evidence.opening
        story.titles.append(evidence.title)
        return story.id

    def _exact_match(self, keys: list[str], published: datetime | None) -> _Story | None:
        for key in keys:
            story = self._stories.get(self._exact.get(key, ""))
            if story is not None and self._in_window(story, published):
                return story
        return None

    def _nearest(
        self,
        terms: dict[str, float],
        published: datetime | None,
        evidence: _Evidence,
        headline: bool,
        source: str | None,
    ) -> _Story | None:
        needed = _MIN_SHARED_HEADLINE if headline else _MIN_SHARED
        vector = self._weighted(terms)
        if not vector:
            return None
        # The best is the nearest by (score, age): the same whatever order stories are seen in.
        best, best_score = None, JOIN_SIMILARITY
        for story, dot, shared in self._overlaps(vector, published):
            if shared < needed:
                continue
            score = dot / math.sqrt(story.norm2)
            alone = source is not None and len(story.sources) == 1 and source in story.sources
            if alone:
                score *= _SAME_OUTLET
            better = score > best_score or (
                score == best_score and best is not None and story.order < best.order
            )
            # A bare headline has too few words to name much: rarity alone judges it (the same
            # gate for headlines in windows of under 20 articles scored lower on b and t).
            if (
                better
                and self._in_window(story, published)
                and (headline or evidence.of(story, alone))
            ):
                best, best_score = story, score
        return best

    def _overlaps(
        self, vector: dict[str, float], published: datetime | None
    ) -> Iterator[tuple[_Story, float, int]]:
        """Stories, each with its centroid's dot product with `vector` and the telling words
        they share: at least every story in the window of `published` sharing a term with it.

        They are those holding its terms or, when fewer, those of the window: each costs a
        look-up per term either way. Either way a story's dot product adds the same products in
        the same order (`vector`'s), so the same floats come out.
        """
        holding = [self._postings.get(term, {}) for term in vector]
        telling = [" " not in term and term not in _GENERIC for term in vector]
        nearby = self._nearby(published, sum(map(len, holding)) // len(vector))
        if nearby is None:
            dots: dict[str, float] = defaultdict(float)
            shared: dict[str, int] = defaultdict(int)
            for (term, weight), story_ids, counts in zip(
                vector.items(), holding, telling, strict=True
            ):
                for story_id in story_ids:
                    dots[story_id] += weight * self._stories[story_id].centroid[term]
                    shared[story_id] += counts
            for story_id, dot in dots.items():
                yield self._stories[story_id], dot, shared[story_id]
            return
        terms = list(zip(vector, vector.values(), telling, strict=True))
        for story in nearby:
            centroid = story.centroid
            dot, common = 0.0, 0
            for term, weight, counts in terms:
                value = centroid.get(term)
                if value is not None:
                    dot += weight * value
                    common += counts
            yield story, dot, common

    def _nearby(self, published: datetime | None, limit: int) -> list[_Story] | None:
        """The stories with an article within the window of `published` or none dated; None
        when there may be `limit` or more of them (or `published` is None: all are)."""
        if published is None:
            return None
        try:
            since, until = published - self.window, published + self.window
        except OverflowError:  # near datetime.min or max
            return None
        start = bisect_left(self._dated, (since,))
        end = bisect_left(self._dated, (until, math.inf), start)
        if end - start + len(self._undated) >= limit:
            return None
        story_ids = dict.fromkeys(story_id for _, _, story_id in self._dated[start:end])
        story_ids.update(self._undated)
        return [self._stories[story_id] for story_id in story_ids]

    def _weighted(self, terms: dict[str, float]) -> dict[str, float]:
        """`terms` weighted by rarity, as a unit vector."""
        documents = self._articles + _PRIOR_DOCUMENTS
        vector = {
            term: weight * math.log((documents + 1) / (self._frequency.get(term, 0) + 1))
            for term, weight in terms.items()
        }
        norm = math.sqrt(sum(value * value for value in vector.values()))
        return {term: value / norm for term, value in vector.items()} if norm else {}

    def _grow(
        self, story: _Story, terms: dict[str, float], keys: list[str], published: datetime | None
    ) -> None:
        for term, value in self._weighted(terms).items():
            old = story.centroid.get(term, 0.0)
            story.centroid[term] = old + value
            story.norm2 += (old + value) ** 2 - old * old
            self._postings[term][story.id] = None
        for term in terms:
            story.counts[term] = story.counts.get(term, 0) + 1
            self._frequency[term] += 1
        self._articles += 1
        story.size += 1
        for key in keys:
            self._exact.setdefault(key, story.id)
            story.keys.append(key)
        if published is not None:
            insort(story.times, published)
            insort(self._dated, (published, story.order, story.id))
        if story.times:
            self._undated.pop(story.id, None)
        else:
            self._undated[story.id] = None
        latest = story.times[-1] if story.times else self._clock
        if latest is None:
            self._unstamped.append(story)
        elif story.latest is None or latest > story.latest:
            story.latest = latest
            heappush(self._expiry, (latest, story.order, story.id))

    def _in_window(self, story: _Story, published: datetime | None) -> bool:
        if published is None or not story.times:
            return True
        at = bisect_left(story.times, published)
        return any(
            abs(story.times[index] - published) <= self.window
            for index in (at - 1, at)
            if 0 <= index < len(story.times)
        )

    def _advance(self, clock: datetime) -> None:
        """Move the clock on and forget the stories that no article from now on can join."""
        self._clock = clock
        for story in self._unstamped:
            if story.latest is None:
                story.latest = clock
                heappush(self._expiry, (clock, story.order, story.id))
        self._unstamped.clear()
        horizon = clock - self.window
        while self._expiry and self._expiry[0][0] < horizon:
            latest, _, story_id = heappop(self._expiry)
            story = self._stories.get(story_id)
            if story is not None and story.latest == latest:
                self._evict(story)

    def _evict(self, story: _Story) -> None:
        del self._stories[story.id]
        self._undated.pop(story.id, None)
        for published in story.times:
            del self._dated[bisect_left(self._dated, (published, story.order))]
        for term, count in story.counts.items():
            postings = self._postings[term]
            postings.pop(story.id, None)
            if not postings:
                del self._postings[term]
            self._frequency[term] -= count
            if not self._frequency[term]:
                del self._frequency[term]
        self._articles -= story.size
        for key in story.keys:
            if self._exact.get(key) == story.id:
                del self._exact[key]


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What an article offers towards being one event with a story (asked of one with text)."""

    names: frozenset[str]
    title: frozenset[str]
    opening: frozenset[str]  # telling words of its title and its text's first sentence

    def of(self, story: _Story, same_outlet: bool) -> bool:
        """Whether it and `story` share a near-identical title or, unless `same_outlet` (only
        the article's own outlet has reported the story), two names or a name and more of
        their openings than its words. An outlet names one show's setting and cast in every
        article on it, and reports one event once: its second article is another event, or
        the same one under a title nearer still."""
        near = _SAME_TITLE_ALONE if same_outlet else _SAME_TITLE
        if any(
            len(self.title & other) >= near * len(self.title | other)
            for other in story.titles
            # "Story 2" from two outlets is a number in common, not a title
            if len(self.title) > 1 and len(other) > 1
        ):
            return True
        if same_outlet:
            return False
        shared = {
            name
            for name in self.names
            if name in story.names or any(_within(name, other) for other in story.names)
        }
        # "daredevil" beside "daredevil born" is one name twice
        words = {name: set(name.split()) for name in shared}
        distinct = [
            name
            for name in shared
            if not any(other != name and words[name] <= words[other] for other in shared)
        ]
        if len(distinct) >= _MIN_NAMES:
            return True
        if shared:
            named = {word for name in shared for word in name.split()}
            if len((self.opening & story.opening) - named) >= _MIN_OPENING:
                return True
        return False


def _within(name: str, other: str) -> bool:
    """`name` of two words or more is part of `other`: "erik oleson" of "showrunner erik oleson"
    (a lone "jone" is no part of "jessica jone": another Jones is as likely)."""
    return " " in name and f" {name} " in f" {other} "


def cluster(articles: Iterable[StoryArticle], window: timedelta = DEFAULT_WINDOW) -> list[str]:
    """The story id of each article, in the order given, clustered one after the other."""
    clusterer = Clusterer(window)
    return [clusterer.add(article) for article in articles]


def assign(
    context: Sequence[tuple[int, int | None, StoryArticle]], window: timedelta = DEFAULT_WINDOW
) -> dict[int, int]:
    """The story of each article of `context` that has none, as the daemon gives them.

    `context`: stored articles (id, story or None, what clustering looks at) in the order
    they were stored, covering the window around those without one. They are clustered again
    in that order; one without a story joins the story of the first stored article of the
    cluster it falls in, or starts its own (its id). Stories already given never change.
    """
    clusterer = Clusterer(window)
    stored: dict[str, int] = {}  # a cluster of this run -> the story its first given article has
    given: dict[int, int] = {}
    for article_id, story, article in context:
        cluster_id = clusterer.add(article)
        if story is not None:
            stored.setdefault(cluster_id, story)
        else:
            given[article_id] = stored.setdefault(cluster_id, article_id)
    return given


def ranked(members: Sequence[StoryMember]) -> list[StoryMember]:
    """A story's articles, the best first: the most complete (longest text), the earliest
    among equals; the rest in date order."""
    best = min(members, key=lambda member: (-len(member.text), member.published, member.id))
    return [best, *(member for member in members if member is not best)]


def digest_item(story: StoredStory) -> DigestItem:
    """A story as one digest item: its best article's title, link, authors and enclosures,
    its summary, every show of its articles (the first article's first) with the phrase that
    matched it, and every feed that carried one, each with its article's link."""
    best, *_ = ranked(story.members)
    matches: dict[str, ShowMatch] = {}
    sources: dict[str, Source] = {}
    for member in story.members:
        for match in member.matches:
            matches.setdefault(match.show, match)
        for source in member.sources:
            sources.setdefault(source.feed_url, source)
    first = story.members[0].sources[0] if story.members[0].sources else None
    return DigestItem(
        guid=story.guid,
        title=best.title,
        url=best.link,
        published=story.members[0].published,
        summary=story.summary or (),
        shows=tuple(matches),
        feed_title=first.title if first else "",
        feed_url=first.feed_url if first else "",
        authors=best.authors,
        enclosures=best.enclosures,
        sources=tuple(sources.values()),
        phrases=tuple(match.phrase or match.show for match in matches.values()),
        language=best.language,
    )


def _keys(article: StoryArticle) -> list[str]:
    """What makes two articles one story outright: the same title, the same page."""
    keys = []
    title = " ".join(_WORD.findall(normalize(article.title)))
    if len(title) > 12:  # "Update", "Watch" and the like are no event
        keys.append("title:" + title)
    # The fragment stays: a live blog's blocks (#block-1, #block-2) are different events; the
    # pipeline has already dropped the fragments that are only a spot on the page.
    url = canonical_url(article.url, keep_fragment=True) if article.url else None
    if url:
        keys.append("url:" + url)
    return keys


def _terms(article: StoryArticle) -> dict[str, float]:
    """The article's terms and how much each says about its event, before rarity."""
    outlet = _outlet_words(article)
    terms: dict[str, float] = {}
    words = [w for w in _words(article.title) if w not in outlet]
    named = _named_words(article.title)
    for word in words:
        weight = _GENERIC_WEIGHT if word in _GENERIC else _ENTITY_WEIGHT if word in named else 1.0
        terms[word] = max(terms.get(word, 0.0), weight)
    for first, second in pairwise(words):
        terms[f"{first} {second}"] = _PAIR_WEIGHT
    for word in _url_words(article.url):
        if word not in outlet:
            terms.setdefault(word, _URL_WEIGHT * (_GENERIC_WEIGHT if word in _GENERIC else 1.0))
    if article.text:
        lead = article.text[: _LEAD_WORDS * 8]
        lead_named = _named_words(lead)
        for word in _words(lead)[:_LEAD_WORDS]:
            if word not in outlet:
                weight = _TEXT_WEIGHT * (
                    _GENERIC_WEIGHT
                    if word in _GENERIC
                    else _ENTITY_WEIGHT
                    if word in lead_named
                    else 1.0
                )
                terms[word] = max(terms.get(word, 0.0), weight)
    return terms


def _words(text: str) -> list[str]:
    return [_stem(word) for word in _WORD.findall(normalize(text)) if word not in _STOPWORDS]


def _stem(word: str) -> str:
    """Plural and possessive off, so "Netflix's renewals" meets "Netflix renewal"."""
    if word.endswith("'s"):
        word = word[:-2]
    elif "'" in word:
        word = word.replace("'", "")
    if word in _INVARIANT:
        return word
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _named_words(text: str) -> set[str]:
    """Words of the names and quoted titles in `text`.

    A headline in Title Case capitalises every word, so there only quotes name anything.
    """
    named = {word for quoted in _QUOTED.findall(text) for word in _words(quoted)}
    if _sentence_case(text):
        for run in _NAME_RUN.findall(text):
            named.update(_words(run))
    return named


def _sentence_case(text: str) -> bool:
    letters = [word for word in text.split() if word[:1].isalpha()]
    return bool(letters) and sum(1 for word in letters if word[0].isupper()) < 0.6 * len(letters)


def _opens_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip(" \"'\u201c\u2018(")
    return not before or before[-1] in ".!?:"


def _names(article: StoryArticle, outlet: frozenset[str]) -> frozenset[str]:
    """The names in the article's title and lead, each as one string of its telling words
    ("Marvel's Jessica Jones" and "Jessica Jones" are "jessica jone"; "Finn Jones" is another).

    A lone capitalised word opening a sentence ("Fans", "Production") is no name; the words of
    months, weekdays, platforms, the outlet's name and generic words are left out of names.
    """
    names = {" ".join(_words(quoted)) for quoted in _QUOTED.findall(article.title)}
    for text in (article.title, article.text[: _LEAD_WORDS * 8]):
        if not _sentence_case(text):  # in Title Case only quotes name anything
            continue
        for run in _NAME.finditer(text):
            if " " not in run.group() and _opens_sentence(text, run.start()):
                continue
            names.add(" ".join(word for word in _words(run.group()) if _telling(word, outlet)))
    names.discard("")
    return frozenset(names)


def _has_text(article: StoryArticle) -> bool:
    """Whether the article says more than its title (a feed's entry without text has its title
    as its text)."""
    text = article.text.strip()
    return bool(text) and normalize(text) != normalize(article.title.strip())


def _evidence(article: StoryArticle) -> _Evidence:
    outlet = _outlet_words(article)
    title = frozenset(w for w in _words(article.title) if _telling(w, outlet))
    first = _SENTENCE_END.split(article.text[: _LEAD_WORDS * 8], maxsplit=1)[0]
    opening = {w for w in (*_words(article.title), *_words(first)) if _telling(w, outlet)}
    return _Evidence(_names(article, outlet), title, frozenset(opening))


def _telling(word: str, outlet: frozenset[str]) -> bool:
    """Whether `word` can tell one event from another of the same shows."""
    return not (
        word.isdigit()
        or word in _GENERIC
        or word in _PLATFORMS
        or word in _CALENDAR
        or word in outlet
    )


def _url_words(url: str | None) -> list[str]:
    """The words of a URL's path: most outlets put the headline's words in it."""
    if not url or http_host(url) is None:
        return []
    path = url.split("://", 1)[-1].partition("/")[2].partition("?")[0].lower()
    return [
        _stem(word) for word in _PATH_WORD.findall(path) if len(word) > 2 and word not in _STOPWORDS
    ]


def _outlet(article: StoryArticle) -> str | None:
    """Who published `article`: its source, else its URL's host."""
    if article.source and article.source.strip():
        return normalize(article.source)
    host = http_host(article.url)
    return host.removeprefix("www.") if host else None


def _outlet_words(article: StoryArticle) -> frozenset[str]:
    """Words naming the outlet ("Reuters", "deadline"): every article of theirs has them."""
    host = http_host(article.url) or ""
    names = " ".join(filter(None, [article.source, host.removeprefix("www.").rpartition(".")[0]]))
    return frozenset(_words(names.replace(".", " ")))


def read_article(line: str) -> StoryArticle:
    """One JSON line of `feedwatch stories` as an article; StoryError says what is wrong.

    `published` is ISO 8601 (a time without an offset is UTC) or seconds since the epoch.
    """
    try:
        record = json.loads(line)
    except ValueError as exc:
        # json's own "line 1 column 5" would muddle the line number the caller reports.
        raise StoryError(f"not JSON ({getattr(exc, 'msg', exc)})") from None
    if not isinstance(record, dict):
        raise StoryError("expected a JSON object")
    fields = {}
    for name in ("id", "title"):
        value = record.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and name == "id":
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise StoryError(f"{name!r} is missing or not a non-empty string")
        fields[name] = value
    for name in ("text", "url", "source"):
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise StoryError(f"{name!r} must be a string")
        fields[name] = value
    return StoryArticle(
        id=fields["id"],
        title=fields["title"],
        text=fields["text"] or "",
        url=fields["url"],
        source=fields["source"],
        published=_moment(record.get("published")),
    )


def _moment(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            if moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise StoryError(f"'published' is not an ISO 8601 date or epoch seconds: {value!r}")
