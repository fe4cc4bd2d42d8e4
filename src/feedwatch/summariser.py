"""Extractive summaries: the article's own sentences, verbatim and in article order.

pysbd finds the sentences, cleaning.py drops the feed boilerplate among them, and a ranker picks
the best: feedwatch's own (the default, see _Centrality) or one of sumy's. sumy's stock tokenizer
needs NLTK "punkt" data, which is a download, so sumy gets a tokenizer built on pysbd and a regex
instead: nothing here reads NLTK data or touches the network.

numpy, pysbd and sumy (which loads NLTK) are imported where first used, not with this module:
together they cost tens of MB and a good part of a second, which a cycle with nothing to
summarise does not need to pay, and the default ranker needs nothing of sumy.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from feedwatch import cleaning
from feedwatch.config import SUMMARY_ALGORITHMS
from feedwatch.errors import SummaryError
from feedwatch.text import PARAGRAPH_BREAK

if TYPE_CHECKING:
    import numpy as np
    import pysbd

DEFAULT_ALGORITHM = "feedwatch"
# The names config accepts; each is the default or one of sumy's (see _sumy_summarizer).
ALGORITHMS = SUMMARY_ALGORITHMS
# Languages pysbd segments and sumy has stop words and an offline stemmer for.
LANGUAGES = {
    "english": "en",
    "french": "fr",
    "german": "de",
    "italian": "it",
    "slovak": "sk",
    "spanish": "es",
}

# Letters, with inner apostrophes and hyphens: "don't", "spin-off". Numbers are not words to sumy.
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
# pysbd's abbreviation pass is quadratic in the length of its input, so a long paragraph is
# fed to it a window at a time; a boundary is kept only when pysbd saw _CONTEXT chars after it.
_WINDOW = 2000
_CONTEXT = 200
_LONGEST_SENTENCE = 4 * _WINDOW
_MOST_RANKED = 150
_STEM_CACHE = 50_000

# feedwatch's ranking. Every choice below was made for ROUGE-2 F1 at 3 sentences on the business,
# politics, sport and tech articles of the BBC News Summary corpus, entertainment held out;
# bench/summary_quality.py measures it.
_DAMPING = 0.85  # PageRank's usual value; 0.5, 0.7, 0.9 and 0.95 all did worse
_LENGTH_WEIGHT = 0.3  # longer sentences say more; the centrality alone favours short ones
_QUOTE_PENALTY = 0.1  # a quote opening a sentence reads badly out of context
_QUOTES = "\"'\u2018\u201c"
_RANK_TOLERANCE = 1e-6
_RANK_ITERATIONS = 100
# English function words, ignored when comparing sentences. sumy's English list (580 words)
# also drops words news is made of ("new", "first", "said", "million") and scored worse.
# "us" is missing on purpose: lowercased, it is also "US".
_FUNCTION_WORD_LIST = """
    a an the this that these those
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves
    what which who whom whose when where why how
    am is are was were be been being have has had having do does did doing can will shall should
    and but or nor if because as until while so than then once
    of at by for with about against between into through during before after above below to from
    up down in out on off over under again further here there
    all any both each few more most other some such no not only own same too very just now
    i'm i've i'd i'll you're you've you'll you'd he's he'd he'll she's she'd she'll it's it'd
    it'll we're we've we'd we'll they're they've they'd they'll that's that'll there's what's
    who's isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't
    shan't shouldn't can't cannot couldn't mustn't mightn't needn't should've would've could've
    let's
"""
_FUNCTION_WORDS = frozenset(_FUNCTION_WORD_LIST.split())


@lru_cache(maxsize=len(LANGUAGES))
def _segmenter(code: str) -> pysbd.Segmenter:
    import pysbd

    return pysbd.Segmenter(language=code, clean=False)


def _starts(segmenter: pysbd.Segmenter, text: str) -> list[int]:
    """Where pysbd's sentences start in `text`."""
    # pysbd's own character spans cost one compiled regex per sentence: 40% of its time, and
    # they push its other patterns out of re's cache. Its sentences are found with str.find
    # instead, in a copy with line breaks written as pysbd writes them ("\r"). One that cannot
    # be found again only starts no new sentence: no text is lost. A Processor is made per
    # call, so threads may share the Segmenter.
    haystack = text.replace("\n", "\r")
    starts: list[int] = []
    position = 0
    for sentence in segmenter.processor(text).process():
        stripped = sentence.strip()
        found = haystack.find(stripped, position) if stripped else -1
        if found >= 0:
            starts.append(found)
            position = found + len(stripped)
    return starts


def _language_code(language: str) -> str:
    try:
        return LANGUAGES[language]
    except KeyError:
        raise SummaryError(
            f"cannot summarise {language!r} text; supported languages: {', '.join(LANGUAGES)}"
        ) from None


class _Tokenizer:
    """The tokenizer sumy's document model expects, needing no NLTK data."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._code = _language_code(language)

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        """The paragraph's sentences as exact, stripped substrings; no text is dropped."""
        # Sentences are cut where pysbd's start rather than taken from its output, because
        # pysbd rewrites some characters (line breaks) and such a sentence must not be lost.
        cuts = [0, *self._cuts(paragraph), len(paragraph)]
        pieces = (paragraph[start:end].strip() for start, end in pairwise(cuts))
        return tuple(piece for piece in pieces if piece)

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(_WORD.findall(sentence))

    def _cuts(self, paragraph: str) -> list[int]:
        segmenter = _segmenter(self._code)
        cuts: list[int] = []
        start, width = 0, _WINDOW
        while True:
            end = start + width
            found = [start + cut for cut in _starts(segmenter, paragraph[start:end]) if cut > 0]
            if end >= len(paragraph):
                return cuts + found
            found = [cut for cut in found if cut <= end - _CONTEXT]
            if found:
                cuts += found
                start, width = found[-1], _WINDOW
            elif width < _LONGEST_SENTENCE:
                # One sentence fills the window: widen it until the sentence ends.
                width *= 2
            else:
                # Nothing this long is a sentence (a list, a text without punctuation):
                # cut it at a space so the ranking and the digest get pieces of sane size.
                space = paragraph.rfind(" ", start + 1, end)
                start = space if space > start else end
                cuts.append(start)
                width = _WINDOW


@lru_cache(maxsize=len(LANGUAGES))
def _tokenizer(language: str) -> _Tokenizer:
    return _Tokenizer(language)


def _paragraphs(text: str) -> list[str]:
    return [part for part in PARAGRAPH_BREAK.split(text.strip()) if part.strip()]


def split_sentences(text: str, language: str = "english") -> list[str]:
    """Split text into sentences; a blank line always ends one, even without punctuation.

    Each sentence is an exact substring of `text`, stripped of surrounding whitespace.
    """
    tokenizer = _tokenizer(language.lower())
    return [sentence for part in _paragraphs(text) for sentence in tokenizer.to_sentences(part)]


class Summariser:
    """Picks the sentences that best sum up a text. Build once, reuse for every article."""

    def __init__(self, algorithm: str = DEFAULT_ALGORITHM, language: str = "english") -> None:
        if algorithm not in ALGORITHMS:
            raise SummaryError(
                f"unknown summary algorithm {algorithm!r}; choose one of: {', '.join(ALGORITHMS)}"
            )
        self.algorithm = algorithm
        self._tokenizer = _tokenizer(language.lower())
        self._ranker: _Centrality | _Sumy = (
            _Centrality(self._tokenizer.language)
            if algorithm == DEFAULT_ALGORITHM
            else _Sumy(algorithm, self._tokenizer)
        )

    def summarise(self, text: str, sentences: int) -> tuple[str, ...]:
        """The best `sentences` sentences of `text`, verbatim, in the order the text has them.

        Feed boilerplate, headings and fragments of markup are never picked (see cleaning.py).
        A text with that many sentences or fewer left is returned whole; an empty text gives ().
        """
        if sentences < 1:
            raise SummaryError(f"a summary needs at least one sentence, not {sentences}")
        paragraphs = [self._tokenizer.to_sentences(part) for part in _paragraphs(text)]
        candidates = tuple(cleaning.clean(paragraphs))
        if len(candidates) <= sentences:
            return candidates
        # The rankers are quadratic in sentences and news puts what matters first, so a very
        # long text is ranked on its opening.
        return self._ranker.choose(candidates[:_MOST_RANKED], sentences)


class _Centrality:
    """feedwatch's ranking: how central a sentence is to the text, how long, how it opens.

    Centrality is PageRank over the sentences linked by the cosine similarity of their word
    counts, function words left out and words not stemmed. Cosine did better than sumy
    TextRank's shared-word count, TF-IDF and Jaccard; stemming and a sentence's likeness to
    the headline (its words shared with the title) made no measurable difference.
    """

    def __init__(self, language: str) -> None:
        if language == "english":
            self._ignored = _FUNCTION_WORDS
        else:
            from sumy.utils import get_stop_words

            self._ignored = frozenset(word.lower() for word in get_stop_words(language))

    def choose(self, sentences: tuple[str, ...], count: int) -> tuple[str, ...]:
        import numpy as np

        words = [
            [word.lower().replace("\u2019", "'") for word in _WORD.findall(s)] for s in sentences
        ]
        columns: dict[str, int] = {}
        cells: tuple[list[int], list[int]] = ([], [])
        for row, sentence_words in enumerate(words):
            for word in sentence_words:
                if word not in self._ignored:
                    cells[0].append(row)
                    cells[1].append(columns.setdefault(word, len(columns)))
        counts = np.zeros((len(sentences), max(len(columns), 1)))
        np.add.at(counts, cells, 1)
        norms = np.linalg.norm(counts, axis=1, keepdims=True)
        unit = np.divide(counts, norms, out=np.zeros_like(counts), where=norms > 0)
        similarity = unit @ unit.T
        np.fill_diagonal(similarity, 0)
        score = (
            np.log(_pagerank(similarity) * len(sentences))
            + _LENGTH_WEIGHT * np.log1p([len(sentence_words) for sentence_words in words])
            - _QUOTE_PENALTY * np.array([sentence[0] in _QUOTES for sentence in sentences])
        )
        best = np.argsort(-score, kind="stable")[:count]
        return tuple(sentences[index] for index in sorted(best))


def _pagerank(similarity: np.ndarray) -> np.ndarray:
    """Each sentence's share of a random walk that follows similarity (PageRank)."""
    import numpy as np

    size = len(similarity)
    totals = similarity.sum(axis=1, keepdims=True)
    # A sentence like no other leads anywhere with equal chance, as in PageRank proper.
    step = np.divide(similarity, totals, out=np.full_like(similarity, 1 / size), where=totals > 0)
    rank = np.full(size, 1 / size)
    for _ in range(_RANK_ITERATIONS):
        following = (1 - _DAMPING) / size + _DAMPING * (step.T @ rank)
        if np.abs(following - rank).sum() < _RANK_TOLERANCE:
            return following
        rank = following
    return rank


class _Sumy:
    """One of sumy's rankers, as `summary.algorithm` may choose instead."""

    def __init__(self, algorithm: str, tokenizer: _Tokenizer) -> None:
        from sumy.nlp.stemmers import Stemmer
        from sumy.utils import get_stop_words

        self._tokenizer = tokenizer
        # Articles repeat their words; stemming each distinct word once saves most of the time.
        stemmer = lru_cache(maxsize=_STEM_CACHE)(Stemmer(tokenizer.language))
        self._summarizer = _sumy_summarizer(algorithm)(stemmer)
        self._summarizer.stop_words = get_stop_words(tokenizer.language)

    def choose(self, sentences: tuple[str, ...], count: int) -> tuple[str, ...]:
        from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence

        # None of sumy's rankers looks at paragraphs: one will do.
        document = ObjectDocumentModel([Paragraph(Sentence(s, self._tokenizer) for s in sentences)])
        # Degenerate texts (no content words, one-word sentences) make numpy warn about dividing
        # by zero and LSA about its matrix; the ranking is still usable, the noise is not.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chosen = self._summarizer(document, count)
        # LSA gives up on a text without a single content word: nothing ranks above the lead.
        return tuple(str(sentence) for sentence in chosen) or sentences[:count]


def _sumy_summarizer(algorithm: str) -> Any:
    """The sumy summariser class that `algorithm` names."""
    from sumy.summarizers.kl import KLSummarizer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.lsa import LsaSummarizer
    from sumy.summarizers.luhn import LuhnSummarizer
    from sumy.summarizers.sum_basic import SumBasicSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer

    class StableLsaSummarizer(LsaSummarizer):  # type: ignore[misc]
        """sumy's LSA, picking the same sentences in every process."""

        def _create_dictionary(self, document: Any) -> dict[str, int]:
            # sumy numbers words in set order, which changes with PYTHONHASHSEED; the SVD's
            # rounding follows the numbering and decides between equally good sentences.
            # Sorting fixes it.
            words = super()._create_dictionary(document)
            return {word: row for row, word in enumerate(sorted(words))}

    return {
        "textrank": TextRankSummarizer,
        "lexrank": LexRankSummarizer,
        "lsa": StableLsaSummarizer,
        "luhn": LuhnSummarizer,
        "kl": KLSummarizer,
        "sumbasic": SumBasicSummarizer,
    }[algorithm]
